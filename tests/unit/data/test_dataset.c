/* test_dataset.c — the interaction readers: CSV with named columns, the two
 * MovieLens layouts, malformed lines reported as FILE:LINE with what was
 * expected and found, byte-range partitions that together read every line
 * exactly once, in order, for any number of parts, and implicit feedback:
 * event weights (parsed from "view=1,..." and applied per line) and reads
 * that need and keep no rating.
 *
 * Each test gets a fresh mkdtemp scratch folder, removed after it.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psrec/data/dataset.h"
#include "psrec/core/util.h"

#include "test_support.h"

static char scratch_dir[256];

/* A fresh scratch folder per test (a checked fixture). */
static void scratch_setup(void)
{
    test_scratch_create(scratch_dir, sizeof scratch_dir, "dataset");
}

static void scratch_teardown(void)
{
    test_scratch_remove(scratch_dir);
}

/* Writes `bytes` bytes of content to scratch_dir/name; path receives the
 * full name. */
static void scratch_write(char *path, size_t path_bytes, const char *name, const char *content,
                          size_t bytes)
{
    snprintf(path, path_bytes, "%s/%s", scratch_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(content, 1, bytes, f), bytes);
    ck_assert_int_eq(fclose(f), 0);
}

static void scratch_write_text(char *path, size_t path_bytes, const char *name,
                               const char *content)
{
    scratch_write(path, path_bytes, name, content, strlen(content));
}

static void read_ok(Ratings *out, const char *path, const DatasetOptions *options)
{
    Error err = {{0}};
    int rc = dataset_read(out, path, options, &err);
    ck_assert_msg(rc == 0, "reading %s failed: %s", path, err.message);
}

/* Reads partition part of n_parts and expects it to fail with exactly
 * "PATH:" followed by `message`. */
static void expect_error_part(const char *path, const DatasetOptions *options, int part,
                              int n_parts, const char *message)
{
    Ratings out;
    Error err = {{0}};
    int rc = dataset_read_partition(&out, path, options, part, n_parts, &err);
    ratings_free(&out);
    ck_assert_int_eq(rc, -1);
    char expected[ERROR_MESSAGE_BYTES];
    snprintf(expected, sizeof expected, "%s:%s", path, message);
    ck_assert_str_eq(err.message, expected);
}

static void expect_error(const char *path, const DatasetOptions *options, const char *message)
{
    expect_error_part(path, options, 0, 1, message);
}

static void expect_row(const Ratings *r, size_t i, uint64_t user, uint64_t item, float rating,
                       int64_t timestamp)
{
    ck_assert_uint_lt(i, r->n);
    ck_assert_uint_eq(r->users[i], user);
    ck_assert_uint_eq(r->items[i], item);
    ck_assert_msg(r->ratings[i] == rating, "row %zu: rating %g, expected %g", i,
                  (double)r->ratings[i], (double)rating);
    ck_assert_int_eq(r->timestamps[i], timestamp);
}

START_TEST(test_options_default)
{
    DatasetOptions o;
    memset(&o, 0xff, sizeof o);
    dataset_options_default(&o);
    ck_assert_int_eq(o.format, DATASET_FORMAT_AUTO);
    ck_assert_str_eq(o.user_column, "user_id");
    ck_assert_str_eq(o.item_column, "item_id");
    ck_assert_str_eq(o.rating_column, "rating");
    ck_assert_str_eq(o.timestamp_column, "timestamp");
    ck_assert_str_eq(o.event_column, "event");
    ck_assert(o.require_rating);
    ck_assert(!o.implicit);
    ck_assert(!o.skip_malformed);
    ck_assert_ptr_null(o.event_weights);
}
END_TEST

START_TEST(test_csv_values)
{
    char path[512];
    scratch_write_text(path, sizeof path, "basic.csv",
                       "user_id,item_id,rating,timestamp\n"
                       "1,10,4.5,978300760\n"
                       "0,72057594037927935,-1,0\n"
                       "42,7,3,-5\n"
                       "5,6,2.5e-1,1\n");
    DatasetOptions o;
    dataset_options_default(&o);
    o.rating_min = -1.0f; /* the -1 is outside the default range */
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 4);
    ck_assert(r.has_ratings);
    ck_assert(r.has_timestamps);
    ck_assert(!r.has_events);
    ck_assert_uint_eq(r.n_skipped, 0);
    for (size_t i = 0; i < r.n; i++)
        ck_assert(r.weights[i] == 1.0f); /* no event column: every example weighs 1 */
    expect_row(&r, 0, 1, 10, 4.5f, 978300760);
    expect_row(&r, 1, 0, (UINT64_C(1) << 56) - 1, -1.0f, 0);
    expect_row(&r, 2, 42, 7, 3.0f, -5);
    expect_row(&r, 3, 5, 6, 0.25f, 1);
    ratings_free(&r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_ptr_null(r.users);
    ratings_free(&r); /* zeroed: a no-op */

    /* The same file named explicitly as CSV. */
    o.format = DATASET_FORMAT_CSV;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 4);
    expect_row(&r, 3, 5, 6, 0.25f, 1);
    ratings_free(&r);
}
END_TEST

START_TEST(test_csv_crlf_blank_lines_spaces_quotes_no_final_newline)
{
    char path[512];
    scratch_write_text(path, sizeof path, "crlf.csv",
                       "\xEF\xBB\xBFuser_id , \"item_id\",rating\r\n"
                       "\r\n"
                       " 3 , \"14\" , 2.0 \r\n"
                       "   \r\n"
                       "4,15,\"1.5\"\r\n"
                       "\n"
                       "5,16,5");
    DatasetOptions o;
    dataset_options_default(&o);
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 3);
    ck_assert(r.has_ratings);
    ck_assert(!r.has_timestamps);
    expect_row(&r, 0, 3, 14, 2.0f, 0);
    expect_row(&r, 1, 4, 15, 1.5f, 0);
    expect_row(&r, 2, 5, 16, 5.0f, 0);
    ratings_free(&r);
}
END_TEST

START_TEST(test_csv_named_columns_in_other_order)
{
    char path[512];
    scratch_write_text(path, sizeof path, "order.csv",
                       "timestamp,rating,item,user\n"
                       "1000,4,20,2\n"
                       "1001,0.5,21,3\n");
    DatasetOptions o;
    dataset_options_default(&o);
    o.user_column = "user";
    o.item_column = "item";
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(r.has_ratings && r.has_timestamps);
    expect_row(&r, 0, 2, 20, 4.0f, 1000);
    expect_row(&r, 1, 3, 21, 0.5f, 1001);
    ratings_free(&r);

    /* With the default names this header has no user_id column. */
    dataset_options_default(&o);
    expect_error(path, &o,
                 "1: expected a CSV header naming the column 'user_id', found "
                 "'timestamp,rating,item,user'");

    /* Unnamed extra columns are ignored; a column named but absent (the
     * timestamp here) is simply not read. */
    scratch_write_text(path, sizeof path, "extra.csv",
                       "event,user_id,price,item_id,rating\n"
                       "view,7,9.99,8,1\n"
                       "buy,9,x,10,5\n");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(r.has_ratings && !r.has_timestamps);
    expect_row(&r, 0, 7, 8, 1.0f, 0);
    expect_row(&r, 1, 9, 10, 5.0f, 0);
    ratings_free(&r);
}
END_TEST

