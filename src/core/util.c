/* util.c — checked allocation, error messages, hashing, random numbers,
 * time, sorted search, byte buffers and checksums. */
#include "psrec/core/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "psrec/core/log.h"

void *xmalloc(size_t bytes)
{
    void *ptr = malloc(bytes ? bytes : 1);
    if (!ptr)
        fatal("out of memory allocating %zu bytes", bytes);
    return ptr;
}

void *xcalloc(size_t count, size_t size)
{
    void *ptr = calloc(count ? count : 1, size ? size : 1);
    if (!ptr)
        fatal("out of memory allocating %zu x %zu bytes", count, size);
    return ptr;
}

void *xrealloc(void *ptr, size_t bytes)
{
    void *grown = realloc(ptr, bytes ? bytes : 1);
    if (!grown)
        fatal("out of memory growing an allocation to %zu bytes", bytes);
    return grown;
}

char *xstrdup(const char *text)
{
    size_t bytes = strlen(text) + 1;
    char *copy = xmalloc(bytes);
    memcpy(copy, text, bytes);
    return copy;
}

int error_set(Error *err, const char *fmt, ...)
{
    if (err) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, args);
        va_end(args);
    }
    return -1;
}

uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

void rng_seed(Rng *rng, uint64_t seed) { rng->state = seed; }

uint64_t rng_next_u64(Rng *rng)
{
    rng->state += UINT64_C(0x9e3779b97f4a7c15);
    return hash_u64(rng->state);
}

double rng_uniform(Rng *rng)
{
    /* 53 random bits → a double in [0, 1). */
    return (double)(rng_next_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t rng_below(Rng *rng, uint64_t bound)
{
    /* Rejection keeps the result exactly uniform. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = rng_next_u64(rng);
    } while (x >= limit);
    return x % bound;
}

double rng_normal(Rng *rng)
{
    double u1 = rng_uniform(rng);
    double u2 = rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double time_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double process_peak_memory_mib(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0.0;
    return (double)usage.ru_maxrss / 1024.0; /* Linux reports KiB */
}

bool sorted_u32_contains(const uint32_t *sorted, size_t n, uint32_t value)
{
    size_t low = 0, high = n; /* value, if present, is in sorted[low, high) */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (sorted[mid] < value)
            low = mid + 1;
        else
            high = mid;
    }
    return low < n && sorted[low] == value;
}

int64_t sorted_u64_find(const uint64_t *sorted, size_t n, uint64_t value)
{
    size_t low = 0, high = n; /* as in sorted_u32_contains */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (sorted[mid] < value)
            low = mid + 1;
        else
            high = mid;
    }
    return low < n && sorted[low] == value ? (int64_t)low : -1;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

size_t sort_unique_u32(uint32_t *values, size_t n)
{
    if (n == 0)
        return 0;
    qsort(values, n, sizeof *values, compare_u32);
    size_t kept = 1;
    for (size_t i = 1; i < n; i++)
        if (values[i] != values[kept - 1])
            values[kept++] = values[i];
    return kept;
}

size_t sort_unique_u64(uint64_t *values, size_t n)
{
    if (n == 0)
        return 0;
    qsort(values, n, sizeof *values, compare_u64);
    size_t kept = 1;
    for (size_t i = 1; i < n; i++)
        if (values[i] != values[kept - 1])
            values[kept++] = values[i];
    return kept;
}

void bytebuffer_reserve(ByteBuffer *buf, size_t bytes)
{
    if (bytes <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < bytes)
        cap *= 2;
    buf->data = xrealloc(buf->data, cap);
    buf->cap = cap;
}

void bytebuffer_append(ByteBuffer *buf, const void *data, size_t bytes)
{
    bytebuffer_reserve(buf, buf->len + bytes);
    memcpy(buf->data + buf->len, data, bytes);
    buf->len += bytes;
}

void bytebuffer_free(ByteBuffer *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

uint64_t checksum_update(uint64_t seed, const void *data, size_t bytes)
{
    const uint8_t *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < bytes; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

FILE *file_open_regular(const char *path, const char **why)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is
     * refused below. On a regular file the flag changes nothing. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat info;
    const char *wrong = NULL;
    if (fstat(fd, &info) != 0)
        wrong = strerror(errno);
    else if (S_ISDIR(info.st_mode))
        wrong = strerror(EISDIR);
    else if (!S_ISREG(info.st_mode))
        wrong = "not a regular file (a FIFO, device or socket)";
    int flags = wrong ? 0 : fcntl(fd, F_GETFL);
    if (!wrong && (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0))
        wrong = strerror(errno);
    FILE *file = wrong ? NULL : fdopen(fd, "r");
    if (!file) {
        *why = wrong ? wrong : strerror(errno);
        close(fd);
    }
    return file;
}

int path_make_dirs(const char *path, Error *err)
{
    char partial[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof partial)
        return error_set(err, "cannot create directory '%s': empty or too long a path", path);
    memcpy(partial, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (partial[i] != '/' && partial[i] != '\0')
            continue;
        char saved = partial[i];
        partial[i] = '\0';
        if (mkdir(partial, 0777) != 0 && errno != EEXIST)
            return error_set(err, "cannot create directory %s: %s", partial, strerror(errno));
        partial[i] = saved;
    }
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode))
        return error_set(err, "cannot create directory %s: a file of that name is in the way", path);
    return 0;
}
