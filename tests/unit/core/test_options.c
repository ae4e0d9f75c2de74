/* test_options.c — the option parser (options.c) and the subcommand
 * configurations built on it (config.c).
 *
 * A small table of every option type checks parsing, the exact error
 * messages a user sees, config files and the write → read round trip; the
 * real train/generate/predict tables are then checked through the
 * config_load_* functions, including a config file overridden by argv.
 */
#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/app/config.h"
#include "psrec/data/dataset.h"
#include "psrec/core/options.h"
#include "psrec/core/util.h"

#include "test_support.h"

/* ---- a table with one option of each type */

typedef struct {
    int epochs;
    uint64_t seed;
    float rate;
    double fraction;
    bool verbose;
    bool progress;
    char path[OPTION_STRING_BYTES];
    int optimizer;
} Demo;

static const OptionSpec DEMO_OPTIONS[] = {
    {"epochs", OPTION_INT, offsetof(Demo, epochs), "20", "passes", NULL, 1, 100000},
    {"seed", OPTION_UINT64, offsetof(Demo, seed), "42", "seed", NULL, 1, 0},
    {"rate", OPTION_FLOAT, offsetof(Demo, rate), "0.005", "step size", NULL, 0, 10},
    {"fraction", OPTION_DOUBLE, offsetof(Demo, fraction), "0.1", "share", NULL, 0, 0.9},
    {"verbose", OPTION_BOOL, offsetof(Demo, verbose), "false", "say more", NULL, 1, 0},
    {"progress", OPTION_BOOL, offsetof(Demo, progress), "true", "show progress", NULL, 1, 0},
    {"path", OPTION_STRING, offsetof(Demo, path), "runs/latest", "where", NULL, 1, 0},
    {"optimizer", OPTION_CHOICE, offsetof(Demo, optimizer), "adam", "rule",
     "adam|adagrad|sgd", 1, 0},
};
static const int DEMO_COUNT = (int)(sizeof DEMO_OPTIONS / sizeof DEMO_OPTIONS[0]);

static void demo_defaults(Demo *demo)
{
    memset(demo, 0, sizeof *demo);
    options_set_defaults(DEMO_OPTIONS, DEMO_COUNT, demo);
}

/* The number of arguments in a NULL-terminated list. */
static int args_count(const char **args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    return argc;
}

/* Parses a NULL-terminated argument list into demo; returns the rc. */
static int demo_parse(Demo *demo, bool *help, Error *err, const char **args)
{
    return options_parse_args(DEMO_OPTIONS, DEMO_COUNT, demo, args_count(args), (char **)args,
                              help, err);
}

/* Expects parsing to fail with exactly `message`. */
static void demo_expect_error(const char **args, const char *message)
{
    Demo demo;
    demo_defaults(&demo);
    bool help = false;
    Error err = {{0}};
    ck_assert_int_eq(demo_parse(&demo, &help, &err, args), -1);
    ck_assert_str_eq(err.message, message);
}

/* ---- scratch files */

static char scratch_dir[64];

/* A fresh scratch folder per test (a checked fixture). */
static void scratch_setup(void)
{
    test_scratch_create(scratch_dir, sizeof scratch_dir, "options");
}

static void scratch_teardown(void)
{
    test_scratch_remove(scratch_dir);
}

/* Writes text to scratch_dir/name and returns the path (static buffer). */
static const char *scratch_write(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", scratch_dir, name);
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(text, file);
    ck_assert_int_eq(fclose(file), 0);
    return path;
}

/* ---- printed text as a string */

/* What options_write prints for config, NUL-terminated; the caller frees it. */
static char *text_of_write(const OptionSpec *specs, int count, const void *config)
{
    char *text = NULL;
    size_t text_bytes = 0;
    FILE *mem = open_memstream(&text, &text_bytes);
    ck_assert_ptr_nonnull(mem);
    options_write(mem, specs, count, config, NULL);
    ck_assert_int_eq(fclose(mem), 0);
    return text;
}

/* What options_print_help prints for the table; the caller frees it. */
static char *text_of_help(const OptionSpec *specs, int count)
{
    char *text = NULL;
    size_t text_bytes = 0;
    FILE *mem = open_memstream(&text, &text_bytes);
    ck_assert_ptr_nonnull(mem);
    options_print_help(mem, specs, count);
    ck_assert_int_eq(fclose(mem), 0);
    return text;
}

/* ---- options.c */