START_TEST(test_csv_pairs_without_rating)
{
    char path[512];
    scratch_write_text(path, sizeof path, "pairs.csv", "user_id,item_id\n1,2\n3,4\n");
    DatasetOptions o;
    dataset_options_default(&o);
    expect_error(path, &o, "1: expected a CSV header naming the column 'rating', found "
                           "'user_id,item_id'");
    o.require_rating = false;
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(!r.has_ratings && !r.has_timestamps);
    expect_row(&r, 0, 1, 2, 0.0f, 0);
    expect_row(&r, 1, 3, 4, 0.0f, 0);
    ratings_free(&r);

    /* A rating column that is present is still read. */
    scratch_write_text(path, sizeof path, "pairs_rated.csv", "item_id,user_id,rating\n1,2,3\n");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 1);
    ck_assert(r.has_ratings);
    expect_row(&r, 0, 2, 1, 3.0f, 0);
    ratings_free(&r);
}
END_TEST

START_TEST(test_movielens_tab_and_colons)
{
    char path[512];
    DatasetOptions o;
    dataset_options_default(&o);
    Ratings r;

    scratch_write_text(path, sizeof path, "u.data", "196\t242\t3\t881250949\n186\t302\t3.5\t891717742\n");
    for (int explicit_format = 0; explicit_format < 2; explicit_format++) {
        o.format = explicit_format ? DATASET_FORMAT_MOVIELENS_TAB : DATASET_FORMAT_AUTO;
        read_ok(&r, path, &o);
        ck_assert_uint_eq(r.n, 2);
        ck_assert(r.has_ratings && r.has_timestamps);
        expect_row(&r, 0, 196, 242, 3.0f, 881250949);
        expect_row(&r, 1, 186, 302, 3.5f, 891717742);
        ratings_free(&r);
    }

    scratch_write_text(path, sizeof path, "ratings.dat",
                       "1::1193::5::978300760\r\n1::661::3::978302109\r\n2::3068::4::978299000");
    for (int explicit_format = 0; explicit_format < 2; explicit_format++) {
        o.format = explicit_format ? DATASET_FORMAT_MOVIELENS_COLONS : DATASET_FORMAT_AUTO;
        read_ok(&r, path, &o);
        ck_assert_uint_eq(r.n, 3);
        ck_assert(r.has_ratings && r.has_timestamps);
        expect_row(&r, 0, 1, 1193, 5.0f, 978300760);
        expect_row(&r, 1, 1, 661, 3.0f, 978302109);
        expect_row(&r, 2, 2, 3068, 4.0f, 978299000);
        ratings_free(&r);
    }

    /* Tab-separated pairs: fine only without require_rating. */
    o.format = DATASET_FORMAT_AUTO;
    scratch_write_text(path, sizeof path, "pairs.tsv", "1\t2\n\n3\t4\n");
    expect_error(path, &o, "1: expected 4 tab-separated fields (user, item, rating, timestamp), "
                           "found '1\\t2'");
    o.require_rating = false;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(!r.has_ratings && !r.has_timestamps);
    expect_row(&r, 0, 1, 2, 0.0f, 0);
    expect_row(&r, 1, 3, 4, 0.0f, 0);
    ratings_free(&r);

    /* A MovieLens file read with require_rating false still has its ratings. */
    scratch_write_text(path, sizeof path, "u2.data", "5\t6\t2\t77\n");
    read_ok(&r, path, &o);
    ck_assert(r.has_ratings && r.has_timestamps);
    expect_row(&r, 0, 5, 6, 2.0f, 77);
    ratings_free(&r);
}
END_TEST

START_TEST(test_empty_files)
{
    char path[512];
    DatasetOptions o;
    dataset_options_default(&o);
    Ratings r;

    scratch_write_text(path, sizeof path, "empty.tsv", "");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 0);
    ratings_free(&r);
    o.format = DATASET_FORMAT_CSV;
    expect_error(path, &o, "1: expected a CSV header line naming the columns, found ''");

    /* A header alone, without a newline, is an empty data set. */
    scratch_write_text(path, sizeof path, "header_only.csv", "user_id,item_id,rating");
    for (int n_parts = 1; n_parts <= 4; n_parts++) {
        for (int p = 0; p < n_parts; p++) {
            Error err = {{0}};
            ck_assert_int_eq(dataset_read_partition(&r, path, &o, p, n_parts, &err), 0);
            ck_assert_uint_eq(r.n, 0);
            ck_assert(r.has_ratings);
            ratings_free(&r);
        }
    }
}
END_TEST

START_TEST(test_missing_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/no_such_file.csv", scratch_dir);
    DatasetOptions o;
    dataset_options_default(&o);
    Ratings r;
    Error err = {{0}};
    ck_assert_int_eq(dataset_read(&r, path, &o, &err), -1);
    ratings_free(&r);
    char expected[600];
    snprintf(expected, sizeof expected, "cannot open %s: No such file or directory", path);
    ck_assert_str_eq(err.message, expected);

    ck_assert_int_eq(dataset_read(&r, scratch_dir, &o, &err), -1);
    ratings_free(&r);
    snprintf(expected, sizeof expected, "cannot open %s: Is a directory", scratch_dir);
    ck_assert_str_eq(err.message, expected);

    /* Lines ended by CR alone would read as one line: refused, saying so. */
    char cr[512];
    scratch_write_text(cr, sizeof cr, "cr.csv", "user_id,item_id,rating\r1,2,3\r4,5,3\r");
    expect_error(cr, &o, "1: lines end with a carriage return alone (CR, not LF or CRLF): "
                         "convert the file first, e.g. tr '\\r' '\\n'");
}
END_TEST

/* One malformed line on line 3 of a file, and the message it must give. */
typedef struct {
    DatasetFormat format;
    const char *bad_line;
    const char *message; /* after "PATH:3: " */
} MalformedCase;

