/* job.h — what the MPI subcommands (train, recommend) share: leaving
 * together when one rank fails, so no rank waits forever in a collective,
 * and saying where the ranks run.
 */
#ifndef PSREC_JOB_H
#define PSREC_JOB_H

#include <stdbool.h>

#include "psrec/core/util.h"

/* Collective over the world: true when any rank failed. The failed rank
 * with the lowest number prints "psrec COMMAND: message", so a failure every
 * rank meets (a missing file) is reported once. */
bool job_agree_on_failure(const char *command, bool failed_here, const Error *err);

/* Where the job's ranks run, as one line (ps/placement.h) from the host
 * names comm_init gathered: no communication, so any rank may ask.
 * n_workers = 0 for a job whose ranks have no roles. *out_hosts (if not
 * NULL) gets the number of hosts. The caller frees the text. */
char *job_placement(int n_workers, int *out_hosts);

#endif
