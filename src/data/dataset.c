/* dataset.c — reads interactions from CSV and MovieLens files, one byte range
 * per partition.
 *
 * The layout (format, columns, where data starts) is always decided from the
 * start of the file, so every partition agrees on it. A partition then reads
 * only the lines whose first byte lies in its range, through a chunked pread
 * line reader: every data line is read by exactly one partition for any n.
 * Line numbers are computed only when a line is reported, by counting
 * newlines before it, so the fast path never tracks them. Event names are
 * looked up in the (small) EventWeights table as lines are parsed.
 */
#include "psrec/data/dataset.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "psrec/ps/comm.h"

#define ID_LIMIT (UINT64_C(1) << 56)
#define READ_CHUNK_BYTES ((size_t)1 << 20)
#define HEADER_CHUNK_BYTES ((size_t)4096)
#define FOUND_TEXT_MAX 200 /* longer offending text is cut in messages (escapes included) */

typedef enum {
    COLUMN_IGNORED = 0,
    COLUMN_USER,
    COLUMN_ITEM,
    COLUMN_RATING,
    COLUMN_TIMESTAMP,
    COLUMN_EVENT
} ColumnRole;

/* How the lines of one file are laid out. roles is (n_fields,). */
typedef struct {
    DatasetFormat format; /* resolved: never AUTO */
    size_t n_fields;
    ColumnRole *roles;
    off_t data_start; /* first byte after the header (0 without one) */
    bool has_ratings;
    bool has_timestamps;
    bool has_events;
} Layout;

typedef struct {
    const char *text;
    size_t len;
} Field;

/* The file being read; file_bytes is fixed at open so that all partitions
 * of one read agree on the ranges even if the file grows meanwhile. */
typedef struct {
    const char *path;
    int fd;
    off_t file_bytes;
    const DatasetOptions *options;
} DatasetFile;

/* Why a line was rejected: "expected <what>, found '<found>'", or, when
 * unknown_event is set, "unknown event '<found>' (...)". */
typedef struct {
    char what[160];
    const char *found;
    size_t found_len;
    bool unknown_event;
} LineProblem;

/* ---- line reader: pread in chunks, lines returned without their '\n' */

typedef struct {
    int fd;
    off_t file_bytes; /* reading stops here */
    char *buf;
    size_t cap;
    size_t begin;      /* unread bytes are buf[begin, len) */
    size_t len;
    size_t scanned;    /* buf[begin, scanned) holds no '\n' */
    off_t buf_offset;  /* file offset of buf[0] */
} LineReader;

static void reader_open(LineReader *reader, int fd, off_t file_bytes, off_t offset,
                        size_t chunk_bytes)
{
    memset(reader, 0, sizeof *reader);
    reader->fd = fd;
    reader->file_bytes = file_bytes;
    reader->buf_offset = offset;
    /* A small file or range needs no full chunk; a longer line grows it. */
    size_t cap = chunk_bytes;
    if (file_bytes - offset < (off_t)cap)
        cap = file_bytes - offset < 64 ? 64 : (size_t)(file_bytes - offset);
    reader->cap = cap;
    reader->buf = xmalloc(cap);
}

static void reader_close(LineReader *reader)
{
    free(reader->buf);
    reader->buf = NULL;
}

/* Returns the next line (without '\n'; a final line may lack one) and the
 * file offset of its first byte. Returns 1 for a line, 0 at the end, -1 on
 * a read error with errno set. The line stays valid until the next call. */
static int reader_next_line(LineReader *reader, const char **line, size_t *len, off_t *offset)
{
    for (;;) {
        char *newline = memchr(reader->buf + reader->scanned, '\n',
                               reader->len - reader->scanned);
        if (newline) {
            size_t end = (size_t)(newline - reader->buf);
            *line = reader->buf + reader->begin;
            *len = end - reader->begin;
            *offset = reader->buf_offset + (off_t)reader->begin;
            reader->begin = reader->scanned = end + 1;
            return 1;
        }
        reader->scanned = reader->len;
        off_t next = reader->buf_offset + (off_t)reader->len;
        if (next >= reader->file_bytes) {
            if (reader->begin == reader->len)
                return 0;
            *line = reader->buf + reader->begin;
            *len = reader->len - reader->begin;
            *offset = reader->buf_offset + (off_t)reader->begin;
            reader->begin = reader->scanned = reader->len;
            return 1;
        }
        /* Keep the unfinished line, then read the next chunk after it. */
        size_t kept = reader->len - reader->begin;
        memmove(reader->buf, reader->buf + reader->begin, kept);
        reader->buf_offset += (off_t)reader->begin;
        reader->begin = 0;
        reader->len = reader->scanned = kept;
        if (kept == reader->cap) { /* one line fills the buffer */
            reader->cap *= 2;
            reader->buf = xrealloc(reader->buf, reader->cap);
        }
        size_t want = reader->cap - kept;
        if ((off_t)want > reader->file_bytes - next)
            want = (size_t)(reader->file_bytes - next);
        ssize_t got = pread(reader->fd, reader->buf + kept, want, next);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0) /* the file shrank: end where it ends now */
            reader->file_bytes = next;
        reader->len += (size_t)got;
    }
}

