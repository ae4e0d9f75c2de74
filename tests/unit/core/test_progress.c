/* test_progress.c — the JSON pieces summary.json and metrics.jsonl are
 * written with: numbers that read back exactly (null where JSON has no
 * number), strings escaped so that any path (quotes, backslashes, control
 * characters) stays one valid JSON string, and a NULL string as null.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/progress.h"

#include "test_support.h"

/* What writer wrote into a memory stream, as a string (caller frees). */
typedef void (*JsonWriter)(FILE *file);

static char *written_by(JsonWriter writer)
{
    char *text = NULL;
    size_t bytes = 0;
    FILE *file = open_memstream(&text, &bytes);
    ck_assert_ptr_nonnull(file);
    writer(file);
    fclose(file);
    return text;
}

static void write_plain_strings(FILE *file)
{
    progress_json_string(file, "warm_start_from", "runs/oct", false);
    progress_json_string(file, "warm_start_run_id", "00ab", true);
}

static void write_hostile_string(FILE *file)
{
    progress_json_string(file, "path", "a\"b\\c\nd\te\x01" "caf\xc3\xa9", true);
}

static void write_null_string(FILE *file)
{
    progress_json_string(file, "warm_start_from", NULL, false);
    progress_json_string(file, "last", NULL, true);
}

static void write_numbers(FILE *file)
{
    progress_json_number(file, "examples_processed", 3600000.0, false);
    progress_json_number(file, "rmse", 0.677358757, false);
    progress_json_number(file, "none", NAN, true);
}

START_TEST(test_json_string_plain)
{
    char *text = written_by(write_plain_strings);
    ck_assert_str_eq(text, "\"warm_start_from\":\"runs/oct\",\"warm_start_run_id\":\"00ab\"");
    free(text);
}
END_TEST

START_TEST(test_json_string_escapes)
{
    /* Quote and backslash escaped, control characters as \u00XX, UTF-8 kept. */
    char *text = written_by(write_hostile_string);
    ck_assert_str_eq(text, "\"path\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001caf\xc3\xa9\"");
    free(text);
}
END_TEST

START_TEST(test_json_string_null)
{
    char *text = written_by(write_null_string);
    ck_assert_str_eq(text, "\"warm_start_from\":null,\"last\":null");
    free(text);
}
END_TEST

START_TEST(test_json_numbers)
{
    char *text = written_by(write_numbers);
    ck_assert_str_eq(text, "\"examples_processed\":3600000,\"rmse\":0.677358757,\"none\":null");
    free(text);
}
END_TEST

static Suite *progress_suite(void)
{
    Suite *suite = suite_create("progress");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_json_string_plain);
    tcase_add_test(tc, test_json_string_escapes);
    tcase_add_test(tc, test_json_string_null);
    tcase_add_test(tc, test_json_numbers);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return test_run_suite(progress_suite()); }
