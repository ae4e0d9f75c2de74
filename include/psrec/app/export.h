/* export.h — `psrec export`: a trained model as NumPy files.
 *
 * Loads a run folder's model (model_files_load, no MPI) and writes, for each
 * parameter table, OUT/<table>.npy — NumPy format 1.0, '<f4', C order, shape
 * (rows, width): the weights of one id per row, optimizer state left out,
 * rows sorted by id — and OUT/<table>_ids.csv (header `row,id`, the id of
 * each row in the same order). Table names come from model_table_name.
 * OUT/model.txt, written last, copies the manifest fields needed to score
 * and says how (for mf: r̂ = μ + b_u + b_i + p_u·q_i, column 0 is the bias).
 * Every file is written to a temporary name and renamed into place.
 */
#ifndef PSREC_EXPORT_H
#define PSREC_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/core/util.h"
#include "psrec/models/model.h"
#include "psrec/ps/store.h"

/* At most: every table, the dense one written as a model's matrices. */
#define EXPORT_MAX_FILES (STORE_MAX_TABLES + MODEL_MAX_DENSE_MATRICES)

/* What export_model wrote: one entry per .npy file, in the model's table
 * order (a model's dense table as its named matrices, e.g. w_hidden). */
typedef struct {
    int n_tables;
    struct {
        const char *name; /* model_table_name or a dense matrix name: static */
        size_t n_rows;
        uint32_t width;
    } tables[EXPORT_MAX_FILES];
} ExportSummary;

/* Exports the model of run_dir into out_dir (created with its parents if
 * missing; files already there with the same names are replaced). Fills
 * *summary (may be NULL). Returns 0, or -1 with a one-line message in *err:
 * the run has no model, a model file is bad, or out_dir or a file in it
 * cannot be written. On failure no temporary file is left behind, but files
 * written before the failure stay, and OUT/model.txt is absent. */
int export_model(const char *run_dir, const char *out_dir, ExportSummary *summary, Error *err);

/* Runs `psrec export` with the arguments after the subcommand. Returns the
 * exit code: 0 success, 1 failure (message on stderr), 2 bad usage. */
int export_main(int argc, char **argv);

#endif
