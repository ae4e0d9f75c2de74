/* config.c — the option tables of `train`, `generate` and `predict`, how
 * each config is loaded (defaults, then the --config file, then the command
 * line) and the cross-field checks.
 *
 * The tables are the single source of every option's name, default, range
 * and help text. Checks that one value can make (a range, a choice) live in
 * the table; checks between fields, or on conditions a table cannot state
 * (a rate strictly above 0), live in the *_validate functions below and
 * return a message that names the flags to change.
 */
#include "psrec/app/config.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "psrec/data/dataset.h"
#include "psrec/data/generate.h"
#include "psrec/models/model.h"
#include "psrec/ps/optimizer.h"

/* A range that the table does not check (min > max means unbounded). */
#define UNBOUNDED .min_value = 1, .max_value = 0

/* The --patience-metric names, in PatienceMetric order: each is the
 * validation figure valid_<name>. */
#define PATIENCE_METRIC_NAMES "ndcg_10|sampled_ndcg_10|hr_10|recall_20"
#define PATIENCE_METRIC_DEFAULT "ndcg_10"
#define RANGE(lo, hi) .min_value = (lo), .max_value = (hi)

/* The dataset format names, in the order of DatasetFormat: the option's
 * value is the enum itself. */
#define FORMAT_NAMES "auto|csv|movielens|movielens-colons"
_Static_assert(DATASET_FORMAT_AUTO == 0 && DATASET_FORMAT_CSV == 1 &&
                   DATASET_FORMAT_MOVIELENS_TAB == 2 && DATASET_FORMAT_MOVIELENS_COLONS == 3,
               "FORMAT_NAMES must list the formats in enum order");

const char TRAIN_USAGE[] =
    "usage: mpirun -np N psrec train --train FILE [options]\n\n"
    "Trains a recommendation model on N MPI ranks: --servers of them hold the\n"
    "parameters, the rest are workers. SIGTERM, SIGUSR1 or SIGINT make it finish\n"
    "its batch, write a checkpoint and exit 75 (continue with --resume). Options\n"
    "(also as `key = value` lines in a --config file; the command line wins):\n\n";

const char GENERATE_USAGE[] =
    "usage: psrec generate [options]\n\n"
    "Writes synthetic data drawn from known latent factors with power-law item\n"
    "popularity; the same --seed gives the same files. --feedback explicit writes\n"
    "ratings user_id,item_id,rating,timestamp; --feedback implicit writes interactions\n"
    "user_id,item_id,timestamp,event (event: view, cart or purchase), each item chosen\n"
    "in proportion to popularity * exp(--preference-strength * true affinity), which\n"
    "costs users * items * dim operations (a few seconds for 10k users * 5k items).\n"
    "--truth-out lists what a perfect recommender would show: per user, the --truth-k\n"
    "items of highest true affinity p_u.q_i that the user did not interact with, as\n"
    "user_id,rank,item_id,true_score. --item-features-out and --user-features-out write\n"
    "attributes as item_id,feature_id and user_id,feature_id (items: a category and a\n"
    "brand; users: an age band, a gender and a region) and make them drive the data: a\n"
    "--feature-strength share of the true factors comes from the attributes. Options:\n\n";

const char PREDICT_USAGE[] =
    "usage: psrec predict --run-dir DIR --pairs FILE --out FILE [options]\n\n"
    "Writes user_id,item_id,prediction for every (user, item) pair of FILE with the\n"
    "model a `psrec train` run saved in DIR/model, one line per pair. Options:\n\n";

const char EXPORT_USAGE[] =
    "usage: psrec export --run-dir DIR --out DIR2\n\n"
    "Writes the model a `psrec train` run saved in DIR/model as NumPy files: for\n"
    "each table, DIR2/<table>.npy (float32, one row of weights per id, sorted by\n"
    "id) and DIR2/<table>_ids.csv (row,id), plus DIR2/model.txt. Options:\n\n";

int config_report_load(int rc, const char *command, const char *usage, const OptionSpec *specs,
                       int n_specs, const Error *err)
{
    if (rc == 1) {
        fputs(usage, stdout);
        options_print_help(stdout, specs, n_specs);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "psrec %s: %s\n", command, err->message);
        return CONFIG_EXIT_BAD_USAGE;
    }
    return -1;
}

#define TRAIN_FIELD(field) offsetof(TrainConfig, field)

