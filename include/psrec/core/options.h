/* options.h — configuration from a table of long options.
 *
 * A program describes its configuration struct once, as a table of
 * OptionSpec (name, type, where in the struct, default, help). From that
 * table come the defaults, the command-line parser (`--name value`,
 * `--name=value`, and `--name` alone for flags), the parser of `key = value`
 * config files whose keys are the long option names, the --help text, and
 * the echo of the final values (in the config-file format, so a run's saved
 * configuration can be fed back with --config).
 */
#ifndef PSREC_OPTIONS_H
#define PSREC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "psrec/core/util.h"

typedef enum {
    OPTION_INT,     /* int */
    OPTION_UINT64,  /* uint64_t */
    OPTION_FLOAT,   /* float */
    OPTION_DOUBLE,  /* double */
    OPTION_BOOL,    /* bool; "--name" alone sets it, or true/false/1/0/yes/no */
    OPTION_STRING,  /* char[OPTION_STRING_BYTES] */
    OPTION_CHOICE   /* int: the index of the value in `choices` ("a|b|c") */
} OptionType;

#define OPTION_STRING_BYTES 1024

typedef struct {
    const char *name;          /* long name without dashes, e.g. "batch-size" */
    OptionType type;
    size_t offset;             /* offsetof(struct, field) */
    const char *default_value; /* as it would be written on the command line */
    const char *help;          /* one line */
    const char *choices;       /* OPTION_CHOICE only: "adam|adagrad|sgd" */
    double min_value;          /* numeric options: inclusive range; */
    double max_value;          /* min_value > max_value means unbounded */
} OptionSpec;

/* Sets every field of config to its default. The defaults in the table must
 * parse (a bad default is a programming error: assert). */
void options_set_defaults(const OptionSpec *specs, int n_specs, void *config);

/* Sets one option from its text value. Returns 0, or -1 with a message such
 * as "--epochs: expected an integer from 1 to 100000, found 'abc'". */
int options_set(const OptionSpec *specs, int n_specs, void *config, const char *name,
                const char *value, Error *err);

/* Parses argv[0..argc) (no program or subcommand name in it). Unknown
 * options, missing values and stray arguments are errors naming the
 * argument. `--help` sets *help_requested and stops. */
int options_parse_args(const OptionSpec *specs, int n_specs, void *config, int argc,
                       char **argv, bool *help_requested, Error *err);

/* Reads a `key = value` file (blank lines and lines starting with # are
 * ignored; a value may be quoted). Errors name FILE:LINE. */
int options_parse_file(const OptionSpec *specs, int n_specs, void *config, const char *path,
                       Error *err);

/* The value of `--name VALUE` or `--name=VALUE` in argv, or NULL. Used to
 * find --config before the rest of the command line is applied. */
const char *options_find_arg(int argc, char **argv, const char *name);

/* The current value of option `name` as it would be typed (a choice as its
 * name), into out (OPTION_STRING_BYTES bytes). The option must exist. */
void options_value_text(const OptionSpec *specs, int n_specs, const void *config,
                        const char *name, char *out);

/* Writes "usage" help: one line per option with its default and choices. */
void options_print_help(FILE *out, const OptionSpec *specs, int n_specs);

/* Writes every option as `name = value` lines (re-readable by
 * options_parse_file), except those named in skip (a NULL-terminated list;
 * NULL: none). */
void options_write(FILE *out, const OptionSpec *specs, int n_specs, const void *config,
                   const char *const *skip);

#endif
