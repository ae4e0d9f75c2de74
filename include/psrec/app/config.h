/* config.h — the configuration of each subcommand: one struct each, filled
 * from its option table (defaults, config file, then command line) and
 * checked by a *_validate function that returns a message a user can act on.
 */
#ifndef PSREC_CONFIG_H
#define PSREC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "psrec/core/options.h"
#include "psrec/data/training_set.h"
#include "psrec/models/model.h"
#include "psrec/core/util.h"

/* Exit codes of every psrec command. */
enum {
    CONFIG_EXIT_RUN_FAILED = 1, /* the run failed: unreadable or malformed files, divergence */
    CONFIG_EXIT_BAD_USAGE = 2   /* bad flags or values, or a layout that cannot work */
};

typedef enum {
    CONSISTENCY_BSP = 0, /* every worker waits for all others each batch */
    CONSISTENCY_SSP = 1, /* a pull waits until the slowest worker is within `staleness` batches */
    CONSISTENCY_ASP = 2  /* no one waits */
} Consistency;

typedef enum {
    PULL_PRECISION_FP32 = 0, /* rows travel as they are stored */
    PULL_PRECISION_BF16 = 1  /* training pulls as bfloat16: half the bytes */
} PullPrecision;

typedef enum {
    SHUFFLE_BLOCKS = 0,  /* blocks of users in random order, examples shuffled within (user_blocks.h) */
    SHUFFLE_EXAMPLES = 1 /* every example shuffled over the whole partition */
} ShuffleChoice;

typedef enum {
    MODEL_CHOICE_MF = 0,
    MODEL_CHOICE_BPR = 1,
    MODEL_CHOICE_DEEP = 2,
    MODEL_CHOICE_ITEM_KNN = 3,  /* "item-knn", or on ratings "item-knn-baseline" */
    MODEL_CHOICE_POPULARITY = 4,
    MODEL_CHOICE_USER_KNN = 5
} ModelChoice;

typedef enum {
    FEEDBACK_AUTO = 0,     /* the model's own: ratings for mf, interactions for bpr */
    FEEDBACK_EXPLICIT = 1, /* ratings */
    FEEDBACK_IMPLICIT = 2  /* interactions; a rating column is ignored */
} Feedback;

typedef enum {
    SPLIT_NONE = 0,        /* train on all of --train (evaluate on --test, if given) */
    SPLIT_LOO = 1,         /* leave one out per user: last → test, one before → validation */
    SPLIT_COLD_ITEMS = 2   /* a fraction of the items, with all their interactions → test */
} Split;

/* The validation figures early stopping can watch, in the order of the
 * --patience-metric choices. */
typedef enum {
    PATIENCE_NDCG_10 = 0,         /* full-ranking NDCG@10 */
    PATIENCE_SAMPLED_NDCG_10 = 1, /* NDCG@10 against the sampled negatives */
    PATIENCE_HR_10 = 2,           /* HR@10 against the sampled negatives */
    PATIENCE_RECALL_20 = 3        /* full-ranking Recall@20 */
} PatienceMetric;