const OptionSpec TRAIN_OPTIONS[] = {
    /* data */
    {"train", OPTION_STRING, TRAIN_FIELD(train_path), "",
     "file of training interactions (CSV with a header, or MovieLens)", NULL, UNBOUNDED},
    {"test", OPTION_STRING, TRAIN_FIELD(test_path), "",
     "file of held-out interactions for evaluation (empty: none)", NULL, UNBOUNDED},
    {"run-dir", OPTION_STRING, TRAIN_FIELD(run_dir), "runs/latest",
     "folder for the run's config, metrics and checkpoints", NULL, UNBOUNDED},
    {"checkpoint-dir", OPTION_STRING, TRAIN_FIELD(checkpoint_dir), "",
     "folder of numbered checkpoints (empty: the --resume folder if given, else "
     "RUN/checkpoints); a stop signal always writes one there", NULL, UNBOUNDED},
    {"checkpoint-every", OPTION_INT, TRAIN_FIELD(checkpoint_every), "0",
     "write a checkpoint after every this many epochs (0: not by epoch)", NULL,
     RANGE(0, 1000000)},
    {"checkpoint-minutes", OPTION_DOUBLE, TRAIN_FIELD(checkpoint_minutes), "0",
     "write a checkpoint when this many minutes passed since the last, mid-epoch if need be "
     "(0: not by time)", NULL, RANGE(0, 1e9)},
    {"keep-checkpoints", OPTION_INT, TRAIN_FIELD(keep_checkpoints), "2",
     "keep the newest this many checkpoints", NULL, RANGE(1, 1000000)},
    {"resume", OPTION_STRING, TRAIN_FIELD(resume_dir), "",
     "continue from the newest complete checkpoint in this folder (any number of servers and "
     "workers); a folder without one starts fresh, so a requeued job can always pass it", NULL,
     UNBOUNDED},
    {"warm-start", OPTION_STRING, TRAIN_FIELD(warm_start_dir), "",
     "continue the model a finished psrec train left in this run folder (its rows with their "
     "optimizer state) on --train's data, into a new --run-dir; model, dim, optimizer and "
     "features must match it (with --resume, a checkpoint found there wins)", NULL, UNBOUNDED},
    {"config", OPTION_STRING, TRAIN_FIELD(config_path), "",
     "read options from this 'key = value' file first (the command line wins)", NULL,
     UNBOUNDED},
    {"format", OPTION_CHOICE, TRAIN_FIELD(format), "auto",
     "input format (auto: decided from the first line)", FORMAT_NAMES, UNBOUNDED},
    {"user-column", OPTION_STRING, TRAIN_FIELD(user_column), "user_id",
     "CSV header name of the user id column", NULL, UNBOUNDED},
    {"item-column", OPTION_STRING, TRAIN_FIELD(item_column), "item_id",
     "CSV header name of the item id column", NULL, UNBOUNDED},
    {"rating-column", OPTION_STRING, TRAIN_FIELD(rating_column), "rating",
     "CSV header name of the rating column", NULL, UNBOUNDED},
    {"timestamp-column", OPTION_STRING, TRAIN_FIELD(timestamp_column), "timestamp",
     "CSV header name of the optional timestamp column", NULL, UNBOUNDED},
    {"event-column", OPTION_STRING, TRAIN_FIELD(event_column), "event",
     "CSV header name of the optional event column (view, cart, purchase, ...)", NULL,
     UNBOUNDED},
    {"event-weights", OPTION_STRING, TRAIN_FIELD(event_weights), "",
     "weight of each event kind, e.g. view=1,cart=3,purchase=5 (empty: every event 1; an "
     "event not listed is an error)", NULL, UNBOUNDED},
    {"rating-range", OPTION_STRING, TRAIN_FIELD(rating_range), DATASET_RATING_RANGE_DEFAULT,
     "explicit ratings accepted, LOW:HIGH; one outside is a malformed line (the default takes "
     "every usual scale, 0.5-5 stars to 0-100, but no negative rating or absurd value like "
     "1e30; widen it for others, e.g. -10:10)", NULL, UNBOUNDED},
    {"feedback", OPTION_CHOICE, TRAIN_FIELD(feedback), "auto",
     "explicit ratings or implicit interactions (auto: the model's kind; implicit ignores a "
     "rating column)", "auto|explicit|implicit", UNBOUNDED},
    {"skip-malformed", OPTION_BOOL, TRAIN_FIELD(skip_malformed), "false",
     "skip and count malformed lines instead of stopping at the first", NULL, UNBOUNDED},
    {"item-features", OPTION_STRING, TRAIN_FIELD(item_features_path), "",
     "CSV of item features: item id, feature id[, weight] with a header (e.g. category and "
     "brand); an item is its embedding plus the weighted mean of its features'", NULL,
     UNBOUNDED},
    {"user-features", OPTION_STRING, TRAIN_FIELD(user_features_path), "",
     "CSV of user features (a profile: age band, region, ...), same layout as --item-features",
     NULL, UNBOUNDED},
    {"user-history-features", OPTION_BOOL, TRAIN_FIELD(user_history_features), "false",
     "add each user's training items as features weighted --history-scale/sqrt(count) (with "
     "mf: SVD++)", NULL, UNBOUNDED},
    {"history-scale", OPTION_DOUBLE, TRAIN_FIELD(history_scale), "1",
     "user history features: the scale of their weights; with adam, how fast the history "
     "term moves against the user's own row", NULL, RANGE(0.001, 1000)},
    {"split", OPTION_CHOICE, TRAIN_FIELD(split), "none",
     "loo: per user by timestamp, the last interaction is the test item and the one before "
     "the validation item (users with fewer than 3 stay in training); cold-items [F]: a "
     "share F (--cold-fraction) of the items, with all their interactions, is the test set",
     "none|loo|cold-items", UNBOUNDED},
    {"cold-fraction", OPTION_DOUBLE, TRAIN_FIELD(cold_fraction), "0.1",
     "--split cold-items: the share of items held out, chosen by a hash of the item id and "
     "--eval-seed", NULL, RANGE(0, 1)},
    {"allow-file-order", OPTION_BOOL, TRAIN_FIELD(allow_file_order), "false",
     "--split loo on a file without timestamps: take file order as time order", NULL,
     UNBOUNDED},
    /* job layout */
    {"servers", OPTION_INT, TRAIN_FIELD(servers), "1",
     "ranks that act as parameter servers (the rest are workers)", NULL, RANGE(1, 65536)},
    {"vshards", OPTION_INT, TRAIN_FIELD(vshards), "1024",
     "virtual shards the keys hash to (at least --servers)", NULL, RANGE(1, 1 << 20)},
    {"consistency", OPTION_CHOICE, TRAIN_FIELD(consistency), "asp",
     "bsp waits every batch, ssp waits beyond --staleness, asp never waits", "bsp|ssp|asp",
     UNBOUNDED},
    {"staleness", OPTION_INT, TRAIN_FIELD(staleness), "0",
     "ssp: how many batches a worker may run ahead of the slowest", NULL,
     RANGE(0, 1000000)},
    {"pull-precision", OPTION_CHOICE, TRAIN_FIELD(pull_precision), "fp32",
     "how training pulls carry rows: fp32 as stored, or bf16 (bfloat16: half the bytes of a "
     "pull, values rounded to 8 significant bits; the servers keep and update fp32, and "
     "evaluation reads stay fp32)", "fp32|bf16", UNBOUNDED},
    {"rank-timeout", OPTION_DOUBLE, TRAIN_FIELD(rank_timeout), "60",
     "seconds a rank may go without answering the ranks that wait for it (stopped, or stuck "
     "in a system call such as a hung file system) before the job ends naming it (0: wait "
     "forever; else 1 or more)", NULL, RANGE(0, 1e9)},
    /* model */
    {"model", OPTION_CHOICE, TRAIN_FIELD(model), "mf",
     "model to train (mf: biased matrix factorisation of ratings; bpr: matrix factorisation "
     "of implicit feedback with the BPR ranking loss; deep: a neural model of implicit "
     "feedback, a hidden layer over the user against a linear map of the item; item-knn: "
     "item-based collaborative filtering, on ratings in the baseline form; popularity: "
     "best-sellers for everyone; user-knn: user-based collaborative filtering)",
     "mf|bpr|deep|item-knn|popularity|user-knn", UNBOUNDED},
    {"dim", OPTION_INT, TRAIN_FIELD(dim), "32", "latent factors per user and item", NULL,
     RANGE(1, 4096)},
    {"init-std", OPTION_FLOAT, TRAIN_FIELD(init_std), "0.1",
     "standard deviation of the initial factors", NULL, RANGE(0, 10)},
    {"l2", OPTION_FLOAT, TRAIN_FIELD(l2), "0.05", "L2 penalty on factors", NULL,
     RANGE(0, 1000)},
    {"l2-bias", OPTION_FLOAT, TRAIN_FIELD(l2_bias), "0.01", "L2 penalty on biases", NULL,
     RANGE(0, 1000)},
    {"l2-features", OPTION_FLOAT, TRAIN_FIELD(l2_features), "0",
     "L2 penalty on feature rows (item/user features, user history), per weighted "
     "occurrence, on top of --l2 on the representations they add to", NULL, RANGE(0, 1000)},
    {"negatives", OPTION_INT, TRAIN_FIELD(negatives), "4",
     "implicit models: sampled negative items per positive", NULL, RANGE(1, 1000)},
    {"hidden", OPTION_INT, TRAIN_FIELD(hidden), "64",
     "deep: width of the hidden layer", NULL, RANGE(1, 4096)},
    {"activation", OPTION_CHOICE, TRAIN_FIELD(activation), "relu",
     "deep: activation of the hidden layer", "relu|sigmoid|tanh", UNBOUNDED},
    {"loss", OPTION_CHOICE, TRAIN_FIELD(loss), "bce",
     "deep: bce (binary cross-entropy, positive vs each negative) or bpr (pairwise)",
     "bce|bpr", UNBOUNDED},
    {"neighbours", OPTION_INT, TRAIN_FIELD(neighbours), "100",
     "item-knn: the most similar items kept per item (user-knn: users per user)", NULL,
     RANGE(1, 100000)},
    {"similarity", OPTION_CHOICE, TRAIN_FIELD(similarity), "cosine",
     "item-knn: cosine c_ij/(|i|^alpha |j|^(1-alpha) + shrink), jaccard "
     "c_ij/(|i| + |j| - c_ij + shrink) over the users who have both, or pearson-baseline "
     "(ratings: correlation of the baseline residuals, shrunk by (n-1)/(n-1+shrink))",
     "cosine|jaccard|pearson-baseline", UNBOUNDED},
    {"alpha", OPTION_DOUBLE, TRAIN_FIELD(alpha), "0.5",
     "item-knn cosine: exponent of the item's own user count (0.5: plain cosine)", NULL,
     RANGE(0, 1)},
    {"shrink", OPTION_DOUBLE, TRAIN_FIELD(shrink), "10",
     "item-knn: shrinkage of similarities backed by few users", NULL, RANGE(0, 1e9)},
    {"rated-neighbours", OPTION_INT, TRAIN_FIELD(rated_neighbours), "40",
     "item-knn on ratings: a prediction uses this many of the target's most similar items "
     "that the user rated", NULL, RANGE(1, 100000)},
    {"max-history", OPTION_INT, TRAIN_FIELD(max_history), "500",
     "item-knn: a longer history adds the pairs of a sample of this many of its items (pairs "
     "grow with its square; user-knn: an item with more users counts a sample of this many; "
     "0: no cap)", NULL, RANGE(0, 100000000)},
    {"memory-budget", OPTION_DOUBLE, TRAIN_FIELD(memory_budget), "1024",
     "item-knn: MiB of pair counts a server holds at once (counted in blocks of items to stay "
     "within it)", NULL, RANGE(0.01, 1e9)},
    {"negative-sampling", OPTION_CHOICE, TRAIN_FIELD(negative_sampling), "uniform",
     "implicit models: how negatives are drawn (never one of the user's own items)",
     "uniform|popularity", UNBOUNDED},
    {"popularity-exponent", OPTION_DOUBLE, TRAIN_FIELD(popularity_exponent), "0.75",
     "popularity sampling: an item is drawn in proportion to its count^exponent", NULL,
     RANGE(0, 2)},
    /* evaluation */
    {"eval-negatives", OPTION_INT, TRAIN_FIELD(eval_negatives), "99",
     "sampled evaluation: each held-out item against this many items the user never had",
     NULL, RANGE(1, 100000)},
    {"eval-seed", OPTION_UINT64, TRAIN_FIELD(eval_seed), "20240601",
     "seed of the sampled evaluation's candidates (the same for every model and epoch)", NULL,
     UNBOUNDED},
    {"patience", OPTION_INT, TRAIN_FIELD(patience), "0",
     "stop when the --patience-metric of the validation split has not improved for this many "
     "epochs and keep the best epoch's model (0: train every epoch)", NULL, RANGE(0, 100000)},
    {"patience-metric", OPTION_CHOICE, TRAIN_FIELD(patience_metric), PATIENCE_METRIC_DEFAULT,
     "the validation figure --patience watches: full-ranking ndcg_10 or recall_20, or "
     "sampled_ndcg_10 or hr_10 against the sampled negatives", PATIENCE_METRIC_NAMES,
     UNBOUNDED},
    /* optimisation */
    {"optimizer", OPTION_CHOICE, TRAIN_FIELD(optimizer), "adam",
     "update rule the servers apply", "sgd|adagrad|adam", UNBOUNDED},
    {"learning-rate", OPTION_FLOAT, TRAIN_FIELD(learning_rate), "0.005",
     "step size (above 0)", NULL, RANGE(0, 1000)},
    {"lr-decay", OPTION_FLOAT, TRAIN_FIELD(lr_decay), "1",
     "the learning rate is multiplied by this after every epoch", NULL, RANGE(0.01, 1)},
    {"beta1", OPTION_FLOAT, TRAIN_FIELD(beta1), "0.9",
     "adam: decay of the gradient mean (below 1)", NULL, RANGE(0, 1)},
    {"beta2", OPTION_FLOAT, TRAIN_FIELD(beta2), "0.999",
     "adam: decay of the squared-gradient mean (below 1)", NULL, RANGE(0, 1)},
    {"epsilon", OPTION_FLOAT, TRAIN_FIELD(epsilon), "1e-8",
     "adam and adagrad: added to the denominator (above 0)", NULL, RANGE(0, 1)},
    {"adagrad-init", OPTION_FLOAT, TRAIN_FIELD(adagrad_init), "0.1",
     "adagrad: initial value of the squared-gradient sum", NULL, RANGE(0, 1000)},
    {"epochs", OPTION_INT, TRAIN_FIELD(epochs), "20", "passes over the training data", NULL,
     RANGE(1, 100000)},
    {"batch-size", OPTION_INT, TRAIN_FIELD(batch_size), "1024",
     "interactions per minibatch on each worker", NULL, RANGE(1, 10000000)},
    {"seed", OPTION_UINT64, TRAIN_FIELD(seed), "42",
     "seed of initialisation and shuffling (same seed, same run)", NULL, UNBOUNDED},
    {"shuffle", OPTION_CHOICE, TRAIN_FIELD(shuffle), "blocks",
     "how each epoch orders a worker's examples: blocks (users in blocks of about 1 MiB of "
     "rows, the blocks in random order and each user's examples spread evenly over its "
     "block, so those rows stay in cache on the servers; one block on small data) or "
     "examples (one shuffle of them all)", "blocks|examples", UNBOUNDED},
    /* output */
    {"progress", OPTION_BOOL, TRAIN_FIELD(progress), "true",
     "live progress line within epochs (under mpirun every rank's stdout is a terminal: say false when logging to a file)", NULL, UNBOUNDED},
    {"log-level", OPTION_CHOICE, TRAIN_FIELD(log_level), "info", "how much to log",
     "error|warn|info|debug", UNBOUNDED},
};
const int TRAIN_OPTION_COUNT = (int)(sizeof TRAIN_OPTIONS / sizeof TRAIN_OPTIONS[0]);

