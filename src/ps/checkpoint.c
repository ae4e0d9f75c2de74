/* checkpoint.c — shard files and the manifest of a model folder.
 *
 * Shard layout (native little-endian numbers):
 *   "PSRECSHD" u32 version u32 n_tables [version 2: u64 run_id]
 *   n_tables × { u32 table_id  u32 width  u32 stride  u64 n_rows }
 *   for each table in directory order, n_rows × { u64 key  u32 step  float[stride] }
 *   u64 FNV-1a checksum of every byte before it
 * Every file is written to path + ".tmp", synced and renamed, so a reader sees
 * a whole file or none. A shard is read only after its size matches its
 * directory exactly; given an owner map, every key must belong to the slot the
 * file is read for. Every error message starts with the file's path.
 */
#include "psrec/ps/checkpoint.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psrec/core/keys.h"
#include "psrec/ps/comm.h"

/* Bytes moved per read or write call: large enough that a several-hundred-MB
 * shard costs few system calls, small enough not to matter beside the store. */
#define CHECKPOINT_CHUNK_BYTES (4u << 20)

#define SHARD_MAGIC_BYTES 8
#define SHARD_HEADER_BYTES (SHARD_MAGIC_BYTES + 4 + 4)
#define SHARD_TABLE_ENTRY_BYTES (4 + 4 + 4 + 8)
#define SHARD_ROW_HEADER_BYTES (8 + 4)
#define SHARD_CHECKSUM_BYTES 8

/* ---- writing files safely */

/* A file being written through a temporary name. */
typedef struct {
    const char *path;
    char *tmp_path;
    FILE *file;
} SafeFile;

static int safefile_open(SafeFile *out, const char *path, Error *err)
{
    size_t bytes = strlen(path) + sizeof ".tmp";
    out->path = path;
    out->tmp_path = xmalloc(bytes);
    snprintf(out->tmp_path, bytes, "%s.tmp", path);
    out->file = fopen(out->tmp_path, "wb");
    if (!out->file) {
        int saved = errno;
        error_set(err, "%s: cannot create %s: %s", path, out->tmp_path, strerror(saved));
        free(out->tmp_path);
        out->tmp_path = NULL;
        return -1;
    }
    return 0;
}

/* Best effort: sync the folder holding path so the rename itself survives a
 * crash. Some file systems refuse to sync a folder; that is not an error. */
