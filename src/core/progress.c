/* progress.c — the chief's terminal display and per-epoch JSON lines. */
#include "psrec/core/progress.h"

#include <math.h>

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

void progress_end_epoch(Progress *progress, const EpochRecord *record)
{
    if (progress->live)
        fprintf(stdout, "\r%90s\r", "");
    double rate = record->train_seconds > 0 ? record->examples / record->train_seconds : 0.0;
    if (isnan(record->test_rmse))
        printf("epoch %3d/%d  train_mse %.4f  %.3g examples/s  elapsed %.1fs\n", record->epoch,
               record->epochs, record->train_mse, rate, record->elapsed_seconds);
    else
        printf("epoch %3d/%d  train_mse %.4f  test_rmse %.4f  test_mae %.4f  %.3g examples/s  "
               "elapsed %.1fs\n",
               record->epoch, record->epochs, record->train_mse, record->test_rmse,
               record->test_mae, rate, record->elapsed_seconds);
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
    progress_json_number(file, "train_mse", record->train_mse, false);
    progress_json_number(file, "test_rmse", record->test_rmse, false);
    progress_json_number(file, "test_mae", record->test_mae, false);
    progress_json_number(file, "examples", record->examples, false);
    progress_json_number(file, "train_seconds", record->train_seconds, false);
    progress_json_number(file, "examples_per_s", rate, false);
    progress_json_number(file, "elapsed_seconds", record->elapsed_seconds, true);
    fprintf(file, "}\n");
    fflush(file);
}