#define GENERATE_FIELD(field) offsetof(GenerateConfig, field)

const OptionSpec GENERATE_OPTIONS[] = {
    {"feedback", OPTION_CHOICE, GENERATE_FIELD(feedback), "explicit",
     "explicit: ratings 1..5; implicit: views, carts and purchases", "explicit|implicit",
     UNBOUNDED},
    {"out", OPTION_STRING, GENERATE_FIELD(out_path), "ratings.csv",
     "CSV file to write (explicit: user_id,item_id,rating,timestamp; implicit: "
     "user_id,item_id,timestamp,event)", NULL, UNBOUNDED},
    {"test-out", OPTION_STRING, GENERATE_FIELD(test_out_path), "",
     "CSV file for a held-out split, same columns as --out (empty: no split)", NULL,
     UNBOUNDED},
    {"test-fraction", OPTION_DOUBLE, GENERATE_FIELD(test_fraction), "0.1",
     "with --test-out: chance that a rating or interaction is held out", NULL, RANGE(0, 0.9)},
    {"truth-out", OPTION_STRING, GENERATE_FIELD(truth_out_path), "",
     "CSV file of each user's top --truth-k unseen items by true affinity, "
     "user_id,rank,item_id,true_score (empty: none; costs users * items * dim: seconds for "
     "10k * 5k)", NULL, UNBOUNDED},
    {"truth-k", OPTION_INT, GENERATE_FIELD(truth_k), "20",
     "items per user in --truth-out", NULL, RANGE(1, 1000000)},
    {"item-features-out", OPTION_STRING, GENERATE_FIELD(item_features_out_path), "",
     "CSV file of item attributes, item_id,feature_id: a category (ids 1..C) and a brand "
     "(C+1..C+B) per item (empty: none; either features file makes attributes drive the "
     "true factors)", NULL, UNBOUNDED},
    {"user-features-out", OPTION_STRING, GENERATE_FIELD(user_features_out_path), "",
     "CSV file of user profiles, user_id,feature_id: an age band (ids 1..6), a gender "
     "(7..8) and a region (9..18) per user (empty: none)", NULL, UNBOUNDED},
    {"categories", OPTION_INT, GENERATE_FIELD(categories), "20",
     "with a features file: item categories, each item in one", NULL, RANGE(1, 100000)},
    {"brands", OPTION_INT, GENERATE_FIELD(brands), "50",
     "with a features file: brands, each item of one", NULL, RANGE(1, 1000000)},
    {"feature-strength", OPTION_DOUBLE, GENERATE_FIELD(feature_strength), "0.7",
     "with a features file: share of the true factors' variance that comes from the "
     "attributes (0: none, attributes are noise; 1: entities with the same attributes are "
     "alike)", NULL, RANGE(0, 1)},
    {"users", OPTION_INT, GENERATE_FIELD(users), "10000", "number of users", NULL,
     RANGE(1, 1000000000)},
    {"items", OPTION_INT, GENERATE_FIELD(items), "5000", "number of items", NULL,
     RANGE(2, 1000000000)},
    {"ratings", OPTION_UINT64, GENERATE_FIELD(ratings), "1000000",
     "ratings (implicit: interactions) to write in all, train + test", NULL, RANGE(1, 1e13)},
    {"dim", OPTION_INT, GENERATE_FIELD(dim), "8", "latent factors of the true model", NULL,
     RANGE(1, 1024)},
    {"zipf-exponent", OPTION_DOUBLE, GENERATE_FIELD(zipf_exponent), "1.0",
     "item popularity falls as rank^-exponent (0: uniform)", NULL, RANGE(0, 5)},
    {"preference-strength", OPTION_DOUBLE, GENERATE_FIELD(preference_strength), "1.5",
     "implicit: items are chosen in proportion to popularity * exp(strength * p_u.q_i) "
     "(0: by popularity alone)", NULL, RANGE(0, 20)},
    {"noise-std", OPTION_DOUBLE, GENERATE_FIELD(noise_std), "0.5",
     "standard deviation of the noise added to each rating (implicit: to the affinity "
     "that picks the event)", NULL, RANGE(0, 10)},
    {"seed", OPTION_UINT64, GENERATE_FIELD(seed), "42",
     "seed of the generator (same seed, same bytes)", NULL, UNBOUNDED},
};
const int GENERATE_OPTION_COUNT = (int)(sizeof GENERATE_OPTIONS / sizeof GENERATE_OPTIONS[0]);

