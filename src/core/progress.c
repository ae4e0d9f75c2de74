/* progress.c — the chief's terminal display and per-epoch JSON lines. */
#include "psrec/core/progress.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

void progress_json_string(FILE *file, const char *name, const char *value, bool last)
{
    fprintf(file, "\"%s\":", name);
    if (!value) {
        fprintf(file, "null%s", last ? "" : ",");
        return;
    }
    fputc('"', file);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(file, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(file, "\\u%04x", *c);
        else
            fputc(*c, file);
    }
    fprintf(file, "\"%s", last ? "" : ",");
}

int progress_read_json(const char *line, EpochRecord *record)
{
    memset(record, 0, sizeof *record);
    const char *at = line;
    if (sscanf(at, "{\"epoch\":%d,", &record->epoch) != 1)
        return -1;
    at = strchr(at, ',');
    while (at && *at == ',') {
        char name[sizeof record->figures[0].name];
        int used = 0;
        if (sscanf(at, ",\"%47[^\"]\":%n", name, &used) != 1 || used == 0)
            return -1;
        at += used;
        double value = NAN;
        if (strncmp(at, "null", 4) == 0) {
            at += 4;
        } else {
            char *end;
            value = strtod(at, &end);
            if (end == at)
                return -1;
            at = end;
        }
        /* The four figures every line ends with are the record's own fields. */
        if (strcmp(name, "examples") == 0)
            record->examples = value;
        else if (strcmp(name, "train_seconds") == 0)
            record->train_seconds = value;
        else if (strcmp(name, "elapsed_seconds") == 0)
            record->elapsed_seconds = value;
        else if (strcmp(name, "examples_per_s") != 0)
            epoch_record_add(record, name, value);
    }
    return at && *at == '}' ? 0 : -1;
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
