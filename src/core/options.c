/* options.c — the table-driven option parser behind every subcommand.
 *
 * One OptionSpec table per configuration struct drives the defaults, the
 * command line, `key = value` config files, --help and the echo of the final
 * values. Every value, wherever it comes from, goes through option_parse_value,
 * so a value is accepted or rejected (with the same message) the same way on
 * the command line and in a file. What options_write prints parses back to
 * the identical struct: floats are written with the fewest digits that round
 * trip, strings are quoted when plain text would not survive the reader.
 */
#include "psrec/core/options.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "psrec/core/util.h"

/* Longest name considered for a "did you mean" suggestion. */
#define OPTION_NAME_MAX 64

/* ---- small text helpers */

static bool char_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char char_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool text_equal_nocase(const char *a, const char *b)
{
    while (*a && *b && char_lower(*a) == char_lower(*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* ---- the table */

static const OptionSpec *options_find(const OptionSpec *specs, int n_specs, const char *name)
{
    for (int i = 0; i < n_specs; i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

static bool spec_is_bounded(const OptionSpec *spec) { return spec->min_value <= spec->max_value; }

/* Edit distance of a and b counting an insertion, deletion, substitution
 * or swap of neighbours as one edit ("trian" is one edit from "train"), or
 * INT_MAX when either is longer than OPTION_NAME_MAX (such names are never
 * worth suggesting). */
static int text_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > OPTION_NAME_MAX || lb > OPTION_NAME_MAX)
        return INT_MAX;
    /* Three rows of the (la+1) x (lb+1) table: i-2, i-1 and i. */
    int rows[3][OPTION_NAME_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

/* The option a mistyped name most likely meant, or NULL: the closest name
 * within a small edit distance, else the only name that begins the typed
 * text or that the typed text begins ("--learning", "--dimension"). */
static const char *options_suggest(const OptionSpec *specs, int n_specs, const char *typed)
{
    size_t len = strlen(typed);
    int limit = (int)(len / 3);
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    const char *best = NULL;
    int best_distance = INT_MAX;
    for (int i = 0; i < n_specs; i++) {
        int d = text_edit_distance(typed, specs[i].name);
        if (d < best_distance) {
            best_distance = d;
            best = specs[i].name;
        }
    }
    if (best && best_distance <= limit)
        return best;
    if (len < 3)
        return NULL;
    const char *prefixed = NULL;
    for (int i = 0; i < n_specs; i++) {
        size_t name_len = strlen(specs[i].name);
        bool typed_starts_name = strncmp(specs[i].name, typed, len) == 0;
        bool name_starts_typed = name_len >= 3 && strncmp(typed, specs[i].name, name_len) == 0;
        if (typed_starts_name || name_starts_typed) {
            if (prefixed)
                return NULL; /* ambiguous: better no hint than a wrong one */
            prefixed = specs[i].name;
        }
    }
    return prefixed;
}

/* The choice named `value` in "a|b|c": its index, or -1. */
static int choice_index(const char *choices, const char *value)
{
    size_t value_len = strlen(value);
    int index = 0;
    const char *start = choices;
    for (;;) {
        const char *bar = strchr(start, '|');
        size_t len = bar ? (size_t)(bar - start) : strlen(start);
        if (len == value_len && strncmp(start, value, len) == 0)
            return index;
        if (!bar)
            return -1;
        start = bar + 1;
        index++;
    }
}

/* Writes choice number `index` of "a|b|c" into out (OPTION_STRING_BYTES). */
static void choice_name(const char *choices, int index, char *out)
{
    const char *start = choices;
    for (int i = 0; i < index; i++) {
        start = strchr(start, '|');
        assert(start && "choice index out of range");
        start++;
    }
    const char *bar = strchr(start, '|');
    size_t len = bar ? (size_t)(bar - start) : strlen(start);
    assert(len < OPTION_STRING_BYTES);
    memcpy(out, start, len);
    out[len] = '\0';
}

/* Parses a boolean literal; returns 0 or -1 when text is none. */
static int bool_parse(const char *text, bool *out)
{
    static const char *const TRUE_WORDS[] = {"true", "yes", "on", "1"};
    static const char *const FALSE_WORDS[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof TRUE_WORDS / sizeof *TRUE_WORDS; i++) {
        if (text_equal_nocase(text, TRUE_WORDS[i])) {
            *out = true;
            return 0;
        }
        if (text_equal_nocase(text, FALSE_WORDS[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Writes " from MIN to MAX" (or nothing when unbounded) into out. */
static const char *range_text(char *out, size_t bytes, const OptionSpec *spec)
{
    if (spec_is_bounded(spec))
        snprintf(out, bytes, " from %.15g to %.15g", spec->min_value, spec->max_value);
    else
        out[0] = '\0';
    return out;
}

/* Parses `value` for one option and stores it in config. `label` names the
 * option in messages ("--epochs" on the command line, "epochs" in a file).
 * Returns 0, or -1 with "LABEL: expected …, found 'VALUE'"; on error the
 * field is unchanged. */
static int option_parse_value(const OptionSpec *spec, void *config, const char *value,
                              const char *label, Error *err)
{
    char *field = (char *)config + spec->offset;
    char quoted[TEXT_QUOTE_BYTES];
    char range[128];
    char *end = NULL;

    switch (spec->type) {
    case OPTION_INT: {
        errno = 0;
        long parsed = value[0] && !char_is_space(value[0]) ? strtol(value, &end, 10) : 0;
        bool ok = end && end != value && *end == '\0' && errno == 0 && parsed >= INT_MIN &&
                  parsed <= INT_MAX;
        if (ok && spec_is_bounded(spec))
            ok = (double)parsed >= spec->min_value && (double)parsed <= spec->max_value;
        if (!ok)
            return error_set(err, "%s: expected an integer%s, found '%s'", label,
                             range_text(range, sizeof range, spec), text_quote(quoted, value));
        int stored = (int)parsed;
        memcpy(field, &stored, sizeof stored);
        return 0;
    }
    case OPTION_UINT64: {
        errno = 0;
        /* strtoull accepts "-1" and wraps it: a sign is never valid here. */
        bool digit_first = value[0] >= '0' && value[0] <= '9';
        unsigned long long parsed = digit_first ? strtoull(value, &end, 10) : 0;
        bool ok = digit_first && *end == '\0' && errno == 0;
        if (ok && spec_is_bounded(spec))
            ok = (double)parsed >= spec->min_value && (double)parsed <= spec->max_value;
        if (!ok)
            return error_set(err, "%s: expected a non-negative integer%s, found '%s'", label,
                             range_text(range, sizeof range, spec), text_quote(quoted, value));
        uint64_t stored = (uint64_t)parsed;
        memcpy(field, &stored, sizeof stored);
        return 0;
    }
    case OPTION_FLOAT:
    case OPTION_DOUBLE: {
        errno = 0;
        double parsed = value[0] && !char_is_space(value[0]) ? strtod(value, &end) : 0.0;
        bool ok = end && end != value && *end == '\0' && errno != ERANGE && isfinite(parsed);
        if (ok && spec->type == OPTION_FLOAT)
            ok = fabs(parsed) <= FLT_MAX;
        if (ok && spec_is_bounded(spec))
            ok = parsed >= spec->min_value && parsed <= spec->max_value;
        if (!ok)
            return error_set(err, "%s: expected a number%s, found '%s'", label,
                             range_text(range, sizeof range, spec), text_quote(quoted, value));
        if (spec->type == OPTION_FLOAT) {
            float stored = (float)parsed;
            memcpy(field, &stored, sizeof stored);
        } else {
            memcpy(field, &parsed, sizeof parsed);
        }
        return 0;
    }
    case OPTION_BOOL: {
        bool parsed;
        if (bool_parse(value, &parsed) != 0)
            return error_set(err, "%s: expected true or false, found '%s'", label,
                             text_quote(quoted, value));
        memcpy(field, &parsed, sizeof parsed);
        return 0;
    }
    case OPTION_STRING: {
        size_t len = strlen(value);
        if (len >= OPTION_STRING_BYTES)
            return error_set(err, "%s: the value is %zu bytes long, the limit is %d: '%s'", label,
                             len, OPTION_STRING_BYTES - 1, text_quote(quoted, value));
        /* Zero the whole buffer so two configs with equal strings compare
         * equal byte for byte. */
        memset(field, 0, OPTION_STRING_BYTES);
        memcpy(field, value, len);
        return 0;
    }
    case OPTION_CHOICE: {
        assert(spec->choices);
        int index = choice_index(spec->choices, value);
        if (index < 0)
            return error_set(err, "%s: expected one of %s, found '%s'", label, spec->choices,
                             text_quote(quoted, value));
        memcpy(field, &index, sizeof index);
        return 0;
    }
    }
    assert(!"unknown option type");
    return -1;
}

void options_set_defaults(const OptionSpec *specs, int n_specs, void *config)
{
    for (int i = 0; i < n_specs; i++) {
        Error err;
        int rc = option_parse_value(&specs[i], config, specs[i].default_value, specs[i].name, &err);
        assert(rc == 0 && "an option table default does not parse");
        (void)rc;
    }
}

/* "unknown option '--x'" with a suggestion when one is close. */
static int error_unknown_option(const OptionSpec *specs, int n_specs, const char *name, Error *err)
{
    char quoted[TEXT_QUOTE_BYTES];
    const char *hint = options_suggest(specs, n_specs, name);
    if (hint)
        return error_set(err, "unknown option '--%s' (did you mean --%s?)",
                         text_quote(quoted, name), hint);
    return error_set(err, "unknown option '--%s' (see --help for the list)",
                     text_quote(quoted, name));
}

int options_set(const OptionSpec *specs, int n_specs, void *config, const char *name,
                const char *value, Error *err)
{
    const OptionSpec *spec = options_find(specs, n_specs, name);
    if (!spec)
        return error_unknown_option(specs, n_specs, name, err);
    char label[OPTION_NAME_MAX + 8];
    snprintf(label, sizeof label, "--%s", spec->name);
    return option_parse_value(spec, config, value, label, err);
}

/* Handles one "--name[=value]" argument at argv[*index], consuming a
 * following value argument when the option takes one (advancing *index). */
static int options_parse_one(const OptionSpec *specs, int n_specs, void *config, int argc,
                             char **argv, int *index, Error *err)
{
    char quoted[TEXT_QUOTE_BYTES];
    const char *arg = argv[*index] + 2;
    const char *equals = strchr(arg, '=');
    char name[OPTION_NAME_MAX + 1];
    size_t name_len = equals ? (size_t)(equals - arg) : strlen(arg);
    if (name_len == 0 || name_len > OPTION_NAME_MAX)
        return error_set(err, "unexpected argument '%s'", text_quote(quoted, argv[*index]));
    memcpy(name, arg, name_len);
    name[name_len] = '\0';

    const OptionSpec *spec = options_find(specs, n_specs, name);
    if (!spec && !equals && strncmp(name, "no-", 3) == 0) {
        /* --no-NAME turns a flag off. */
        const OptionSpec *flag = options_find(specs, n_specs, name + 3);
        if (flag && flag->type == OPTION_BOOL)
            return option_parse_value(flag, config, "false", argv[*index], err);
    }
    if (!spec)
        return error_unknown_option(specs, n_specs, name, err);

    char label[OPTION_NAME_MAX + 8];
    snprintf(label, sizeof label, "--%s", spec->name);
    if (equals)
        return option_parse_value(spec, config, equals + 1, label, err);

    const char *next = *index + 1 < argc ? argv[*index + 1] : NULL;
    if (spec->type == OPTION_BOOL) {
        /* "--flag" alone means true; "--flag false" is taken too, since no
         * positional argument could be meant instead. */
        bool literal;
        if (next && bool_parse(next, &literal) == 0) {
            (*index)++;
            return option_parse_value(spec, config, next, label, err);
        }
        return option_parse_value(spec, config, "true", label, err);
    }
    /* A value never starts with "--": that is the next option, so this one
     * was given without its value. */
    if (!next || strncmp(next, "--", 2) == 0)
        return error_set(err, "missing value for %s", label);
    (*index)++;
    return option_parse_value(spec, config, next, label, err);
}

int options_parse_args(const OptionSpec *specs, int n_specs, void *config, int argc,
                       char **argv, bool *help_requested, Error *err)
{
    char quoted[TEXT_QUOTE_BYTES];
    *help_requested = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help_requested = true;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (arg[0] == '-' && arg[1] != '\0')
                return error_set(err, "unexpected argument '%s' (options start with --)",
                                 text_quote(quoted, arg));
            return error_set(err, "unexpected argument '%s'", text_quote(quoted, arg));
        }
        if (options_parse_one(specs, n_specs, config, argc, argv, &i, err) != 0)
            return -1;
    }
    return 0;
}

/* Extracts the value of a config-file line (the text after '=', leading
 * space already skipped) into out (line-sized). Handles "double" quotes with
 * \" \\ \n \t escapes, 'single' quotes taken literally, and an unquoted
 * value whose trailing "# comment" and spaces are dropped. Returns 0, or -1
 * with a message (without FILE:LINE) in err. */
static int file_parse_value(const char *text, char *out, Error *err)
{
    char quoted[TEXT_QUOTE_BYTES];
    size_t n = 0;
    const char *p = text;
    if (*p == '"' || *p == '\'') {
        char quote = *p++;
        while (*p && *p != quote) {
            if (quote == '"' && *p == '\\' && p[1]) {
                p++;
                switch (*p) {
                case 'n': out[n++] = '\n'; break;
                case 't': out[n++] = '\t'; break;
                case 'r': out[n++] = '\r'; break;
                default: out[n++] = *p; break;
                }
                p++;
            } else {
                out[n++] = *p++;
            }
        }
        if (*p != quote)
            return error_set(err, "missing closing %c in '%s'", quote, text_quote(quoted, text));
        p++;
        while (char_is_space(*p))
            p++;
        if (*p && *p != '#')
            return error_set(err, "unexpected text after the closing quote: '%s'",
                             text_quote(quoted, p));
        out[n] = '\0';
        return 0;
    }
    for (; *p; p++) {
        /* '#' starts a comment only after a space, so "a#b" stays a value. */
        if (*p == '#' && (n == 0 || char_is_space(out[n - 1])))
            break;
        out[n++] = *p;
    }
    while (n > 0 && char_is_space(out[n - 1]))
        n--;
    out[n] = '\0';
    return 0;
}

int options_parse_file(const OptionSpec *specs, int n_specs, void *config, const char *path,
                       Error *err)
{
    /* UTF-16, binary or compressed text would read as garbage keys. */
    FILE *file = file_open_text(path, "config file ", err);
    if (!file)
        return -1;

    char quoted[TEXT_QUOTE_BYTES];
    char *line = NULL;
    size_t line_cap = 0;
    char *value = NULL;
    size_t value_cap = 0;
    int rc = 0;
    ssize_t len;
    for (long line_no = 1; (len = getline(&line, &line_cap, file)) != -1; line_no++) {
        /* The string functions below would stop at a NUL and read a cut line. */
        const char *nul = memchr(line, '\0', (size_t)len);
        if (nul) {
            rc = error_set_nul_line(err, path, line_no, (size_t)(nul - line) + 1);
            break;
        }
        while (len > 0 && char_is_space(line[len - 1]))
            line[--len] = '\0';
        char *start = line;
        /* A byte-order mark that some editors put first is not part of the
         * first key. */
        if (line_no == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
            start += 3;
        while (char_is_space(*start))
            start++;
        if (*start == '\0' || *start == '#')
            continue;

        char *equals = strchr(start, '=');
        char *key_end = equals;
        while (key_end && key_end > start && char_is_space(key_end[-1]))
            key_end--;
        bool key_ok = equals && key_end > start;
        for (char *c = start; key_ok && c < key_end; c++)
            key_ok = !char_is_space(*c);
        if (!key_ok) {
            rc = error_set(err, "%s:%ld: expected 'key = value', found '%s'", path, line_no,
                           text_quote(quoted, start));
            break;
        }
        *key_end = '\0';

        const OptionSpec *spec = options_find(specs, n_specs, start);
        if (!spec) {
            const char *hint = options_suggest(specs, n_specs, start);
            if (hint)
                rc = error_set(err, "%s:%ld: unknown key '%s' (did you mean '%s'?)", path,
                               line_no, text_quote(quoted, start), hint);
            else
                rc = error_set(err, "%s:%ld: unknown key '%s'", path, line_no,
                               text_quote(quoted, start));
            break;
        }

        char *text = equals + 1;
        while (char_is_space(*text))
            text++;
        if ((size_t)len + 1 > value_cap) {
            value_cap = (size_t)len + 1;
            value = xrealloc(value, value_cap);
        }
        Error inner;
        if (file_parse_value(text, value, &inner) != 0 ||
            option_parse_value(spec, config, value, spec->name, &inner) != 0) {
            rc = error_set(err, "%s:%ld: %s", path, line_no, inner.message);
            break;
        }
    }
    if (rc == 0 && ferror(file))
        rc = error_set(err, "error reading config file '%s': %s", path, strerror(errno));
    free(line);
    free(value);
    fclose(file);
    return rc;
}

const char *options_find_arg(int argc, char **argv, const char *name)
{
    const char *found = NULL;
    size_t name_len = strlen(name);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, name_len) != 0)
            continue;
        const char *rest = arg + 2 + name_len;
        if (*rest == '=')
            found = rest + 1;
        else if (*rest == '\0' && i + 1 < argc)
            found = argv[++i];
    }
    return found;
}

/* ---- writing values back */

/* Writes the shortest "%.Ng" text of x that reads back as the same value
 * (as a float when is_float), so echoes read 0.1 rather than 0.10000000149. */
static void number_format(char *out, size_t bytes, double x, bool is_float)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(out, bytes, "%.*g", digits, x);
        double back = strtod(out, NULL);
        if (is_float ? (float)back == (float)x : back == x)
            return;
    }
}

/* Formats the current value of one option as it would be typed on the
 * command line (unquoted) into out (OPTION_STRING_BYTES). */
static void option_format_value(const OptionSpec *spec, const void *config, char *out)
{
    assert(out != NULL); /* also keeps gcc's -fsanitize=null paths from warning */
    const char *field = (const char *)config + spec->offset;
    switch (spec->type) {
    case OPTION_INT: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(out, OPTION_STRING_BYTES, "%d", v);
        return;
    }
    case OPTION_UINT64: {
        uint64_t v;
        memcpy(&v, field, sizeof v);
        snprintf(out, OPTION_STRING_BYTES, "%" PRIu64, v);
        return;
    }
    case OPTION_FLOAT: {
        float v;
        memcpy(&v, field, sizeof v);
        number_format(out, OPTION_STRING_BYTES, v, true);
        return;
    }
    case OPTION_DOUBLE: {
        double v;
        memcpy(&v, field, sizeof v);
        number_format(out, OPTION_STRING_BYTES, v, false);
        return;
    }
    case OPTION_BOOL: {
        bool v;
        memcpy(&v, field, sizeof v);
        snprintf(out, OPTION_STRING_BYTES, "%s", v ? "true" : "false");
        return;
    }
    case OPTION_STRING:
        memcpy(out, field, OPTION_STRING_BYTES);
        out[OPTION_STRING_BYTES - 1] = '\0';
        return;
    case OPTION_CHOICE: {
        int v;
        memcpy(&v, field, sizeof v);
        choice_name(spec->choices, v, out);
        return;
    }
    }
    assert(!"unknown option type");
}

void options_value_text(const OptionSpec *specs, int n_specs, const void *config,
                        const char *name, char *out)
{
    const OptionSpec *spec = options_find(specs, n_specs, name);
    assert(spec != NULL);
    option_format_value(spec, config, out);
}

/* True when a string must be quoted to read back unchanged from a file. */
static bool text_needs_quotes(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || char_is_space(text[0]) || char_is_space(text[len - 1]))
        return true;
    return strpbrk(text, "#\"'\\\n\r\t") != NULL;
}

static void text_write_quoted(FILE *out, const char *text)
{
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default: fputc(*p, out); break;
        }
    }
    fputc('"', out);
}

