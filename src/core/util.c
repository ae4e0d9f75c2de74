/* util.c — checked allocation, error messages, quoting input, text file
 * checks, hashing, random numbers, time, the machine's memory and disk,
 * sorted search, byte buffers and checksums. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "psrec/core/util.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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

size_t xmalloc_huge_size(size_t bytes)
{
    if (bytes < HUGE_PAGE_BYTES)
        return bytes;
    return (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
}

void *xmalloc_huge(size_t bytes)
{
    size_t rounded = xmalloc_huge_size(bytes);
    if (rounded < HUGE_PAGE_BYTES)
        return xmalloc(bytes);
    void *ptr = aligned_alloc(HUGE_PAGE_BYTES, rounded);
    if (!ptr)
        fatal("out of memory allocating %zu bytes", rounded);
#ifdef MADV_HUGEPAGE
    /* Advice: without huge pages it still works. Memory the allocator hands
     * out again may already be backed by small pages, which would stay
     * small: dropping them first (the block's contents are undefined
     * anyway) lets the next touch fault in huge ones. */
    madvise(ptr, rounded, MADV_HUGEPAGE);
    madvise(ptr, rounded, MADV_DONTNEED);
#endif
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

/* ---- quoting input */

/* The length of the well-formed UTF-8 sequence starting at s[0] (a byte of
 * 0x80 or more) within s[0, len), or 0 when there is none: overlong forms,
 * surrogates and code points past U+10FFFF are not well-formed. */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0], low = 0x80, high = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        low = c == 0xE0 ? 0xA0 : 0x80; /* not overlong */
        high = c == 0xED ? 0x9F : 0xBF; /* not a surrogate */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        low = c == 0xF0 ? 0x90 : 0x80;
        high = c == 0xF4 ? 0x8F : 0xBF; /* at most U+10FFFF */
    } else {
        return 0;
    }
    if (len < need || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

/* Whether the well-formed sequence s[0, n) is a character a terminal must
 * not get as itself: a C1 control (U+0080..U+009F; U+009B starts escape
 * sequences on some terminals), or a format character that reorders or
 * breaks the line (U+061C, U+200E/F, U+2028..U+202E, U+2066..U+2069). */
static bool utf8_is_unsafe(const unsigned char *s, size_t n)
{
    uint32_t code = 0;
    if (n == 2)
        code = (uint32_t)(s[0] & 0x1F) << 6 | (uint32_t)(s[1] & 0x3F);
    else if (n == 3)
        code = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 |
               (uint32_t)(s[2] & 0x3F);
    else
        return false; /* nothing above U+FFFF needs it */
    return (code >= 0x80 && code <= 0x9F) || code == 0x61C || code == 0x200E ||
           code == 0x200F || (code >= 0x2028 && code <= 0x202E) ||
           (code >= 0x2066 && code <= 0x2069);
}

const char *text_escape(char *out, size_t out_bytes, const char *text, size_t len)
{
    assert(out_bytes >= 8);
    size_t limit = out_bytes - 4; /* room for "..." and the terminator */
    size_t used = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        char piece[4 * 4 + 1]; /* a character as at most four \xNN */
        size_t piece_len = 0, consumed = 1;
        unsigned char c = s[i];
        const char *named = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r" : c == '\0' ? "\\0" : NULL;
        if (named) {
            piece_len = strlen(named);
            memcpy(piece, named, piece_len);
        } else if (c >= 0x20 && c < 0x7F) {
            piece[piece_len++] = (char)c;
        } else {
            size_t n = c >= 0x80 ? utf8_sequence_length(s + i, len - i) : 0;
            consumed = n > 0 ? n : 1;
            if (n > 0 && !utf8_is_unsafe(s + i, n)) {
                memcpy(piece, s + i, n);
                piece_len = n;
            } else {
                for (size_t k = 0; k < consumed; k++)
                    piece_len += (size_t)snprintf(piece + piece_len, sizeof piece - piece_len,
                                                  "\\x%02x", s[i + k]);
            }
        }
        if (used + piece_len > limit) {
            memcpy(out + used, "...", 4);
            return out;
        }
        memcpy(out + used, piece, piece_len);
        used += piece_len;
        i += consumed;
    }
    out[used] = '\0';
    return out;
}

const char *text_quote(char *out, const char *text)
{
    return text_escape(out, TEXT_QUOTE_BYTES, text, strlen(text));
}

/* ---- text file checks */

