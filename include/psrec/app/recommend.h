/* recommend.h — `psrec recommend`: each user's top K items from a trained
 * model, as CSV lines user_id,rank,item_id,score (ranks 1..K, best first;
 * ties by the smaller catalogue position, i.e. the smaller item id).
 *
 * Runs as one process or under mpirun: users (sorted by id) are shared out
 * in blocks aligned to the scorer's user blocks, each rank writes its part,
 * and rank 0 joins the parts in order, so the file is byte-for-byte the same
 * for any number of ranks. A user the model never saw gets the most popular
 * items (score: the item's training count).
 */
#ifndef PSREC_RECOMMEND_H
#define PSREC_RECOMMEND_H

/* Runs the command (argv after "recommend"); returns the exit code. */
int recommend_main(int argc, char **argv);

#endif