/* ---- small text helpers */

static bool text_is_blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

/* Strips surrounding spaces and tabs. */
static Field text_trim_spaces(const char *text, size_t len)
{
    while (len > 0 && (text[0] == ' ' || text[0] == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    return (Field){text, len};
}

/* Strips surrounding spaces/tabs and then one pair of surrounding quotes. */
static Field field_trim(const char *text, size_t len)
{
    Field field = text_trim_spaces(text, len);
    if (field.len >= 2 && field.text[0] == '"' && field.text[field.len - 1] == '"') {
        field.text++;
        field.len -= 2;
    }
    return field;
}

/* Splits a line at the format's separator into trimmed fields. Stores at
 * most max_fields and returns how many fields the line has (possibly more
 * than max_fields, which callers report as a wrong field count). */
static size_t line_split_fields(DatasetFormat format, const char *line, size_t len,
                                Field *fields, size_t max_fields)
{
    const char *end = line + len;
    const char *start = line;
    size_t count = 0;
    for (;;) {
        const char *sep;
        size_t sep_len = 1;
        if (format == DATASET_FORMAT_MOVIELENS_COLONS) {
            sep_len = 2;
            sep = start;
            for (;;) {
                sep = memchr(sep, ':', (size_t)(end - sep));
                if (!sep || (sep + 1 < end && sep[1] == ':'))
                    break;
                sep++;
            }
        } else {
            /* Fields are short: a byte loop beats a memchr call per field. */
            char c = format == DATASET_FORMAT_CSV ? ',' : '\t';
            sep = start;
            while (sep < end && *sep != c)
                sep++;
            if (sep == end)
                sep = NULL;
        }
        const char *field_end = sep ? sep : end;
        if (count < max_fields)
            fields[count] = field_trim(start, (size_t)(field_end - start));
        count++;
        if (!sep)
            return count;
        start = sep + sep_len;
    }
}

/* ---- numbers: whole-field parsers, no NUL terminator needed */

typedef enum {
    NUMBER_OK = 0,
    NUMBER_INVALID,
    NUMBER_NEGATIVE,
    NUMBER_TOO_LARGE,
    NUMBER_NOT_FINITE,
    NUMBER_OUT_OF_RANGE /* a rating outside options->rating_min..rating_max */
} NumberStatus;

static bool text_all_digits(const char *text, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9')
            return false;
    return true;
}

static NumberStatus parse_id(const char *text, size_t len, uint64_t *out)
{
    if (!text_all_digits(text, len)) {
        if (len > 1 && text[0] == '-' && text_all_digits(text + 1, len - 1))
            return NUMBER_NEGATIVE;
        return NUMBER_INVALID;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        value = value * 10 + (uint64_t)(text[i] - '0');
        if (value >= ID_LIMIT) /* stop before value*10 can wrap */
            return NUMBER_TOO_LARGE;
    }
    *out = value;
    return NUMBER_OK;
}

static NumberStatus parse_timestamp(const char *text, size_t len, int64_t *out)
{
    bool negative = len > 0 && text[0] == '-';
    size_t skip = (len > 0 && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
    if (!text_all_digits(text + skip, len - skip))
        return NUMBER_INVALID;
    /* Up to 18 digits cannot overflow, so the common case skips the check. */
    bool may_overflow = len - skip > 18;
    uint64_t magnitude = 0;
    for (size_t i = skip; i < len; i++) {
        if (may_overflow && magnitude > (UINT64_MAX - 9) / 10)
            return NUMBER_TOO_LARGE;
        magnitude = magnitude * 10 + (uint64_t)(text[i] - '0');
    }
    uint64_t limit = (uint64_t)INT64_MAX + (negative ? 1 : 0);
    if (magnitude > limit)
        return NUMBER_TOO_LARGE;
    if (!negative)
        *out = (int64_t)magnitude;
    else if (magnitude == limit)
        *out = INT64_MIN;
    else
        *out = -(int64_t)magnitude;
    return NUMBER_OK;
}

/* Full strtod for what the fast path does not take (exponents, long
 * mantissas, "inf"/"nan", which are rejected as not finite). Hexadecimal
 * floats ("0x1p3"), which strtod also reads, are not ratings anyone
 * writes: refused. */
static NumberStatus parse_rating_slow(const char *text, size_t len, float *out)
{
    char copy[128];
    if (len == 0 || len >= sizeof copy || memchr(text, 'x', len) || memchr(text, 'X', len))
        return NUMBER_INVALID;
    memcpy(copy, text, len);
    copy[len] = '\0';
    char *end = NULL;
    double value = strtod(copy, &end);
    if (end != copy + len || copy[0] == ' ' || copy[0] == '\t')
        return NUMBER_INVALID;
    if (!isfinite(value) || fabs(value) > FLT_MAX)
        return NUMBER_NOT_FINITE;
    *out = (float)value;
    return NUMBER_OK;
}

static NumberStatus parse_rating(const char *text, size_t len, float *out)
{
    static const double POW10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    /* Fast path for plain decimals ("4", "3.5", "-1"): at most 15 digits are
     * exact in a double, and one division by an exact power of ten rounds
     * correctly. */
    size_t i = 0;
    bool negative = false;
    if (i < len && (text[i] == '-' || text[i] == '+'))
        negative = text[i++] == '-';
    uint64_t mantissa = 0;
    int digits = 0, fraction_digits = 0;
    bool point = false;
    for (; i < len; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            mantissa = mantissa * 10 + (uint64_t)(c - '0');
            digits++;
            fraction_digits += point;
            if (digits > 15)
                break;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (i == len && digits > 0 && digits <= 15) {
        double value = (double)mantissa / POW10[fraction_digits];
        *out = (float)(negative ? -value : value);
        return NUMBER_OK;
    }
    return parse_rating_slow(text, len, out);
}

/* ---- errors */

/* Counts the newlines before `offset`: the 1-based number of the line that
 * starts there. Only called when a line is reported. Returns 0 on a read
 * error (the message then has no usable line number). */
static long long file_line_number(const DatasetFile *file, off_t offset)
{
    char *buf = xmalloc(READ_CHUNK_BYTES);
    long long newlines = 0;
    off_t at = 0;
    while (at < offset) {
        size_t want = READ_CHUNK_BYTES;
        if ((off_t)want > offset - at)
            want = (size_t)(offset - at);
        ssize_t got = pread(file->fd, buf, want, at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            free(buf);
            return 0;
        }
        for (const char *p = buf, *end = buf + got; (p = memchr(p, '\n', (size_t)(end - p)));
             p++)
            newlines++;
        at += got;
    }
    free(buf);
    return newlines + 1;
}

/* Writes "a, b, c" (the listed event names, escaped as text_escape does)
 * into list, cut with "..." if it would not fit. */
static void event_names_join(char *list, size_t list_bytes, const EventWeights *weights)
{
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < weights->n; i++) {
        char name[4 * EVENT_NAME_BYTES + 4];
        text_escape(name, sizeof name, weights->names[i], strlen(weights->names[i]));
        size_t need = strlen(name) + (i ? 2 : 0);
        if (used + need + 4 >= list_bytes) {
            snprintf(list + used, list_bytes - used, "...");
            return;
        }
        used += (size_t)snprintf(list + used, list_bytes - used, "%s%s", i ? ", " : "", name);
    }
}

static int error_set_line(Error *err, const DatasetFile *file, off_t line_offset,
                          const LineProblem *problem)
{
    char found[FOUND_TEXT_MAX + 4];
    text_escape(found, sizeof found, problem->found, problem->found_len);
    if (problem->unknown_event) {
        char list[600];
        event_names_join(list, sizeof list, file->options->event_weights);
        return error_set(err, "%s:%lld: unknown event '%s' (--event-weights lists %s)",
                         file->path, file_line_number(file, line_offset), found, list);
    }
    return error_set(err, "%s:%lld: expected %s, found '%s'", file->path,
                     file_line_number(file, line_offset), problem->what, found);
}

static const char *format_separator_name(DatasetFormat format)
{
    switch (format) {
    case DATASET_FORMAT_CSV:
        return "comma-separated";
    case DATASET_FORMAT_MOVIELENS_TAB:
        return "tab-separated";
    case DATASET_FORMAT_MOVIELENS_COLONS:
        return "'::'-separated";
    case DATASET_FORMAT_AUTO:
        break;
    }
    assert(!"resolved format expected");
    return "";
}

/* ---- layout: decided from the first non-blank line of the file */

/* Index of the first header field named `name` that has no role yet, or
 * n_fields if there is none. */
static size_t header_find_column(const Field *fields, const ColumnRole *roles, size_t n_fields,
                                 const char *name)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < n_fields; i++)
        if (roles[i] == COLUMN_IGNORED && fields[i].len == name_len &&
            memcmp(fields[i].text, name, name_len) == 0)
            return i;
    return n_fields;
}

/* Builds a CSV layout from the header line, which must name the user and
 * item columns (and the rating column if ratings are required). */
static int layout_from_header(Layout *layout, const DatasetFile *file, const char *header,
                              size_t header_len, off_t header_offset, Error *err)
{
    const DatasetOptions *options = file->options;
    size_t n_fields = line_split_fields(DATASET_FORMAT_CSV, header, header_len, NULL, 0);
    Field *fields = xmalloc(n_fields * sizeof *fields);
    line_split_fields(DATASET_FORMAT_CSV, header, header_len, fields, n_fields);
    layout->n_fields = n_fields;
    layout->roles = xcalloc(n_fields, sizeof *layout->roles);

    /* Implicit feedback reads no rating, so a rating column stays ignored. */
    const struct {
        const char *name;
        ColumnRole role;
        bool required;
    } wanted[] = {
        {options->user_column, COLUMN_USER, true},
        {options->item_column, COLUMN_ITEM, true},
        {options->implicit ? NULL : options->rating_column, COLUMN_RATING,
         options->require_rating && !options->implicit},
        {options->timestamp_column, COLUMN_TIMESTAMP, false},
        {options->event_column, COLUMN_EVENT, false},
    };
    int rc = 0;
    for (size_t w = 0; w < sizeof wanted / sizeof *wanted && rc == 0; w++) {
        size_t column = n_fields;
        if (wanted[w].name && wanted[w].name[0])
            column = header_find_column(fields, layout->roles, n_fields, wanted[w].name);
        if (column < n_fields) {
            layout->roles[column] = wanted[w].role;
            layout->has_ratings |= wanted[w].role == COLUMN_RATING;
            layout->has_timestamps |= wanted[w].role == COLUMN_TIMESTAMP;
            layout->has_events |= wanted[w].role == COLUMN_EVENT;
        } else if (wanted[w].required) {
            LineProblem problem = {.found = header, .found_len = header_len};
            const char *name = wanted[w].name ? wanted[w].name : "(none)";
            char quoted[64];
            snprintf(problem.what, sizeof problem.what, "a CSV header naming the column '%s'",
                     text_escape(quoted, sizeof quoted, name, strlen(name)));
            rc = error_set_line(err, file, header_offset, &problem);
        }
    }
    free(fields);
    return rc;
}

/* MovieLens columns are positional: user, item[, rating[, timestamp]]. The
 * field count is taken from the first line when it is an accepted one, so
 * all partitions agree; lines must then all have that count. Implicit
 * feedback leaves the rating field unread. */
static void layout_movielens(Layout *layout, const DatasetFile *file, const char *first_line,
                             size_t first_len)
{
    size_t n_fields = 4;
    if (first_line) {
        size_t count = line_split_fields(layout->format, first_line, first_len, NULL, 0);
        const DatasetOptions *options = file->options;
        size_t min_fields = options->require_rating && !options->implicit ? 3 : 2;
        if (count >= min_fields && count <= 4)
            n_fields = count;
    }
    static const ColumnRole POSITIONAL[] = {COLUMN_USER, COLUMN_ITEM, COLUMN_RATING,
                                            COLUMN_TIMESTAMP};
    layout->n_fields = n_fields;
    layout->roles = xmalloc(n_fields * sizeof *layout->roles);
    memcpy(layout->roles, POSITIONAL, n_fields * sizeof *layout->roles);
    /* Positions the caller does not read (implicit feedback; predict's
     * pairs, which name no rating or timestamp column) may hold anything,
     * even nothing. */
    const DatasetOptions *options = file->options;
    bool rating_read = !options->implicit && options->rating_column;
    if (!rating_read && n_fields >= 3)
        layout->roles[2] = COLUMN_IGNORED;
    if (!options->timestamp_column && n_fields >= 4)
        layout->roles[3] = COLUMN_IGNORED;
    layout->has_ratings = n_fields >= 3 && rating_read;
    layout->has_timestamps = n_fields >= 4 && options->timestamp_column;
    layout->data_start = 0;
}

static DatasetFormat format_detect(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] == ':' && i + 1 < len && line[i + 1] == ':')
            return DATASET_FORMAT_MOVIELENS_COLONS;
    }
    if (memchr(line, '\t', len))
        return DATASET_FORMAT_MOVIELENS_TAB;
    return DATASET_FORMAT_CSV;
}

