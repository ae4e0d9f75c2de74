/* log.h — leveled logging and the single fatal-error path.
 *
 * Every line is prefixed with the rank and role set by log_set_identity, so a
 * message from a 16-rank job says who wrote it. fatal() is the one way out for
 * conditions the program cannot recover from (out of memory, protocol
 * violation, corrupt file): it logs file and line, then calls the abort
 * handler the comm module installed (MPI_Abort), so no rank is left hanging.
 * The log macros do not evaluate their arguments when the level is off.
 */
#ifndef PSREC_LOG_H
#define PSREC_LOG_H

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3
} LogLevel;

/* Sets the prefix of every later line: "[rank 3 server]". role is copied. */
void log_set_identity(int rank, const char *role);

void log_set_level(LogLevel level);
LogLevel log_get_level(void);

/* Installs what fatal() calls after logging. Without a handler fatal() calls
 * abort(). The comm module installs MPI_Abort here after MPI_Init. */
void log_set_abort_handler(void (*handler)(int exit_code));

/* Writes one line to stderr at the given level. Use the macros below. */
void log_write(LogLevel level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Logs "fatal: <message> (file:line)" and ends the whole job with exit code 1.
 * Never returns. */
_Noreturn void log_fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_AT(level, ...)                                                   \
    do {                                                                     \
        if (log_get_level() >= (level))                                      \
            log_write((level), __FILE__, __LINE__, __VA_ARGS__);             \
    } while (0)

#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

#define fatal(...) log_fatal_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