START_TEST(test_malformed_lines_name_file_and_line)
{
    static const MalformedCase CASES[] = {
        {DATASET_FORMAT_CSV, "1,2,3.5", "expected 4 comma-separated fields as in the header, found '1,2,3.5'"},
        {DATASET_FORMAT_CSV, "1,2,3.5,100,7",
         "expected 4 comma-separated fields as in the header, found '1,2,3.5,100,7'"},
        {DATASET_FORMAT_CSV, "1,abc,3,100", "expected an integer item id in field 2, found 'abc'"},
        {DATASET_FORMAT_CSV, "x1,2,3,100", "expected an integer user id in field 1, found 'x1'"},
        {DATASET_FORMAT_CSV, ",2,3,100", "expected an integer user id in field 1, found ''"},
        {DATASET_FORMAT_CSV, "1,2.0,3,100", "expected an integer item id in field 2, found '2.0'"},
        {DATASET_FORMAT_CSV, "-4,2,3,100", "expected a non-negative user id in field 1, found '-4'"},
        {DATASET_FORMAT_CSV, "72057594037927936,2,3,100",
         "expected a user id below 2^56 in field 1, found '72057594037927936'"},
        {DATASET_FORMAT_CSV, "1,99999999999999999999999,3,100",
         "expected an item id below 2^56 in field 2, found '99999999999999999999999'"},
        {DATASET_FORMAT_CSV, "1,2,x,100", "expected a numeric rating in field 3, found 'x'"},
        {DATASET_FORMAT_CSV, "1,2,,100", "expected a numeric rating in field 3, found ''"},
        {DATASET_FORMAT_CSV, "1,2,3.5x,100", "expected a numeric rating in field 3, found '3.5x'"},
        {DATASET_FORMAT_CSV, "1,2,nan,100", "expected a finite rating in field 3, found 'nan'"},
        {DATASET_FORMAT_CSV, "1,2,-inf,100", "expected a finite rating in field 3, found '-inf'"},
        {DATASET_FORMAT_CSV, "1,2,1e39,100", "expected a finite rating in field 3, found '1e39'"},
        {DATASET_FORMAT_CSV, "1,2,0x1p2,100", "expected a numeric rating in field 3, found '0x1p2'"},
        {DATASET_FORMAT_CSV, "1,2,3,1.5", "expected an integer timestamp in field 4, found '1.5'"},
        {DATASET_FORMAT_CSV, "1,2,3,100abc", "expected an integer timestamp in field 4, found '100abc'"},
        {DATASET_FORMAT_CSV, "1,2,3,9223372036854775808",
         "expected a 64-bit integer timestamp in field 4, found '9223372036854775808'"},
        {DATASET_FORMAT_CSV, "1,2 3,4,5", "expected an integer item id in field 2, found '2 3'"},
        {DATASET_FORMAT_MOVIELENS_TAB, "1\t2\t3\t4\tjunk",
         "expected 4 tab-separated fields (user, item, rating, timestamp), found "
         "'1\\t2\\t3\\t4\\tjunk'"},
        {DATASET_FORMAT_MOVIELENS_TAB, "1\t2\t3", "expected 4 tab-separated fields (user, item, "
                                                  "rating, timestamp), found '1\\t2\\t3'"},
        {DATASET_FORMAT_MOVIELENS_TAB, "1\tabc\t3\t4",
         "expected an integer item id in field 2, found 'abc'"},
        {DATASET_FORMAT_MOVIELENS_TAB, "1\t2\t3\t4 x",
         "expected an integer timestamp in field 4, found '4 x'"},
        {DATASET_FORMAT_MOVIELENS_COLONS, "1::2::3",
         "expected 4 '::'-separated fields (user, item, rating, timestamp), found '1::2::3'"},
        {DATASET_FORMAT_MOVIELENS_COLONS, "1::2:5::3::4",
         "expected an integer item id in field 2, found '2:5'"},
    };
    DatasetOptions o;
    dataset_options_default(&o);
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        const MalformedCase *mc = &CASES[c];
        char content[512], name[64], path[512], message[ERROR_MESSAGE_BYTES];
        const char *sep = mc->format == DATASET_FORMAT_CSV ? ","
                          : mc->format == DATASET_FORMAT_MOVIELENS_TAB ? "\t"
                                                                       : "::";
        if (mc->format == DATASET_FORMAT_CSV)
            snprintf(content, sizeof content,
                     "user_id,item_id,rating,timestamp\n1,2,3,4\n%s\n5,6,7,8\n", mc->bad_line);
        else
            snprintf(content, sizeof content, "1%s2%s3%s4\n\n%s\n5%s6%s7%s8", sep, sep, sep,
                     mc->bad_line, sep, sep, sep);
        snprintf(name, sizeof name, "malformed_%zu", c);
        scratch_write_text(path, sizeof path, name, content);
        snprintf(message, sizeof message, "3: %s", mc->message);
        o.format = DATASET_FORMAT_AUTO;
        o.skip_malformed = false;
        expect_error(path, &o, message);
        o.format = mc->format;
        expect_error(path, &o, message);

        /* Skipped instead, the good lines around it are still read. */
        o.skip_malformed = true;
        Ratings r;
        read_ok(&r, path, &o);
        ck_assert_uint_eq(r.n, 2);
        ck_assert_uint_eq(r.n_skipped, 1);
        expect_row(&r, 0, 1, 2, 3.0f, 4);
        expect_row(&r, 1, 5, 6, 7.0f, 8);
        ratings_free(&r);
    }
}
END_TEST

START_TEST(test_malformed_line_number_inside_later_partition)
{
    /* 30 lines of 12 bytes ("uu,ii,r,ttt\n" style) after a header; the bad
     * line is line 17, in the middle third of the file. */
    char content[1024] = "user_id,item_id,rating,timestamp\n";
    for (int line = 2; line <= 31; line++) {
        char row[32];
        if (line == 17)
            snprintf(row, sizeof row, "%02d,zz,3,%03d\r\n", line, line);
        else
            snprintf(row, sizeof row, "%02d,%02d,3,%03d\r\n", line, line + 1, line);
        strcat(content, row);
    }
    size_t size = strlen(content);
    const char *bad = strstr(content, "zz");
    size_t bad_line_start = (size_t)(bad - content) - 3;
    ck_assert_uint_ge(bad_line_start, size * 1 / 3);
    ck_assert_uint_lt(bad_line_start, size * 2 / 3);

    char path[512];
    scratch_write_text(path, sizeof path, "partitioned_bad.csv", content);
    DatasetOptions o;
    dataset_options_default(&o);
    expect_error_part(path, &o, 1, 3, "17: expected an integer item id in field 2, found 'zz'");
    expect_error(path, &o, "17: expected an integer item id in field 2, found 'zz'");

    /* The other two partitions do not see it. */
    size_t total = 0;
    for (int p = 0; p < 3; p += 2) {
        Ratings r;
        Error err = {{0}};
        ck_assert_int_eq(dataset_read_partition(&r, path, &o, p, 3, &err), 0);
        for (size_t i = 0; i < r.n; i++)
            ck_assert_uint_eq(r.items[i], r.users[i] + 1);
        total += r.n;
        ratings_free(&r);
    }
    /* Partition 1 held the bad line and others: 29 good lines in all. */
    o.skip_malformed = true;
    Ratings mid;
    Error err = {{0}};
    ck_assert_int_eq(dataset_read_partition(&mid, path, &o, 1, 3, &err), 0);
    ck_assert_uint_eq(mid.n_skipped, 1);
    ck_assert_uint_eq(total + mid.n, 29);
    ratings_free(&mid);
}
END_TEST