/* Reads the first non-blank line from the start of the file and decides the
 * layout from it. An empty file has an empty layout unless it must be CSV,
 * which needs a header. */
static int layout_read(Layout *layout, const DatasetFile *file, Error *err)
{
    memset(layout, 0, sizeof *layout);
    /* UTF-16, binary or compressed data: say what the file is, rather than
     * quote its first line as a malformed one. */
    unsigned char head[TEXT_HEAD_BYTES];
    size_t head_want = file->file_bytes < (off_t)sizeof head ? (size_t)file->file_bytes
                                                             : sizeof head;
    ssize_t head_len = pread(file->fd, head, head_want, 0);
    if (head_len < 0)
        return error_set(err, "cannot read %s: %s", file->path, strerror(errno));
    if (text_check_head(file->path, head, (size_t)head_len, err) != 0)
        return -1;
    LineReader reader;
    reader_open(&reader, file->fd, file->file_bytes, 0, HEADER_CHUNK_BYTES);
    const char *line = NULL;
    size_t len = 0, raw_len = 0;
    off_t offset = 0;
    int got;
    while ((got = reader_next_line(&reader, &line, &raw_len, &offset)) == 1) {
        len = raw_len;
        if (offset == 0 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3; /* a UTF-8 byte-order mark is not part of the header */
            len -= 3;
        }
        if (!text_is_blank(line, len))
            break;
    }
    int rc = 0;
    if (got < 0) {
        rc = error_set(err, "cannot read %s: %s", file->path, strerror(errno));
        goto done;
    }
    if (got == 0)
        line = NULL; /* nothing but blank lines */
    else if (len > 0 && line[len - 1] == '\r')
        len--;
    /* A carriage return inside the first line: lines end in CR alone (old
     * Mac files), so the whole file would read as one line. */
    if (line && memchr(line, '\r', len)) {
        rc = error_set(err, "%s:1: lines end with a carriage return alone (CR, not LF or CRLF): "
                            "convert the file first, e.g. tr '\\r' '\\n'",
                       file->path);
        goto done;
    }

    layout->format = file->options->format;
    if (layout->format == DATASET_FORMAT_AUTO)
        layout->format = line ? format_detect(line, len) : DATASET_FORMAT_MOVIELENS_TAB;
    if (layout->format != DATASET_FORMAT_CSV) {
        layout_movielens(layout, file, line, len);
        if (!line)
            layout->has_ratings = layout->has_timestamps = false;
        goto done;
    }
    if (!line) {
        LineProblem problem = {.found = "", .found_len = 0};
        snprintf(problem.what, sizeof problem.what, "a CSV header line naming the columns");
        rc = error_set_line(err, file, file->file_bytes, &problem);
        goto done;
    }
    const char *nul = memchr(line, '\0', len);
    if (nul) {
        rc = error_set_nul_line(err, file->path, file_line_number(file, offset),
                                (size_t)(nul - line) + 1);
        goto done;
    }
    /* Data starts after the header's newline (a header may also be the
     * whole file, without one). */
    layout->data_start = offset + (off_t)raw_len + 1;
    if (layout->data_start > file->file_bytes)
        layout->data_start = file->file_bytes;
    rc = layout_from_header(layout, file, line, len, offset, err);
done:
    reader_close(&reader);
    return rc;
}