START_TEST(test_defaults)
{
    Demo demo;
    demo_defaults(&demo);
    ck_assert_int_eq(demo.epochs, 20);
    ck_assert_uint_eq(demo.seed, 42);
    ck_assert_float_eq(demo.rate, 0.005f);
    ck_assert_double_eq(demo.fraction, 0.1);
    ck_assert(!demo.verbose);
    ck_assert(demo.progress);
    ck_assert_str_eq(demo.path, "runs/latest");
    ck_assert_int_eq(demo.optimizer, 0);
}
END_TEST

START_TEST(test_args_forms)
{
    Demo demo;
    demo_defaults(&demo);
    bool help = true;
    Error err;
    const char *args[] = {"--epochs", "5",        "--seed=18446744073709551615",
                          "--rate",   "1e-3",     "--fraction=0.25",
                          "--verbose", "--no-progress", "--path=a=b c",
                          "--optimizer", "sgd",    NULL};
    ck_assert_int_eq(demo_parse(&demo, &help, &err, args), 0);
    ck_assert(!help);
    ck_assert_int_eq(demo.epochs, 5);
    ck_assert_uint_eq(demo.seed, UINT64_MAX);
    ck_assert_float_eq(demo.rate, 1e-3f);
    ck_assert_double_eq(demo.fraction, 0.25);
    ck_assert(demo.verbose);
    ck_assert(!demo.progress);
    ck_assert_str_eq(demo.path, "a=b c");
    ck_assert_int_eq(demo.optimizer, 2);

    /* A flag takes an explicit boolean after it, in any of its spellings;
     * the last occurrence wins. */
    const char *flags[] = {"--verbose", "no", "--progress", "YES", "--verbose=on",
                           "--epochs=9", "--epochs", "10", NULL};
    ck_assert_int_eq(demo_parse(&demo, &help, &err, flags), 0);
    ck_assert(demo.verbose);
    ck_assert(demo.progress);
    ck_assert_int_eq(demo.epochs, 10);

    /* Range ends are inclusive. */
    const char *edges[] = {"--epochs", "100000", "--fraction", "0.9", "--rate=0", NULL};
    ck_assert_int_eq(demo_parse(&demo, &help, &err, edges), 0);
    ck_assert_int_eq(demo.epochs, 100000);
    ck_assert_double_eq(demo.fraction, 0.9);
    ck_assert_float_eq(demo.rate, 0.0f);
}
END_TEST

START_TEST(test_args_help)
{
    Demo demo;
    demo_defaults(&demo);
    bool help = false;
    Error err;
    const char *args[] = {"--epochs", "3", "--help", "--bogus", NULL};
    ck_assert_int_eq(demo_parse(&demo, &help, &err, args), 0);
    ck_assert(help);
    ck_assert_int_eq(demo.epochs, 3);
}
END_TEST

START_TEST(test_args_errors)
{
    const char *unknown[] = {"--epoch", "3", NULL};
    demo_expect_error(unknown, "unknown option '--epoch' (did you mean --epochs?)");
    const char *prefix[] = {"--optim", "sgd", NULL};
    demo_expect_error(prefix, "unknown option '--optim' (did you mean --optimizer?)");
    const char *swapped[] = {"--ptah", "x", NULL};
    demo_expect_error(swapped, "unknown option '--ptah' (did you mean --path?)");
    const char *longer[] = {"--epochs-max", "3", NULL};
    demo_expect_error(longer, "unknown option '--epochs-max' (did you mean --epochs?)");
    const char *far[] = {"--zzzzzzzz", NULL};
    demo_expect_error(far, "unknown option '--zzzzzzzz' (see --help for the list)");
    const char *not_int[] = {"--epochs", "x", NULL};
    demo_expect_error(not_int, "--epochs: expected an integer from 1 to 100000, found 'x'");
    const char *out_of_range[] = {"--epochs=100001", NULL};
    demo_expect_error(out_of_range,
                      "--epochs: expected an integer from 1 to 100000, found '100001'");
    const char *trailing[] = {"--epochs=3x", NULL};
    demo_expect_error(trailing, "--epochs: expected an integer from 1 to 100000, found '3x'");
    const char *overflow[] = {"--epochs=99999999999999999999", NULL};
    demo_expect_error(overflow, "--epochs: expected an integer from 1 to 100000, found "
                                "'99999999999999999999'");
    const char *negative_u64[] = {"--seed", "-1", NULL};
    demo_expect_error(negative_u64, "--seed: expected a non-negative integer, found '-1'");
    const char *bad_float[] = {"--fraction", "0.95", NULL};
    demo_expect_error(bad_float, "--fraction: expected a number from 0 to 0.9, found '0.95'");
    const char *nan_float[] = {"--rate", "nan", NULL};
    demo_expect_error(nan_float, "--rate: expected a number from 0 to 10, found 'nan'");
    const char *choice[] = {"--optimizer", "adamw", NULL};
    demo_expect_error(choice, "--optimizer: expected one of adam|adagrad|sgd, found 'adamw'");
    const char *flag[] = {"--verbose=maybe", NULL};
    demo_expect_error(flag, "--verbose: expected true or false, found 'maybe'");
    const char *missing[] = {"--path", NULL};
    demo_expect_error(missing, "missing value for --path");
    const char *missing_before_option[] = {"--path", "--epochs", "3", NULL};
    demo_expect_error(missing_before_option, "missing value for --path");
    const char *stray[] = {"--epochs", "3", "foo", NULL};
    demo_expect_error(stray, "unexpected argument 'foo'");
    const char *single_dash[] = {"-epochs", "3", NULL};
    demo_expect_error(single_dash, "unexpected argument '-epochs' (options start with --)");
    const char *empty_value[] = {"--epochs=", NULL};
    demo_expect_error(empty_value, "--epochs: expected an integer from 1 to 100000, found ''");
    /* What the user typed is quoted with control characters escaped. */
    const char *control[] = {"--epochs", "3\x1b[31m", NULL};
    demo_expect_error(control, "--epochs: expected an integer from 1 to 100000, found "
                               "'3\\x1b[31m'");
    const char *control_name[] = {"--zz\x1b]0;x\x07", NULL};
    demo_expect_error(control_name, "unknown option '--zz\\x1b]0;x\\x07' (see --help for the "
                                    "list)");
    const char *control_arg[] = {"\x9b" "2J", NULL};
    demo_expect_error(control_arg, "unexpected argument '\\x9b2J'");
}
END_TEST