static void safefile_sync_folder(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

/* Finishes the file: flush, fsync, close and rename over path. When `ok` is
 * false (the caller already failed) or any step fails, the temporary file is
 * removed and -1 returned; the caller's message is kept when it failed first. */
static int safefile_commit(SafeFile *sf, bool ok, Error *err)
{
    int rc = ok ? 0 : -1;
    if (rc == 0 && (fflush(sf->file) != 0 || fsync(fileno(sf->file)) != 0))
        rc = error_set(err, "%s: cannot write %s: %s", sf->path, sf->tmp_path, strerror(errno));
    if (fclose(sf->file) != 0 && rc == 0)
        rc = error_set(err, "%s: cannot write %s: %s", sf->path, sf->tmp_path, strerror(errno));
    if (rc == 0 && rename(sf->tmp_path, sf->path) != 0)
        rc = error_set(err, "%s: cannot rename %s into place: %s", sf->path, sf->tmp_path,
                       strerror(errno));
    if (rc == 0)
        safefile_sync_folder(sf->path);
    else
        remove(sf->tmp_path);
    free(sf->tmp_path);
    sf->tmp_path = NULL;
    sf->file = NULL;
    return rc;
}

int checkpoint_copy_file(const char *from, const char *to, bool missing_is_empty,
                         uint64_t *bytes, uint64_t *checksum, Error *err)
{
    FILE *in = fopen(from, "rb");
    if (!in && !(missing_is_empty && errno == ENOENT))
        return error_set(err, "%s: cannot open: %s", from, strerror(errno));
    SafeFile out;
    if (safefile_open(&out, to, err) != 0) {
        if (in)
            fclose(in);
        return -1;
    }
    char chunk[1 << 16];
    size_t got;
    bool ok = true;
    while (in && ok && (got = fread(chunk, 1, sizeof chunk, in)) > 0) {
        ok = fwrite(chunk, 1, got, out.file) == got;
        if (bytes)
            *bytes += got;
        if (checksum)
            *checksum = checksum_update(*checksum, chunk, got);
    }
    if (in && ferror(in)) {
        ok = false;
        error_set(err, "%s: read failed: %s", from, strerror(errno));
    } else if (!ok) {
        error_set(err, "%s: cannot write %s: %s", to, out.tmp_path, strerror(errno));
    }
    if (in)
        fclose(in);
    return safefile_commit(&out, ok, err);
}

/* ---- shard writing: bytes gather in a chunk and go out when it fills. */

typedef struct {
    SafeFile out;
    ByteBuffer chunk;
    uint64_t checksum; /* of every byte appended so far */
    bool failed;       /* a write failed; the message is in err */
} ShardWriter;

static void shard_writer_flush(ShardWriter *w, Error *err)
{
    if (w->failed || w->chunk.len == 0)
        return;
    if (fwrite(w->chunk.data, 1, w->chunk.len, w->out.file) != w->chunk.len) {
        error_set(err, "%s: cannot write %s: %s", w->out.path, w->out.tmp_path, strerror(errno));
        w->failed = true;
    }
    w->chunk.len = 0;
}

static void shard_writer_append(ShardWriter *w, const void *data, size_t bytes, Error *err)
{
    if (w->failed)
        return; /* nothing more is buffered after a failed write */
    if (w->chunk.len + bytes > CHECKPOINT_CHUNK_BYTES)
        shard_writer_flush(w, err);
    bytebuffer_append(&w->chunk, data, bytes);
    w->checksum = checksum_update(w->checksum, data, bytes);
}

static void shard_writer_u32(ShardWriter *w, uint32_t value, Error *err)
{
    shard_writer_append(w, &value, sizeof value, err);
}

static void shard_writer_u64(ShardWriter *w, uint64_t value, Error *err)
{
    shard_writer_append(w, &value, sizeof value, err);
}

int checkpoint_write_shard(const char *path, Store *store, uint64_t run_id, Error *err)
{
    ShardWriter w = {.checksum = CHECKSUM_INIT};
    if (safefile_open(&w.out, path, err) != 0)
        return -1;
    bytebuffer_reserve(&w.chunk, CHECKPOINT_CHUNK_BYTES);

    int n_tables = store_table_count(store);
    shard_writer_append(&w, CHECKPOINT_SHARD_MAGIC, SHARD_MAGIC_BYTES, err);
    shard_writer_u32(&w, CHECKPOINT_SHARD_VERSION, err);
    shard_writer_u32(&w, (uint32_t)n_tables, err);
    shard_writer_u64(&w, run_id, err);
    for (int t = 0; t < n_tables; t++) {
        const TableSpec *spec = store_table_at(store, t);
        shard_writer_u32(&w, spec->table_id, err);
        shard_writer_u32(&w, spec->width, err);
        shard_writer_u32(&w, (uint32_t)store_row_stride(store, t), err);
        shard_writer_u64(&w, (uint64_t)store_row_count(store, t), err);
    }
    for (int t = 0; t < n_tables && !w.failed; t++) {
        size_t stride = store_row_stride(store, t);
        size_t n_rows = store_row_count(store, t);
        for (size_t r = 0; r < n_rows && !w.failed; r++) { /* stop at the first error */
            comm_keepalive(); /* a large shard takes a while to write */
            shard_writer_u64(&w, store_row_key(store, t, r), err);
            shard_writer_u32(&w, *store_row_step(store, t, r), err);
            shard_writer_append(&w, store_row_data(store, t, r), stride * sizeof(float), err);
        }
    }
    uint64_t checksum = w.checksum;
    shard_writer_u64(&w, checksum, err);
    shard_writer_flush(&w, err);
    bytebuffer_free(&w.chunk);
    return safefile_commit(&w.out, !w.failed, err);
}

/* ---- shard reading: a chunk buffer that hands out contiguous byte runs. */

typedef struct {
    const char *path;
    FILE *file;
    ByteBuffer chunk;
    size_t pos;        /* next unread byte in chunk */
    uint64_t checksum; /* of every byte taken so far */
    const ShardMap *owner_map; /* NULL: any key is accepted */
    int server;                /* the slot every key must belong to */
    bool keep_owned_only;      /* rows of other slots are skipped, not errors (re-sharding) */
} ShardReader;

/* The next `bytes` bytes of the file, contiguous and valid until the next
 * call, or NULL (with a message) when the file ends first or a read fails.
 * The bytes are added to the running checksum. */
static const uint8_t *shard_reader_take(ShardReader *r, size_t bytes, Error *err)
{
    size_t have = r->chunk.len - r->pos;
    if (have < bytes) {
        /* Keep the unread tail, then refill behind it. */
        size_t want = bytes > CHECKPOINT_CHUNK_BYTES ? bytes : CHECKPOINT_CHUNK_BYTES;
        bytebuffer_reserve(&r->chunk, want);
        memmove(r->chunk.data, r->chunk.data + r->pos, have);
        r->chunk.len = have;
        r->pos = 0;
        r->chunk.len += fread(r->chunk.data + have, 1, want - have, r->file);
        if (r->chunk.len < bytes) {
            if (ferror(r->file))
                error_set(err, "%s: read failed: %s", r->path, strerror(errno));
            else
                error_set(err, "%s: file ended early (truncated while being read?)", r->path);
            return NULL;
        }
    }
    const uint8_t *data = r->chunk.data + r->pos;
    r->pos += bytes;
    r->checksum = checksum_update(r->checksum, data, bytes);
    return data;
}

static uint32_t shard_load_u32(const uint8_t *bytes)
{
    uint32_t value;
    memcpy(&value, bytes, sizeof value);
    return value;
}

static uint64_t shard_load_u64(const uint8_t *bytes)
{
    uint64_t value;
    memcpy(&value, bytes, sizeof value);
    return value;
}

typedef struct {
    uint32_t table_id;
    uint32_t width;
    uint32_t stride;
    uint64_t n_rows;
} ShardTableEntry;

/* Checks one directory entry against the store: the table exists, nothing
 * earlier in the directory named it, and width and stride agree. */
static int shard_check_table(const char *path, const Store *store, const ShardTableEntry *dir,
                             uint32_t entry, Error *err)
{
    const ShardTableEntry *e = &dir[entry];
    for (uint32_t k = 0; k < entry; k++)
        if (dir[k].table_id == e->table_id)
            return error_set(err, "%s: table %u appears twice in the directory", path,
                             e->table_id);
    for (int t = 0; t < store_table_count(store); t++) {
        const TableSpec *spec = store_table_at(store, t);
        if (spec->table_id != e->table_id)
            continue;
        if (spec->width != e->width)
            return error_set(err, "%s: table %u has width %u in the file but %u in the model "
                             "(was it written with another dim?)",
                             path, e->table_id, e->width, spec->width);
        if (store_row_stride(store, t) != e->stride)
            return error_set(err, "%s: table %u has %u floats per row in the file but %zu in "
                             "the model (was it written with another optimizer?)",
                             path, e->table_id, e->stride, store_row_stride(store, t));
        return 0;
    }
    return error_set(err, "%s: table %u is not part of this model (another model type?)", path,
                     e->table_id);
}

/* The file size the directory implies, or -1 with a message when the row
 * counts are too large to be real (the sum would overflow). */
static int shard_expected_bytes(const char *path, const ShardTableEntry *dir, uint32_t n_tables,
                                uint64_t header_bytes, uint64_t *out, Error *err)
{
    uint64_t total = header_bytes + (uint64_t)n_tables * SHARD_TABLE_ENTRY_BYTES +
                     SHARD_CHECKSUM_BYTES;
    for (uint32_t t = 0; t < n_tables; t++) {
        uint64_t row_bytes = SHARD_ROW_HEADER_BYTES + (uint64_t)dir[t].stride * sizeof(float);
        if (dir[t].n_rows > (UINT64_MAX - total) / row_bytes)
            return error_set(err, "%s: table %u claims %llu rows, too many for any file", path,
                             dir[t].table_id, (unsigned long long)dir[t].n_rows);
        total += dir[t].n_rows * row_bytes;
    }
    *out = total;
    return 0;
}

/* Reads the header and directory, checks them against the store and the
 * file's size. Fills dir (n_tables entries) and returns 0, or -1. */
static int shard_read_directory(ShardReader *r, Store *store, uint64_t file_bytes,
                                ShardTableEntry *dir, uint32_t *n_tables_out, uint64_t *run_id,
                                Error *err)
{
    const char *path = r->path;
    if (file_bytes < SHARD_HEADER_BYTES)
        return error_set(err, "%s: not a psrec shard file (only %llu bytes)", path,
                         (unsigned long long)file_bytes);
    const uint8_t *header = shard_reader_take(r, SHARD_HEADER_BYTES, err);
    if (!header)
        return -1;
    if (memcmp(header, CHECKPOINT_SHARD_MAGIC, SHARD_MAGIC_BYTES) != 0)
        return error_set(err, "%s: not a psrec shard file (wrong magic number)", path);
    uint32_t version = shard_load_u32(header + SHARD_MAGIC_BYTES);
    if (version != 1 && version != CHECKPOINT_SHARD_VERSION)
        return error_set(err, "%s: shard format version %u, but this psrec reads versions 1 to %u",
                         path, version, CHECKPOINT_SHARD_VERSION);
    uint32_t n_tables = shard_load_u32(header + SHARD_MAGIC_BYTES + 4);
    if (n_tables > STORE_MAX_TABLES)
        return error_set(err, "%s: directory lists %u tables, more than the %d a model can have",
                         path, n_tables, STORE_MAX_TABLES);
    /* Version 2 names the run that wrote the file; version 1 did not (0). */
    uint64_t header_bytes = SHARD_HEADER_BYTES + (version >= 2 ? 8 : 0);
    *run_id = 0;
    if (file_bytes < header_bytes + (uint64_t)n_tables * SHARD_TABLE_ENTRY_BYTES)
        return error_set(err, "%s: truncated: the file ends inside its table directory", path);
    if (version >= 2) {
        const uint8_t *id = shard_reader_take(r, 8, err);
        if (!id)
            return -1;
        *run_id = shard_load_u64(id);
    }

    for (uint32_t t = 0; t < n_tables; t++) {
        const uint8_t *entry = shard_reader_take(r, SHARD_TABLE_ENTRY_BYTES, err);
        if (!entry)
            return -1;
        dir[t].table_id = shard_load_u32(entry);
        dir[t].width = shard_load_u32(entry + 4);
        dir[t].stride = shard_load_u32(entry + 8);
        dir[t].n_rows = shard_load_u64(entry + 12);
        if (shard_check_table(path, store, dir, t, err) != 0)
            return -1;
    }

    uint64_t expected = 0;
    if (shard_expected_bytes(path, dir, n_tables, header_bytes, &expected, err) != 0)
        return -1;
    if (file_bytes < expected)
        return error_set(err, "%s: truncated: %llu bytes, but its directory implies %llu", path,
                         (unsigned long long)file_bytes, (unsigned long long)expected);
    if (file_bytes > expected)
        return error_set(err, "%s: %llu unexpected bytes after the end of the data (%llu bytes, "
                         "the directory implies %llu)",
                         path, (unsigned long long)(file_bytes - expected),
                         (unsigned long long)file_bytes, (unsigned long long)expected);
    *n_tables_out = n_tables;
    return 0;
}

/* Whether key belongs to the slot r is read for; otherwise sets a message
 * naming the owner. A file in the wrong slot fails at its first row, before
 * that row reaches the store. */
static int shard_check_owner(const ShardReader *r, uint64_t key, Error *err)
{
    if (!r->owner_map)
        return 0;
    uint32_t owner = shardmap_server_of(r->owner_map, key);
    if (owner == (uint32_t)r->server)
        return 0;
    return error_set(err, "%s: holds key %u:%llu, which belongs to shard %u of %u, not shard %d: "
                     "shard files are mixed up",
                     r->path, key_table(key), (unsigned long long)key_id(key), owner,
                     r->owner_map->n_servers, r->server);
}

/* Reads the rows of every table into the store, then the checksum. */
static int shard_read_rows(ShardReader *r, Store *store, const ShardTableEntry *dir,
                           uint32_t n_tables, Error *err)
{
    int rc = 0;
    float *row = NULL; /* aligned copy of one row's floats */
    size_t row_cap = 0;
    for (uint32_t t = 0; t < n_tables && rc == 0; t++) {
        size_t stride = dir[t].stride;
        if (stride > row_cap) {
            row = xrealloc(row, stride * sizeof *row);
            row_cap = stride;
        }
        for (uint64_t i = 0; i < dir[t].n_rows; i++) {
            comm_keepalive(); /* a large shard takes a while to read */
            size_t row_bytes = SHARD_ROW_HEADER_BYTES + stride * sizeof *row;
            const uint8_t *bytes = shard_reader_take(r, row_bytes, err);
            if (!bytes) {
                rc = -1;
                break;
            }
            uint64_t key = shard_load_u64(bytes);
            uint32_t step = shard_load_u32(bytes + 8);
            /* A corrupt key could name a table the store lacks; store_put_row
             * asserts on that, so it is caught here (the checksum comes last). */
            if (key_table(key) != dir[t].table_id) {
                rc = error_set(err, "%s: row %llu of table %u has a key of table %u: the file "
                               "is corrupt",
                               r->path, (unsigned long long)i, dir[t].table_id, key_table(key));
                break;
            }
            if (r->keep_owned_only &&
                shardmap_server_of(r->owner_map, key) != (uint32_t)r->server)
                continue;
            rc = shard_check_owner(r, key, err);
            if (rc != 0)
                break;
            memcpy(row, bytes + SHARD_ROW_HEADER_BYTES, stride * sizeof *row);
            store_put_row(store, key, row, step);
        }
    }
    free(row);
    if (rc != 0)
        return rc;

    uint64_t computed = r->checksum;
    const uint8_t *stored = shard_reader_take(r, SHARD_CHECKSUM_BYTES, err);
    if (!stored)
        return -1;
    if (shard_load_u64(stored) != computed)
        return error_set(err, "%s: checksum mismatch: the file is corrupt", r->path);
    return 0;
}

/* Reads a shard file through r (path, owner map and filter set). */
static int shard_read(ShardReader *r, Store *store, uint64_t *run_id, Error *err)
{
    const char *path = r->path;
    r->checksum = CHECKSUM_INIT;
    r->file = fopen(path, "rb");
    if (!r->file)
        return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(r->file), &st) != 0) {
        int saved = errno;
        fclose(r->file);
        return error_set(err, "%s: cannot stat: %s", path, strerror(saved));
    }

    ShardTableEntry dir[STORE_MAX_TABLES];
    uint32_t n_tables = 0;
    int rc = shard_read_directory(r, store, (uint64_t)st.st_size, dir, &n_tables, run_id, err);
    if (rc == 0)
        rc = shard_read_rows(r, store, dir, n_tables, err);
    bytebuffer_free(&r->chunk);
    fclose(r->file);
    return rc;
}