static void layout_free(Layout *layout)
{
    free(layout->roles);
    layout->roles = NULL;
}

/* ---- data lines */

typedef struct {
    uint64_t user;
    uint64_t item;
    float rating;
    int64_t timestamp;
    float weight;
} Interaction;

static const char *role_name(ColumnRole role)
{
    switch (role) {
    case COLUMN_USER:
        return "user id";
    case COLUMN_ITEM:
        return "item id";
    case COLUMN_RATING:
        return "rating";
    case COLUMN_TIMESTAMP:
        return "timestamp";
    case COLUMN_EVENT:
        return "event";
    case COLUMN_IGNORED:
        break;
    }
    return "field";
}

/* Parses one non-blank line (without '\r') into *row. Returns 0, or -1 with
 * *problem saying what was wrong. fields is (layout->n_fields,). The rating
 * starts at 1 for implicit reads (no rating role) and 0 otherwise. */
static int line_parse(const Layout *layout, const DatasetOptions *options, const char *line,
                      size_t len, Field *fields, Interaction *row, LineProblem *problem)
{
    problem->unknown_event = false;
    size_t count = line_split_fields(layout->format, line, len, fields, layout->n_fields);
    if (count != layout->n_fields) {
        if (layout->format == DATASET_FORMAT_CSV) {
            snprintf(problem->what, sizeof problem->what, "%zu comma-separated fields as in the header",
                     layout->n_fields);
        } else {
            snprintf(problem->what, sizeof problem->what, "%zu %s fields (user, item%s%s)",
                     layout->n_fields, format_separator_name(layout->format),
                     layout->n_fields >= 3 ? ", rating" : "",
                     layout->n_fields >= 4 ? ", timestamp" : "");
        }
        problem->found = line;
        problem->found_len = len;
        return -1;
    }
    *row = (Interaction){0, 0, options->implicit ? 1.0f : 0.0f, 0, 1.0f};
    for (size_t i = 0; i < count; i++) {
        const Field *field = &fields[i];
        NumberStatus status = NUMBER_OK;
        ColumnRole role = layout->roles[i];
        switch (role) {
        case COLUMN_USER:
            status = parse_id(field->text, field->len, &row->user);
            break;
        case COLUMN_ITEM:
            status = parse_id(field->text, field->len, &row->item);
            break;
        case COLUMN_RATING:
            status = parse_rating(field->text, field->len, &row->rating);
            if (status == NUMBER_OK &&
                !(row->rating >= options->rating_min && row->rating <= options->rating_max))
                status = NUMBER_OUT_OF_RANGE;
            break;
        case COLUMN_TIMESTAMP:
            status = parse_timestamp(field->text, field->len, &row->timestamp);
            break;
        case COLUMN_EVENT:
            if (options->event_weights && options->event_weights->n > 0) {
                int event = event_weights_find(options->event_weights, field->text, field->len);
                if (event < 0) {
                    problem->unknown_event = true;
                    problem->found = field->text;
                    problem->found_len = field->len;
                    return -1;
                }
                row->weight = options->event_weights->weights[event];
            }
            break;
        case COLUMN_IGNORED:
            break;
        }
        if (status == NUMBER_OK)
            continue;
        const char *name = role_name(role);
        bool is_id = role == COLUMN_USER || role == COLUMN_ITEM;
        const char *article = role == COLUMN_ITEM ? "an" : "a";
        switch (status) {
        case NUMBER_NEGATIVE:
            snprintf(problem->what, sizeof problem->what, "a non-negative %s in field %zu", name,
                     i + 1);
            break;
        case NUMBER_TOO_LARGE:
            if (is_id)
                snprintf(problem->what, sizeof problem->what, "%s %s below 2^56 in field %zu",
                         article, name, i + 1);
            else
                snprintf(problem->what, sizeof problem->what,
                         "a 64-bit integer %s in field %zu", name, i + 1);
            break;
        case NUMBER_NOT_FINITE:
            snprintf(problem->what, sizeof problem->what, "a finite %s in field %zu", name, i + 1);
            break;
        case NUMBER_OUT_OF_RANGE:
            snprintf(problem->what, sizeof problem->what,
                     "a %s from %g to %g in field %zu (--rating-range %g:%g)", name,
                     (double)options->rating_min, (double)options->rating_max, i + 1,
                     (double)options->rating_min, (double)options->rating_max);
            break;
        default:
            snprintf(problem->what, sizeof problem->what, "%s %s in field %zu",
                     role == COLUMN_RATING ? "a numeric" : "an integer", name, i + 1);
            break;
        }
        problem->found = field->text;
        problem->found_len = field->len;
        return -1;
    }
    return 0;
}