const char RECOMMEND_USAGE[] =
    "usage: [mpirun -np N] psrec recommend --run-dir DIR --k K --out FILE [options]\n\n"
    "Writes user_id,rank,item_id,score: each user's K best items by the model that a\n"
    "`psrec train` run saved in DIR, never an item the user already has (with --split loo:\n"
    "its training and validation items, as the test-time ranking). The data and split are\n"
    "those of DIR/config.conf. Under mpirun the users are shared out over the ranks; the\n"
    "file is the same either way. Options:\n\n";

#define PREDICT_FIELD(field) offsetof(PredictConfig, field)

const OptionSpec PREDICT_OPTIONS[] = {
    {"run-dir", OPTION_STRING, PREDICT_FIELD(run_dir), "",
     "run folder of a trained model (psrec train --run-dir)", NULL, UNBOUNDED},
    {"pairs", OPTION_STRING, PREDICT_FIELD(pairs_path), "",
     "file of (user, item) pairs to score", NULL, UNBOUNDED},
    {"out", OPTION_STRING, PREDICT_FIELD(out_path), "",
     "CSV file to write the predictions to", NULL, UNBOUNDED},
    {"format", OPTION_CHOICE, PREDICT_FIELD(format), "auto",
     "input format (auto: decided from the first line)", FORMAT_NAMES, UNBOUNDED},
    {"user-column", OPTION_STRING, PREDICT_FIELD(user_column), "user_id",
     "CSV header name of the user id column", NULL, UNBOUNDED},
    {"item-column", OPTION_STRING, PREDICT_FIELD(item_column), "item_id",
     "CSV header name of the item id column", NULL, UNBOUNDED},
    {"skip-malformed", OPTION_BOOL, PREDICT_FIELD(skip_malformed), "false",
     "skip and count malformed lines instead of stopping at the first", NULL, UNBOUNDED},
    {"item-features", OPTION_STRING, PREDICT_FIELD(item_features_path), "",
     "a model with item features: read them from this file instead of the run's (e.g. with "
     "new products)", NULL, UNBOUNDED},
    {"user-features", OPTION_STRING, PREDICT_FIELD(user_features_path), "",
     "a model with user features: read them from this file instead of the run's", NULL,
     UNBOUNDED},
};
const int PREDICT_OPTION_COUNT = (int)(sizeof PREDICT_OPTIONS / sizeof PREDICT_OPTIONS[0]);

