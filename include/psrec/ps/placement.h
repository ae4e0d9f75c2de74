/* placement.h — where a job's ranks run: which host holds which workers and
 * servers, said in one line the chief prints at start (and train keeps in
 * its summary), so that a user sees at once whether --map-by did what they
 * meant. Pure text from the host names comm gathered (comm_rank_host); no
 * MPI here.
 *
 * The roles follow comm.h: world ranks [0, n_workers) are workers 0…,
 * the rest servers 0…. Hosts are named in the order of their lowest rank.
 * The line stays short for any job: per host the workers and servers with
 * their ranks while that fits PLACEMENT_DETAIL_BYTES, else the counts per
 * host, else hosts with the same counts grouped.
 */
#ifndef PSREC_PLACEMENT_H
#define PSREC_PLACEMENT_H

/* The most bytes the two detailed forms may add after the totals. */
#define PLACEMENT_DETAIL_BYTES 240

/* Describes the placement of world_size ranks, hosts[r] being the host name
 * of world rank r, in one line without a newline (callers print it after
 * "placement: "), e.g.
 *   2 workers + 2 servers on 2 hosts; h1: worker 0 (rank 0), server 0
 *   (rank 2); h2: worker 1 (rank 1), server 1 (rank 3)
 * n_workers = 0 describes ranks without roles ("4 ranks on 2 hosts; h1:
 * ranks 0,2; h2: ranks 1,3"); else 1 ≤ n_workers < world_size. Numbers run
 * as "3", "3,4" or "3-7". Returns a string the caller frees. */
char *placement_describe(const char *const *hosts, int world_size, int n_workers);

/* How many distinct host names hosts[0, world_size) holds. */
int placement_count_hosts(const char *const *hosts, int world_size);

#endif
