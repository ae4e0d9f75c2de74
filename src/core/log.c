/* log.c — leveled logging to stderr and the single fatal path.
 *
 * The only global state here is the identity prefix, the level and the abort
 * handler; all are set once at start-up by main/comm.
 */
#include "psrec/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char log_prefix[64] = "psrec";
static LogLevel log_level = LOG_LEVEL_INFO;
static void (*log_abort_handler)(int exit_code) = NULL;

static const char *const LEVEL_NAMES[] = {"error", "warning", "info", "debug"};

void log_set_identity(int rank, const char *role)
{
    snprintf(log_prefix, sizeof log_prefix, "rank %d %s", rank, role);
}

void log_set_level(LogLevel level) { log_level = level; }

LogLevel log_get_level(void) { return log_level; }

void log_set_abort_handler(void (*handler)(int exit_code)) { log_abort_handler = handler; }

void log_write(LogLevel level, const char *file, int line, const char *fmt, ...)
{
    char message[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    /* One fprintf per line so lines from different ranks do not interleave. */
    if (level == LOG_LEVEL_DEBUG)
        fprintf(stderr, "[%s] %s: %s (%s:%d)\n", log_prefix, LEVEL_NAMES[level], message, file,
                line);
    else
        fprintf(stderr, "[%s] %s: %s\n", log_prefix, LEVEL_NAMES[level], message);
}

_Noreturn void log_fatal_at(const char *file, int line, const char *fmt, ...)
{
    char message[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    fprintf(stderr, "[%s] fatal: %s (%s:%d)\n", log_prefix, message, file, line);
    fflush(stderr);
    if (log_abort_handler)
        log_abort_handler(1);
    abort();
}