#define RECOMMEND_FIELD(field) offsetof(RecommendConfig, field)

const OptionSpec RECOMMEND_OPTIONS[] = {
    {"run-dir", OPTION_STRING, RECOMMEND_FIELD(run_dir), "",
     "run folder of a trained model (psrec train --run-dir)", NULL, UNBOUNDED},
    {"k", OPTION_INT, RECOMMEND_FIELD(k), "10", "items per user", NULL, RANGE(1, 100000)},
    {"out", OPTION_STRING, RECOMMEND_FIELD(out_path), "",
     "CSV file to write (user_id,rank,item_id,score)", NULL, UNBOUNDED},
    {"users", OPTION_STRING, RECOMMEND_FIELD(users_path), "",
     "file of user ids to recommend for, one per line (empty: every user of the data); a "
     "user the model never saw gets the most popular items", NULL, UNBOUNDED},
    {"exclude", OPTION_STRING, RECOMMEND_FIELD(exclude_path), "",
     "CSV of user_id,item_id pairs never to recommend, instead of the run's training (and "
     "validation) items", NULL, UNBOUNDED},
    {"item-features", OPTION_STRING, RECOMMEND_FIELD(item_features_path), "",
     "a model with item features: read them from this file instead of the run's; its items "
     "that no interaction names (new products) are ranked too, from their features", NULL,
     UNBOUNDED},
    {"user-features", OPTION_STRING, RECOMMEND_FIELD(user_features_path), "",
     "a model with user features: read them from this file instead of the run's", NULL,
     UNBOUNDED},
    {"log-level", OPTION_CHOICE, RECOMMEND_FIELD(log_level), "info", "how much to log",
     "error|warn|info|debug", UNBOUNDED},
    {"rank-timeout", OPTION_DOUBLE, RECOMMEND_FIELD(rank_timeout), "60",
     "under mpirun: seconds a rank may go without answering the others before the job ends "
     "naming it (0: wait forever; else 1 or more)", NULL, RANGE(0, 1e9)},
};
const int RECOMMEND_OPTION_COUNT = (int)(sizeof RECOMMEND_OPTIONS / sizeof RECOMMEND_OPTIONS[0]);
#define EXPORT_FIELD(field) offsetof(ExportConfig, field)

const OptionSpec EXPORT_OPTIONS[] = {
    {"run-dir", OPTION_STRING, EXPORT_FIELD(run_dir), "",
     "run folder of a trained model (psrec train --run-dir)", NULL, UNBOUNDED},
    {"out", OPTION_STRING, EXPORT_FIELD(out_dir), "",
     "folder to write the .npy, _ids.csv and model.txt files to (created if missing)", NULL,
     UNBOUNDED},
};
const int EXPORT_OPTION_COUNT = (int)(sizeof EXPORT_OPTIONS / sizeof EXPORT_OPTIONS[0]);

/* The table's choices must match the enums they are stored into. */
_Static_assert(OPTIMIZER_SGD == 0 && OPTIMIZER_ADAGRAD == 1 && OPTIMIZER_ADAM == 2,
               "--optimizer choices are listed as sgd|adagrad|adam");
_Static_assert(MODEL_CHOICE_MF == 0 && MODEL_CHOICE_BPR == 1 && MODEL_CHOICE_DEEP == 2 &&
                   MODEL_CHOICE_ITEM_KNN == 3 && MODEL_CHOICE_POPULARITY == 4 &&
                   MODEL_CHOICE_USER_KNN == 5,
               "--model choices are mf|bpr|deep|item-knn|popularity|user-knn");
_Static_assert(SIMILARITY_COSINE == 0 && SIMILARITY_JACCARD == 1 &&
                   SIMILARITY_PEARSON_BASELINE == 2,
               "--similarity choices are cosine|jaccard|pearson-baseline");
