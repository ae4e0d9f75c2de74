/* train.h — `psrec train`: one MPI job from data files to a saved model.
 *
 * Setup (configuration, run folder, data partitions, μ) → the servers serve
 * while the workers train epoch by epoch, evaluating after each → servers
 * write their shards, the chief writes the manifest (the commit point) and
 * the run summary. Expected failures (bad flags, unreadable or malformed
 * data) are agreed on by all ranks, reported once by the rank that saw them,
 * and end every rank with a non-zero code without MPI_Abort.
 */
#ifndef PSREC_TRAIN_H
#define PSREC_TRAIN_H

/* Runs `psrec train` with the arguments after the subcommand. Initialises
 * and finalises MPI. Returns the process exit code: 0 success, 1 failed
 * run (data, files), 2 bad usage. Collective over MPI_COMM_WORLD. */
int train_main(int argc, char **argv);

#endif