/* ---- partition property over generated files */

typedef enum { STYLE_CSV, STYLE_CSV_PAIRS, STYLE_TAB, STYLE_TAB_PAIRS, STYLE_COLONS } FileStyle;

typedef struct {
    FileStyle style;
    size_t n_rows;
    bool final_newline;
    bool crlf;
    int blank_every; /* 0: none */
    int junk_every;  /* 0: none; junk lines need skip_malformed */
} FileSpec;

static uint64_t row_user(size_t i, FileStyle style)
{
    return style == STYLE_TAB_PAIRS ? i % 10 : (i * 7) % 13;
}
static uint64_t row_item(size_t i, FileStyle style)
{
    return style == STYLE_TAB_PAIRS ? (i * 3) % 10 : i * 31 + 5;
}
static float row_rating(size_t i) { return (float)(i % 10) / 2.0f; }
static int64_t row_timestamp(size_t i) { return 1000 + (int64_t)i; }

/* Pairs styles have no rating or timestamp fields. */
static bool style_is_pairs(FileStyle style)
{
    return style == STYLE_CSV_PAIRS || style == STYLE_TAB_PAIRS;
}

static const char *style_separator(FileStyle style)
{
    if (style == STYLE_COLONS)
        return "::";
    return style == STYLE_TAB || style == STYLE_TAB_PAIRS ? "\t" : ",";
}

/* Writes the file described by spec; rows i = 0..n_rows-1 carry the values
 * of the row_* functions above. */
static void spec_write(const FileSpec *spec, const char *path)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    const char *eol = spec->crlf ? "\r\n" : "\n";
    const char *sep = style_separator(spec->style);
    bool first = true;
    size_t line = 0;
    /* Each line is written with the end-of-line of the previous one, so the
     * last line can go without one. */
#define EMIT(...)                                                                        \
    do {                                                                                 \
        if (!first)                                                                      \
            fputs(eol, f);                                                               \
        first = false;                                                                   \
        fprintf(f, __VA_ARGS__);                                                         \
        line++;                                                                          \
    } while (0)
    if (spec->style == STYLE_CSV)
        EMIT("user_id,item_id,rating,timestamp");
    if (spec->style == STYLE_CSV_PAIRS)
        EMIT("user_id,item_id");
    for (size_t i = 0; i < spec->n_rows; i++) {
        if (spec->blank_every && i % (size_t)spec->blank_every == 1)
            EMIT("%s", "");
        if (spec->junk_every && i % (size_t)spec->junk_every == 2)
            EMIT("junk!");
        unsigned long long u = row_user(i, spec->style), it = row_item(i, spec->style);
        if (style_is_pairs(spec->style))
            EMIT("%llu%s%llu", u, sep, it);
        else
            EMIT("%llu%s%llu%s%g%s%lld", u, sep, it, sep, (double)row_rating(i), sep,
                 (long long)row_timestamp(i));
    }
#undef EMIT
    if (spec->final_newline && !first)
        fputs(eol, f);
    ck_assert_int_eq(fclose(f), 0);
}

static size_t spec_junk_lines(const FileSpec *spec)
{
    size_t junk = 0;
    for (size_t i = 0; spec->junk_every && i < spec->n_rows; i++)
        junk += i % (size_t)spec->junk_every == 2;
    return junk;
}

/* Reads all n_parts partitions and checks that, concatenated, they are the
 * full read: same rows, same order, each once, same skip count. */
static void check_partitions_concatenate(const char *path, const DatasetOptions *o,
                                         const Ratings *full, int n_parts)
{
    size_t at = 0, skipped = 0;
    for (int p = 0; p < n_parts; p++) {
        Ratings part;
        Error err = {{0}};
        int rc = dataset_read_partition(&part, path, o, p, n_parts, &err);
        ck_assert_msg(rc == 0, "%s part %d of %d: %s", path, p, n_parts, err.message);
        ck_assert_msg(at + part.n <= full->n, "%s: %d parts read too many lines", path, n_parts);
        ck_assert(part.has_ratings == full->has_ratings);
        ck_assert(part.has_timestamps == full->has_timestamps);
        /* Plain comparisons in the loop: every Check assertion costs a write. */
        size_t same = 0;
        while (same < part.n && part.users[same] == full->users[at + same] &&
               part.items[same] == full->items[at + same] &&
               part.ratings[same] == full->ratings[at + same] &&
               part.timestamps[same] == full->timestamps[at + same] &&
               part.weights[same] == full->weights[at + same])
            same++;
        ck_assert_msg(same == part.n, "%s part %d of %d differs from the full read at row %zu",
                      path, p, n_parts, at + same);
        at += part.n;
        skipped += part.n_skipped;
        ratings_free(&part);
    }
    ck_assert_msg(at == full->n, "%s: %d parts read %zu of %zu lines", path, n_parts, at,
                  full->n);
    ck_assert_uint_eq(skipped, full->n_skipped);
}