/* Column arrays grow geometrically; capacity is tracked by the caller. */
static void ratings_reserve(Ratings *out, size_t *capacity, size_t need)
{
    if (need <= *capacity)
        return;
    size_t cap = *capacity ? *capacity * 2 : 4096;
    while (cap < need)
        cap *= 2;
    out->users = xrealloc(out->users, cap * sizeof *out->users);
    out->items = xrealloc(out->items, cap * sizeof *out->items);
    out->ratings = xrealloc(out->ratings, cap * sizeof *out->ratings);
    out->timestamps = xrealloc(out->timestamps, cap * sizeof *out->timestamps);
    out->weights = xrealloc(out->weights, cap * sizeof *out->weights);
    *capacity = cap;
}

static void ratings_shrink(Ratings *out)
{
    size_t n = out->n ? out->n : 1;
    out->users = xrealloc(out->users, n * sizeof *out->users);
    out->items = xrealloc(out->items, n * sizeof *out->items);
    out->ratings = xrealloc(out->ratings, n * sizeof *out->ratings);
    out->timestamps = xrealloc(out->timestamps, n * sizeof *out->timestamps);
    out->weights = xrealloc(out->weights, n * sizeof *out->weights);
}

/* Reads the lines whose first byte lies in [range_start, range_end) and
 * after the header. */