_Static_assert(ACTIVATION_RELU == 0 && ACTIVATION_SIGMOID == 1 && ACTIVATION_TANH == 2,
               "--activation choices are relu|sigmoid|tanh");
_Static_assert(RANKING_LOSS_BCE == 0 && RANKING_LOSS_BPR == 1, "--loss choices are bce|bpr");
_Static_assert(FEEDBACK_AUTO == 0 && FEEDBACK_EXPLICIT == 1 && FEEDBACK_IMPLICIT == 2,
               "--feedback choices are auto|explicit|implicit");
_Static_assert(SPLIT_NONE == 0 && SPLIT_LOO == 1 && SPLIT_COLD_ITEMS == 2,
               "--split choices are none|loo|cold-items");
_Static_assert(PATIENCE_NDCG_10 == 0 && PATIENCE_SAMPLED_NDCG_10 == 1 && PATIENCE_HR_10 == 2 &&
                   PATIENCE_RECALL_20 == 3,
               "--patience-metric choices are listed in PatienceMetric order");
_Static_assert(GENERATE_AGE_BANDS == 6 && GENERATE_GENDERS == 2 && GENERATE_REGIONS == 10,
               "--user-features-out's help gives the id ranges 1..6, 7..8 and 9..18");
_Static_assert(CONSISTENCY_BSP == 0 && CONSISTENCY_SSP == 1 && CONSISTENCY_ASP == 2,
               "--consistency choices are listed as bsp|ssp|asp");

const char *config_model_name(const TrainConfig *config)
{
    static const char *const names[] = {"mf",         "bpr",     "deep", "item-knn",
                                        "popularity", "user-knn"}; /* ModelChoice order */
    assert(config->model >= 0 && config->model < (int)(sizeof names / sizeof names[0]));
    /* item-knn on ratings is its baseline form, a model of its own */
    if (config->model == MODEL_CHOICE_ITEM_KNN && config->feedback == FEEDBACK_EXPLICIT)
        return "item-knn-baseline";
    return names[config->model];
}

int config_load_run(TrainConfig *run, const char *run_dir, Error *err)
{
    char path[OPTION_STRING_BYTES + 32];
    snprintf(path, sizeof path, "%s/config.conf", run_dir);
    /* A run's config.conf leaves out its run-dir: it is the folder itself. */
    char *args[] = {"--config", path, "--run-dir", (char *)run_dir, NULL};
    return config_load_train(run, 4, args, err);
}

/* ---- loading */

/* True when argv asks for help anywhere: help wins over every other error,
 * so `psrec train --config broken.conf --help` still shows the help. */
static bool args_ask_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* Defaults, then the --config file when `with_file`, then argv. Returns 0,
 * 1 for help, or -1 with a message. */
static int config_load(const OptionSpec *specs, int n_specs, void *config, size_t bytes,
                       bool with_file, int argc, char **argv, Error *err)
{
    /* Zeroed first so padding is deterministic and configs compare with
     * memcmp. */
    memset(config, 0, bytes);
    options_set_defaults(specs, n_specs, config);
    if (args_ask_help(argc, argv))
        return 1;
    if (with_file) {
        const char *path = options_find_arg(argc, argv, "config");
        if (path && path[0] && options_parse_file(specs, n_specs, config, path, err) != 0)
            return -1;
    }
    bool help = false;
    if (options_parse_args(specs, n_specs, config, argc, argv, &help, err) != 0)
        return -1;
    return help ? 1 : 0;
}

/* --rank-timeout: 0 (off) or long enough for ranks that answer pings every
 * 0.1 s (ps/comm.h). Returns 0, or -1 with a message. */
static int check_rank_timeout(double seconds, Error *err)
{
    if (seconds > 0 && seconds < 1)
        return error_set(err, "--rank-timeout %g is too short to tell a stalled rank from a "
                              "busy one: give 1 second or more, or 0 to turn the check off",
                         seconds);
    return 0;
}

/* predict, recommend and export all read a trained model's run folder.
 * Returns 0, or -1 with a message when --run-dir is empty. */
static int require_run_dir(const char *run_dir, Error *err)
{
    if (run_dir[0] == '\0')
        return error_set(err, "--run-dir is required: the run folder of a trained model");
    return 0;
}

/* Whether two folder paths name one folder: by identity (device and
 * inode: links, "./" and trailing slashes do not matter) when both exist,
 * else by their text without trailing slashes. */
static bool same_folder(const char *a, const char *b)
{
    struct stat info_a, info_b;
    if (stat(a, &info_a) == 0 && stat(b, &info_b) == 0)
        return info_a.st_dev == info_b.st_dev && info_a.st_ino == info_b.st_ino;
    size_t len_a = strlen(a), len_b = strlen(b);
    while (len_a > 1 && a[len_a - 1] == '/')
        len_a--;
    while (len_b > 1 && b[len_b - 1] == '/')
        len_b--;
    return len_a == len_b && strncmp(a, b, len_a) == 0;
}

/* --warm-start: a model trained in epochs, into another run folder. */
static int check_warm_start(const TrainConfig *config, const ModelOps *model, Error *err)
{
    if (config->warm_start_dir[0] == '\0')
        return 0;
    char quoted[TEXT_QUOTE_BYTES];
    if (model->neighbourhood)
        return error_set(err, "--warm-start continues a model trained in epochs (mf, bpr, "
                              "deep); --model %s builds its neighbour lists from the data in one "
                              "counting pass, so there is nothing to continue: train it on all "
                              "the data instead",
                         config_model_name(config));
    if (same_folder(config->warm_start_dir, config->run_dir))
        return error_set(err, "--run-dir and --warm-start both name '%s': a warm start writes a "
                              "new run folder and leaves the model it starts from as it is; give "
                              "another --run-dir",
                         text_quote(quoted, config->run_dir));
    return 0;
}

