/* predict.h — `psrec predict`: scores (user, item) pairs with a saved model.
 *
 * Loads the manifest and every shard of a run folder's model into one store
 * (no MPI needed) and writes `user_id,item_id,prediction` for every input
 * pair, one line per pair in input order (no header line). Ids the model has never seen
 * get the model's fallback (their rows count as zeros: μ + the known bias).
 */
#ifndef PSREC_PREDICT_H
#define PSREC_PREDICT_H

/* Runs `psrec predict` with the arguments after the subcommand. Returns the
 * exit code: 0 success, 1 failure (message on stderr), 2 bad usage. */
int predict_main(int argc, char **argv);

#endif
