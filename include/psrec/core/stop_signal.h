/* stop_signal.h — a polite stop: the signals a batch system sends before it
 * ends a job ask the run to checkpoint and stop, instead of killing it.
 *
 * SIGTERM (Slurm's time limit and scancel; under mpirun the job gets only
 * about a second before SIGKILL), SIGUSR1 (Slurm's --signal=USR1@T;
 * mpirun forwards it to every rank) and SIGINT (Ctrl-C on a terminal) set
 * a flag that the training loop reads at its next batch boundary. A second
 * SIGINT ends the process at once, so an impatient user is never stuck.
 */
#ifndef PSREC_STOP_SIGNAL_H
#define PSREC_STOP_SIGNAL_H

/* The exit code of a run that stopped on a signal after writing a
 * checkpoint (or before any training, with nothing to lose): EX_TEMPFAIL,
 * "try again later" — a requeued job resumes. */
#define STOP_SIGNAL_EXIT_CODE 75

/* Installs the handlers (with SA_RESTART, so file reads are not cut short). */
void stop_signal_install(void);

/* The first stop signal received (SIGTERM, SIGUSR1 or SIGINT), or 0. */
int stop_signal_received(void);

/* Records a stop as if signal signo had arrived (a server's request relayed
 * in a pull response reaches the workers this way). */
void stop_signal_raise(int signo);

/* "SIGTERM", "SIGUSR1", "SIGINT" (or "signal N"). */
const char *stop_signal_name(int signo);

#endif