START_TEST(test_partitions_read_every_line_once)
{
    const FileSpec specs[] = {
        {STYLE_CSV, 37, true, false, 0, 0},
        {STYLE_CSV, 37, false, true, 4, 0},
        {STYLE_CSV, 1, false, false, 0, 0},
        {STYLE_CSV, 5, true, true, 0, 3},
        {STYLE_CSV_PAIRS, 23, false, false, 2, 0},
        {STYLE_TAB, 29, true, false, 0, 0},
        {STYLE_TAB, 29, false, true, 3, 4},
        {STYLE_TAB_PAIRS, 41, true, false, 0, 0},
        {STYLE_TAB_PAIRS, 41, false, false, 5, 0},
        {STYLE_TAB_PAIRS, 2, false, false, 0, 0},
        {STYLE_TAB_PAIRS, 1, true, false, 0, 0},
        {STYLE_COLONS, 17, false, true, 0, 0},
        {STYLE_COLONS, 17, true, false, 2, 5},
    };
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        const FileSpec *spec = &specs[s];
        char path[512];
        snprintf(path, sizeof path, "%s/spec_%zu", scratch_dir, s);
        spec_write(spec, path);
        DatasetOptions o;
        dataset_options_default(&o);
        o.require_rating = spec->style != STYLE_CSV_PAIRS && spec->style != STYLE_TAB_PAIRS;
        o.skip_malformed = spec->junk_every != 0;

        Ratings full;
        read_ok(&full, path, &o);
        ck_assert_uint_eq(full.n, spec->n_rows);
        ck_assert_uint_eq(full.n_skipped, spec_junk_lines(spec));
        ck_assert(full.has_ratings == o.require_rating);
        for (size_t i = 0; i < full.n; i++) {
            bool pairs = !o.require_rating;
            expect_row(&full, i, row_user(i, spec->style), row_item(i, spec->style),
                       pairs ? 0.0f : row_rating(i), pairs ? 0 : row_timestamp(i));
        }
        for (int n_parts = 1; n_parts <= 12; n_parts++)
            check_partitions_concatenate(path, &o, &full, n_parts);
        /* More parts than lines (and than bytes, for the short files). */
        check_partitions_concatenate(path, &o, &full, (int)spec->n_rows * 3 + 7);
        check_partitions_concatenate(path, &o, &full, 500);
        ratings_free(&full);
    }
}
END_TEST