typedef struct {
    /* data */
    char train_path[OPTION_STRING_BYTES];
    char test_path[OPTION_STRING_BYTES];   /* "" = no test set */
    char run_dir[OPTION_STRING_BYTES];
    char config_path[OPTION_STRING_BYTES]; /* the --config file, if any */
    /* checkpoints (app/checkpoints.h) */
    char checkpoint_dir[OPTION_STRING_BYTES]; /* "" = the --resume folder, else RUN/checkpoints */
    int checkpoint_every;     /* epochs between checkpoints; 0 = none by epoch */
    double checkpoint_minutes; /* minutes between checkpoints; 0 = none by time */
    int keep_checkpoints;     /* the newest this many are kept */
    char resume_dir[OPTION_STRING_BYTES]; /* "" = start fresh */
    char warm_start_dir[OPTION_STRING_BYTES]; /* "" = new rows; else a finished run folder */
    int format;           /* DatasetFormat */
    char user_column[OPTION_STRING_BYTES];
    char item_column[OPTION_STRING_BYTES];
    char rating_column[OPTION_STRING_BYTES];
    char timestamp_column[OPTION_STRING_BYTES];
    char event_column[OPTION_STRING_BYTES];
    char event_weights[OPTION_STRING_BYTES]; /* "view=1,cart=3,purchase=5"; "" = all 1 */
    char rating_range[OPTION_STRING_BYTES];  /* "LOW:HIGH": explicit ratings accepted */
    int feedback;         /* Feedback */
    bool skip_malformed;
    int split;            /* Split */
    double cold_fraction; /* --split cold-items: the share of items held out */
    bool allow_file_order;
    char item_features_path[OPTION_STRING_BYTES]; /* "" = none */
    char user_features_path[OPTION_STRING_BYTES]; /* "" = none */
    bool user_history_features; /* a user's training items as its features (SVD++) */
    double history_scale; /* their weights: history_scale/√count */
    /* job layout */
    int servers;
    int vshards;
    int consistency;      /* Consistency */
    int staleness;        /* SSP bound in batches */
    int pull_precision;   /* PullPrecision */
    int shuffle;          /* ShuffleChoice */
    double rank_timeout;  /* seconds unanswered before a rank counts as stalled; 0 = never */
    /* model */
    int model;            /* ModelChoice */
    int dim;
    float init_std;
    float l2;             /* on factors, per occurrence in a batch */
    float l2_bias;        /* on biases */
    float l2_features;    /* on feature rows, per weighted occurrence */
    int negatives;        /* implicit models: sampled negatives per positive */
    int hidden;           /* deep: hidden layer width */
    int activation;       /* deep: Activation */
    int loss;             /* deep: RankingLoss */
    int negative_sampling; /* SamplerKind */
    int neighbours;       /* item-knn: neighbours kept per item */
    int similarity;       /* Similarity */
    double alpha;         /* cosine: exponent of the row item's norm */
    double shrink;
    int rated_neighbours; /* item-knn on ratings: similar rated items used per prediction */
    int max_history;      /* item-knn: histories longer than this are sampled for pairs */
    double memory_budget; /* item-knn: MiB of pair counts per server at once */
    double popularity_exponent;
    /* evaluation */
    int eval_negatives;   /* sampled protocol: negatives per held-out item */
    uint64_t eval_seed;
    int patience;         /* epochs without a better validation figure; 0 = off */
    int patience_metric;  /* PatienceMetric: the validation figure patience watches */
    /* optimisation */
    int optimizer;        /* OptimizerKind */
    float learning_rate;
    float lr_decay;       /* per-epoch factor on the learning rate */
    float beta1;
    float beta2;
    float epsilon;
    float adagrad_init;
    int epochs;
    int batch_size;
    uint64_t seed;
    /* output */
    /* Not an option: where this run writes, its own generation folder
     * inside run_dir (app/run_dir.h), set by psrec train once the chief has
     * made it. */
    char output_dir[OPTION_STRING_BYTES + 64];
    uint64_t run_id;      /* not an option either: the run's id, in its manifest and shards */
    /* Not options: with --warm-start, the run id and manifest checksum of
     * the model it started from (recorded in this run's manifest). */
    uint64_t warm_start_run_id;
    uint64_t warm_start_checksum;
    bool progress;        /* live progress line on a terminal */
    int log_level;        /* 0 error … 3 debug */
} TrainConfig;

/* What `psrec generate` writes: ratings, or interactions with an event. */
typedef enum {
    GENERATE_FEEDBACK_EXPLICIT = 0, /* user_id,item_id,rating,timestamp */
    GENERATE_FEEDBACK_IMPLICIT = 1  /* user_id,item_id,timestamp,event */
} GenerateFeedback;

typedef struct {
    char out_path[OPTION_STRING_BYTES];
    char test_out_path[OPTION_STRING_BYTES];  /* "" = no test split */
    char truth_out_path[OPTION_STRING_BYTES]; /* "" = no truth file */
    /* Either path non-empty turns the attributes on: they then shape the
     * true factors (feature_strength), and both files describe them. */
    char item_features_out_path[OPTION_STRING_BYTES]; /* "" = none: item_id,feature_id */
    char user_features_out_path[OPTION_STRING_BYTES]; /* "" = none: user_id,feature_id */
    double test_fraction;
    int feedback;         /* GenerateFeedback */
    int users;
    int items;
    uint64_t ratings;     /* ratings, or interactions in implicit mode */
    int dim;              /* true latent factors */
    double zipf_exponent; /* item popularity ~ rank^-exponent */
    double preference_strength; /* implicit: choice weight popularity * exp(strength * p_u.q_i) */
    double noise_std;
    int truth_k;          /* items per user in the truth file */
    int categories;       /* item attributes: one category of this many per item */
    int brands;           /* and one brand of this many */
    double feature_strength; /* share in [0, 1] of the true factors' variance due to attributes */
    uint64_t seed;
} GenerateConfig;

