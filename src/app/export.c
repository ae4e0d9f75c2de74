/* export.c — `psrec export` (see export.h). Single process, no MPI.
 *
 * The .npy files follow the NumPy format 1.0: the magic "\x93NUMPY", version
 * 1 0, a little-endian u16 header length, then a Python dict literal padded
 * with spaces and ended by '\n' so that data starts at a multiple of 64
 * bytes (as numpy itself writes), then the floats in C order. Floats are
 * written byte by byte in little-endian order, whatever the host's order,
 * so the '<f4' of the header is always true.
 */
#include "psrec/app/export.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psrec/app/config.h"
#include "psrec/app/model_files.h"
#include "psrec/core/keys.h"
#include "psrec/models/model.h"
#include "psrec/models/neighbours.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_BYTES 6
#define NPY_PREAMBLE_BYTES (NPY_MAGIC_BYTES + 2 + 2) /* magic, version, header length */
#define NPY_ALIGN_BYTES 64

/* Long enough for out_dir, '/', a table name and a suffix. */
#define EXPORT_PATH_BYTES (OPTION_STRING_BYTES + 64)

/* ---- one output file, written through path + ".tmp" */

typedef struct {
    char path[EXPORT_PATH_BYTES];
    char tmp_path[EXPORT_PATH_BYTES + 8];
    FILE *file;
    int write_errno; /* errno of the first failed write, 0 while all went well */
} ExportFile;

/* Opens dir/name.tmp for writing. Returns 0, or -1 with a message. */
static int export_file_open(ExportFile *f, const char *dir, const char *name, Error *err)
{
    memset(f, 0, sizeof *f);
    int len = snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof f->path)
        return error_set(err, "%s: path too long for %s", dir, name);
    snprintf(f->tmp_path, sizeof f->tmp_path, "%s.tmp", f->path);
    f->file = fopen(f->tmp_path, "wb");
    if (!f->file)
        return error_set(err, "cannot write %s: %s", f->tmp_path, strerror(errno));
    return 0;
}

/* Appends bytes; a failure is remembered and reported by export_file_commit,
 * and later writes are skipped. */
static void export_file_write(ExportFile *f, const void *data, size_t bytes)
{
    if (f->write_errno == 0 && fwrite(data, 1, bytes, f->file) != bytes)
        f->write_errno = errno ? errno : EIO;
}

