/* job.c — agreeing on failures across the ranks (job.h). */
#include "psrec/app/job.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "psrec/ps/comm.h"
#include "psrec/ps/placement.h"

bool job_agree_on_failure(const char *command, bool failed_here, const Error *err)
{
    int reporter = failed_here ? comm_world_rank() : INT_MAX;
    comm_world_min_int(&reporter);
    if (reporter == INT_MAX)
        return false;
    if (reporter == comm_world_rank())
        fprintf(stderr, "psrec %s: %s\n", command, err->message);
    return true;
}

char *job_placement(int n_workers, int *out_hosts)
{
    int size = comm_world_size();
    const char **hosts = xmalloc((size_t)size * sizeof *hosts);
    for (int r = 0; r < size; r++)
        hosts[r] = comm_rank_host(r);
    char *text = placement_describe(hosts, size, n_workers);
    if (out_hosts)
        *out_hosts = placement_count_hosts(hosts, size);
    free(hosts);
    return text;
}