START_TEST(test_large_file_across_read_chunks)
{
    /* Enough lines that reads cross many 1 MiB chunk boundaries, plus one
     * 3 MiB junk line that must be carried across chunks and skipped. */
    const size_t n_rows = 200000;
    char path[512];
    snprintf(path, sizeof path, "%s/large.csv", scratch_dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("user_id,item_id,rating,timestamp\n", f);
    for (size_t i = 0; i < n_rows; i++) {
        if (i == n_rows / 2) {
            for (int k = 0; k < 3 << 20; k++)
                fputc('x', f);
            fputc('\n', f);
        }
        fprintf(f, "%zu,%zu,%g,%zu\n", i * 13, i % 977, (double)(i % 9) * 0.5, i * 1000 + 7);
    }
    ck_assert_int_eq(fclose(f), 0);

    DatasetOptions o;
    dataset_options_default(&o);
    o.skip_malformed = true;
    Ratings full;
    read_ok(&full, path, &o);
    ck_assert_uint_eq(full.n, n_rows);
    ck_assert_uint_eq(full.n_skipped, 1);
    size_t good = 0;
    while (good < n_rows && full.users[good] == good * 13 && full.items[good] == good % 977 &&
           full.ratings[good] == (float)(good % 9) * 0.5f &&
           full.timestamps[good] == (int64_t)(good * 1000 + 7))
        good++;
    ck_assert_msg(good == n_rows, "row %zu has the wrong values", good);
    check_partitions_concatenate(path, &o, &full, 3);
    check_partitions_concatenate(path, &o, &full, 7);
    ratings_free(&full);

    /* Without skipping, the long line is reported with its line number and
     * its text cut short (200 characters and "..." within the quotes). */
    o.skip_malformed = false;
    char message[600];
    snprintf(message, sizeof message,
             "%zu: expected 4 comma-separated fields as in the header, found '%.200s...'",
             n_rows / 2 + 2,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    expect_error(path, &o, message);
}
END_TEST

/* ---- implicit feedback */

/* Parses text and expects the error `message`, with *out left empty. */
static void expect_weights_error(const char *text, const char *message)
{
    EventWeights w;
    Error err = {{0}};
    ck_assert_int_eq(event_weights_parse(&w, text, &err), -1);
    ck_assert_str_eq(err.message, message);
    ck_assert_uint_eq(w.n, 0);
}

/* Options for implicit feedback weighed by the shop's events: *weights
 * gets "view=1,cart=3,purchase=5" and must outlive *o. */
static void options_implicit_shop(DatasetOptions *o, EventWeights *weights)
{
    Error err = {{0}};
    ck_assert_int_eq(event_weights_parse(weights, "view=1,cart=3,purchase=5", &err), 0);
    dataset_options_default(o);
    o->implicit = true;
    o->event_weights = weights;
}

START_TEST(test_event_weights_parse)
{
    EventWeights w;
    Error err = {{0}};
    ck_assert_int_eq(event_weights_parse(&w, "view=1,cart=3,purchase=5", &err), 0);
    ck_assert_uint_eq(w.n, 3);
    ck_assert_str_eq(w.names[0], "view");
    ck_assert_str_eq(w.names[1], "cart");
    ck_assert_str_eq(w.names[2], "purchase");
    ck_assert(w.weights[0] == 1.0f && w.weights[1] == 3.0f && w.weights[2] == 5.0f);
    ck_assert_int_eq(event_weights_find(&w, "cart", 4), 1);
    ck_assert_int_eq(event_weights_find(&w, "carts", 4), 1); /* only name_len bytes count */
    ck_assert_int_eq(event_weights_find(&w, "car", 3), -1);
    ck_assert_int_eq(event_weights_find(&w, "carts", 5), -1);
    ck_assert_int_eq(event_weights_find(&w, "", 0), -1);

    /* Spaces around names and weights; decimals and exponents. */
    ck_assert_int_eq(event_weights_parse(&w, " click = 0.25 , add to cart=1e1 ", &err), 0);
    ck_assert_uint_eq(w.n, 2);
    ck_assert_str_eq(w.names[0], "click");
    ck_assert_str_eq(w.names[1], "add to cart");
    ck_assert(w.weights[0] == 0.25f && w.weights[1] == 10.0f);

    /* Empty text: no weights given. */
    ck_assert_int_eq(event_weights_parse(&w, "", &err), 0);
    ck_assert_uint_eq(w.n, 0);
    ck_assert_int_eq(event_weights_parse(&w, "  ", &err), 0);
    ck_assert_uint_eq(w.n, 0);

    /* A name of 31 characters fits; 32 do not. */
    ck_assert_int_eq(event_weights_parse(&w, "abcdefghijklmnopqrstuvwxyz01234=2", &err), 0);
    ck_assert_str_eq(w.names[0], "abcdefghijklmnopqrstuvwxyz01234");
    expect_weights_error("abcdefghijklmnopqrstuvwxyz012345=2",
                         "--event-weights: expected an event name of at most 31 characters, found "
                         "'abcdefghijklmnopqrstuvwxyz012345=2'");

    expect_weights_error("view=1,cart", "--event-weights: expected NAME=WEIGHT, found 'cart'");
    expect_weights_error("view=1,,cart=2", "--event-weights: expected NAME=WEIGHT, found ''");
    expect_weights_error("view=1,", "--event-weights: expected NAME=WEIGHT, found ''");
    expect_weights_error("=3", "--event-weights: expected NAME=WEIGHT, found '=3'");
    /* A weight must be above 0 and of sane size: 1000 is the most. */
    static const char *BAD_WEIGHTS[] = {"view=",    "view=0",     "view=-1",  "view=abc",
                                        "view=2x",  "view=inf",   "view=nan", "view=1e39",
                                        "view=1e-60", "view=1=2", "view=1000.5", "view=1e30"};
    for (size_t i = 0; i < sizeof BAD_WEIGHTS / sizeof *BAD_WEIGHTS; i++) {
        char message[200];
        snprintf(message, sizeof message,
                 "--event-weights: expected a weight above 0 and at most 1000, found '%s'",
                 BAD_WEIGHTS[i]);
        expect_weights_error(BAD_WEIGHTS[i], message);
    }
    ck_assert_int_eq(event_weights_parse(&w, "view=0.001,purchase=1000", &err), 0);
    ck_assert(w.weights[1] == 1000.0f);
    /* A name with a control character is quoted escaped. */
    expect_weights_error("v\x1bw=1,v\x1bw=2",
                         "--event-weights: event 'v\\x1bw' is given twice, again in 'v\\x1bw=2'");
    expect_weights_error("view=1,cart=2,view=3",
                         "--event-weights: event 'view' is given twice, again in 'view=3'");

    /* EVENT_WEIGHTS_MAX names fit; one more does not. */
    char text[1024] = "";
    for (int i = 0; i < EVENT_WEIGHTS_MAX; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%se%d=%d", i ? "," : "", i,
                 i + 1);
    ck_assert_int_eq(event_weights_parse(&w, text, &err), 0);
    ck_assert_uint_eq(w.n, EVENT_WEIGHTS_MAX);
    ck_assert(w.weights[EVENT_WEIGHTS_MAX - 1] == (float)EVENT_WEIGHTS_MAX);
    strcat(text, ",extra=1");
    char message[200];
    snprintf(message, sizeof message,
             "--event-weights: expected at most %d events, found 'extra=1' too", EVENT_WEIGHTS_MAX);
    expect_weights_error(text, message);
}
END_TEST

START_TEST(test_events_weigh_examples)
{
    char path[512];
    scratch_write_text(path, sizeof path, "events.csv",
                       "user_id,item_id,timestamp,event\n"
                       "1,10,100,view\n"
                       "1,11,101,purchase\n"
                       "2,10,102, cart \n"
                       "2,12,103,\"view\"\n");
    EventWeights weights;
    DatasetOptions o;
    options_implicit_shop(&o, &weights);
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 4);
    ck_assert(r.has_events && r.has_timestamps && !r.has_ratings);
    static const float WANT[] = {1.0f, 5.0f, 3.0f, 1.0f};
    for (size_t i = 0; i < r.n; i++)
        ck_assert_msg(r.weights[i] == WANT[i], "row %zu: weight %g, expected %g", i,
                      (double)r.weights[i], (double)WANT[i]);
    expect_row(&r, 0, 1, 10, 1.0f, 100);
    expect_row(&r, 2, 2, 10, 1.0f, 102);
    check_partitions_concatenate(path, &o, &r, 3);
    ratings_free(&r);
    ck_assert_ptr_null(r.weights);

    /* Without event weights (NULL, or parsed from "") every event weighs 1. */
    EventWeights none;
    Error err = {{0}};
    ck_assert_int_eq(event_weights_parse(&none, "", &err), 0);
    const EventWeights *no_weights[] = {NULL, &none};
    for (int k = 0; k < 2; k++) {
        o.event_weights = no_weights[k];
        read_ok(&r, path, &o);
        ck_assert(r.has_events);
        for (size_t i = 0; i < r.n; i++)
            ck_assert(r.weights[i] == 1.0f);
        ratings_free(&r);
    }

    /* The event column under another name; the default name is then absent,
     * which just means no events. */
    scratch_write_text(path, sizeof path, "kind.csv", "kind,user_id,item_id\ncart,4,5\n");
    o.event_weights = &weights;
    read_ok(&r, path, &o);
    ck_assert(!r.has_events);
    ck_assert(r.weights[0] == 1.0f);
    ratings_free(&r);
    o.event_column = "kind";
    read_ok(&r, path, &o);
    ck_assert(r.has_events);
    ck_assert(r.weights[0] == 3.0f);
    ratings_free(&r);
}
END_TEST

START_TEST(test_unknown_event_names_file_and_line)
{
    char path[512];
    scratch_write_text(path, sizeof path, "unknown.csv",
                       "user_id,item_id,event\n"
                       "1,10,view\n"
                       "\n"
                       "1,11,wishlist\n"
                       "2,12,cart\n");
    EventWeights weights;
    DatasetOptions o;
    options_implicit_shop(&o, &weights);
    expect_error(path, &o,
                 "4: unknown event 'wishlist' (--event-weights lists view, cart, purchase)");
    /* The partition holding line 4 reports it with its number in the file. */
    expect_error_part(path, &o, 1, 2,
                      "4: unknown event 'wishlist' (--event-weights lists view, cart, purchase)");

    /* An empty event is unknown too. */
    scratch_write_text(path, sizeof path, "empty_event.csv", "user_id,item_id,event\n1,10,\n");
    expect_error(path, &o, "2: unknown event '' (--event-weights lists view, cart, purchase)");

    /* skip_malformed skips and counts such lines. */
    o.skip_malformed = true;
    scratch_write_text(path, sizeof path, "unknown2.csv",
                       "user_id,item_id,event\n1,10,view\n1,11,wishlist\n2,12,cart\n");
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_uint_eq(r.n_skipped, 1);
    ck_assert(r.weights[0] == 1.0f && r.weights[1] == 3.0f);
    ratings_free(&r);
}
END_TEST

START_TEST(test_implicit_reads_without_ratings)
{
    char path[512];
    DatasetOptions o;
    dataset_options_default(&o); /* require_rating stays true: implicit overrides it */
    o.implicit = true;
    Ratings r;

    /* Rating-less CSV, with and without timestamps. */
    scratch_write_text(path, sizeof path, "pairs.csv",
                       "user_id,item_id,timestamp\n1,2,30\n3,4,31\n");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(!r.has_ratings && r.has_timestamps && !r.has_events);
    expect_row(&r, 0, 1, 2, 1.0f, 30);
    expect_row(&r, 1, 3, 4, 1.0f, 31);
    ck_assert(r.weights[0] == 1.0f && r.weights[1] == 1.0f);
    ratings_free(&r);

    /* A rating column that is present is ignored, whatever it holds. */
    scratch_write_text(path, sizeof path, "rated.csv",
                       "user_id,item_id,rating\n1,2,4.5\n3,4,oops\n");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(!r.has_ratings);
    expect_row(&r, 0, 1, 2, 1.0f, 0);
    expect_row(&r, 1, 3, 4, 1.0f, 0);
    ratings_free(&r);

    /* MovieLens tab and '::' files: the rating field is read past. */
    scratch_write_text(path, sizeof path, "u.data",
                       "196\t242\t3\t881250949\n186\t302\t3.5\t891717742\n");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(!r.has_ratings && r.has_timestamps);
    expect_row(&r, 0, 196, 242, 1.0f, 881250949);
    expect_row(&r, 1, 186, 302, 1.0f, 891717742);
    ratings_free(&r);
    scratch_write_text(path, sizeof path, "ratings.dat", "1::1193::5::978300760\n2::3068::x::5\n");
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    expect_row(&r, 0, 1, 1193, 1.0f, 978300760);
    expect_row(&r, 1, 2, 3068, 1.0f, 5);
    ratings_free(&r);
    scratch_write_text(path, sizeof path, "pairs.tsv", "7\t8\n9\t10\n");
    read_ok(&r, path, &o);
    ck_assert(!r.has_ratings && !r.has_timestamps);
    expect_row(&r, 1, 9, 10, 1.0f, 0);
    ratings_free(&r);
}
END_TEST

/* ---- what a file may hold: the rating range, NUL bytes, other encodings */

START_TEST(test_rating_range_parse)
{
    float low = -7.0f, high = -7.0f;
    Error err = {{0}};
    /* The default text and the default options agree. */
    ck_assert_int_eq(rating_range_parse(&low, &high, DATASET_RATING_RANGE_DEFAULT, &err), 0);
    DatasetOptions o;
    dataset_options_default(&o);
    ck_assert(low == o.rating_min && high == o.rating_max);
    ck_assert(low == 0.0f && high == 100.0f);

    static const struct {
        const char *text;
        float low, high;
    } GOOD[] = {{"1:5", 1.0f, 5.0f},     {" 0.5 : 5 ", 0.5f, 5.0f}, {"-10:10", -10.0f, 10.0f},
                {"3:3", 3.0f, 3.0f},     {"1e-3:1e6", 1e-3f, 1e6f}, {"-1e30:1e30", -1e30f, 1e30f}};
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) {
        ck_assert_msg(rating_range_parse(&low, &high, GOOD[i].text, &err) == 0, "%s: %s",
                      GOOD[i].text, err.message);
        ck_assert(low == GOOD[i].low && high == GOOD[i].high);
    }
    static const char *BAD[] = {"5:1", "1",     ":5",       "1:",    "a:b",   "1:5:7", "0x1:5",
                                "inf:5", "1:nan", "1:1e39", "",      " : ",   "1;5"};
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        low = high = -7.0f;
        ck_assert_int_eq(rating_range_parse(&low, &high, BAD[i], &err), -1);
        char message[300];
        snprintf(message, sizeof message,
                 "--rating-range: expected LOW:HIGH, two finite numbers with LOW <= HIGH (e.g. "
                 "1:5 or -10:10), found '%s'",
                 BAD[i]);
        ck_assert_str_eq(err.message, message);
        ck_assert(low == -7.0f && high == -7.0f); /* unchanged */
    }
    ck_assert_int_eq(rating_range_parse(&low, &high, "1:\x1b[2J", &err), -1);
    ck_assert_str_eq(err.message, "--rating-range: expected LOW:HIGH, two finite numbers with "
                                  "LOW <= HIGH (e.g. 1:5 or -10:10), found '1:\\x1b[2J'");
}
END_TEST