START_TEST(test_error_leaves_field_unchanged)
{
    Demo demo;
    demo_defaults(&demo);
    Error err;
    ck_assert_int_eq(options_set(DEMO_OPTIONS, DEMO_COUNT, &demo, "epochs", "0", &err), -1);
    ck_assert_int_eq(demo.epochs, 20);
    ck_assert_int_eq(options_set(DEMO_OPTIONS, DEMO_COUNT, &demo, "epochs", "7", &err), 0);
    ck_assert_int_eq(demo.epochs, 7);
    ck_assert_int_eq(options_set(DEMO_OPTIONS, DEMO_COUNT, &demo, "seeds", "7", &err), -1);
    ck_assert_str_eq(err.message, "unknown option '--seeds' (did you mean --seed?)");
}
END_TEST

START_TEST(test_find_arg)
{
    char *args[] = {"--train", "a.csv", "--config", "one.conf", "--config=two.conf", "--configx",
                    "x"};
    ck_assert_str_eq(options_find_arg(7, args, "config"), "two.conf");
    ck_assert_str_eq(options_find_arg(2, args, "train"), "a.csv");
    ck_assert_ptr_null(options_find_arg(7, args, "test"));
    char *dangling[] = {"--config"};
    ck_assert_ptr_null(options_find_arg(1, dangling, "config"));
}
END_TEST

START_TEST(test_file_parse)
{
    const char *path = scratch_write("demo.conf",
                                     "# a comment\n"
                                     "\n"
                                     "   epochs = 7   # trailing comment\n"
                                     "seed=9\r\n"
                                     "path = \"with # hash and \\\"quotes\\\"\"  # comment\n"
                                     "\toptimizer\t=\tadagrad\n"
                                     "verbose = yes\n"
                                     "fraction = 0.5#x\n");
    Demo demo;
    demo_defaults(&demo);
    Error err = {{0}};
    /* The last line is a bad number: '#' only starts a comment after a
     * space, so the value is "0.5#x". */
    ck_assert_int_eq(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, path, &err), -1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s/demo.conf:8: fraction: expected a number from 0 to 0.9, found '0.5#x'",
             scratch_dir);
    ck_assert_str_eq(err.message, expected);
    /* Earlier lines were applied. */
    ck_assert_int_eq(demo.epochs, 7);
    ck_assert_uint_eq(demo.seed, 9);
    ck_assert_str_eq(demo.path, "with # hash and \"quotes\"");
    ck_assert_int_eq(demo.optimizer, 1);
    ck_assert(demo.verbose);

    path = scratch_write("quotes.conf", "path = 'single \\n literal'\nfraction = 0.5 # ok\n"
                                        "path2 = 1\n");
    demo_defaults(&demo);
    ck_assert_int_eq(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, path, &err), -1);
    ck_assert_str_eq(demo.path, "single \\n literal");
    ck_assert_double_eq(demo.fraction, 0.5);
    ck_assert_msg(strstr(err.message, "quotes.conf:3: unknown key 'path2' (did you mean 'path'?)"),
                  "got: %s", err.message);
}
END_TEST

