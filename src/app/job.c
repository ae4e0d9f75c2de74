/* job.c — agreeing on failures across the ranks (job.h). */
#include "psrec/app/job.h"

#include <limits.h>
#include <stdio.h>

#include "psrec/ps/comm.h"

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