int checkpoint_read_shard(const char *path, Store *store, const ShardMap *owner_map, int server,
                          uint64_t *run_id, Error *err)
{
    uint64_t ignored;
    assert(!owner_map || (server >= 0 && (uint32_t)server < owner_map->n_servers));
    ShardReader r = {.path = path, .owner_map = owner_map, .server = server};
    return shard_read(&r, store, run_id ? run_id : &ignored, err);
}

int checkpoint_read_shard_owned(const char *path, Store *store, const ShardMap *map, int server,
                                uint64_t *run_id, Error *err)
{
    uint64_t ignored;
    assert(server >= 0 && (uint32_t)server < map->n_servers);
    ShardReader r = {.path = path, .owner_map = map, .server = server, .keep_owned_only = true};
    return shard_read(&r, store, run_id ? run_id : &ignored, err);
}

void checkpoint_shard_path(char *out, size_t out_bytes, const char *dir, int server, int n_servers)
{
    snprintf(out, out_bytes, "%s/shard-%05d-of-%05d.bin", dir, server, n_servers);
}

/* ---- manifest: one table of fields drives both writing and reading. */

typedef enum {
    MANIFEST_INT,    /* int in [min_int, max_int] */
    MANIFEST_U64,    /* uint64_t */
    MANIFEST_DOUBLE, /* double, finite, written with %.17g to round-trip */
    MANIFEST_NAME    /* char[32], non-empty, no spaces */
} ManifestFieldType;

