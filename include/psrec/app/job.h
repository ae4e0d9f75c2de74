/* job.h — what the MPI subcommands (train, recommend) share: leaving
 * together when one rank fails, so no rank waits forever in a collective.
 */
#ifndef PSREC_JOB_H
#define PSREC_JOB_H

#include <stdbool.h>

#include "psrec/core/util.h"

/* Collective over the world: true when any rank failed. The failed rank
 * with the lowest number prints "psrec COMMAND: message", so a failure every
 * rank meets (a missing file) is reported once. */
bool job_agree_on_failure(const char *command, bool failed_here, const Error *err);

#endif
