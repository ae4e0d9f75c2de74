/* test_util.c — the small shared pieces that decide what a message shows
 * and what a file is: text_escape (control characters and bytes that are
 * not UTF-8 never reach the terminal as themselves), text_check_head
 * (UTF-16, binary and compressed files named for what they are), the NUL
 * line message, and the machine's memory and disk as a job sees them.
 */
#include <check.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "psrec/core/util.h"

#include "test_support.h"

/* text_escape of len bytes into a buffer of out_bytes, compared with want. */
static void expect_escape(const char *text, size_t len, size_t out_bytes, const char *want)
{
    char out[256];
    ck_assert_uint_le(out_bytes, sizeof out);
    memset(out, 'Z', sizeof out);
    const char *got = text_escape(out, out_bytes, text, len);
    ck_assert_ptr_eq(got, out);
    ck_assert_str_eq(out, want);
    ck_assert_uint_lt(strlen(out), out_bytes);
}

START_TEST(test_escape_keeps_printable_text_and_utf8)
{
    expect_escape("1,2,3.5", 7, 64, "1,2,3.5");
    expect_escape("", 0, 64, "");
    expect_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\x92", 14, 64,
                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\x92"); /* é, €, a cart emoji */
    expect_escape("'quoted' \"too\"", 14, 64, "'quoted' \"too\"");
}
END_TEST

START_TEST(test_escape_control_characters)
{
    expect_escape("a\tb\nc\rd", 7, 64, "a\\tb\\nc\\rd");
    expect_escape("x\0y", 3, 64, "x\\0y");
    expect_escape("\x1b[2J\x1b]0;title\x07", 14, 64, "\\x1b[2J\\x1b]0;title\\x07");
    expect_escape("del\x7f", 4, 64, "del\\x7f");
    /* A backslash is doubled, so \x1b in the output always means the byte. */
    expect_escape("C:\\x1b", 6, 64, "C:\\\\x1b");
}
END_TEST