static void export_file_printf(ExportFile *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void export_file_printf(ExportFile *f, const char *fmt, ...)
{
    if (f->write_errno != 0)
        return;
    va_list args;
    va_start(args, fmt);
    int written = vfprintf(f->file, fmt, args);
    va_end(args);
    if (written < 0)
        f->write_errno = errno ? errno : EIO;
}

/* Flushes, syncs, closes and renames the file into place. On any failure
 * (including an earlier write) the temporary file is removed and -1 returned
 * with a message naming it and the OS error. */
static int export_file_commit(ExportFile *f, Error *err)
{
    int saved = f->write_errno;
    if (saved == 0 && (fflush(f->file) != 0 || fsync(fileno(f->file)) != 0))
        saved = errno;
    if (fclose(f->file) != 0 && saved == 0)
        saved = errno;
    f->file = NULL;
    if (saved != 0) {
        remove(f->tmp_path);
        return error_set(err, "cannot write %s: %s", f->tmp_path, strerror(saved));
    }
    if (rename(f->tmp_path, f->path) != 0) {
        saved = errno;
        remove(f->tmp_path);
        return error_set(err, "cannot rename %s to %s: %s", f->tmp_path, f->path,
                         strerror(saved));
    }
    return 0;
}

/* ---- one table */

typedef struct {
    uint64_t id;
    size_t row; /* index in the store's table */
} ExportRow;

static int export_row_compare(const void *a, const void *b)
{
    uint64_t x = ((const ExportRow *)a)->id;
    uint64_t y = ((const ExportRow *)b)->id;
    return (x > y) - (x < y);
}

/* The rows of table t sorted by id. The caller frees the array. */
static ExportRow *export_sorted_rows(const Store *store, int t, size_t *n_rows)
{
    *n_rows = store_row_count(store, t);
    ExportRow *rows = xmalloc(*n_rows * sizeof *rows);
    for (size_t r = 0; r < *n_rows; r++)
        rows[r] = (ExportRow){.id = key_id(store_row_key(store, t, r)), .row = r};
    qsort(rows, *n_rows, sizeof *rows, export_row_compare);
    return rows;
}

/* The magic, version, header length and padded header dict of a
 * (n_rows, width) float32 array. */
static void export_write_npy_header(ExportFile *f, size_t n_rows, uint32_t width)
{
    char header[256];
    int dict_bytes = snprintf(header, sizeof header,
                              "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %u), }",
                              n_rows, width);
    /* The dict is at most ~90 bytes: two numbers of at most 20 digits. */
    assert(dict_bytes > 0 && (size_t)dict_bytes + NPY_ALIGN_BYTES < sizeof header);
    size_t total = NPY_PREAMBLE_BYTES + (size_t)dict_bytes + 1; /* + '\n' */
    size_t padded = (total + NPY_ALIGN_BYTES - 1) / NPY_ALIGN_BYTES * NPY_ALIGN_BYTES;
    size_t header_bytes = padded - NPY_PREAMBLE_BYTES;
    memset(header + dict_bytes, ' ', header_bytes - (size_t)dict_bytes - 1);
    header[header_bytes - 1] = '\n';

    uint8_t preamble[NPY_PREAMBLE_BYTES];
    memcpy(preamble, NPY_MAGIC, NPY_MAGIC_BYTES);
    preamble[6] = 1; /* major version */
    preamble[7] = 0; /* minor version */
    preamble[8] = (uint8_t)(header_bytes & 0xff);
    preamble[9] = (uint8_t)(header_bytes >> 8);
    export_file_write(f, preamble, sizeof preamble);
    export_file_write(f, header, header_bytes);
}

/* Writes the little-endian bytes of n floats. */
static void export_write_floats(ExportFile *f, const float *values, size_t n)
{
    uint8_t bytes[4];
    for (size_t k = 0; k < n && f->write_errno == 0; k++) {
        uint32_t bits;
        memcpy(&bits, &values[k], sizeof bits);
        for (int b = 0; b < 4; b++)
            bytes[b] = (uint8_t)(bits >> (8 * b));
        export_file_write(f, bytes, 4);
    }
}

/* Writes the model's dense matrices (model->dense_matrices) as
 * out_dir/<matrix>.npy each, from the rows of the dense table t (block b
 * holds floats b·MODEL_DENSE_BLOCK onwards; a missing block reads as
 * zeros). */
static int export_write_dense(const char *out_dir, const ModelOps *model,
                              const ModelParams *params, Store *store, int t,
                              ExportSummary *summary, Error *err)
{
    size_t n_blocks = model_dense_blocks(model, params);
    float *dense = xcalloc(n_blocks * MODEL_DENSE_BLOCK, sizeof(float));
    for (size_t r = 0; r < store_row_count(store, t); r++) {
        uint64_t block = key_id(store_row_key(store, t, r));
        if (block < n_blocks)
            memcpy(dense + block * MODEL_DENSE_BLOCK, store_row_data(store, t, r),
                   MODEL_DENSE_BLOCK * sizeof(float));
    }
    DenseMatrix matrices[MODEL_MAX_DENSE_MATRICES];
    int n = model->dense_matrices(params, matrices), rc = 0;
    for (int m = 0; m < n && rc == 0; m++) {
        char file_name[64];
        snprintf(file_name, sizeof file_name, "%s.npy", matrices[m].name);
        ExportFile f;
        rc = export_file_open(&f, out_dir, file_name, err);
        if (rc != 0)
            break;
        export_write_npy_header(&f, matrices[m].rows, (uint32_t)matrices[m].cols);
        export_write_floats(&f, dense + matrices[m].offset, matrices[m].rows * matrices[m].cols);
        rc = export_file_commit(&f, err);
        if (rc == 0 && summary->n_tables < EXPORT_MAX_FILES) {
            summary->tables[summary->n_tables].name = matrices[m].name;
            summary->tables[summary->n_tables].n_rows = matrices[m].rows;
            summary->tables[summary->n_tables].width = (uint32_t)matrices[m].cols;
            summary->n_tables++;
        }
    }
    free(dense);
    return rc;
}

/* Writes table t's weights as out_dir/<name>.npy, rows in the order of rows. */
static int export_write_npy(const char *out_dir, const char *name, Store *store, int t,
                            const ExportRow *rows, size_t n_rows, Error *err)
{
    char file_name[64];
    snprintf(file_name, sizeof file_name, "%s.npy", name);
    ExportFile f;
    if (export_file_open(&f, out_dir, file_name, err) != 0)
        return -1;
    uint32_t width = store_table_at(store, t)->width;
    export_write_npy_header(&f, n_rows, width);
    uint8_t *bytes = xmalloc((size_t)width * 4); /* one row, little-endian */
    for (size_t i = 0; i < n_rows && f.write_errno == 0; i++) {
        /* The first `width` floats of a slab entry are the weights; the
         * optimizer state after them is not exported. */
        const float *weights = store_row_data(store, t, rows[i].row);
        for (uint32_t k = 0; k < width; k++) {
            uint32_t bits;
            memcpy(&bits, &weights[k], sizeof bits);
            for (int b = 0; b < 4; b++)
                bytes[4 * k + (uint32_t)b] = (uint8_t)(bits >> (8 * b));
        }
        export_file_write(&f, bytes, (size_t)width * 4);
    }
    free(bytes);
    return export_file_commit(&f, err);
}

/* Writes out_dir/<name>_ids.csv: `row,id` then one line per row. */
static int export_write_ids(const char *out_dir, const char *name, const ExportRow *rows,
                            size_t n_rows, Error *err)
{
    char file_name[64];
    snprintf(file_name, sizeof file_name, "%s_ids.csv", name);
    ExportFile f;
    if (export_file_open(&f, out_dir, file_name, err) != 0)
        return -1;
    export_file_printf(&f, "row,id\n");
    for (size_t i = 0; i < n_rows && f.write_errno == 0; i++)
        export_file_printf(&f, "%zu,%llu\n", i, (unsigned long long)rows[i].id);
    return export_file_commit(&f, err);
}

/* Writes table t (neighbour lists) as out_dir/neighbours.csv:
 * `item_id,rank,neighbour_id,similarity`, most similar first. */
static int export_write_neighbours(const char *out_dir, Store *store, int t, const ExportRow *rows,
                                   size_t n_rows, Error *err)
{
    ExportFile f;
    if (export_file_open(&f, out_dir, "neighbours.csv", err) != 0)
        return -1;
    int k = (int)(store_table_at(store, t)->width / NEIGHBOUR_FLOATS);
    export_file_printf(&f, "item_id,rank,neighbour_id,similarity\n");
    for (size_t i = 0; i < n_rows && f.write_errno == 0; i++) {
        const float *list = store_row_data(store, t, rows[i].row);
        uint64_t neighbour;
        float sim;
        for (int slot = 0; slot < k && neighbours_row_get(list, slot, &neighbour, &sim); slot++)
            export_file_printf(&f, "%llu,%d,%llu,%.9g\n", (unsigned long long)rows[i].id,
                               slot + 1, (unsigned long long)neighbour, (double)sim);
    }
    return export_file_commit(&f, err);
}

/* ---- the description a reader needs to score */

static int export_write_description(const char *out_dir, const char *run_dir,
                                    const ModelManifest *manifest, const ExportSummary *summary,
                                    Error *err)
{
    ExportFile f;
    if (export_file_open(&f, out_dir, "model.txt", err) != 0)
        return -1;
    export_file_printf(&f, "# psrec export of %s/model\n", run_dir);
    export_file_printf(&f, "# <table>.npy: float32 (rows, width), row r holds the weights of the "
                           "id on line r of <table>_ids.csv\n");
    bool is_mf = strcmp(manifest->model, "mf") == 0;
    if (is_mf) {
        export_file_printf(&f,
                           "# Score of user u and item i, with U = user.npy, I = item.npy and\n"
                           "# U[u], I[i] the rows of ids u and i (a row of zeros for an id not\n"
                           "# listed); column 0 is the bias, columns 1..dim the factors:\n"
                           "#   score = global_mean + U[u,0] + I[i,0] + dot(U[u,1:], I[i,1:])\n"
                           "# clipped to [rating_min, rating_max].\n");
    }
    export_file_printf(&f, "model = %s\n", manifest->model);
    export_file_printf(&f, "dim = %d\n", manifest->dim);
    if (is_mf) {
        /* %.17g gives back the very same doubles. */
        export_file_printf(&f, "global_mean = %.17g\n", manifest->global_mean);
        export_file_printf(&f, "rating_min = %.17g\n", manifest->rating_min);
        export_file_printf(&f, "rating_max = %.17g\n", manifest->rating_max);
    }
    if (strcmp(manifest->model, "deep") == 0) {
        static const char *const activations[] = {"relu", "sigmoid", "tanh"};
        export_file_printf(&f,
                           "# Score of user u and item i (h, v: their representations below):\n"
                           "#   score = dot(act(w_hidden @ h + b_hidden), w_out @ v) + b_out\n");
        export_file_printf(&f, "hidden = %d\n", manifest->hidden);
        export_file_printf(&f, "activation = %s\n", activations[manifest->activation]);
    }
    if (strcmp(manifest->model, "item-knn") == 0 || strcmp(manifest->model, "popularity") == 0)
        export_file_printf(&f,
                           "# neighbours.csv lists each item's most similar items. Score of\n"
                           "# user u and item i, H(u) the user's training items, pop = item.npy\n"
                           "# (training counts):\n"
                           "#   score = sum over j in H(u) of sim(j, i) + 1e-6 * pop[i] / max(pop)\n"
                           "# (popularity: score = pop[i]).\n");
    if (strcmp(manifest->model, "item-knn-baseline") == 0)
        export_file_printf(&f,
                           "# neighbours.csv lists each item's most similar items. Prediction of\n"
                           "# user u's rating of item i, with b(u, j) = global_mean + user.npy[u]\n"
                           "# + item.npy[j] and N the rated_neighbours items of i's list that u\n"
                           "# rated, most similar first:\n"
                           "#   r = b(u, i) + sum_N sim(i, j) (r_uj - b(u, j)) / sum_N sim(i, j)\n"
                           "# clipped to [rating_min, rating_max].\n"
                           "global_mean = %.17g\nrating_min = %.17g\nrating_max = %.17g\n"
                           "rated_neighbours = %d\n",
                           manifest->global_mean, manifest->rating_min, manifest->rating_max,
                           manifest->rated_neighbours);
    if (manifest->item_features || manifest->user_features || manifest->user_history)
        export_file_printf(&f,
                           "# A representation is its own row plus its features' rows times\n"
                           "# their weights (item_feature, user_feature: the weights of the\n"
                           "# feature files, summing to 1 per id; user_history: each training\n"
                           "# item of the user, history_scale/sqrt(count) each).\n");
    if (manifest->user_history)
        export_file_printf(&f, "history_scale = %.17g\n", manifest->history_scale);
    export_file_printf(&f, "epochs_done = %d\n", manifest->epochs_done);
    export_file_printf(&f, "tables =");
    for (int t = 0; t < summary->n_tables; t++)
        export_file_printf(&f, " %s", summary->tables[t].name);
    export_file_printf(&f, "\n");
    return export_file_commit(&f, err);
}

/* ---- the command */

int export_model(const char *run_dir, const char *out_dir, ExportSummary *summary, Error *err)
{
    ExportSummary local;
    if (!summary)
        summary = &local;
    memset(summary, 0, sizeof *summary);

    ModelManifest manifest;
    ModelParams params;
    const ModelOps *model = NULL;
    Store *store = model_files_load(run_dir, &manifest, &params, &model, err);
    if (!store)
        return -1;
    if (path_make_dirs(out_dir, err) != 0) {
        store_destroy(store);
        return -1;
    }
    /* model.txt is written last: without it the folder is incomplete, so an
     * older one must not survive a failed export. */
    char path[EXPORT_PATH_BYTES];
    snprintf(path, sizeof path, "%s/model.txt", out_dir);
    if (remove(path) != 0 && errno != ENOENT) {
        error_set(err, "cannot replace %s: %s", path, strerror(errno));
        store_destroy(store);
        return -1;
    }

    int rc = 0;
    for (int t = 0; t < store_table_count(store) && rc == 0; t++) {
        const TableSpec *spec = store_table_at(store, t);
        if (spec->table_id == MODEL_TABLE_DENSE) { /* as its matrices, not blocks */
            rc = export_write_dense(out_dir, model, &params, store, t, summary, err);
            continue;
        }
        const char *name = model_table_name(spec->table_id);
        size_t n_rows = 0;
        ExportRow *rows = export_sorted_rows(store, t, &n_rows);
        if (spec->table_id == MODEL_TABLE_NEIGHBOURS) /* ids, not floats: a CSV */
            rc = export_write_neighbours(out_dir, store, t, rows, n_rows, err);
        else
            rc = export_write_npy(out_dir, name, store, t, rows, n_rows, err);
        if (rc == 0 && spec->table_id != MODEL_TABLE_NEIGHBOURS)
            rc = export_write_ids(out_dir, name, rows, n_rows, err);
        free(rows);
        summary->tables[summary->n_tables].name = name;
        summary->tables[summary->n_tables].n_rows = n_rows;
        summary->tables[summary->n_tables].width = spec->width;
        summary->n_tables++;
    }
    if (rc == 0)
        rc = export_write_description(out_dir, run_dir, &manifest, summary, err);
    store_destroy(store);
    return rc;
}

int export_main(int argc, char **argv)
{
    ExportConfig config;
    Error err;
    int rc = config_load_export(&config, argc, argv, &err);
    int exit_code = config_report_load(rc, "export", EXPORT_USAGE, EXPORT_OPTIONS,
                                       EXPORT_OPTION_COUNT, &err);
    if (exit_code >= 0)
        return exit_code;

    ExportSummary summary;
    if (export_model(config.run_dir, config.out_dir, &summary, &err) != 0) {
        fprintf(stderr, "psrec export: %s\n", err.message);
        return CONFIG_EXIT_RUN_FAILED;
    }
    fprintf(stderr, "psrec export: wrote");
    for (int t = 0; t < summary.n_tables; t++)
        fprintf(stderr, "%s %s.npy (%zu x %u)", t ? "," : "", summary.tables[t].name,
                summary.tables[t].n_rows, summary.tables[t].width);
    fprintf(stderr, " and model.txt to %s\n", config.out_dir);
    return 0;
}