START_TEST(test_file_errors)
{
    struct {
        const char *text;
        const char *message; /* after "DIR/" */
    } cases[] = {
        {"epochs = 3\nepoch = 4\n", "bad.conf:2: unknown key 'epoch' (did you mean 'epochs'?)"},
        {"\n\nqqqqqqqqqq = 4\n", "bad.conf:3: unknown key 'qqqqqqqqqq'"},
        {"# c\nepochs 3\n", "bad.conf:2: expected 'key = value', found 'epochs 3'"},
        {"= 3\n", "bad.conf:1: expected 'key = value', found '= 3'"},
        {"two words = 3\n", "bad.conf:1: expected 'key = value', found 'two words = 3'"},
        {"epochs = 0\n", "bad.conf:1: epochs: expected an integer from 1 to 100000, found '0'"},
        {"optimizer = adamw\n",
         "bad.conf:1: optimizer: expected one of adam|adagrad|sgd, found 'adamw'"},
        {"path = \"open\n", "bad.conf:1: missing closing \" in '\"open'"},
        {"path = \"a\" b\n", "bad.conf:1: unexpected text after the closing quote: 'b'"},
        /* Keys and values from the file are quoted escaped. */
        {"ep\x1bochs = 3\n", "bad.conf:1: unknown key 'ep\\x1bochs' (did you mean 'epochs'?)"},
        {"optimizer = sgd\x1b[2J\n",
         "bad.conf:1: optimizer: expected one of adam|adagrad|sgd, found 'sgd\\x1b[2J'"},
        {"epochs = \t3\xff\n", "bad.conf:1: epochs: expected an integer from 1 to 100000, "
                                 "found '3\\xff'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = scratch_write("bad.conf", cases[i].text);
        Demo demo;
        demo_defaults(&demo);
        Error err = {{0}};
        ck_assert_int_eq(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, path, &err), -1);
        char expected[512];
        snprintf(expected, sizeof expected, "%s/%s", scratch_dir, cases[i].message);
        ck_assert_str_eq(err.message, expected);
    }
    Demo demo;
    Error err;
    ck_assert_int_eq(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, "/nonexistent/x.conf",
                                        &err),
                     -1);
    ck_assert_str_eq(err.message,
                     "cannot open config file /nonexistent/x.conf: No such file or directory");
}
END_TEST

/* Writes bytes[0, len) to scratch_dir/name and returns the path (static). */
static const char *scratch_write_bytes(const char *name, const char *bytes, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", scratch_dir, name);
    FILE *file = fopen(path, "wb");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(bytes, 1, len, file), len);
    ck_assert_int_eq(fclose(file), 0);
    return path;
}

/* A config file that is not UTF-8 text, or holds a NUL, is refused saying
 * so; a UTF-8 byte-order mark is skipped. */
START_TEST(test_file_not_text)
{
    Demo demo;
    Error err = {{0}};
    char expected[512];
    static const char UTF16[] = "\xff\xfe" "e\0p\0o\0c\0h\0s\0 \0=\0 \0" "3\0\n\0";
    const char *path = scratch_write_bytes("utf16.conf", UTF16, sizeof UTF16 - 1);
    demo_defaults(&demo);
    ck_assert_int_eq(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, path, &err), -1);
    snprintf(expected, sizeof expected,
             "%s: looks like UTF-16 text (byte-order mark FF FE); save it as UTF-8 (e.g. iconv "
             "-t UTF-8)",
             path);
    ck_assert_str_eq(err.message, expected);
    ck_assert_int_eq(demo.epochs, 20); /* nothing taken from it */

    static const char NUL[] = "epochs = 3\npath = a\0b\n";
    path = scratch_write_bytes("nul.conf", NUL, sizeof NUL - 1);
    ck_assert_int_eq(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, path, &err), -1);
    snprintf(expected, sizeof expected,
             "%s:2: NUL byte in the line (byte 9); a text file holds none: is the file binary, "
             "damaged, or saved as UTF-16?",
             path);
    ck_assert_str_eq(err.message, expected);

    path = scratch_write("bom.conf", "\xEF\xBB\xBF" "epochs = 7\n");
    demo_defaults(&demo);
    ck_assert_msg(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &demo, path, &err) == 0, "%s",
                  err.message);
    ck_assert_int_eq(demo.epochs, 7);
}
END_TEST