typedef struct {
    const char *key;
    ManifestFieldType type;
    size_t offset;
    int min_int; /* MANIFEST_INT only */
    int max_int;
    bool optional; /* added after version 1's first files: absent reads as 0 */
} ManifestField;

static const ManifestField MANIFEST_FIELDS[] = {
    {"version", MANIFEST_INT, offsetof(ModelManifest, version), 0, INT_MAX, false},
    {"model", MANIFEST_NAME, offsetof(ModelManifest, model), 0, 0, false},
    /* Bounds are psrec train's own (--dim, --servers, --vshards, --hidden):
     * an edited number is refused before anything is allocated for it. */
    {"dim", MANIFEST_INT, offsetof(ModelManifest, dim), 1, 4096, false},
    {"n_servers", MANIFEST_INT, offsetof(ModelManifest, n_servers), 1, 65536, false},
    {"n_vshards", MANIFEST_INT, offsetof(ModelManifest, n_vshards), 1, 1 << 20, false},
    {"optimizer", MANIFEST_INT, offsetof(ModelManifest, optimizer), OPTIMIZER_SGD,
     OPTIMIZER_ADAM, false},
    {"init_seed", MANIFEST_U64, offsetof(ModelManifest, init_seed), 0, 0, false},
    {"epochs_done", MANIFEST_INT, offsetof(ModelManifest, epochs_done), 0, INT_MAX, false},
    {"clock", MANIFEST_U64, offsetof(ModelManifest, clock), 0, 0, false},
    {"global_mean", MANIFEST_DOUBLE, offsetof(ModelManifest, global_mean), 0, 0, false},
    {"rating_min", MANIFEST_DOUBLE, offsetof(ModelManifest, rating_min), 0, 0, false},
    {"rating_max", MANIFEST_DOUBLE, offsetof(ModelManifest, rating_max), 0, 0, false},
    {"hidden", MANIFEST_INT, offsetof(ModelManifest, hidden), 0, 4096, true},
    {"activation", MANIFEST_INT, offsetof(ModelManifest, activation), 0, 2, true},
    {"loss", MANIFEST_INT, offsetof(ModelManifest, loss), 0, 1, true},
    {"item_features", MANIFEST_INT, offsetof(ModelManifest, item_features), 0, 1, true},
    {"user_features", MANIFEST_INT, offsetof(ModelManifest, user_features), 0, 1, true},
    {"user_history", MANIFEST_INT, offsetof(ModelManifest, user_history), 0, 1, true},
    {"history_scale", MANIFEST_DOUBLE, offsetof(ModelManifest, history_scale), 0, 0, true},
    {"neighbours", MANIFEST_INT, offsetof(ModelManifest, neighbours), 0, 100000, true},
    {"similarity", MANIFEST_INT, offsetof(ModelManifest, similarity), 0, 2, true},
    {"alpha", MANIFEST_DOUBLE, offsetof(ModelManifest, alpha), 0, 0, true},
    {"shrink", MANIFEST_DOUBLE, offsetof(ModelManifest, shrink), 0, 0, true},
    {"run_id", MANIFEST_U64, offsetof(ModelManifest, run_id), 0, 0, true},
    {"rated_neighbours", MANIFEST_INT, offsetof(ModelManifest, rated_neighbours), 0, 100000,
     true},
    {"warm_start_run_id", MANIFEST_U64, offsetof(ModelManifest, warm_start_run_id), 0, 0, true},
    {"warm_start_checksum", MANIFEST_U64, offsetof(ModelManifest, warm_start_checksum), 0, 0,
     true},
    /* A checkpoint's training position (checkpoint.h: TrainPosition). */
#define POSITION_FIELD(name) offsetof(ModelManifest, position) + offsetof(TrainPosition, name)
    {"checkpoint", MANIFEST_U64, POSITION_FIELD(number), 0, 0, true},
    {"resume_epoch", MANIFEST_INT, POSITION_FIELD(epoch), 0, 100000000, true},
    {"resume_batch", MANIFEST_U64, POSITION_FIELD(batch), 0, 0, true},
    {"batches_per_epoch", MANIFEST_U64, POSITION_FIELD(batches_per_epoch), 0, 0, true},
    {"workers", MANIFEST_INT, POSITION_FIELD(workers), 0, 65536, true},
    {"epoch_loss_sum", MANIFEST_DOUBLE, POSITION_FIELD(epoch_loss_sum), 0, 0, true},
    {"first_loss", MANIFEST_DOUBLE, POSITION_FIELD(first_loss), 0, 0, true},
    {"best_snapshot", MANIFEST_INT, POSITION_FIELD(best_snapshot), 0, 1, true},
    {"best_watched", MANIFEST_DOUBLE, POSITION_FIELD(best_watched), 0, 0, true},
    {"reported_epoch", MANIFEST_INT, POSITION_FIELD(reported_epoch), 0, 100000000, true},
    {"metrics_bytes", MANIFEST_U64, POSITION_FIELD(metrics_bytes), 0, 0, true},
    {"metrics_checksum", MANIFEST_U64, POSITION_FIELD(metrics_checksum), 0, 0, true},
    {"train_seconds", MANIFEST_DOUBLE, POSITION_FIELD(train_seconds), 0, 0, true},
#undef POSITION_FIELD
};
#define MANIFEST_N_FIELDS (sizeof MANIFEST_FIELDS / sizeof MANIFEST_FIELDS[0])
/* The last line: the checksum of every byte before it. */
#define MANIFEST_CHECKSUM_KEY "checksum"