START_TEST(test_ratings_outside_the_range)
{
    char path[512];
    scratch_write_text(path, sizeof path, "range.csv",
                       "user_id,item_id,rating,timestamp\n"
                       "1,10,4,1\n"
                       "2,11,1e30,2\n"
                       "3,12,-1,3\n"
                       "4,13,100,4\n"
                       "5,14,0,5\n"
                       "6,15,100.5,6\n");
    DatasetOptions o;
    dataset_options_default(&o);
    /* One absurd rating among good ones is the whole file's error... */
    expect_error(path, &o, "3: expected a rating from 0 to 100 in field 3 (--rating-range 0:100), "
                           "found '1e30'");
    expect_error_part(path, &o, 1, 2, "4: expected a rating from 0 to 100 in field 3 "
                                      "(--rating-range 0:100), found '-1'");
    /* ...or a skipped line; the bounds themselves are in range. */
    o.skip_malformed = true;
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.n_skipped, 3);
    expect_row(&r, 0, 1, 10, 4.0f, 1);
    expect_row(&r, 1, 4, 13, 100.0f, 4);
    expect_row(&r, 2, 5, 14, 0.0f, 5);
    ratings_free(&r);
    /* A range wide enough takes every line. */
    o.skip_malformed = false;
    o.rating_min = -1.0f;
    o.rating_max = 1e30f;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 6);
    ratings_free(&r);
    /* Implicit feedback reads no rating, so no range applies. */
    dataset_options_default(&o);
    o.implicit = true;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 6);
    ck_assert(r.ratings[1] == 1.0f);
    ratings_free(&r);

    /* A narrower scale, MovieLens style: 6 stars of 5 is refused. */
    scratch_write_text(path, sizeof path, "stars.tsv", "1\t2\t0.5\t4\n1\t3\t6\t5\n");
    dataset_options_default(&o);
    o.rating_min = 0.5f;
    o.rating_max = 5.0f;
    expect_error(path, &o, "2: expected a rating from 0.5 to 5 in field 3 (--rating-range 0.5:5), "
                           "found '6'");
}
END_TEST