START_TEST(test_escape_bytes_that_are_not_utf8)
{
    expect_escape("caf\xe9", 4, 64, "caf\\xe9");             /* latin-1 é */
    expect_escape("\xc0\x80", 2, 64, "\\xc0\\x80");          /* overlong NUL */
    expect_escape("\xed\xa0\x80", 3, 64, "\\xed\\xa0\\x80"); /* a surrogate */
    expect_escape("\xf4\x90\x80\x80", 4, 64, "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
    expect_escape("\xe2\x82", 2, 64, "\\xe2\\x82");          /* cut short at the end */
    expect_escape("\x80x", 2, 64, "\\x80x");                 /* a lone continuation byte */
    expect_escape("\xff\xfe", 2, 64, "\\xff\\xfe");
}
END_TEST

START_TEST(test_escape_unsafe_characters_that_are_utf8)
{
    /* C1 controls: U+009B is a one-character escape sequence introducer. */
    expect_escape("a\xc2\x9b" "31m", 6, 64, "a\\xc2\\x9b31m");
    /* Bidirectional overrides and line separators reorder or break lines. */
    expect_escape("\xe2\x80\xae" "abc", 6, 64, "\\xe2\\x80\\xaeabc");
    expect_escape("\xe2\x80\xa8", 3, 64, "\\xe2\\x80\\xa8");
    expect_escape("\xe2\x81\xa6", 3, 64, "\\xe2\\x81\\xa6");
    /* Their neighbours are ordinary characters. */
    expect_escape("\xc2\xa0", 2, 64, "\xc2\xa0");             /* U+00A0 */
    expect_escape("\xe2\x80\x94", 3, 64, "\xe2\x80\x94");     /* U+2014 em dash */
}
END_TEST

START_TEST(test_escape_cuts_between_characters)
{
    /* out of 8 bytes: 4 characters, then "..." */
    expect_escape("abcd", 4, 8, "abcd");
    expect_escape("abcde", 5, 8, "abcd...");
    /* An escape or a UTF-8 character is never split. */
    expect_escape("ab\x1b", 3, 8, "ab...");
    expect_escape("abc\xc3\xa9", 5, 9, "abc\xc3\xa9");
    expect_escape("abcd\xc3\xa9", 6, 9, "abcd...");
    /* text_quote: a whole string, at most 80 characters shown. */
    char long_text[200];
    memset(long_text, 'q', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    char quoted[TEXT_QUOTE_BYTES];
    text_quote(quoted, long_text);
    ck_assert_uint_eq(strlen(quoted), 83);
    ck_assert_str_eq(quoted + 80, "...");
    ck_assert_str_eq(text_quote(quoted, "key\x1b"), "key\\x1b");
}
END_TEST

/* text_check_head on len bytes: 0 and no message when want is NULL, else
 * -1 with exactly "f.csv: " + want. */
static void expect_head(const void *head, size_t len, const char *want)
{
    Error err = {{0}};
    int rc = text_check_head("f.csv", head, len, &err);
    if (!want) {
        ck_assert_msg(rc == 0, "refused: %s", err.message);
        return;
    }
    ck_assert_int_eq(rc, -1);
    char expected[ERROR_MESSAGE_BYTES];
    snprintf(expected, sizeof expected, "f.csv: %s", want);
    ck_assert_str_eq(err.message, expected);
}

START_TEST(test_check_head_accepts_text)
{
    expect_head("user_id,item_id,rating\n1,2,3\n", 29, NULL);
    expect_head("\xef\xbb\xbfuser_id,item_id\n", 19, NULL); /* UTF-8 mark: skipped later */
    expect_head("", 0, NULL);
    expect_head("1\t2\t3\t4\n", 8, NULL);
    expect_head("1,2,3\n4,\0,6\n7,8,9\n", 18, NULL); /* one NUL: the line reader's to report */
    expect_head("BZh is a header\n", 16, NULL);
}
END_TEST

START_TEST(test_check_head_refuses_utf16_binary_compressed)
{
    static const char UTF8[] = "save it as UTF-8 (e.g. iconv -t UTF-8)";
    char want[256];
    snprintf(want, sizeof want, "looks like UTF-16 text (byte-order mark FF FE); %s", UTF8);
    expect_head("\xff\xfeu\0s\0e\0r\0", 10, want);
    snprintf(want, sizeof want, "looks like UTF-16 text (byte-order mark FE FF); %s", UTF8);
    expect_head("\xfe\xff\0u\0s\0e\0r", 10, want);
    snprintf(want, sizeof want, "looks like UTF-32 text (byte-order mark FF FE 00 00); %s", UTF8);
    expect_head("\xff\xfe\0\0u\0\0\0", 8, want);
    snprintf(want, sizeof want,
             "looks like UTF-16 text without a byte-order mark (little-endian: every other byte "
             "is NUL); %s",
             UTF8);
    expect_head("u\0s\0e\0r\0_\0i\0d\0,\0", 16, want);
    snprintf(want, sizeof want,
             "looks like UTF-16 text without a byte-order mark (big-endian: every other byte is "
             "NUL); %s",
             UTF8);
    expect_head("\0u\0s\0e\0r\0_\0i\0d\0,", 16, want);
    char zeros[64] = {0};
    expect_head(zeros, sizeof zeros,
                "looks like binary data, not text (64 of its first 64 bytes are NUL); check that "
                "this is the right file");
    expect_head("\x1f\x8b\x08\0\0\0\0\0", 8,
                "looks like gzip-compressed data; decompress it first (gunzip)");
    expect_head("PK\x03\x04\x14\0\0\0", 8,
                "looks like a zip archive; extract the file from it first (unzip)");
    expect_head("BZh91AY&SY", 10, "looks like bzip2-compressed data; decompress it first (bunzip2)");
    expect_head("\xfd" "7zXZ\0\0\x04", 8, "looks like xz-compressed data; decompress it first (unxz)");
    expect_head("\x28\xb5\x2f\xfd\0\0", 6,
                "looks like zstd-compressed data; decompress it first (unzstd)");
}
END_TEST

START_TEST(test_nul_line_message)
{
    Error err = {{0}};
    ck_assert_int_eq(error_set_nul_line(&err, "d.csv", 12, 5), -1);
    ck_assert_str_eq(err.message, "d.csv:12: NUL byte in the line (byte 5); a text file holds "
                                  "none: is the file binary, damaged, or saved as UTF-16?");
}
END_TEST

START_TEST(test_machine_memory_and_disk)
{
    uint64_t physical = memory_physical_bytes();
    uint64_t available = memory_available_bytes();
    ck_assert_uint_gt(physical, 1u << 20);
    ck_assert_uint_gt(available, 0);
    ck_assert_uint_le(available, physical);
    ck_assert(path_free_bytes("/tmp") > 0);
    ck_assert(path_free_bytes("/no/such/folder/psrec") < 0);
    char text[32];
    ck_assert_str_eq(bytes_format(text, sizeof text, 512), "512 bytes");
    ck_assert_str_eq(bytes_format(text, sizeof text, 1536), "1.5 KiB");
    ck_assert_str_eq(bytes_format(text, sizeof text, 3.5 * 1024 * 1024 * 1024), "3.5 GiB");
    ck_assert_str_eq(bytes_format(text, sizeof text, 2.0 * 1024 * 1024 * 1024 * 1024), "2.0 TiB");
}
END_TEST

/* rng_fill_normal draws N(0, std²): over 400k draws the mean, variance,
 * fourth moment (3 std⁴ for a normal) and the share beyond 2 std (4.55%)
 * match within a few standard errors; the same seed gives the same draws,
 * and odd counts are filled to the last element. */
START_TEST(test_fill_normal_moments)
{
    enum { N = 400000 };
    static float draws[N + 1];
    const float std = 0.5f;
    Rng rng;
    rng_seed(&rng, 11);
    draws[N] = 123.0f;
    rng_fill_normal(&rng, draws, N, std);
    ck_assert(draws[N] == 123.0f);
    double sum = 0, sum2 = 0, sum4 = 0, beyond = 0;
    for (int i = 0; i < N; i++) {
        double x = draws[i] / std;
        sum += x;
        sum2 += x * x;
        sum4 += x * x * x * x;
        beyond += fabs(x) > 2.0;
    }
    ck_assert_double_lt(fabs(sum / N), 5 * 1.0 / sqrt(N));
    ck_assert_double_lt(fabs(sum2 / N - 1.0), 5 * sqrt(2.0 / N));
    ck_assert_double_lt(fabs(sum4 / N - 3.0), 5 * sqrt(96.0 / N));
    ck_assert_double_lt(fabs(beyond / N - 0.0455), 5 * sqrt(0.0455 * 0.9545 / N));
    float again[7], odd[7];
    rng_seed(&rng, 11);
    rng_fill_normal(&rng, again, 7, std);
    ck_assert_int_eq(memcmp(again, draws, sizeof again), 0);
    rng_seed(&rng, 12);
    rng_fill_normal(&rng, odd, 7, std);
    ck_assert(odd[6] != 0.0f && memcmp(odd, again, sizeof odd) != 0);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *suite = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escape_keeps_printable_text_and_utf8);
    tcase_add_test(tc, test_escape_control_characters);
    tcase_add_test(tc, test_escape_bytes_that_are_not_utf8);
    tcase_add_test(tc, test_escape_unsafe_characters_that_are_utf8);
    tcase_add_test(tc, test_escape_cuts_between_characters);
    tcase_add_test(tc, test_check_head_accepts_text);
    tcase_add_test(tc, test_check_head_refuses_utf16_binary_compressed);
    tcase_add_test(tc, test_nul_line_message);
    tcase_add_test(tc, test_machine_memory_and_disk);
    tcase_add_test(tc, test_fill_normal_moments);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return test_run_suite(util_suite()); }
