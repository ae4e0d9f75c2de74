/* util.h — small pieces every module uses: checked allocation, the error
 * message type, hashing, a seeded random generator, a clock and a search of
 * sorted ids.
 *
 * Out of memory is handled here and only here: x*alloc never return NULL.
 * Expected failures (bad input a user can fix) are reported through Error:
 * a function returns a negative code and leaves a one-line message in *err.
 */
#ifndef PSREC_UTIL_H
#define PSREC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* ---- allocation: on failure these call fatal(), so they never return NULL */
void *xmalloc(size_t bytes);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t bytes);
char *xstrdup(const char *text);

/* ---- expected errors */
#define ERROR_MESSAGE_BYTES 1024
typedef struct {
    char message[ERROR_MESSAGE_BYTES];
} Error;

/* Formats the message into err (if err is not NULL) and returns -1, so a
 * caller can write `return error_set(err, "...", ...);`. */
int error_set(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- hashing: a full-avalanche 64-bit mix (splitmix64 finaliser). */
uint64_t hash_u64(uint64_t x);

/* ---- random numbers: splitmix64 stream; the same seed gives the same
 * sequence on every platform. */
typedef struct {
    uint64_t state;
} Rng;

void rng_seed(Rng *rng, uint64_t seed);
uint64_t rng_next_u64(Rng *rng);
/* Uniform in [0, 1). */
double rng_uniform(Rng *rng);
/* Uniform integer in [0, bound); bound > 0. */
uint64_t rng_below(Rng *rng, uint64_t bound);
/* Standard normal (Box-Muller). */
double rng_normal(Rng *rng);

/* ---- time: monotonic seconds. */
double time_now_s(void);
/* The most resident memory this process has used so far, in MiB (0 where
 * the system does not say). */
double process_peak_memory_mib(void);

/* ---- sorted arrays: whether value is in sorted[0, n), which is ascending
 * (binary search; sorted may be NULL when n is 0). */
bool sorted_u32_contains(const uint32_t *sorted, size_t n, uint32_t value);

/* The position of value in sorted[0, n) (ascending), or -1. */
int64_t sorted_u64_find(const uint64_t *sorted, size_t n, uint64_t value);

/* Sorts values[0, n) ascending and drops repeats, in place; returns how many
 * distinct values remain at the front. */
size_t sort_unique_u32(uint32_t *values, size_t n);
size_t sort_unique_u64(uint64_t *values, size_t n);

/* ---- growable byte buffer, used for encoded messages and file images. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} ByteBuffer;

/* Makes room for at least `bytes` bytes in total (len is unchanged). */
void bytebuffer_reserve(ByteBuffer *buf, size_t bytes);
/* Appends data[0..bytes) after buf's len, growing it as needed. */
void bytebuffer_append(ByteBuffer *buf, const void *data, size_t bytes);
void bytebuffer_free(ByteBuffer *buf);

/* ---- checksum for files: 64-bit FNV-1a, continued from `seed` (start with
 * CHECKSUM_INIT). */
#define CHECKSUM_INIT 0xcbf29ce484222325ULL
uint64_t checksum_update(uint64_t seed, const void *data, size_t bytes);

/* ---- files */

/* Creates directory path and its missing parents (like mkdir -p).
 * Returns 0, or -1 with "cannot create directory X: reason". */
int path_make_dirs(const char *path, Error *err);

/* Opens path for reading as text, refusing anything but a regular file
 * (a FIFO would block in open() forever, a folder reads as nothing).
 * Returns the stream, or NULL with *why saying what was wrong (a constant
 * or strerror text, for the caller's message). */
FILE *file_open_regular(const char *path, const char **why);

#endif