int checkpoint_write_manifest(const char *path, const ModelManifest *manifest, Error *err)
{
    /* The text is built in memory first: its checksum line covers it. */
    char *text = NULL;
    size_t text_bytes = 0;
    FILE *memory = open_memstream(&text, &text_bytes);
    if (!memory)
        return error_set(err, "%s: cannot build the manifest: %s", path, strerror(errno));
    const char *base = (const char *)manifest;
    fprintf(memory, "# psrec model manifest: written last, after every shard\n");
    for (size_t f = 0; f < MANIFEST_N_FIELDS; f++) {
        const ManifestField *field = &MANIFEST_FIELDS[f];
        const void *value = base + field->offset;
        switch (field->type) {
        case MANIFEST_INT:
            fprintf(memory, "%s = %d\n", field->key, *(const int *)value);
            break;
        case MANIFEST_U64:
            fprintf(memory, "%s = %llu\n", field->key,
                    (unsigned long long)*(const uint64_t *)value);
            break;
        case MANIFEST_DOUBLE:
            fprintf(memory, "%s = %.17g\n", field->key, *(const double *)value);
            break;
        case MANIFEST_NAME:
            fprintf(memory, "%s = %s\n", field->key, (const char *)value);
            break;
        }
    }
    fclose(memory);
    SafeFile sf;
    if (safefile_open(&sf, path, err) != 0) {
        free(text);
        return -1;
    }
    bool ok = fwrite(text, 1, text_bytes, sf.file) == text_bytes &&
              fprintf(sf.file, "%s = %llu\n", MANIFEST_CHECKSUM_KEY,
                      (unsigned long long)checksum_update(CHECKSUM_INIT, text, text_bytes)) > 0;
    free(text);
    if (!ok)
        error_set(err, "%s: cannot write %s: %s", path, sf.tmp_path, strerror(errno));
    return safefile_commit(&sf, ok, err);
}

