/* features.c — feature files and feature maps (features.h).
 *
 * Reading collects (entity, feature, weight) triples, then sorts them once
 * and folds them into the per-entity arrays: repeated pairs add up, zero
 * weights drop out, and each entity's weights are divided by their sum.
 */
#include "psrec/data/features.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/ps/comm.h"

typedef struct {
    uint64_t entity;
    uint64_t feature;
    double weight;
} FeatureTriple;

static int compare_triples(const void *a, const void *b)
{
    const FeatureTriple *x = a, *y = b;
    if (x->entity != y->entity)
        return x->entity < y->entity ? -1 : 1;
    if (x->feature != y->feature)
        return x->feature < y->feature ? -1 : 1;
    return 0;
}

/* Sorts triples and fills *map from them: one entry per (entity, feature)
 * with the weights summed; per entity, weights scaled to sum to 1 when
 * `normalise`, else kept. Entities left without a positive weight vanish. */
static void map_from_triples(FeatureMap *map, FeatureTriple *triples, size_t n, bool normalise)
{
    qsort(triples, n, sizeof *triples, compare_triples);
    size_t n_lines = map->n_lines;
    memset(map, 0, sizeof *map);
    map->n_lines = n_lines;
    map->entities = xmalloc((n ? n : 1) * sizeof(uint64_t));
    map->start = xmalloc((n + 1) * sizeof(size_t));
    map->features = xmalloc((n ? n : 1) * sizeof(uint64_t));
    map->weights = xmalloc((n ? n : 1) * sizeof(float));
    uint64_t *feature_ids = xmalloc((n ? n : 1) * sizeof(uint64_t));
    size_t n_pairs = 0, n_entities = 0;
    map->start[0] = 0;
    for (size_t i = 0; i < n;) {
        uint64_t entity = triples[i].entity;
        size_t first_pair = n_pairs;
        double sum = 0.0;
        for (; i < n && triples[i].entity == entity;) {
            uint64_t feature = triples[i].feature;
            double weight = 0.0;
            for (; i < n && triples[i].entity == entity && triples[i].feature == feature; i++)
                weight += triples[i].weight;
            if (weight <= 0.0)
                continue;
            map->features[n_pairs] = feature;
            map->weights[n_pairs] = (float)weight;
            feature_ids[n_pairs] = feature;
            n_pairs++;
            sum += weight;
        }
        if (n_pairs == first_pair)
            continue;
        if (normalise)
            for (size_t p = first_pair; p < n_pairs; p++)
                map->weights[p] = (float)(map->weights[p] / sum);
        map->entities[n_entities++] = entity;
        map->start[n_entities] = n_pairs;
    }
    map->n_entities = n_entities;
    map->n_pairs = n_pairs;
    map->n_features = sort_unique_u64(feature_ids, n_pairs);
    free(feature_ids);
}

/* The text of field `index` (0-based) of a comma-separated line, trimmed of
 * spaces, in [*begin, *end); false when the line has fewer fields. */
static bool line_field(const char *line, int index, const char **begin, const char **end)
{
    const char *at = line;
    for (int f = 0; f < index; f++) {
        at = strchr(at, ',');
        if (!at)
            return false;
        at++;
    }
    const char *stop = strchr(at, ',');
    if (!stop)
        stop = at + strlen(at);
    while (at < stop && (*at == ' ' || *at == '\t'))
        at++;
    while (stop > at && (stop[-1] == ' ' || stop[-1] == '\t'))
        stop--;
    *begin = at;
    *end = stop;
    return true;
}

static int count_fields(const char *line)
{
    int n = 1;
    for (const char *c = line; *c; c++)
        n += *c == ',';
    return n;
}

/* Parses an id below 2^56 from [begin, end). */
static bool parse_feature_id(const char *begin, const char *end, uint64_t *out)
{
    if (begin == end || end - begin > 20)
        return false;
    uint64_t value = 0;
    for (const char *c = begin; c < end; c++) {
        if (*c < '0' || *c > '9')
            return false;
        value = value * 10 + (uint64_t)(*c - '0');
        if (value > KEY_ID_MAX)
            return false;
    }
    *out = value;
    return true;
}

