/* main.c — the psrec command: picks the subcommand and hands over. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "psrec/app/config.h"
#include "psrec/app/export.h"
#include "psrec/data/generate.h"
#include "psrec/app/predict.h"
#include "psrec/app/recommend.h"
#include "psrec/app/train.h"

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: psrec <command> [options]    (psrec <command> --help for its options)\n\n"
            "commands:\n"
            "  generate   write synthetic ratings or interactions from known latent factors (CSV)\n"
            "  train      train a model as an MPI job: mpirun -np N psrec train --servers S ...\n"
            "  predict    score user,item pairs with a trained model\n"
            "  recommend  write each user's top-K items from a trained model "
            "([mpirun -np N] psrec recommend ...)\n"
            "  export     write a trained model's tables as NumPy .npy files\n");
}

static int generate_main(int argc, char **argv)
{
    GenerateConfig config;
    Error err;
    int rc = config_load_generate(&config, argc, argv, &err);
    int exit_code = config_report_load(rc, "generate", GENERATE_USAGE, GENERATE_OPTIONS,
                                       GENERATE_OPTION_COUNT, &err);
    if (exit_code >= 0)
        return exit_code;
    GenerateSummary summary;
    if (generate_ratings(&config, &summary, &err) != 0) {
        fprintf(stderr, "psrec generate: %s\n", err.message);
        return CONFIG_EXIT_RUN_FAILED;
    }
    bool implicit = config.feedback == GENERATE_FEEDBACK_IMPLICIT;
    printf("psrec generate: %llu %s to %s", (unsigned long long)summary.n_train,
           implicit ? "interactions" : "ratings", config.out_path);
    if (config.test_out_path[0])
        printf(", %llu to %s", (unsigned long long)summary.n_test, config.test_out_path);
    printf(" (%llu users, %llu items)\n", (unsigned long long)summary.n_users_active,
           (unsigned long long)summary.n_items_active);
    if (implicit)
        printf("psrec generate: %llu views, %llu carts, %llu purchases\n",
               (unsigned long long)summary.n_events[GENERATE_EVENT_VIEW],
               (unsigned long long)summary.n_events[GENERATE_EVENT_CART],
               (unsigned long long)summary.n_events[GENERATE_EVENT_PURCHASE]);
    if (config.truth_out_path[0])
        printf("psrec generate: truth (top %d unseen items by true affinity per user, %llu "
               "lines) to %s\n",
               config.truth_k, (unsigned long long)summary.n_truth, config.truth_out_path);
    if (config.item_features_out_path[0])
        printf("psrec generate: item features (category, brand; %llu lines) to %s\n",
               (unsigned long long)summary.n_item_features, config.item_features_out_path);
    if (config.user_features_out_path[0])
        printf("psrec generate: user features (age band, gender, region; %llu lines) to %s\n",
               (unsigned long long)summary.n_user_features, config.user_features_out_path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CONFIG_EXIT_BAD_USAGE : 0;
    }
    /* A write past the file-size limit fails with EFBIG, which every write
     * reports with its file, instead of killing the process unexplained. */
    signal(SIGXFSZ, SIG_IGN);
    const char *command = argv[1];
    if (strcmp(command, "generate") == 0)
        return generate_main(argc - 2, argv + 2);
    if (strcmp(command, "train") == 0)
        return train_main(argc - 2, argv + 2);
    if (strcmp(command, "predict") == 0)
        return predict_main(argc - 2, argv + 2);
    if (strcmp(command, "recommend") == 0)
        return recommend_main(argc - 2, argv + 2);
    if (strcmp(command, "export") == 0)
        return export_main(argc - 2, argv + 2);
    char quoted[TEXT_QUOTE_BYTES];
    fprintf(stderr, "psrec: unknown command '%s'\n", text_quote(quoted, command));
    print_usage(stderr);
    return CONFIG_EXIT_BAD_USAGE;
}
