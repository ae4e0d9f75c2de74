/* keys.c — parameter keys, their virtual shards and the vshard → server table.
 *
 * A key packs (table, id) into 64 bits. key_vshard is part of the on-disk
 * and on-wire contract: every rank must agree on where a key lives, so the
 * hash (hash_u64 mod n_vshards) must never change. The ShardMap is the only
 * thing a restore onto a different number of servers rewrites.
 */
#include "psrec/core/keys.h"

#include <assert.h>
#include <stdlib.h>

#include "psrec/core/util.h"

uint64_t key_make(uint32_t table, uint64_t id)
{
    assert(table <= KEY_TABLE_MAX);
    return ((uint64_t)table << KEY_ID_BITS) | (id & KEY_ID_MAX);
}

uint32_t key_table(uint64_t key) { return (uint32_t)(key >> KEY_ID_BITS); }

uint64_t key_id(uint64_t key) { return key & KEY_ID_MAX; }

uint32_t key_vshard(uint64_t key, uint32_t n_vshards)
{
    assert(n_vshards >= 1);
    return (uint32_t)(hash_u64(key) % n_vshards);
}

void shardmap_init(ShardMap *map, uint32_t n_vshards, uint32_t n_servers)
{
    assert(n_servers >= 1 && n_vshards >= n_servers);
    map->n_vshards = n_vshards;
    map->n_servers = n_servers;
    map->server_of_vshard = xmalloc((size_t)n_vshards * sizeof *map->server_of_vshard);
    /* Round-robin: every server gets either floor or ceil of n_vshards/S. */
    for (uint32_t v = 0; v < n_vshards; v++)
        map->server_of_vshard[v] = v % n_servers;
}

void shardmap_free(ShardMap *map)
{
    if (!map)
        return;
    free(map->server_of_vshard);
    map->server_of_vshard = NULL;
    map->n_vshards = 0;
    map->n_servers = 0;
}

uint32_t shardmap_server_of(const ShardMap *map, uint64_t key)
{
    uint32_t server = map->server_of_vshard[key_vshard(key, map->n_vshards)];
    assert(server < map->n_servers);
    return server;
}
