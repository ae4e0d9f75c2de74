/* test_time_shares.c — a rank's account of time by kind of work.
 *
 * Against the clock itself: time spent (by sleeping) between two charges
 * lands on the kind charged, kinds add up to the time since the reset, and a
 * reset starts from zero.
 */
#include <check.h>
#include <string.h>
#include <time.h>

#include "psrec/core/time_shares.h"
#include "psrec/core/util.h"

#include "test_support.h"

static void sleep_s(double seconds)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)(seconds * 1e9)};
    nanosleep(&pause, NULL);
}

START_TEST(test_charges_land_on_their_kind)
{
    double started = time_now_s();
    time_shares_reset();
    sleep_s(0.02);
    time_shares_charge(TIME_WAIT);
    sleep_s(0.05);
    time_shares_charge(TIME_OPTIMIZER);
    time_shares_charge(TIME_COPY); /* nothing since the last charge */
    double elapsed = time_now_s() - started;
    double seconds[TIME_KINDS];
    time_shares_read(seconds);
    ck_assert_double_ge(seconds[TIME_WAIT], 0.02);
    ck_assert_double_ge(seconds[TIME_OPTIMIZER], 0.05);
    ck_assert_double_lt(seconds[TIME_COPY], 0.005);
    double total = 0.0;
    for (int kind = 0; kind < TIME_KINDS; kind++) {
        ck_assert_double_ge(seconds[kind], 0.0);
        total += seconds[kind];
    }
    ck_assert_double_le(total, elapsed);
    ck_assert_double_ge(total, 0.07);
    ck_assert_double_eq(seconds[TIME_MODEL], 0.0);

    time_shares_reset();
    time_shares_read(seconds);
    for (int kind = 0; kind < TIME_KINDS; kind++)
        ck_assert_double_eq(seconds[kind], 0.0);
}
END_TEST

START_TEST(test_kind_names_are_distinct)
{
    for (int a = 0; a < TIME_KINDS; a++)
        for (int b = a + 1; b < TIME_KINDS; b++)
            ck_assert_str_ne(time_kind_name(a), time_kind_name(b));
    ck_assert_str_eq(time_kind_name(TIME_WAIT), "wait");
    ck_assert_str_eq(time_kind_name(TIME_OPTIMIZER), "optimizer");
}
END_TEST

static Suite *time_shares_suite(void)
{
    Suite *suite = suite_create("time_shares");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_charges_land_on_their_kind);
    tcase_add_test(tc, test_kind_names_are_distinct);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return test_run_suite(time_shares_suite()); }