int feature_map_read(FeatureMap *map, const char *path, const char *entity_kind, Error *err)
{
    memset(map, 0, sizeof *map);
    /* UTF-16, binary or compressed data: said so, not "expected a header". */
    FILE *file = file_open_text(path, "", err);
    if (!file)
        return -1;
    char quoted[TEXT_QUOTE_BYTES];
    char *line = NULL;
    size_t line_bytes = 0, line_no = 0, n = 0, capacity = 1024;
    FeatureTriple *triples = xmalloc(capacity * sizeof *triples);
    int n_columns = 0;
    int rc = 0;
    ssize_t len;
    while ((len = getline(&line, &line_bytes, file)) >= 0) {
        line_no++;
        comm_keepalive(); /* a big file takes long: waiting ranks ask after us */
        /* The string functions below would stop at a NUL. */
        const char *nul = memchr(line, '\0', (size_t)len);
        if (nul) {
            rc = error_set_nul_line(err, path, (long long)line_no, (size_t)(nul - line) + 1);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line_no == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            memmove(line, line + 3, (size_t)len - 2); /* a byte-order mark is no column */
            len -= 3;
        }
        if (len == 0)
            continue;
        if (n_columns == 0) {
            /* The header: its column count fixes the layout. */
            n_columns = count_fields(line);
            const char *begin, *end;
            uint64_t id;
            if (line_field(line, 0, &begin, &end) && parse_feature_id(begin, end, &id)) {
                rc = error_set(err,
                               "%s:%zu: expected a header naming the columns (%s id, feature "
                               "id[, weight]), found '%s'",
                               path, line_no, entity_kind, text_quote(quoted, line));
                break;
            }
            if (n_columns < 2 || n_columns > 3) {
                rc = error_set(err,
                               "%s:%zu: expected 2 or 3 columns (%s id, feature id[, weight]), "
                               "found %d in the header",
                               path, line_no, entity_kind, n_columns);
                break;
            }
            continue;
        }
        if (count_fields(line) != n_columns) {
            rc = error_set(err, "%s:%zu: expected %d comma-separated fields, found %d in '%s'",
                           path, line_no, n_columns, count_fields(line), text_quote(quoted, line));
            break;
        }
        const char *begin, *end;
        FeatureTriple triple = {.weight = 1.0};
        line_field(line, 0, &begin, &end);
        if (!parse_feature_id(begin, end, &triple.entity)) {
            rc = error_set(err, "%s:%zu: expected a %s id (an integer below 2^56), found '%s'",
                           path, line_no, entity_kind,
                           text_escape(quoted, sizeof quoted, begin, (size_t)(end - begin)));
            break;
        }
        line_field(line, 1, &begin, &end);
        if (!parse_feature_id(begin, end, &triple.feature)) {
            rc = error_set(err, "%s:%zu: expected a feature id (an integer below 2^56), found "
                                "'%s'",
                           path, line_no,
                           text_escape(quoted, sizeof quoted, begin, (size_t)(end - begin)));
            break;
        }
        if (n_columns == 3) {
            line_field(line, 2, &begin, &end);
            char text[64];
            size_t text_len = (size_t)(end - begin) < sizeof text - 1 ? (size_t)(end - begin)
                                                                      : sizeof text - 1;
            memcpy(text, begin, text_len);
            text[text_len] = '\0';
            char *stop;
            errno = 0;
            triple.weight = strtod(text, &stop);
            if (text_len == 0 || *stop != '\0' || errno == ERANGE || !isfinite(triple.weight) ||
                triple.weight < 0.0) {
                rc = error_set(err,
                               "%s:%zu: expected a weight (a finite number >= 0), found '%s'",
                               path, line_no, text_quote(quoted, text));
                break;
            }
        }
        if (n == capacity) {
            capacity *= 2;
            triples = xrealloc(triples, capacity * sizeof *triples);
        }
        triples[n++] = triple;
    }
    if (rc == 0 && ferror(file))
        rc = error_set(err, "error reading %s: %s", path, strerror(errno));
    if (rc == 0 && n_columns == 0)
        rc = error_set(err, "%s: empty file: expected a header (%s id, feature id[, weight]) "
                            "and one line per (%s, feature)",
                       path, entity_kind, entity_kind);
    free(line);
    fclose(file);
    if (rc == 0) {
        map->n_lines = n;
        map_from_triples(map, triples, n, true);
    }
    free(triples);
    return rc;
}

void feature_map_from_history(FeatureMap *map, const uint64_t *users, const uint64_t *items,
                              size_t n, double scale)
{
    FeatureTriple *triples = xmalloc((n ? n : 1) * sizeof *triples);
    for (size_t i = 0; i < n; i++)
        triples[i] = (FeatureTriple){.entity = users[i], .feature = items[i], .weight = 1.0};
    memset(map, 0, sizeof *map);
    map_from_triples(map, triples, n, false);
    free(triples);
    /* Repeats summed to counts above: every distinct item weighs
     * scale/√|N(u)|. */
    for (size_t e = 0; e < map->n_entities; e++) {
        size_t first = map->start[e], last = map->start[e + 1];
        float weight = (float)(scale / sqrt((double)(last - first)));
        for (size_t p = first; p < last; p++)
            map->weights[p] = weight;
    }
}

const uint64_t *feature_map_find(const FeatureMap *map, uint64_t entity, const float **weights,
                                 size_t *n)
{
    int64_t e = map ? sorted_u64_find(map->entities, map->n_entities, entity) : -1;
    if (e < 0) {
        *weights = NULL;
        *n = 0;
        return NULL;
    }
    size_t first = map->start[e];
    *n = map->start[e + 1] - first;
    *weights = map->weights + first;
    return map->features + first;
}

size_t feature_map_count_missing(const FeatureMap *map, const uint64_t *ids, size_t n_ids)
{
    size_t missing = 0;
    for (size_t e = 0; e < map->n_entities; e++)
        missing += sorted_u64_find(ids, n_ids, map->entities[e]) < 0;
    return missing;
}

void feature_map_free(FeatureMap *map)
{
    if (!map)
        return;
    free(map->entities);
    free(map->start);
    free(map->features);
    free(map->weights);
    memset(map, 0, sizeof *map);
}