START_TEST(test_write_round_trip)
{
    Demo demo;
    demo_defaults(&demo);
    demo.epochs = 12345;
    demo.seed = UINT64_MAX - 1;
    demo.rate = 0.1f + 1e-7f; /* needs all 9 digits */
    demo.fraction = 1.0 / 3.0;
    demo.verbose = true;
    demo.progress = false;
    strcpy(demo.path, " lead # \"q\" \\ 'x'\ttab ");
    demo.optimizer = 1;

    char *text = text_of_write(DEMO_OPTIONS, DEMO_COUNT, &demo);
    ck_assert_ptr_nonnull(strstr(text, "epochs = 12345\n"));
    ck_assert_ptr_nonnull(strstr(text, "seed = 18446744073709551614\n"));
    ck_assert_ptr_nonnull(strstr(text, "verbose = true\nprogress = false\n"));
    ck_assert_ptr_nonnull(strstr(text, "optimizer = adagrad\n"));
    ck_assert_ptr_nonnull(strstr(text, "path = \" lead # \\\"q\\\" \\\\ 'x'\\ttab \"\n"));

    const char *path = scratch_write("echo.conf", text);
    Demo back;
    demo_defaults(&back);
    Error err = {{0}};
    ck_assert_msg(options_parse_file(DEMO_OPTIONS, DEMO_COUNT, &back, path, &err) == 0, "%s",
                  err.message);
    ck_assert_mem_eq(&back, &demo, sizeof demo);
    free(text);

    /* Defaults echo short: the fewest digits that round trip, plain
     * strings unquoted. */
    demo_defaults(&demo);
    text = text_of_write(DEMO_OPTIONS, DEMO_COUNT, &demo);
    ck_assert_str_eq(text, "epochs = 20\nseed = 42\nrate = 0.005\nfraction = 0.1\n"
                           "verbose = false\nprogress = true\npath = runs/latest\n"
                           "optimizer = adam\n");
    free(text);
}
END_TEST

START_TEST(test_help_text)
{
    char *text = text_of_help(DEMO_OPTIONS, DEMO_COUNT);
    ck_assert_ptr_nonnull(
        strstr(text, "  --optimizer NAME   rule (default: adam; one of adam|adagrad|sgd)\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "  --epochs N         passes (default: 20; 1 to 100000)\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "  --progress         show progress (default: true; --no-progress "
                     "turns it off)\n"));
    ck_assert_ptr_nonnull(strstr(text, "  --help             show this help and exit\n"));
    free(text);
}
END_TEST

/* ---- config.c */

/* Every option of every table appears in its help; every default loads. */
START_TEST(test_tables_help_and_defaults)
{
    const OptionSpec *tables[] = {TRAIN_OPTIONS, GENERATE_OPTIONS, PREDICT_OPTIONS};
    const int counts[] = {TRAIN_OPTION_COUNT, GENERATE_OPTION_COUNT, PREDICT_OPTION_COUNT};
    for (int t = 0; t < 3; t++) {
        char *text = text_of_help(tables[t], counts[t]);
        for (int i = 0; i < counts[t]; i++) {
            char flag[96];
            snprintf(flag, sizeof flag, "  --%s ", tables[t][i].name);
            ck_assert_msg(strstr(text, flag) != NULL, "help lacks %s", flag);
        }
        free(text);
    }

    TrainConfig train;
    Error err;
    char *args[] = {"--train", "data.csv"};
    ck_assert_int_eq(config_load_train(&train, 2, args, &err), 0);
    ck_assert_str_eq(train.train_path, "data.csv");
    ck_assert_str_eq(train.test_path, "");
    ck_assert_str_eq(train.run_dir, "runs/latest");
    ck_assert_int_eq(train.format, DATASET_FORMAT_AUTO);
    ck_assert_str_eq(train.user_column, "user_id");
    ck_assert_str_eq(train.timestamp_column, "timestamp");
    ck_assert(!train.skip_malformed);
    ck_assert_int_eq(train.servers, 1);
    ck_assert_int_eq(train.vshards, 1024);
    ck_assert_int_eq(train.consistency, CONSISTENCY_ASP);
    ck_assert_int_eq(train.staleness, 0);
    ck_assert_int_eq(train.model, 0);
    ck_assert_int_eq(train.dim, 32);
    ck_assert_float_eq(train.init_std, 0.1f);
    ck_assert_float_eq(train.l2, 0.05f);
    ck_assert_float_eq(train.l2_bias, 0.01f);
    ck_assert_int_eq(train.optimizer, 2); /* OPTIMIZER_ADAM */
    ck_assert_float_eq(train.learning_rate, 0.005f);
    ck_assert_float_eq(train.beta1, 0.9f);
    ck_assert_float_eq(train.beta2, 0.999f);
    ck_assert_float_eq(train.epsilon, 1e-8f);
    ck_assert_float_eq(train.adagrad_init, 0.1f);
    ck_assert_int_eq(train.epochs, 20);
    ck_assert_int_eq(train.batch_size, 1024);
    ck_assert_uint_eq(train.seed, 42);
    ck_assert(train.progress);
    ck_assert_int_eq(train.log_level, 2);

    GenerateConfig gen;
    ck_assert_int_eq(config_load_generate(&gen, 0, NULL, &err), 0);
    ck_assert_str_eq(gen.out_path, "ratings.csv");
    ck_assert_str_eq(gen.test_out_path, "");
    ck_assert_double_eq(gen.test_fraction, 0.1);
    ck_assert_int_eq(gen.users, 10000);
    ck_assert_int_eq(gen.items, 5000);
    ck_assert_uint_eq(gen.ratings, 1000000);
    ck_assert_int_eq(gen.dim, 8);
    ck_assert_double_eq(gen.zipf_exponent, 1.0);
    ck_assert_double_eq(gen.noise_std, 0.5);
    ck_assert_uint_eq(gen.seed, 42);
}
END_TEST

