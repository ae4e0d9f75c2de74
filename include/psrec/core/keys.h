/* keys.h — parameter keys and where they live.
 *
 * A key names one row of one parameter table: the table id in the top 8 bits
 * and a 56-bit id (user, item, attribute, dense block) below. Keys map to one
 * of n_vshards *virtual shards* by a fixed hash, and virtual shards map to
 * server indices by a small table. Restoring onto a different number of
 * servers, or rebalancing, only rewrites that table; the hash never changes.
 */
#ifndef PSREC_KEYS_H
#define PSREC_KEYS_H

#include <stdint.h>

#define KEY_ID_BITS 56
#define KEY_ID_MAX ((UINT64_C(1) << KEY_ID_BITS) - 1)
#define KEY_TABLE_MAX 255

/* The key of row `id` of table `table` (≤ KEY_TABLE_MAX). Only the low 56
 * bits of id are kept; the readers reject larger ids before this. */
uint64_t key_make(uint32_t table, uint64_t id);
/* The table id and the row id of a key. */
uint32_t key_table(uint64_t key);
uint64_t key_id(uint64_t key);

/* The virtual shard of a key, in [0, n_vshards). Depends only on the key and
 * n_vshards. */
uint32_t key_vshard(uint64_t key, uint32_t n_vshards);

typedef struct {
    uint32_t n_vshards;
    uint32_t n_servers;
    uint32_t *server_of_vshard; /* (n_vshards,) server index of each vshard */
} ShardMap;

/* Fills *map with the default assignment (vshard v → server v mod
 * n_servers). Requires n_vshards ≥ n_servers ≥ 1. The map owns its table;
 * free it with shardmap_free. */
void shardmap_init(ShardMap *map, uint32_t n_vshards, uint32_t n_servers);
/* Frees the table and zeroes *map; shardmap_free(NULL) is a no-op. */
void shardmap_free(ShardMap *map);

/* The server index (0..n_servers-1) that owns key. */
uint32_t shardmap_server_of(const ShardMap *map, uint64_t key);

#endif
