/* progress.h — what the chief shows and records while training.
 *
 * On a terminal, a live line within an epoch (percent, examples/s, ETA) on
 * stdout — under mpirun only stdout reaches a terminal — redrawn at most a
 * few times per second; one permanent line per epoch; and
 * the metrics of each epoch appended to the run folder as one JSON object
 * per line. Only the chief uses it.
 */
#ifndef PSREC_PROGRESS_H
#define PSREC_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A named figure of a run, e.g. ("valid_ndcg_10", 0.31). */
typedef struct {
    char name[48];
    double value;
} NamedFigure;

#define PROGRESS_MAX_FIGURES 64

typedef struct {
    int epoch;              /* 1-based */
    int epochs;
    double examples;        /* training examples in the epoch, all workers */
    double train_seconds;   /* wall time of the epoch's training loop */
    double elapsed_seconds; /* since training started */
    /* The epoch's figures (train loss, validation and test metrics); the
     * first n_on_line of them are also printed on the epoch's line. */
    int n_figures;
    int n_on_line;
    NamedFigure figures[PROGRESS_MAX_FIGURES];
} EpochRecord;

/* Appends a figure to the record (at most PROGRESS_MAX_FIGURES). */
void epoch_record_add(EpochRecord *record, const char *name, double value);

/* The value of the figure called name, or NaN. */
double epoch_record_get(const EpochRecord *record, const char *name);

typedef struct {
    bool live;              /* draw the live line on stdout */
    double started_at;      /* time_now_s() when the epoch began */
    double last_draw_at;
    int epoch;
    int epochs;
    double examples_total;  /* expected examples this epoch (all workers) */
} Progress;

/* Starts an epoch's live display. live: draw at all. */
void progress_begin_epoch(Progress *progress, bool live, int epoch, int epochs,
                          double examples_total);

/* Redraws the live line if enough time passed; fraction in [0, 1]. */
void progress_update(Progress *progress, double fraction);

/* Clears the live line and prints the epoch's permanent line to stdout. */
void progress_end_epoch(Progress *progress, const EpochRecord *record);

/* Parses one line progress_write_json wrote back into a record (epochs
 * fields left 0, n_on_line 0). Returns 0, or -1 when the line is not one. */
int progress_read_json(const char *line, EpochRecord *record);

/* Appends one JSON line for the record to file. */
void progress_write_json(FILE *file, const EpochRecord *record);

/* Writes `"name":value` (followed by a comma unless last) with enough digits
 * to read back; NaN and infinities, which JSON cannot hold, as null. */
void progress_json_number(FILE *file, const char *name, double value, bool last);

/* Writes `"name":"value"` (followed by a comma unless last), the value's
 * quotes, backslashes and control characters escaped as JSON wants; a NULL
 * value as null. */
void progress_json_string(FILE *file, const char *name, const char *value, bool last);

#endif