int config_validate_train(const TrainConfig *config, Error *err)
{
    if (config->train_path[0] == '\0')
        return error_set(err, "--train is required: the file of training interactions");
    if (config->run_dir[0] == '\0')
        return error_set(err, "--run-dir must not be empty: the run's output goes there");
    if (config->user_column[0] == '\0' || config->item_column[0] == '\0' ||
        config->rating_column[0] == '\0')
        return error_set(err, "--user-column, --item-column and --rating-column must not be "
                              "empty");
    EventWeights weights;
    if (event_weights_parse(&weights, config->event_weights, err) != 0)
        return -1;
    float rating_min, rating_max;
    if (rating_range_parse(&rating_min, &rating_max, config->rating_range, err) != 0)
        return -1;
    char quoted[TEXT_QUOTE_BYTES];
    if (strcmp(config->user_column, config->item_column) == 0)
        return error_set(err, "--user-column and --item-column are both '%s': they must name two "
                              "different columns",
                         text_quote(quoted, config->user_column));
    const char *model_name = config_model_name(config);
    const ModelOps *model = model_find(model_name);
    bool implicit_model = model->implicit;
    if (config->init_std == 0.0f && !model->neighbourhood)
        return error_set(err, "--init-std 0 starts every factor at zero, where the gradients "
                              "leave them (only biases would learn): give a positive value");
    if (config->feedback == FEEDBACK_IMPLICIT && !implicit_model)
        return error_set(err, "--model %s learns ratings and cannot train on --feedback "
                              "implicit; use --model bpr or deep",
                         model_name);
    if (config->feedback == FEEDBACK_EXPLICIT && implicit_model)
        return error_set(err, "--model %s learns from implicit feedback; drop --feedback "
                              "explicit (ratings, if any, are ignored)",
                         model_name);
    if (config->split != SPLIT_NONE && config->test_path[0])
        return error_set(err, "--split %s holds out part of --train as the test set; drop "
                              "--test '%s', or --split",
                         config->split == SPLIT_LOO ? "loo" : "cold-items",
                         text_quote(quoted, config->test_path));
    if (config->split == SPLIT_COLD_ITEMS &&
        !(config->cold_fraction > 0.0 && config->cold_fraction < 1.0))
        return error_set(err, "--split cold-items needs a share of items strictly between 0 "
                              "and 1 (--cold-fraction), found %g",
                         config->cold_fraction);
    if (config->patience > 0 && config->split != SPLIT_LOO)
        return error_set(err, "--patience needs validation data: add --split loo");
    if (config->patience > 0 && (!implicit_model || model->neighbourhood))
        return error_set(err, "--patience watches a validation ranking figure of a model trained "
                              "in epochs (--model bpr or deep)");
    if (config->similarity == SIMILARITY_PEARSON_BASELINE && model->implicit &&
        model->neighbourhood)
        return error_set(err, "--similarity pearson-baseline compares ratings: use it with "
                              "--model item-knn --feedback explicit (the baseline form), or use "
                              "cosine or jaccard");
    if (config->consistency == CONSISTENCY_SSP && config->staleness < 1)
        return error_set(err, "--consistency ssp needs --staleness 1 or more (ssp with "
                              "staleness 0 is bsp: use --consistency bsp)");
    if (check_rank_timeout(config->rank_timeout, err) != 0)
        return -1;
    if (check_warm_start(config, model, err) != 0)
        return -1;
    if (config->vshards < config->servers)
        return error_set(err, "--vshards %d is fewer than --servers %d: every server needs at "
                              "least one virtual shard; raise --vshards",
                         config->vshards, config->servers);
    if (!(config->learning_rate > 0.0f))
        return error_set(err, "--learning-rate must be above 0, found %g",
                         (double)config->learning_rate);
    if (!(config->beta1 < 1.0f))
        return error_set(err, "--beta1 must be below 1, found %g", (double)config->beta1);
    if (!(config->beta2 < 1.0f))
        return error_set(err, "--beta2 must be below 1, found %g", (double)config->beta2);
    if (!(config->epsilon > 0.0f))
        return error_set(err, "--epsilon must be above 0, found %g", (double)config->epsilon);
    return 0;
}

int config_check_layout(const TrainConfig *config, int world_size, Error *err)
{
    if (config->servers < world_size)
        return 0;
    if (world_size >= 2)
        return error_set(err, "--servers %d leaves no worker: mpirun -np %d has %d ranks; use "
                              "--servers 1 to %d or start more ranks",
                         config->servers, world_size, world_size, world_size - 1);
    return error_set(err, "--servers %d leaves no worker: the job has %d rank%s; start at "
                          "least %d (mpirun -np %d)",
                     config->servers, world_size, world_size == 1 ? "" : "s",
                     config->servers + 1, config->servers + 1);
}

/* True when text is a plain number such as 0.1. */
static bool text_is_number(const char *text)
{
    char *end;
    strtod(text, &end);
    return end != text && *end == '\0';
}

int config_load_train(TrainConfig *config, int argc, char **argv, Error *err)
{
    /* `--split cold-items 0.1` names the share right after the split: read
     * it as `--split cold-items --cold-fraction 0.1`. */
    char **args = xmalloc((size_t)(2 * argc + 1) * sizeof(char *));
    int n_args = 0;
    static char cold_fraction_flag[] = "--cold-fraction";
    for (int i = 0; i < argc; i++) {
        args[n_args++] = argv[i];
        bool split_cold = (strcmp(argv[i], "--split") == 0 && i + 1 < argc &&
                           strcmp(argv[i + 1], "cold-items") == 0) ||
                          strcmp(argv[i], "--split=cold-items") == 0;
        if (!split_cold)
            continue;
        if (argv[i][7] == '\0') /* "--split" then "cold-items" */
            args[n_args++] = argv[++i];
        if (i + 1 < argc && text_is_number(argv[i + 1])) {
            args[n_args++] = cold_fraction_flag;
            args[n_args++] = argv[++i];
        }
    }
    args[n_args] = NULL;
    int rc = config_load(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, sizeof *config, true, n_args,
                         args, err);
    free(args);
    if (rc != 0)
        return rc;
    return config_validate_train(config, err);
}

/* The file a path names, for comparing two output paths: its folder's
 * identity (device and inode: links, "./" and ".." do not matter) and its
 * name; the text itself when the folder does not exist (then it cannot be
 * another path's folder either). */
