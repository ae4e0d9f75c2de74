/* progress.c — the chief's terminal display and per-epoch JSON lines. */
#include "psrec/core/progress.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "psrec/core/util.h"

#define PROGRESS_REDRAW_SECONDS 0.25

void progress_begin_epoch(Progress *progress, bool live, int epoch, int epochs,
                          double examples_total)
{
    progress->live = live;
    progress->started_at = time_now_s();
    progress->last_draw_at = 0.0;
    progress->epoch = epoch;
    progress->epochs = epochs;
    progress->examples_total = examples_total;
}

void progress_update(Progress *progress, double fraction)
{
    if (!progress->live)
        return;
    double now = time_now_s();
    if (now - progress->last_draw_at < PROGRESS_REDRAW_SECONDS)
        return;
    progress->last_draw_at = now;
    double elapsed = now - progress->started_at;
    double rate = elapsed > 0 ? fraction * progress->examples_total / elapsed : 0.0;
    double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
    int filled = (int)(fraction * 30.0);
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stdout, "\repoch %d/%d [%s] %5.1f%%  %.3g examples/s  ETA %.1fs   ", progress->epoch,
            progress->epochs, bar, 100.0 * fraction, rate, eta);
    fflush(stdout);
}

void epoch_record_add(EpochRecord *record, const char *name, double value)
{
    assert(record->n_figures < PROGRESS_MAX_FIGURES);
    NamedFigure *figure = &record->figures[record->n_figures++];
    snprintf(figure->name, sizeof figure->name, "%s", name);
    figure->value = value;
}

double epoch_record_get(const EpochRecord *record, const char *name)
{
    for (int i = 0; i < record->n_figures; i++)
        if (strcmp(record->figures[i].name, name) == 0)
            return record->figures[i].value;
    return NAN;
}

void progress_end_epoch(Progress *progress, const EpochRecord *record)
{
    if (progress->live)
        fprintf(stdout, "\r%90s\r", "");
    double rate = record->train_seconds > 0 ? record->examples / record->train_seconds : 0.0;
    printf("epoch %3d/%d ", record->epoch, record->epochs);
    for (int i = 0; i < record->n_on_line && i < record->n_figures; i++)
        printf(" %s %.4f", record->figures[i].name, record->figures[i].value);
    printf("  %.3g examples/s  elapsed %.1fs\n", rate, record->elapsed_seconds);
    fflush(stdout);
}

void progress_json_number(FILE *file, const char *name, double value, bool last)
{
    if (!isfinite(value))
        fprintf(file, "\"%s\":null%s", name, last ? "" : ",");
    else
        fprintf(file, "\"%s\":%.9g%s", name, value, last ? "" : ",");
}

void progress_write_json(FILE *file, const EpochRecord *record)
{
    double rate = record->train_seconds > 0 ? record->examples / record->train_seconds : 0.0;
    fprintf(file, "{\"epoch\":%d,", record->epoch);
    for (int i = 0; i < record->n_figures; i++)
        progress_json_number(file, record->figures[i].name, record->figures[i].value, false);
    progress_json_number(file, "examples", record->examples, false);
    progress_json_number(file, "train_seconds", record->train_seconds, false);
    progress_json_number(file, "examples_per_s", rate, false);
    progress_json_number(file, "elapsed_seconds", record->elapsed_seconds, true);
    fprintf(file, "}\n");
    fflush(file);
}