int text_check_head(const char *path, const void *head_bytes, size_t len, Error *err)
{
    const unsigned char *head = head_bytes;
    static const char SAVE_AS_UTF8[] = "save it as UTF-8 (e.g. iconv -t UTF-8)";
    static const struct {
        const char *magic;
        size_t magic_len;
        const char *what;
        const char *fix;
    } SIGNATURES[] = {
        /* UTF-32 first: its little-endian mark begins with UTF-16's. */
        {"\xFF\xFE\x00\x00", 4, "UTF-32 text (byte-order mark FF FE 00 00)", SAVE_AS_UTF8},
        {"\x00\x00\xFE\xFF", 4, "UTF-32 text (byte-order mark 00 00 FE FF)", SAVE_AS_UTF8},
        {"\xFF\xFE", 2, "UTF-16 text (byte-order mark FF FE)", SAVE_AS_UTF8},
        {"\xFE\xFF", 2, "UTF-16 text (byte-order mark FE FF)", SAVE_AS_UTF8},
        {"\x1F\x8B", 2, "gzip-compressed data", "decompress it first (gunzip)"},
        {"PK\x03\x04", 4, "a zip archive", "extract the file from it first (unzip)"},
        {"\xFD" "7zXZ\x00", 6, "xz-compressed data", "decompress it first (unxz)"},
        {"\x28\xB5\x2F\xFD", 4, "zstd-compressed data", "decompress it first (unzstd)"},
    };
    for (size_t k = 0; k < sizeof SIGNATURES / sizeof *SIGNATURES; k++)
        if (len >= SIGNATURES[k].magic_len &&
            memcmp(head, SIGNATURES[k].magic, SIGNATURES[k].magic_len) == 0)
            return error_set(err, "%s: looks like %s; %s", path, SIGNATURES[k].what,
                             SIGNATURES[k].fix);
    /* bzip2: "BZh" and a block size digit (a bare "BZh" could be text). */
    if (len >= 4 && memcmp(head, "BZh", 3) == 0 && head[3] >= '1' && head[3] <= '9')
        return error_set(err, "%s: looks like bzip2-compressed data; decompress it first "
                              "(bunzip2)",
                         path);
    /* Without a mark: ASCII saved as UTF-16 has a NUL in every other byte,
     * on one side only; binary data has NULs on both. A stray NUL or two is
     * left to the line reader, which says on which line. */
    if (len < 8)
        return 0;
    size_t nul_at[2] = {0, 0}; /* NULs at even and at odd offsets */
    for (size_t i = 0; i < len; i++)
        nul_at[i % 2] += head[i] == 0;
    size_t slots[2] = {(len + 1) / 2, len / 2};
    for (int side = 0; side < 2; side++)
        if (2 * nul_at[side] >= slots[side] && 8 * nul_at[1 - side] < slots[1 - side])
            return error_set(err,
                             "%s: looks like UTF-16 text without a byte-order mark (%s: every "
                             "other byte is NUL); %s",
                             path, side == 1 ? "little-endian" : "big-endian", SAVE_AS_UTF8);
    if (4 * (nul_at[0] + nul_at[1]) >= len)
        return error_set(err,
                         "%s: looks like binary data, not text (%zu of its first %zu bytes are "
                         "NUL); check that this is the right file",
                         path, nul_at[0] + nul_at[1], len);
    return 0;
}

int error_set_nul_line(Error *err, const char *path, long long line_no, size_t column)
{
    return error_set(err, "%s:%lld: NUL byte in the line (byte %zu); a text file holds none: is "
                          "the file binary, damaged, or saved as UTF-16?",
                     path, line_no, column);
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

void rng_fill_normal(Rng *rng, float *out, size_t n, float std)
{
    size_t i = 0;
    while (i < n) {
        /* A point uniform in the unit disc gives two independent normals. */
        double x = 2.0 * rng_uniform(rng) - 1.0, y = 2.0 * rng_uniform(rng) - 1.0;
        double r2 = x * x + y * y;
        if (r2 >= 1.0 || r2 < 1e-300)
            continue;
        double scale = (double)std * sqrt(-2.0 * log(r2) / r2);
        out[i++] = (float)(x * scale);
        if (i < n)
            out[i++] = (float)(y * scale);
    }
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

int machine_cores(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores >= 1 ? (int)cores : 1;
}

uint64_t memory_physical_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_bytes > 0 ? (uint64_t)pages * (uint64_t)page_bytes : 0;
}

/* The first number in the file at path, after the text `key` when key is
 * not NULL (e.g. "MemAvailable:"); false when there is none. "max" (a
 * cgroup v2 file without a limit) reads as UINT64_MAX. */
static bool file_read_number(const char *path, const char *key, uint64_t *out)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof line, file)) {
        const char *at = line;
        if (key) {
            if (strncmp(line, key, strlen(key)) != 0)
                continue;
            at += strlen(key);
        }
        while (*at == ' ' || *at == '\t')
            at++;
        char *end;
        unsigned long long value = strtoull(at, &end, 10);
        if (end != at) {
            *out = value;
            found = true;
        } else if (strncmp(at, "max", 3) == 0) {
            *out = UINT64_MAX;
            found = true;
        }
        if (!key)
            break;
    }
    fclose(file);
    return found;
}