static int dataset_read_range(Ratings *out, const DatasetFile *file, const Layout *layout,
                              off_t range_start, off_t range_end, Error *err)
{
    off_t begin = range_start > layout->data_start ? range_start : layout->data_start;
    size_t capacity = 0;
    ratings_reserve(out, &capacity, 1);
    if (begin >= range_end)
        return 0;

    LineReader reader;
    const char *line;
    size_t len;
    off_t offset;
    int got;
    int rc = 0;
    Field *fields = xmalloc(layout->n_fields * sizeof *fields);
    /* Mid-file, the line holding byte begin-1 started in an earlier range:
     * skip through its newline (an empty "line" if byte begin-1 is '\n'). */
    bool mid_line = begin > layout->data_start;
    off_t first = mid_line ? begin - 1 : begin;
    /* A small range reads little more than itself (slack for its last line). */
    size_t chunk_bytes = READ_CHUNK_BYTES;
    if (range_end - first + 1024 < (off_t)chunk_bytes)
        chunk_bytes = (size_t)(range_end - first + 1024);
    reader_open(&reader, file->fd, file->file_bytes, first, chunk_bytes);
    if (mid_line && (got = reader_next_line(&reader, &line, &len, &offset)) < 0)
        goto read_failed;

    while ((got = reader_next_line(&reader, &line, &len, &offset)) == 1) {
        if (offset >= range_end)
            break;
        comm_keepalive(); /* a big partition takes long: waiting ranks ask after us */
        if (offset == 0 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (text_is_blank(line, len))
            continue;
        /* A NUL would be quoted as the end of the line: it gets its own
         * message (or is skipped like any malformed line). */
        const char *nul = memchr(line, '\0', len);
        if (nul && !file->options->skip_malformed) {
            rc = error_set_nul_line(err, file->path, file_line_number(file, offset),
                                    (size_t)(nul - line) + 1);
            goto done;
        }
        Interaction row;
        LineProblem problem;
        if (nul || line_parse(layout, file->options, line, len, fields, &row, &problem) != 0) {
            if (file->options->skip_malformed) {
                out->n_skipped++;
                continue;
            }
            rc = error_set_line(err, file, offset, &problem);
            goto done;
        }
        ratings_reserve(out, &capacity, out->n + 1);
        out->users[out->n] = row.user;
        out->items[out->n] = row.item;
        out->ratings[out->n] = row.rating;
        out->timestamps[out->n] = row.timestamp;
        out->weights[out->n] = row.weight;
        out->n++;
    }
    if (got >= 0)
        goto done;
read_failed:
    rc = error_set(err, "cannot read %s: %s", file->path, strerror(errno));
done:
    reader_close(&reader);
    free(fields);
    return rc;
}

/* ---- event weights */

int event_weights_find(const EventWeights *weights, const char *name, size_t name_len)
{
    /* A linear scan: there are a handful of events, and names are short. */
    for (size_t i = 0; i < weights->n; i++)
        if (name_len < EVENT_NAME_BYTES && memcmp(weights->names[i], name, name_len) == 0 &&
            weights->names[i][name_len] == '\0')
            return (int)i;
    return -1;
}

int event_weights_parse(EventWeights *out, const char *text, Error *err)
{
    assert(out && text);
    memset(out, 0, sizeof *out);
    Field all = text_trim_spaces(text, strlen(text));
    if (all.len == 0)
        return 0;
    const char *start = all.text, *end = all.text + all.len;
    int rc = 0;
    while (rc == 0) {
        const char *comma = memchr(start, ',', (size_t)(end - start));
        const char *part_end = comma ? comma : end;
        Field part = text_trim_spaces(start, (size_t)(part_end - start));
        char shown[FOUND_TEXT_MAX + 4];
        text_escape(shown, sizeof shown, part.text, part.len);
        const char *equals = memchr(part.text, '=', part.len);
        Field name = {"", 0}, weight_text = {"", 0};
        if (equals) {
            name = text_trim_spaces(part.text, (size_t)(equals - part.text));
            weight_text = text_trim_spaces(equals + 1, (size_t)(part.text + part.len - equals - 1));
        }
        char number[64] = "";
        char *number_end = number;
        double weight = 0.0;
        if (weight_text.len > 0 && weight_text.len < sizeof number) {
            memcpy(number, weight_text.text, weight_text.len);
            number[weight_text.len] = '\0';
            weight = strtod(number, &number_end);
        }
        if (!equals || name.len == 0) {
            rc = error_set(err, "--event-weights: expected NAME=WEIGHT, found '%s'", shown);
        } else if (name.len >= EVENT_NAME_BYTES) {
            rc = error_set(err,
                           "--event-weights: expected an event name of at most %d characters, "
                           "found '%s'",
                           EVENT_NAME_BYTES - 1, shown);
        } else if (number_end == number || *number_end != '\0' || !isfinite(weight) ||
                   weight > EVENT_WEIGHT_MAX || !((float)weight > 0.0f)) {
            rc = error_set(err,
                           "--event-weights: expected a weight above 0 and at most %g, found "
                           "'%s'",
                           EVENT_WEIGHT_MAX, shown);
        } else if (event_weights_find(out, name.text, name.len) >= 0) {
            char shown_name[4 * EVENT_NAME_BYTES + 4];
            rc = error_set(err, "--event-weights: event '%s' is given twice, again in '%s'",
                           text_escape(shown_name, sizeof shown_name, name.text, name.len),
                           shown);
        } else if (out->n == EVENT_WEIGHTS_MAX) {
            rc = error_set(err, "--event-weights: expected at most %d events, found '%s' too",
                           EVENT_WEIGHTS_MAX, shown);
        } else {
            memcpy(out->names[out->n], name.text, name.len);
            out->names[out->n][name.len] = '\0';
            out->weights[out->n] = (float)weight;
            out->n++;
        }
        if (!comma)
            break;
        start = comma + 1;
    }
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- public */

void dataset_options_default(DatasetOptions *options)
{
    options->format = DATASET_FORMAT_AUTO;
    options->user_column = "user_id";
    options->item_column = "item_id";
    options->rating_column = "rating";
    options->timestamp_column = "timestamp";
    options->event_column = "event";
    options->require_rating = true;
    options->implicit = false;
    options->skip_malformed = false;
    options->event_weights = NULL;
    options->rating_min = DATASET_RATING_MIN_DEFAULT;
    options->rating_max = DATASET_RATING_MAX_DEFAULT;
}

/* One bound of a rating range: a whole finite decimal number within float
 * range (no hexadecimal, as for ratings). */
static bool rating_bound_parse(Field text, float *out)
{
    char copy[64];
    if (text.len == 0 || text.len >= sizeof copy || memchr(text.text, 'x', text.len) ||
        memchr(text.text, 'X', text.len))
        return false;
    memcpy(copy, text.text, text.len);
    copy[text.len] = '\0';
    char *end;
    double value = strtod(copy, &end);
    if (end != copy + text.len || !isfinite(value) || fabs(value) > FLT_MAX)
        return false;
    *out = (float)value;
    return true;
}

int rating_range_parse(float *low, float *high, const char *text, Error *err)
{
    assert(low && high && text);
    Field all = text_trim_spaces(text, strlen(text));
    const char *colon = memchr(all.text, ':', all.len);
    float parsed_low = 0.0f, parsed_high = 0.0f;
    bool ok = colon != NULL;
    if (ok) {
        size_t low_len = (size_t)(colon - all.text);
        ok = rating_bound_parse(text_trim_spaces(all.text, low_len), &parsed_low) &&
             rating_bound_parse(text_trim_spaces(colon + 1, all.len - low_len - 1),
                                &parsed_high) &&
             parsed_low <= parsed_high;
    }
    if (!ok) {
        char quoted[FOUND_TEXT_MAX + 4];
        return error_set(err,
                         "--rating-range: expected LOW:HIGH, two finite numbers with LOW <= HIGH "
                         "(e.g. 1:5 or -10:10), found '%s'",
                         text_escape(quoted, sizeof quoted, text, strlen(text)));
    }
    *low = parsed_low;
    *high = parsed_high;
    return 0;
}

int dataset_read_partition(Ratings *out, const char *path, const DatasetOptions *options,
                           int part, int n_parts, Error *err)
{
    assert(out && path && options);
    assert(options->user_column && options->item_column);
    assert(n_parts >= 1 && part >= 0 && part < n_parts);
    memset(out, 0, sizeof *out);

    /* O_NONBLOCK: a FIFO must be refused below, not wait in open() for a
     * writer; reads of a regular file ignore the flag. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return error_set(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = error_set(err, "cannot open %s: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rc = error_set(err, "cannot open %s: %s", path, strerror(EISDIR));
    } else if (!S_ISREG(st.st_mode)) {
        rc = error_set(err, "cannot open %s: not a regular file (a FIFO, device or socket; "
                            "reading by byte ranges needs a file)",
                       path);
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }

    DatasetFile file = {path, fd, st.st_size, options};
    Layout layout;
    rc = layout_read(&layout, &file, err);
    if (rc == 0) {
        out->has_ratings = layout.has_ratings;
        out->has_timestamps = layout.has_timestamps;
        out->has_events = layout.has_events;
        /* floor(size * p / n) without overflowing size * p. */
        off_t size = file.file_bytes;
        off_t start = size / n_parts * part + size % n_parts * part / n_parts;
        off_t end = size / n_parts * (part + 1) + size % n_parts * (part + 1) / n_parts;
        rc = dataset_read_range(out, &file, &layout, start, end, err);
        if (rc == 0)
            ratings_shrink(out);
    }
    layout_free(&layout);
    close(fd);
    return rc;
}

int dataset_read(Ratings *out, const char *path, const DatasetOptions *options, Error *err)
{
    return dataset_read_partition(out, path, options, 0, 1, err);
}

void ratings_free(Ratings *ratings)
{
    free(ratings->users);
    free(ratings->items);
    free(ratings->ratings);
    free(ratings->timestamps);
    free(ratings->weights);
    memset(ratings, 0, sizeof *ratings);
}