START_TEST(test_train_file_then_args)
{
    const char *path = scratch_write("train.conf",
                                     "# shipped config\n"
                                     "train = \"data/my ratings.csv\"\n"
                                     "epochs = 5\n"
                                     "optimizer = sgd\n"
                                     "consistency = ssp\n"
                                     "staleness = 2\n"
                                     "learning-rate = 0.01\n"
                                     "progress = false\n");
    char *args[] = {"--epochs", "9", "--config", (char *)path, "--learning-rate=0.02"};
    TrainConfig config;
    Error err = {{0}};
    ck_assert_msg(config_load_train(&config, 5, args, &err) == 0, "%s", err.message);
    ck_assert_str_eq(config.train_path, "data/my ratings.csv");
    ck_assert_str_eq(config.config_path, path);
    ck_assert_int_eq(config.epochs, 9);             /* argv wins, even before --config */
    ck_assert_float_eq(config.learning_rate, 0.02f); /* argv wins */
    ck_assert_int_eq(config.optimizer, 0);          /* from the file */
    ck_assert_int_eq(config.consistency, CONSISTENCY_SSP);
    ck_assert_int_eq(config.staleness, 2);
    ck_assert(!config.progress);
    ck_assert_int_eq(config.dim, 32); /* default */

    /* The echo of a loaded config loads back to the same struct. */
    char *text = text_of_write(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, &config);
    const char *echo = scratch_write("echo.conf", text);
    free(text);
    char *echo_args[] = {"--config", (char *)echo};
    TrainConfig back;
    ck_assert_msg(config_load_train(&back, 2, echo_args, &err) == 0, "%s", err.message);
    /* The one field argv set differently. */
    memcpy(back.config_path, config.config_path, sizeof back.config_path);
    ck_assert_mem_eq(&back, &config, sizeof config);

    /* Errors in the file name it; --help wins over them. */
    const char *bad = scratch_write("bad.conf", "train = x\nepoch = 3\n");
    char *bad_args[] = {"--config", (char *)bad};
    ck_assert_int_eq(config_load_train(&config, 2, bad_args, &err), -1);
    char expected[256];
    snprintf(expected, sizeof expected, "%s:2: unknown key 'epoch' (did you mean 'epochs'?)",
             bad);
    ck_assert_str_eq(err.message, expected);
    char *help_args[] = {"--config", (char *)bad, "--help"};
    ck_assert_int_eq(config_load_train(&config, 3, help_args, &err), 1);

    char *missing[] = {"--config", "/nonexistent/train.conf"};
    ck_assert_int_eq(config_load_train(&config, 2, missing, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/train.conf"));
}
END_TEST

/* Loads train args (NULL-terminated) and expects failure with `message`. */
static void train_expect_error(const char **args, const char *message)
{
    TrainConfig config;
    Error err = {{0}};
    ck_assert_int_eq(config_load_train(&config, args_count(args), (char **)args, &err), -1);
    ck_assert_str_eq(err.message, message);
}

START_TEST(test_train_validation)
{
    const char *none[] = {NULL};
    train_expect_error(none, "--train is required: the file of training interactions");
    const char *run_dir[] = {"--train", "a", "--run-dir=", NULL};
    train_expect_error(run_dir, "--run-dir must not be empty: the run's output goes there");
    const char *format[] = {"--train", "a", "--format", "tsv", NULL};
    train_expect_error(format,
                       "--format: expected one of auto|csv|movielens|movielens-colons, found 'tsv'");
    const char *ssp[] = {"--train", "a", "--consistency", "ssp", NULL};
    train_expect_error(ssp, "--consistency ssp needs --staleness 1 or more (ssp with staleness 0 "
                            "is bsp: use --consistency bsp)");
    const char *vshards[] = {"--train", "a", "--servers", "8", "--vshards", "4", NULL};
    train_expect_error(vshards, "--vshards 4 is fewer than --servers 8: every server needs at "
                                "least one virtual shard; raise --vshards");
    const char *rate[] = {"--train", "a", "--learning-rate", "0", NULL};
    train_expect_error(rate, "--learning-rate must be above 0, found 0");
    const char *beta[] = {"--train", "a", "--beta2", "1", NULL};
    train_expect_error(beta, "--beta2 must be below 1, found 1");
    const char *dim[] = {"--train", "a", "--dim", "4097", NULL};
    train_expect_error(dim, "--dim: expected an integer from 1 to 4096, found '4097'");
    const char *optimizer[] = {"--train", "a", "--optimizer", "adamw", NULL};
    train_expect_error(optimizer, "--optimizer: expected one of sgd|adagrad|adam, found 'adamw'");
    const char *typo[] = {"--train", "a", "--epoch", "3", NULL};
    train_expect_error(typo, "unknown option '--epoch' (did you mean --epochs?)");
    const char *missing[] = {"--train", NULL};
    train_expect_error(missing, "missing value for --train");
    const char *range[] = {"--train", "a", "--rating-range", "5:1", NULL};
    train_expect_error(range, "--rating-range: expected LOW:HIGH, two finite numbers with LOW <= "
                              "HIGH (e.g. 1:5 or -10:10), found '5:1'");
    const char *same[] = {"--train", "a", "--user-column", "u\x1b[0m", "--item-column",
                          "u\x1b[0m", NULL};
    train_expect_error(same, "--user-column and --item-column are both 'u\\x1b[0m': they must "
                             "name two different columns");

    /* Accepted combinations. */
    char *ok[] = {"--train", "a", "--consistency", "bsp", "--servers", "4", "--vshards", "4",
                  "--format", "movielens-colons", "--log-level", "debug", "--optimizer",
                  "adagrad"};
    TrainConfig config;
    Error err = {{0}};
    ck_assert_msg(config_load_train(&config, 14, ok, &err) == 0, "%s", err.message);
    ck_assert_int_eq(config.consistency, CONSISTENCY_BSP);
    ck_assert_int_eq(config.log_level, 3);
    ck_assert_int_eq(config.optimizer, 1);

    /* The rating range reaches the data reader: the default, or as given. */
    ck_assert_str_eq(config.rating_range, DATASET_RATING_RANGE_DEFAULT);
    TrainingSetOptions set;
    EventWeights weights;
    config_training_set_options(&set, &weights, &config, model_find("mf"));
    ck_assert(set.dataset.rating_min == DATASET_RATING_MIN_DEFAULT &&
              set.dataset.rating_max == DATASET_RATING_MAX_DEFAULT);
    char *wide[] = {"--train", "a", "--rating-range", " -10 : 10 "};
    ck_assert_msg(config_load_train(&config, 4, wide, &err) == 0, "%s", err.message);
    config_training_set_options(&set, &weights, &config, model_find("mf"));
    ck_assert(set.dataset.rating_min == -10.0f && set.dataset.rating_max == 10.0f);
}
END_TEST

START_TEST(test_layout)
{
    TrainConfig config;
    Error err = {{0}};
    char *args[] = {"--train", "a", "--servers", "4"};
    ck_assert_int_eq(config_load_train(&config, 4, args, &err), 0);
    ck_assert_int_eq(config_check_layout(&config, 5, &err), 0);
    ck_assert_int_eq(config_check_layout(&config, 4, &err), -1);
    ck_assert_str_eq(err.message, "--servers 4 leaves no worker: mpirun -np 4 has 4 ranks; use "
                                  "--servers 1 to 3 or start more ranks");
    config.servers = 1;
    ck_assert_int_eq(config_check_layout(&config, 2, &err), 0);
    ck_assert_int_eq(config_check_layout(&config, 1, &err), -1);
    ck_assert_str_eq(err.message, "--servers 1 leaves no worker: the job has 1 rank; start at "
                                  "least 2 (mpirun -np 2)");
}
END_TEST

START_TEST(test_generate_and_predict_configs)
{
    GenerateConfig gen;
    Error err = {{0}};
    char *args[] = {"--users=100", "--items", "50", "--ratings", "2500", "--seed", "7",
                    "--test-out", "t.csv"};
    ck_assert_msg(config_load_generate(&gen, 9, args, &err) == 0, "%s", err.message);
    ck_assert_int_eq(gen.users, 100);
    ck_assert_uint_eq(gen.ratings, 2500);
    ck_assert_str_eq(gen.test_out_path, "t.csv");
    /* One more than users * items / 2 allows. */
    args[4] = "2501";
    ck_assert_int_eq(config_load_generate(&gen, 9, args, &err), -1);
    ck_assert_str_eq(err.message, "--ratings 2501 is more than --users 100 * --items 50 / 2 = "
                                  "2500 allows (a user rates at most half the items); raise "
                                  "--users or --items, or lower --ratings");
    char *same[] = {"--out", "x.csv", "--test-out", "x.csv"};
    ck_assert_int_eq(config_load_generate(&gen, 4, same, &err), -1);
    ck_assert_str_eq(err.message, "--test-out must differ from --out ('x.csv')");
    char *fraction[] = {"--test-fraction", "0.95"};
    ck_assert_int_eq(config_load_generate(&gen, 2, fraction, &err), -1);
    ck_assert_str_eq(err.message,
                     "--test-fraction: expected a number from 0 to 0.9, found '0.95'");
    char *help[] = {"--help"};
    ck_assert_int_eq(config_load_generate(&gen, 1, help, &err), 1);
    /* generate takes no --config: it is an unknown option there. */
    char *config_arg[] = {"--config", "x"};
    ck_assert_int_eq(config_load_generate(&gen, 2, config_arg, &err), -1);
    ck_assert_str_eq(err.message, "unknown option '--config' (see --help for the list)");

    PredictConfig predict;
    char *none[] = {"--run-dir", "runs/a"};
    ck_assert_int_eq(config_load_predict(&predict, 2, none, &err), -1);
    ck_assert_str_eq(err.message, "--pairs is required: the file of (user, item) pairs to score");
    ck_assert_int_eq(config_load_predict(&predict, 0, NULL, &err), -1);
    ck_assert_str_eq(err.message, "--run-dir is required: the run folder of a trained model");
    char *all[] = {"--run-dir", "runs/a", "--pairs", "p.csv", "--out", "o.csv",
                   "--skip-malformed", "--format", "csv"};
    ck_assert_msg(config_load_predict(&predict, 9, all, &err) == 0, "%s", err.message);
    ck_assert_str_eq(predict.pairs_path, "p.csv");
    ck_assert_str_eq(predict.out_path, "o.csv");
    ck_assert_str_eq(predict.user_column, "user_id");
    ck_assert(predict.skip_malformed);
    all[8] = "xml";
    ck_assert_int_eq(config_load_predict(&predict, 9, all, &err), -1);
    ck_assert_str_eq(err.message,
                     "--format: expected one of auto|csv|movielens|movielens-colons, found 'xml'");
}
END_TEST

static Suite *options_suite(void)
{
    Suite *suite = suite_create("options");
    TCase *parser = tcase_create("parser");
    tcase_add_checked_fixture(parser, scratch_setup, scratch_teardown);
    tcase_add_test(parser, test_defaults);
    tcase_add_test(parser, test_args_forms);
    tcase_add_test(parser, test_args_help);
    tcase_add_test(parser, test_args_errors);
    tcase_add_test(parser, test_error_leaves_field_unchanged);
    tcase_add_test(parser, test_find_arg);
    tcase_add_test(parser, test_file_parse);
    tcase_add_test(parser, test_file_errors);
    tcase_add_test(parser, test_file_not_text);
    tcase_add_test(parser, test_write_round_trip);
    tcase_add_test(parser, test_help_text);
    suite_add_tcase(suite, parser);

    TCase *config = tcase_create("config");
    tcase_add_checked_fixture(config, scratch_setup, scratch_teardown);
    tcase_add_test(config, test_tables_help_and_defaults);
    tcase_add_test(config, test_train_file_then_args);
    tcase_add_test(config, test_train_validation);
    tcase_add_test(config, test_layout);
    tcase_add_test(config, test_generate_and_predict_configs);
    suite_add_tcase(suite, config);
    return suite;
}

int main(void)
{
    return test_run_suite(options_suite());
}