void options_write(FILE *out, const OptionSpec *specs, int n_specs, const void *config,
                   const char *const *skip)
{
    char value[OPTION_STRING_BYTES];
    for (int i = 0; i < n_specs; i++) {
        bool skipped = false;
        for (const char *const *name = skip; name && *name && !skipped; name++)
            skipped = strcmp(specs[i].name, *name) == 0;
        if (skipped)
            continue;
        option_format_value(&specs[i], config, value);
        fprintf(out, "%s = ", specs[i].name);
        if (specs[i].type == OPTION_STRING && text_needs_quotes(value))
            text_write_quoted(out, value);
        else
            fputs(value, out);
        fputc('\n', out);
    }
}

/* ---- help */

static const char *option_metavar(const OptionSpec *spec)
{
    switch (spec->type) {
    case OPTION_INT:
    case OPTION_UINT64: return " N";
    case OPTION_FLOAT:
    case OPTION_DOUBLE: return " X";
    case OPTION_BOOL: return "";
    case OPTION_STRING: return " VALUE";
    case OPTION_CHOICE: return " NAME";
    }
    return "";
}

void options_print_help(FILE *out, const OptionSpec *specs, int n_specs)
{
    int width = (int)strlen("--help");
    for (int i = 0; i < n_specs; i++) {
        int w = 2 + (int)strlen(specs[i].name) + (int)strlen(option_metavar(&specs[i]));
        if (w > width)
            width = w;
    }
    for (int i = 0; i < n_specs; i++) {
        const OptionSpec *spec = &specs[i];
        char flag[OPTION_NAME_MAX + 16];
        snprintf(flag, sizeof flag, "--%s%s", spec->name, option_metavar(spec));
        fprintf(out, "  %-*s   %s", width, flag, spec->help);

        char details[512];
        size_t n = 0;
        const char *def = spec->default_value;
        if (spec->type == OPTION_BOOL) {
            bool on = false;
            bool_parse(def, &on);
            if (on)
                n += (size_t)snprintf(details + n, sizeof details - n,
                                      "default: true; --no-%s turns it off", spec->name);
            else
                n += (size_t)snprintf(details + n, sizeof details - n, "default: false");
        } else if (def[0] != '\0') {
            n += (size_t)snprintf(details + n, sizeof details - n, "default: %s", def);
        }
        if (spec->type == OPTION_CHOICE)
            n += (size_t)snprintf(details + n, sizeof details - n, "%sone of %s", n ? "; " : "",
                                  spec->choices);
        else if (spec->type != OPTION_STRING && spec->type != OPTION_BOOL &&
                 spec_is_bounded(spec))
            n += (size_t)snprintf(details + n, sizeof details - n, "%s%.15g to %.15g",
                                  n ? "; " : "", spec->min_value, spec->max_value);
        if (n > 0)
            fprintf(out, " (%s)", details);
        fputc('\n', out);
    }
    fprintf(out, "  %-*s   %s\n", width, "--help", "show this help and exit");
}