/* The cgroup folder of this process under mount (cgroup v2 when
 * `controller` is NULL, else the v1 hierarchy of that controller), into
 * out; false when the process is in none. A cgroup namespace can show the
 * process's own cgroup as the mount's root: then the path in
 * /proc/self/cgroup does not exist under it, and the root is the answer. */
static bool cgroup_folder(const char *mount, const char *controller, char *out, size_t out_bytes)
{
    FILE *file = fopen("/proc/self/cgroup", "r");
    if (!file)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = '\0';
        char *names = strchr(line, ':');
        char *path = names ? strchr(names + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        names++;
        if (controller ? strcmp(names, controller) != 0 : strcmp(line, "0") != 0)
            continue;
        snprintf(out, out_bytes, "%s%s", mount, path);
        struct stat info;
        if (stat(out, &info) != 0)
            snprintf(out, out_bytes, "%s", mount);
        found = true;
    }
    fclose(file);
    return found;
}

/* What is left under this process's cgroup memory limit, or UINT64_MAX
 * when there is no limit (or no cgroup says). */
static uint64_t cgroup_memory_left(void)
{
    static const struct {
        const char *mount, *controller, *limit, *usage;
    } LAYOUTS[] = {
        {"/sys/fs/cgroup", NULL, "memory.max", "memory.current"},
        {"/sys/fs/cgroup/memory", "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"},
    };
    for (size_t k = 0; k < sizeof LAYOUTS / sizeof *LAYOUTS; k++) {
        char folder[1200], path[1300];
        if (!cgroup_folder(LAYOUTS[k].mount, LAYOUTS[k].controller, folder, sizeof folder))
            continue;
        uint64_t limit, usage = 0;
        snprintf(path, sizeof path, "%s/%s", folder, LAYOUTS[k].limit);
        if (!file_read_number(path, NULL, &limit))
            continue;
        /* v1 writes "no limit" as a huge page-rounded number. */
        if (limit >= (UINT64_C(1) << 62))
            return UINT64_MAX;
        snprintf(path, sizeof path, "%s/%s", folder, LAYOUTS[k].usage);
        file_read_number(path, NULL, &usage);
        return limit > usage ? limit - usage : 0;
    }
    return UINT64_MAX;
}

uint64_t memory_available_bytes(void)
{
    uint64_t available_kib = 0;
    uint64_t available = file_read_number("/proc/meminfo", "MemAvailable:", &available_kib)
                             ? available_kib * 1024
                             : memory_physical_bytes();
    uint64_t left = cgroup_memory_left();
    return left < available ? left : available;
}

double path_free_bytes(const char *path)
{
    struct statvfs info;
    if (statvfs(path, &info) != 0)
        return -1;
    return (double)info.f_bavail * (double)info.f_frsize;
}

const char *bytes_format(char *out, size_t out_bytes, double bytes)
{
    static const char *const UNITS[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024.0) {
        snprintf(out, out_bytes, "%.0f bytes", bytes);
        return out;
    }
    int unit = -1;
    while (bytes >= 1024.0 && unit + 1 < (int)(sizeof UNITS / sizeof *UNITS)) {
        bytes /= 1024.0;
        unit++;
    }
    snprintf(out, out_bytes, "%.1f %s", bytes, UNITS[unit]);
    return out;
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

/* Buffers from this size on are messages rows travel in: huge pages (one
 * at least) let MPI's single-copy transfer pin one page where it would pin
 * hundreds, and the copy walk one TLB entry. */
#define BYTEBUFFER_HUGE_BYTES ((size_t)256 << 10)

void bytebuffer_reserve(ByteBuffer *buf, size_t bytes)
{
    if (bytes <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < bytes)
        cap *= 2;
    if (cap < BYTEBUFFER_HUGE_BYTES) {
        buf->data = xrealloc(buf->data, cap);
        buf->cap = cap;
        return;
    }
    cap = xmalloc_huge_size(cap < HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : cap);
    uint8_t *data = xmalloc_huge(cap);
    if (buf->len > 0)
        memcpy(data, buf->data, buf->len);
    free(buf->data);
    buf->data = data;
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

FILE *file_open_text(const char *path, const char *what, Error *err)
{
    const char *why = NULL;
    FILE *file = file_open_regular(path, &why);
    if (!file) {
        error_set(err, "cannot open %s%s: %s", what, path, why);
        return NULL;
    }
    unsigned char head[TEXT_HEAD_BYTES];
    size_t head_len = fread(head, 1, sizeof head, file);
    rewind(file);
    if (text_check_head(path, head, head_len, err) != 0) {
        fclose(file);
        return NULL;
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