/* Text without leading and trailing white space (modifies text in place). */
static char *manifest_trim(char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
    return text;
}

/* Parses one value of field into the manifest; on failure returns -1 with a
 * message "path:line: ..." saying what was expected. */
static int manifest_parse_value(const ManifestField *field, const char *text, ModelManifest *out,
                                const char *path, long line, Error *err)
{
    void *value = (char *)out + field->offset;
    char *end = NULL;
    char quoted[TEXT_QUOTE_BYTES]; /* the value as a message shows it */
    errno = 0;
    switch (field->type) {
    case MANIFEST_INT: {
        long parsed = strtol(text, &end, 10);
        if (end == text || *end != '\0' || errno == ERANGE || parsed < field->min_int ||
            parsed > field->max_int)
            return error_set(err, "%s:%ld: %s must be an integer from %d to %d, not '%s'", path,
                             line, field->key, field->min_int, field->max_int,
                             text_quote(quoted, text));
        *(int *)value = (int)parsed;
        return 0;
    }
    case MANIFEST_U64: {
        unsigned long long parsed = strtoull(text, &end, 10);
        /* strtoull accepts "-1" as a huge number; a sign is never meant. */
        if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno == ERANGE)
            return error_set(err, "%s:%ld: %s must be an unsigned integer, not '%s'", path, line,
                             field->key, text_quote(quoted, text));
        *(uint64_t *)value = (uint64_t)parsed;
        return 0;
    }
    case MANIFEST_DOUBLE: {
        double parsed = strtod(text, &end);
        if (end == text || *end != '\0' || !isfinite(parsed))
            return error_set(err, "%s:%ld: %s must be a finite number, not '%s'", path, line,
                             field->key, text_quote(quoted, text));
        *(double *)value = parsed;
        return 0;
    }
    case MANIFEST_NAME: {
        size_t len = strlen(text);
        bool plain = len > 0 && len < sizeof out->model;
        for (size_t i = 0; i < len && plain; i++)
            plain = isalnum((unsigned char)text[i]) || text[i] == '_' || text[i] == '-';
        if (!plain)
            return error_set(err, "%s:%ld: %s must be a name of 1 to %zu letters, digits, '_' "
                             "or '-', not '%s'",
                             path, line, field->key, sizeof out->model - 1,
                             text_quote(quoted, text));
        memcpy(value, text, len + 1);
        return 0;
    }
    }
    assert(!"unknown manifest field type");
    return -1;
}