static void canonical_path(const char *path, char *out, size_t out_bytes)
{
    const char *slash = strrchr(path, '/');
    char folder[OPTION_STRING_BYTES];
    if (!slash)
        snprintf(folder, sizeof folder, ".");
    else if (slash == path)
        snprintf(folder, sizeof folder, "/");
    else
        snprintf(folder, sizeof folder, "%.*s", (int)(slash - path), path);
    struct stat info;
    if (stat(folder, &info) == 0)
        snprintf(out, out_bytes, "%llu:%llu/%s", (unsigned long long)info.st_dev,
                 (unsigned long long)info.st_ino, slash ? slash + 1 : path);
    else
        snprintf(out, out_bytes, "%s", path);
}

/* Cross-field checks of `generate`. */
static int config_validate_generate(const GenerateConfig *config, Error *err)
{
    if (config->out_path[0] == '\0')
        return error_set(err, "--out must not be empty: the file to write");
    /* No two outputs may be one file (by its resolved path, so g.csv and
     * ./g.csv are one): the later would overwrite the earlier. */
    const char *names[] = {"out", "test-out", "truth-out", "item-features-out",
                           "user-features-out"};
    const char *paths[] = {config->out_path, config->test_out_path, config->truth_out_path,
                           config->item_features_out_path, config->user_features_out_path};
    enum { N_OUTPUTS = sizeof paths / sizeof paths[0] };
    char canonical[N_OUTPUTS][OPTION_STRING_BYTES + 48];
    for (int a = 0; a < N_OUTPUTS; a++)
        canonical_path(paths[a], canonical[a], sizeof canonical[a]);
    for (int a = 1; a < N_OUTPUTS; a++)
        for (int b = 0; b < a; b++)
            if (paths[a][0] != '\0' && strcmp(canonical[a], canonical[b]) == 0) {
                char quoted[TEXT_QUOTE_BYTES];
                return error_set(err, "--%s must differ from --%s ('%s')", names[a], names[b],
                                 text_quote(quoted, paths[a]));
            }
    /* Each user rates (or interacts with) at most half the items: distinct
     * items from a skewed distribution get slow to draw beyond that. */
    uint64_t limit = (uint64_t)config->users * (uint64_t)(config->items / 2);
    if (config->ratings > limit)
        return error_set(err, "--ratings %llu is more than --users %d * --items %d / 2 = %llu "
                              "allows (a user rates at most half the items); raise --users or "
                              "--items, or lower --ratings",
                         (unsigned long long)config->ratings, config->users, config->items,
                         (unsigned long long)limit);
    return 0;
}

int config_load_generate(GenerateConfig *config, int argc, char **argv, Error *err)
{
    int rc = config_load(GENERATE_OPTIONS, GENERATE_OPTION_COUNT, config, sizeof *config, false,
                         argc, argv, err);
    if (rc != 0)
        return rc;
    return config_validate_generate(config, err);
}

int config_load_predict(PredictConfig *config, int argc, char **argv, Error *err)
{
    int rc = config_load(PREDICT_OPTIONS, PREDICT_OPTION_COUNT, config, sizeof *config, false,
                         argc, argv, err);
    if (rc != 0)
        return rc;
    if (require_run_dir(config->run_dir, err) != 0)
        return -1;
    if (config->pairs_path[0] == '\0')
        return error_set(err, "--pairs is required: the file of (user, item) pairs to score");
    if (config->out_path[0] == '\0')
        return error_set(err, "--out is required: the CSV file to write the predictions to");
    if (config->user_column[0] == '\0' || config->item_column[0] == '\0')
        return error_set(err, "--user-column and --item-column must not be empty");
    return 0;
}

int config_load_recommend(RecommendConfig *config, int argc, char **argv, Error *err)
{
    int rc = config_load(RECOMMEND_OPTIONS, RECOMMEND_OPTION_COUNT, config, sizeof *config, false,
                         argc, argv, err);
    if (rc != 0)
        return rc;
    if (require_run_dir(config->run_dir, err) != 0)
        return -1;
    if (config->out_path[0] == '\0')
        return error_set(err, "--out is required: the CSV file to write the recommendations to");
    return check_rank_timeout(config->rank_timeout, err);
}

int config_load_export(ExportConfig *config, int argc, char **argv, Error *err)
{
    int rc = config_load(EXPORT_OPTIONS, EXPORT_OPTION_COUNT, config, sizeof *config, false,
                         argc, argv, err);
    if (rc != 0)
        return rc;
    if (require_run_dir(config->run_dir, err) != 0)
        return -1;
    if (config->out_dir[0] == '\0')
        return error_set(err, "--out is required: the folder to write the exported files to");
    return 0;
}

/* ---- what a train configuration means for the data */

static bool implicit_feedback(const TrainConfig *config, const ModelOps *model)
{
    if (config->feedback == FEEDBACK_AUTO)
        return model->implicit;
    return config->feedback == FEEDBACK_IMPLICIT;
}

void config_training_set_options(TrainingSetOptions *options, EventWeights *weights,
                                 const TrainConfig *config, const ModelOps *model)
{
    memset(options, 0, sizeof *options);
    options->train_path = config->train_path;
    options->test_path = config->test_path;
    DatasetOptions *dataset = &options->dataset;
    dataset_options_default(dataset);
    dataset->format = (DatasetFormat)config->format;
    dataset->user_column = config->user_column;
    dataset->item_column = config->item_column;
    dataset->rating_column = config->rating_column;
    dataset->timestamp_column = config->timestamp_column;
    dataset->event_column = config->event_column;
    dataset->skip_malformed = config->skip_malformed;
    int range_rc = rating_range_parse(&dataset->rating_min, &dataset->rating_max,
                                      config->rating_range, NULL);
    assert(range_rc == 0); /* config_validate_train parsed it */
    (void)range_rc;
    dataset->implicit = implicit_feedback(config, model);
    dataset->require_rating = !dataset->implicit;
    Error ignored;
    int rc = event_weights_parse(weights, config->event_weights, &ignored);
    assert(rc == 0); /* config_validate_train parsed it */
    (void)rc;
    dataset->event_weights = config->event_weights[0] ? weights : NULL;
    options->leave_one_out = config->split == SPLIT_LOO;
    options->cold_fraction = config->split == SPLIT_COLD_ITEMS ? config->cold_fraction : 0.0;
    options->cold_seed = config->eval_seed;
    options->allow_file_order = config->allow_file_order;
    options->index_users = model->implicit;
    options->negative_sampling = (SamplerKind)config->negative_sampling;
    options->popularity_exponent = config->popularity_exponent;
}
