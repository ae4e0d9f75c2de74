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

/* Memory for a large table read at random (a server's rows, hash slots).
 * With 4 KiB pages nearly every random access there also misses the TLB;
 * from here, blocks of HUGE_PAGE_BYTES or more are aligned to that size and
 * the kernel is asked to back them with huge pages (Linux transparent huge
 * pages, which in "madvise" mode are used only where asked). Free with
 * free(). xmalloc_huge_size rounds a size up to what such a block really
 * takes, so callers can fill it. */
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/* Marks a hot loop to be compiled once per vector width the CPU may have,
 * the widest it has chosen when the program starts (GCC's and clang's
 * function multi-versioning): a portable binary that still uses AVX2 or
 * AVX-512 where present. Only element-wise float arithmetic belongs there:
 * without contraction into FMA (ISO C mode), every width rounds alike, so
 * results do not depend on the machine. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define VECTOR_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define VECTOR_CLONES
#endif
void *xmalloc_huge(size_t bytes);
size_t xmalloc_huge_size(size_t bytes);

/* ---- expected errors */
#define ERROR_MESSAGE_BYTES 1024
typedef struct {
    char message[ERROR_MESSAGE_BYTES];
} Error;

/* Formats the message into err (if err is not NULL) and returns -1, so a
 * caller can write `return error_set(err, "...", ...);`. */
int error_set(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- quoting input in messages: a message that quotes text from a user's
 * file or flag shows it through text_escape, so a control character or a
 * binary byte can never reach the terminal as itself. */

/* Writes text[0, len) into out (out_bytes >= 8) as a message can show it:
 * printable ASCII and well-formed UTF-8 as they are; a backslash as \\;
 * tab, newline, carriage return and NUL as \t \n \r \0; other control
 * characters (C0, DEL, and C1 in UTF-8), bytes that are not well-formed
 * UTF-8 and the bidirectional and line-separator format characters (which
 * would reorder or break the line on screen) as \xNN per byte. Escaped
 * text longer than out_bytes - 4 is cut between characters and ends with
 * "..." (so a message quoting input stays short). Returns out. */
const char *text_escape(char *out, size_t out_bytes, const char *text, size_t len);

/* What most messages quote: a whole string, escaped, at most 80 characters
 * shown, into out (TEXT_QUOTE_BYTES). Returns out. */
#define TEXT_QUOTE_BYTES 84
const char *text_quote(char *out, const char *text);

/* ---- what a text file holds, before reading it by lines */

/* How many bytes of a file's start text_check_head wants to see. */
#define TEXT_HEAD_BYTES 512

/* Checks the first bytes of a file that should be UTF-8 (or ASCII) text:
 * head[0, len) with len at most TEXT_HEAD_BYTES, the whole file when it is
 * shorter. Refuses UTF-16 and UTF-32 (by their byte-order marks, or, without
 * one, by every other byte being NUL), mostly-NUL binary data and the
 * common compressed formats (gzip, zip, bzip2, xz, zstd), each with
 * "PATH: looks like <what>; <what to do>". Returns 0 (a UTF-8 byte-order
 * mark is fine: the reader skips it), or -1 with that message in *err. */
int text_check_head(const char *path, const void *head, size_t len, Error *err);

/* The message for a line holding a NUL byte, which text never does:
 * "PATH:LINE: NUL byte in the line (byte N): ...". column is the 1-based
 * byte of the first NUL. Returns -1. */
int error_set_nul_line(Error *err, const char *path, long long line_no, size_t column);

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
/* n draws from N(0, std²) into out: the same distribution as rng_normal
 * at about a fifth of its cost (Marsaglia's polar method, two draws per
 * accepted pair and no trigonometry), for initialising many weights. */
void rng_fill_normal(Rng *rng, float *out, size_t n, float std);

/* ---- time: monotonic seconds. */
double time_now_s(void);
/* The most resident memory this process has used so far, in MiB (0 where
 * the system does not say). */
double process_peak_memory_mib(void);

/* ---- the machine: what a job about to allocate or write can count on */

/* Processors online (sysconf), at least 1. */
int machine_cores(void);

/* Physical memory in bytes (sysconf), or 0 where the system does not say. */
uint64_t memory_physical_bytes(void);

/* Memory a new allocation can get without swapping, in bytes: MemAvailable
 * of /proc/meminfo, lowered to what is left under a cgroup v2 memory limit
 * (containers, Slurm jobs); 0 where the system does not say. */
uint64_t memory_available_bytes(void);

/* Bytes free for an unprivileged writer on the file system holding path
 * (statvfs), or -1 when the system does not say. */
double path_free_bytes(const char *path);

/* "12.3 GiB", "456.0 MiB", "789 bytes": bytes for a message, into out. */
const char *bytes_format(char *out, size_t out_bytes, double bytes);

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

/* file_open_regular, then text_check_head on the first bytes (UTF-16,
 * binary or compressed files are refused saying so). Returns the stream at
 * its start, or NULL with a message: "cannot open <what>PATH: why" (what:
 * e.g. "config file " or ""), or the check's. */
FILE *file_open_text(const char *path, const char *what, Error *err);

#endif