/* Whether a raw manifest line is the checksum line; if so *value gets its
 * number (-1 with a message when it is not one). */
static int manifest_checksum_line(const char *raw, const char *path, long line, bool *is_checksum,
                                  uint64_t *value, Error *err)
{
    size_t key_len = strlen(MANIFEST_CHECKSUM_KEY);
    const char *text = raw;
    while (isspace((unsigned char)*text))
        text++;
    *is_checksum = strncmp(text, MANIFEST_CHECKSUM_KEY, key_len) == 0 &&
                   (isspace((unsigned char)text[key_len]) || text[key_len] == '=');
    if (!*is_checksum)
        return 0;
    const char *equals = strchr(text, '=');
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = equals ? strtoull(equals + 1, &end, 10) : 0;
    while (end && isspace((unsigned char)*end))
        end++;
    if (!equals || !end || end == equals + 1 || *end != '\0' || errno == ERANGE)
        return error_set(err, "%s:%ld: malformed checksum line", path, line);
    *value = (uint64_t)parsed;
    return 0;
}

/* Parses the lines of an open manifest; seen[f] tells which keys were given.
 * A checksum line must be the last and match the bytes before it. */
static int manifest_parse_lines(FILE *file, const char *path, ModelManifest *out,
                                bool seen[MANIFEST_N_FIELDS], Error *err)
{
    char *buffer = NULL;
    size_t buffer_bytes = 0;
    long line = 0;
    int rc = 0;
    uint64_t computed = CHECKSUM_INIT;
    bool checksum_seen = false;
    ssize_t got;
    char quoted[TEXT_QUOTE_BYTES]; /* a key or line as a message shows it */
    while (rc == 0 && (got = getline(&buffer, &buffer_bytes, file)) != -1) {
        line++;
        bool is_checksum = false;
        uint64_t stored = 0;
        rc = manifest_checksum_line(buffer, path, line, &is_checksum, &stored, err);
        if (rc != 0)
            break;
        if (checksum_seen) {
            rc = error_set(err, "%s:%ld: text after the checksum line", path, line);
            break;
        }
        if (is_checksum) {
            checksum_seen = true;
            out->checksum = stored;
            if (stored != computed)
                rc = error_set(err, "%s:%ld: checksum mismatch: the manifest was changed or "
                                    "damaged after it was written",
                               path, line);
            continue;
        }
        computed = checksum_update(computed, buffer, (size_t)got);
        char *text = manifest_trim(buffer);
        if (text[0] == '\0' || text[0] == '#')
            continue;
        char *equals = strchr(text, '=');
        if (!equals) {
            rc = error_set(err, "%s:%ld: expected 'key = value', found '%s'", path, line,
                           text_quote(quoted, text));
            break;
        }
        *equals = '\0';
        char *key = manifest_trim(text);
        char *value = manifest_trim(equals + 1);
        size_t f = 0;
        while (f < MANIFEST_N_FIELDS && strcmp(MANIFEST_FIELDS[f].key, key) != 0)
            f++;
        if (f == MANIFEST_N_FIELDS)
            rc = error_set(err, "%s:%ld: unknown key '%s'", path, line, text_quote(quoted, key));
        else if (seen[f])
            rc = error_set(err, "%s:%ld: key '%s' is given twice", path, line,
                           text_quote(quoted, key));
        else
            rc = manifest_parse_value(&MANIFEST_FIELDS[f], value, out, path, line, err);
        if (rc != 0)
            break;
        seen[f] = true;
        if (MANIFEST_FIELDS[f].offset == offsetof(ModelManifest, version) &&
            out->version != CHECKPOINT_MANIFEST_VERSION)
            rc = error_set(err, "%s:%ld: manifest version %d, but this psrec reads version %d",
                           path, line, out->version, CHECKPOINT_MANIFEST_VERSION);
    }
    if (rc == 0 && ferror(file))
        rc = error_set(err, "%s: read failed: %s", path, strerror(errno));
    free(buffer);
    return rc;
}

