/* test_placement.c — the placement line against hand-written expectations:
 * each of its three forms, numbers as runs, jobs without roles, and a line
 * that stays short for thousands of ranks. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/ps/placement.h"

#include "test_support.h"

/* hosts[r] = names[host_of[r]] for world_size ranks. */
typedef struct {
    char names[600][16];
    const char *hosts[5000];
} Hosts;

static Hosts *hosts_make(int world_size, int (*host_of)(int rank))
{
    static Hosts hosts;
    for (int h = 0; h < 600; h++)
        snprintf(hosts.names[h], sizeof hosts.names[h], "n%02d", h);
    for (int r = 0; r < world_size; r++)
        hosts.hosts[r] = hosts.names[host_of(r)];
    return &hosts;
}

static void assert_placement(const char *const *hosts, int world_size, int n_workers,
                             const char *expected)
{
    char *text = placement_describe(hosts, world_size, n_workers);
    ck_assert_str_eq(text, expected);
    free(text);
}

START_TEST(test_one_server_and_one_worker_per_host)
{
    /* mpirun -np 4 --map-by node on two hosts, --servers 2 */
    const char *hosts[] = {"h1", "h2", "h1", "h2"};
    assert_placement(hosts, 4, 2,
                     "2 workers + 2 servers on 2 hosts; h1: worker 0 (rank 0), server 0 "
                     "(rank 2); h2: worker 1 (rank 1), server 1 (rank 3)");
    ck_assert_int_eq(placement_count_hosts(hosts, 4), 2);
}
END_TEST

START_TEST(test_numbers_run_as_ranges)
{
    const char *one[] = {"box", "box", "box", "box"};
    assert_placement(one, 4, 3, "3 workers + 1 server on 1 host; box: workers 0-2 (ranks 0-2), "
                                "server 0 (rank 3)");
    /* a dedicated server node; two in a row are "4,5", not "4-5" */
    const char *dedicated[] = {"a", "a", "a", "a", "b", "b"};
    assert_placement(dedicated, 6, 4, "4 workers + 2 servers on 2 hosts; a: workers 0-3 "
                                      "(ranks 0-3); b: servers 0,1 (ranks 4,5)");
    /* gaps between runs; a host holding only servers comes in rank order */
    const char *mixed[] = {"p", "p", "p", "q", "p", "p", "q", "r", "p"};
    assert_placement(mixed, 9, 6, "6 workers + 3 servers on 3 hosts; p: workers 0-2,4,5 "
                                  "(ranks 0-2,4,5), server 2 (rank 8); q: worker 3 (rank 3), "
                                  "server 0 (rank 6); r: server 1 (rank 7)");
}
END_TEST

START_TEST(test_ranks_without_roles)
{
    const char *hosts[] = {"x", "y", "x", "y", "y"};
    assert_placement(hosts, 5, 0, "5 ranks on 2 hosts; x: ranks 0,2; y: ranks 1,3,4");
    const char *single[] = {"x"};
    assert_placement(single, 1, 0, "1 rank on 1 host; x: rank 0");
}
END_TEST

static int round_robin_4(int rank) { return rank % 4; }

START_TEST(test_counts_per_host_when_the_numbers_are_long)
{
    /* 32 ranks round robin over 4 hosts, 8 servers: every host's numbers
     * would take 80 bytes */
    Hosts *hosts = hosts_make(32, round_robin_4);
    assert_placement(hosts->hosts, 32, 24,
                     "24 workers + 8 servers on 4 hosts; n00: 6 workers + 2 servers; n01: 6 "
                     "workers + 2 servers; n02: 6 workers + 2 servers; n03: 6 workers + 2 "
                     "servers");
    /* without roles the numbers still fit */
    assert_placement(hosts->hosts, 32, 0,
                     "32 ranks on 4 hosts; n00: ranks 0,4,8,12,16,20,24,28; n01: ranks "
                     "1,5,9,13,17,21,25,29; n02: ranks 2,6,10,14,18,22,26,30; n03: ranks "
                     "3,7,11,15,19,23,27,31");
}
END_TEST

static int blocks_of_4(int rank) { return rank / 4; }

START_TEST(test_hosts_grouped_by_counts_for_large_jobs)
{
    /* 40 nodes of 4 ranks (--map-by ppr:4:node): 30 worker nodes, then 10
     * server nodes */
    Hosts *hosts = hosts_make(160, blocks_of_4);
    assert_placement(hosts->hosts, 160, 120,
                     "120 workers + 40 servers on 40 hosts; 4 workers on each of 30 hosts "
                     "(n00 ... n29); 4 servers on each of 10 hosts (n30 ... n39)");
    /* one node shared: its counts differ; two of a kind are named both */
    assert_placement(hosts->hosts, 160, 118,
                     "118 workers + 42 servers on 40 hosts; 4 workers on each of 29 hosts "
                     "(n00 ... n28); 2 workers + 2 servers on n29; 4 servers on each of 10 "
                     "hosts (n30 ... n39)");
    ck_assert_int_eq(placement_count_hosts(hosts->hosts, 160), 40);
}
END_TEST

/* 4096 ranks on 512 hosts, 1 to 16 per host in an uneven pattern. */
static int uneven(int rank)
{
    int host = 0, left = rank;
    while (left >= 1 + (host * 7) % 16) {
        left -= 1 + (host * 7) % 16;
        host++;
    }
    return host;
}

START_TEST(test_the_line_stays_short_for_any_job)
{
    Hosts *hosts = hosts_make(4096, uneven);
    int n_hosts = placement_count_hosts(hosts->hosts, 4096);
    ck_assert_int_eq(n_hosts, uneven(4095) + 1);
    char *text = placement_describe(hosts->hosts, 4096, 3072);
    ck_assert_uint_lt(strlen(text), 400);
    ck_assert_ptr_nonnull(strstr(text, "more hosts"));
    char head[64];
    snprintf(head, sizeof head, "3072 workers + 1024 servers on %d hosts; ", n_hosts);
    ck_assert_int_eq(strncmp(text, head, strlen(head)), 0);
    free(text);
}
END_TEST

static Suite *placement_suite(void)
{
    Suite *suite = suite_create("placement");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_one_server_and_one_worker_per_host);
    tcase_add_test(tc, test_numbers_run_as_ranges);
    tcase_add_test(tc, test_ranks_without_roles);
    tcase_add_test(tc, test_counts_per_host_when_the_numbers_are_long);
    tcase_add_test(tc, test_hosts_grouped_by_counts_for_large_jobs);
    tcase_add_test(tc, test_the_line_stays_short_for_any_job);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return test_run_suite(placement_suite()); }