START_TEST(test_files_that_are_not_utf8_text)
{
    char path[512];
    DatasetOptions o;
    dataset_options_default(&o);
    static const char UTF16LE[] = "\xff\xfeu\0s\0e\0r\0_\0i\0d\0,\0i\0t\0e\0m\0\n\0";
    scratch_write(path, sizeof path, "utf16.csv", UTF16LE, sizeof UTF16LE - 1);
    static const char SAVE[] = "save it as UTF-8 (e.g. iconv -t UTF-8)";
    char message[300];
    snprintf(message, sizeof message, " looks like UTF-16 text (byte-order mark FF FE); %s", SAVE);
    expect_error(path, &o, message);
    expect_error_part(path, &o, 1, 2, message); /* every partition reads the start */
    o.skip_malformed = true;                    /* not a line to skip: the whole file */
    expect_error(path, &o, message);
    o.skip_malformed = false;

    static const char UTF16BE_BARE[] = "\0u\0s\0e\0r\0_\0i\0d\0,\0i\0t\0e\0m\0\n";
    scratch_write(path, sizeof path, "utf16be.csv", UTF16BE_BARE, sizeof UTF16BE_BARE - 1);
    snprintf(message, sizeof message,
             " looks like UTF-16 text without a byte-order mark (big-endian: every other byte is "
             "NUL); %s",
             SAVE);
    expect_error(path, &o, message);

    static const char GZIP[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
    scratch_write(path, sizeof path, "ratings.csv.gz", GZIP, sizeof GZIP - 1);
    expect_error(path, &o, " looks like gzip-compressed data; decompress it first (gunzip)");

    /* A UTF-8 byte-order mark is skipped in MovieLens files too, in every
     * partitioning. */
    scratch_write_text(path, sizeof path, "bom.tsv", "\xEF\xBB\xBF" "1\t2\t3\t4\n5\t6\t4\t8\n");
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    expect_row(&r, 0, 1, 2, 3.0f, 4);
    expect_row(&r, 1, 5, 6, 4.0f, 8);
    check_partitions_concatenate(path, &o, &r, 2);
    check_partitions_concatenate(path, &o, &r, 5);
    ratings_free(&r);
}
END_TEST

START_TEST(test_nul_bytes_and_control_characters)
{
    char path[512];
    DatasetOptions o;
    dataset_options_default(&o);
    static const char NUL_LINE[] = "user_id,item_id,rating\n1,2,3\n4,5\0,3\n6,7,3\n";
    scratch_write(path, sizeof path, "nul.csv", NUL_LINE, sizeof NUL_LINE - 1);
    static const char WHY[] = "a text file holds none: is the file binary, damaged, or saved as "
                              "UTF-16?";
    char message[300];
    snprintf(message, sizeof message, "3: NUL byte in the line (byte 4); %s", WHY);
    expect_error(path, &o, message);
    expect_error_part(path, &o, 1, 2, message);
    o.skip_malformed = true;
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_uint_eq(r.n_skipped, 1);
    ratings_free(&r);
    o.skip_malformed = false;

    /* Even in a column nobody reads, and in the header. */
    static const char NUL_IGNORED[] = "user_id,item_id,rating,note\n1,2,3,a\0b\n";
    scratch_write(path, sizeof path, "nul_note.csv", NUL_IGNORED, sizeof NUL_IGNORED - 1);
    snprintf(message, sizeof message, "2: NUL byte in the line (byte 8); %s", WHY);
    expect_error(path, &o, message);
    static const char NUL_HEADER[] = "\nuser\0_id,item_id,rating\n1,2,3\n";
    scratch_write(path, sizeof path, "nul_header.csv", NUL_HEADER, sizeof NUL_HEADER - 1);
    snprintf(message, sizeof message, "2: NUL byte in the line (byte 5); %s", WHY);
    expect_error(path, &o, message);

    /* Control characters and bytes that are not UTF-8 are quoted escaped. */
    scratch_write_text(path, sizeof path, "escape.csv",
                       "user_id,item_id,rating\n1,\x1b[31mred,3\n");
    expect_error(path, &o, "2: expected an integer item id in field 2, found '\\x1b[31mred'");
    scratch_write_text(path, sizeof path, "latin1.csv", "user_id,item_id,rating\n1,caf\xe9,3\n");
    expect_error(path, &o, "2: expected an integer item id in field 2, found 'caf\\xe9'");
    scratch_write_text(path, sizeof path, "header.csv", "user\x1b_id,item_id,rating\n1,2,3\n");
    expect_error(path, &o, "1: expected a CSV header naming the column 'user_id', found "
                           "'user\\x1b_id,item_id,rating'");
    EventWeights weights;
    DatasetOptions implicit;
    options_implicit_shop(&implicit, &weights);
    scratch_write_text(path, sizeof path, "event.csv", "user_id,item_id,event\n1,2,v\x1b[H\n");
    expect_error(path, &implicit, "2: unknown event 'v\\x1b[H' (--event-weights lists view, "
                                  "cart, purchase)");
}
END_TEST

/* The shared data folder: $PSREC_DATA_DIR (set by CTest), else
 * ../shared/data as seen from the project root. */
static const char *shared_data_dir(void)
{
    const char *dir = getenv("PSREC_DATA_DIR");
    return dir && dir[0] ? dir : "../shared/data";
}

START_TEST(test_movielens_100k_u1_base)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ml-100k/u1.base", shared_data_dir());
    if (access(path, R_OK) != 0) {
        /* Skipped, not passed: the data lives beside the project, never in it. */
        fprintf(stderr, "skipping: test_movielens_100k_u1_base: %s not found (see %s/README.md)\n",
                path, shared_data_dir());
        return;
    }
    DatasetOptions o;
    dataset_options_default(&o);
    Ratings r;
    read_ok(&r, path, &o);
    ck_assert_uint_eq(r.n, 80000);
    ck_assert(r.has_ratings && r.has_timestamps);
    ck_assert_uint_eq(r.n_skipped, 0);
    expect_row(&r, 0, 1, 1, 5.0f, 874965758);
    size_t in_range = 0;
    for (size_t i = 0; i < r.n; i++)
        in_range += r.ratings[i] >= 1.0f && r.ratings[i] <= 5.0f;
    ck_assert_uint_eq(in_range, r.n);
    check_partitions_concatenate(path, &o, &r, 4);
    ratings_free(&r);
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *suite = suite_create("dataset");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_options_default);
    tcase_add_test(tc, test_csv_values);
    tcase_add_test(tc, test_csv_crlf_blank_lines_spaces_quotes_no_final_newline);
    tcase_add_test(tc, test_csv_named_columns_in_other_order);
    tcase_add_test(tc, test_csv_pairs_without_rating);
    tcase_add_test(tc, test_movielens_tab_and_colons);
    tcase_add_test(tc, test_empty_files);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_malformed_lines_name_file_and_line);
    tcase_add_test(tc, test_malformed_line_number_inside_later_partition);
    tcase_add_test(tc, test_partitions_read_every_line_once);
    tcase_add_test(tc, test_large_file_across_read_chunks);
    tcase_add_test(tc, test_event_weights_parse);
    tcase_add_test(tc, test_events_weigh_examples);
    tcase_add_test(tc, test_unknown_event_names_file_and_line);
    tcase_add_test(tc, test_implicit_reads_without_ratings);
    tcase_add_test(tc, test_rating_range_parse);
    tcase_add_test(tc, test_ratings_outside_the_range);
    tcase_add_test(tc, test_files_that_are_not_utf8_text);
    tcase_add_test(tc, test_nul_bytes_and_control_characters);
    tcase_add_test(tc, test_movielens_100k_u1_base);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(dataset_suite());
}