typedef struct {
    char run_dir[OPTION_STRING_BYTES];
    char pairs_path[OPTION_STRING_BYTES];
    char item_features_path[OPTION_STRING_BYTES]; /* "" = the run's own */
    char user_features_path[OPTION_STRING_BYTES]; /* "" = the run's own */
    char out_path[OPTION_STRING_BYTES];
    int format;           /* DatasetFormat */
    char user_column[OPTION_STRING_BYTES];
    char item_column[OPTION_STRING_BYTES];
    bool skip_malformed;
} PredictConfig;

typedef struct {
    char run_dir[OPTION_STRING_BYTES];
    int k;
    char out_path[OPTION_STRING_BYTES];
    char users_path[OPTION_STRING_BYTES];   /* "" = every user of the data */
    char exclude_path[OPTION_STRING_BYTES]; /* "" = what the run's split left out */
    char item_features_path[OPTION_STRING_BYTES]; /* "" = the run's own */
    char user_features_path[OPTION_STRING_BYTES]; /* "" = the run's own */
    int log_level;
    double rank_timeout;  /* as train's */
} RecommendConfig;

typedef struct {
    char run_dir[OPTION_STRING_BYTES];
    char out_dir[OPTION_STRING_BYTES];
} ExportConfig;

/* What each command's --help prints above its options. */
extern const char TRAIN_USAGE[];
extern const char GENERATE_USAGE[];
extern const char PREDICT_USAGE[];
extern const char RECOMMEND_USAGE[];
extern const char EXPORT_USAGE[];

extern const OptionSpec TRAIN_OPTIONS[];
extern const int TRAIN_OPTION_COUNT;
extern const OptionSpec GENERATE_OPTIONS[];
extern const int GENERATE_OPTION_COUNT;
extern const OptionSpec PREDICT_OPTIONS[];
extern const int PREDICT_OPTION_COUNT;
extern const OptionSpec RECOMMEND_OPTIONS[];
extern const int RECOMMEND_OPTION_COUNT;
extern const OptionSpec EXPORT_OPTIONS[];
extern const int EXPORT_OPTION_COUNT;

/* Fill a config from defaults, then the --config file named in argv (train
 * only), then argv itself (the command line wins). Returns 0; 1 when --help
 * was asked (the caller prints help); -1 with a message in *err. The config
 * is validated too (cross-field checks that need no MPI, e.g. a test file
 * that cannot be opened is NOT checked here: each rank reports its own). */
int config_load_train(TrainConfig *config, int argc, char **argv, Error *err);
int config_load_generate(GenerateConfig *config, int argc, char **argv, Error *err);
int config_load_predict(PredictConfig *config, int argc, char **argv, Error *err);
int config_load_recommend(RecommendConfig *config, int argc, char **argv, Error *err);
int config_load_export(ExportConfig *config, int argc, char **argv, Error *err);

/* Reports what config_load_* returned: for 1 prints the usage and the
 * options to stdout, for -1 prints "psrec COMMAND: message" to stderr.
 * Returns the exit code the command should end with, or -1 for rc 0 (go on). */
int config_report_load(int rc, const char *command, const char *usage, const OptionSpec *specs,
                       int n_specs, const Error *err);

/* The name of the configured model ("mf", "bpr", "deep"), as model_find
 * knows it. */
const char *config_model_name(const TrainConfig *config);

/* The configuration a `psrec train` run saved in run_dir/config.conf.
 * Returns 0, or -1 with a message naming the file. */
int config_load_run(TrainConfig *run, const char *run_dir, Error *err);

/* Cross-field checks; return 0 or -1 with a message. */
int config_validate_train(const TrainConfig *config, Error *err);

/* The world-size dependent check: --servers must leave at least one worker.
 * Returns 0 or -1 with e.g. "--servers 4 leaves no worker: mpirun -np 4 has
 * 4 ranks; use --servers 1 to 3 or start more ranks". */
int config_check_layout(const TrainConfig *config, int world_size, Error *err);

/* How `train` (and `recommend`, from a run's saved configuration) reads and
 * indexes the data of a train configuration: paths, columns, feedback kind,
 * event weights (parsed into *weights, which must outlive the options),
 * split and negative sampling. The configuration must have passed
 * config_validate_train. */
void config_training_set_options(TrainingSetOptions *options, EventWeights *weights,
                                 const TrainConfig *config, const ModelOps *model);

#endif