/* Fields valid alone but contradictory together: an empty rating range would
 * clip every prediction to one value, and fewer virtual shards than servers
 * cannot be mapped (shardmap_init requires n_vshards >= n_servers). */
static int manifest_check_consistent(const char *path, const ModelManifest *m, Error *err)
{
    if (m->rating_min > m->rating_max)
        return error_set(err, "%s: rating_min %g is above rating_max %g", path, m->rating_min,
                         m->rating_max);
    if (m->n_vshards < m->n_servers)
        return error_set(err, "%s: n_vshards %d is below n_servers %d (every server needs at "
                         "least one virtual shard)",
                         path, m->n_vshards, m->n_servers);
    return 0;
}

int checkpoint_read_manifest(const char *path, ModelManifest *out, Error *err)
{
    memset(out, 0, sizeof *out);
    FILE *file = fopen(path, "r");
    if (!file)
        return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    bool seen[MANIFEST_N_FIELDS] = {false};
    int rc = manifest_parse_lines(file, path, out, seen, err);
    fclose(file);
    for (size_t f = 0; f < MANIFEST_N_FIELDS && rc == 0; f++)
        if (!seen[f] && !MANIFEST_FIELDS[f].optional)
            rc = error_set(err, "%s: missing key '%s'", path, MANIFEST_FIELDS[f].key);
    if (rc == 0)
        rc = manifest_check_consistent(path, out, err);
    return rc;
}
