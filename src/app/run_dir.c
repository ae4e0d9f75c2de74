/* run_dir.c — generations, links and the lock of a run folder (run_dir.h). */
#include "psrec/app/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The names a reader of a run folder uses, each a link into current/. */
static const char *const RUN_ENTRIES[] = {"config.conf", "metrics.jsonl", "summary.json", "model"};
#define RUN_N_ENTRIES (sizeof RUN_ENTRIES / sizeof RUN_ENTRIES[0])
#define RUN_PATH_BYTES (OPTION_STRING_BYTES + 128)

int run_dir_remove_tree(const char *path)
{
    struct stat info;
    if (lstat(path, &info) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(info.st_mode))
        return unlink(path);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    struct dirent *entry;
    int rc = 0;
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char child[RUN_PATH_BYTES + 256];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        rc = run_dir_remove_tree(child);
    }
    closedir(dir);
    return rc == 0 ? rmdir(path) : rc;
}

/* The generation RUN/current points at ("gen-…"), or "" when none. */
static void current_generation(const char *root, char *out, size_t out_bytes)
{
    char link[RUN_PATH_BYTES];
    snprintf(link, sizeof link, "%s/current", root);
    ssize_t len = readlink(link, out, out_bytes - 1);
    out[len > 0 ? len : 0] = '\0';
}

void run_dir_model_folder(const char *root, char *out, size_t out_bytes)
{
    char generation[256];
    current_generation(root, generation, sizeof generation);
    if (generation[0] && !strchr(generation, '/'))
        snprintf(out, out_bytes, "%s/%s/model", root, generation);
    else
        snprintf(out, out_bytes, "%s/model", root);
}

/* Points link at target (relative to link's folder) by renaming a fresh
 * link over it: readers see the old target or the new, never neither. */
static int replace_link(const char *target, const char *link, Error *err)
{
    char tmp[RUN_PATH_BYTES + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", link);
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        int saved = errno;
        unlink(tmp);
        return error_set(err, "cannot point %s at %s: %s", link, target, strerror(saved));
    }
    return 0;
}

/* Makes the reader's links (RUN/model → current/model, …). */
static int make_entry_links(const char *root, Error *err)
{
    for (size_t e = 0; e < RUN_N_ENTRIES; e++) {
        char link[RUN_PATH_BYTES], target[64];
        snprintf(link, sizeof link, "%s/%s", root, RUN_ENTRIES[e]);
        snprintf(target, sizeof target, "current/%s", RUN_ENTRIES[e]);
        char existing[64];
        ssize_t len = readlink(link, existing, sizeof existing - 1);
        if (len > 0 && (size_t)len == strlen(target) && memcmp(existing, target, (size_t)len) == 0)
            continue;
        if (replace_link(target, link, err) != 0)
            return -1;
    }
    return 0;
}

/* A folder written before generations (plain config.conf, model/ …)
 * becomes generation "gen-legacy", so it stays readable through the links
 * and is replaced like any generation. */
static int adopt_legacy(const char *root, Error *err)
{
    char path[RUN_PATH_BYTES], moved[RUN_PATH_BYTES + 64];
    bool any = false;
    for (size_t e = 0; e < RUN_N_ENTRIES; e++) {
        struct stat info;
        snprintf(path, sizeof path, "%s/%s", root, RUN_ENTRIES[e]);
        any |= lstat(path, &info) == 0 && !S_ISLNK(info.st_mode);
    }
    if (!any)
        return 0;
    snprintf(moved, sizeof moved, "%s/gen-legacy", root);
    if (mkdir(moved, 0777) != 0 && errno != EEXIST)
        return error_set(err, "cannot create %s: %s", moved, strerror(errno));
    for (size_t e = 0; e < RUN_N_ENTRIES; e++) {
        struct stat info;
        snprintf(path, sizeof path, "%s/%s", root, RUN_ENTRIES[e]);
        if (lstat(path, &info) != 0 || S_ISLNK(info.st_mode))
            continue;
        snprintf(moved, sizeof moved, "%s/gen-legacy/%s", root, RUN_ENTRIES[e]);
        if (rename(path, moved) != 0)
            return error_set(err, "cannot move %s into %s/gen-legacy: %s", path, root,
                             strerror(errno));
    }
    snprintf(path, sizeof path, "%s/current", root);
    if (replace_link("gen-legacy", path, err) != 0)
        return -1;
    return make_entry_links(root, err); /* readable again right away */
}

/* Removes every generation but the current one, and stray link temps: the
 * leftovers of runs that failed or were killed (we hold the lock, so no
 * run is writing them). */
static void remove_leftovers(const char *root)
{
    char current[64];
    current_generation(root, current, sizeof current);
    DIR *dir = opendir(root);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        bool generation = strncmp(entry->d_name, "gen-", 4) == 0 &&
                          strcmp(entry->d_name, current) != 0;
        bool temp = len > 4 && strcmp(entry->d_name + len - 4, ".tmp") == 0;
        if (!generation && !temp)
            continue;
        char path[RUN_PATH_BYTES + 256];
        snprintf(path, sizeof path, "%s/%s", root, entry->d_name);
        run_dir_remove_tree(path);
    }
    closedir(dir);
}

int run_dir_lock_folder(const char *folder, int *lock_fd, Error *err)
{
    char path[RUN_PATH_BYTES];
    snprintf(path, sizeof path, "%s/.lock", folder);
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    if (fd < 0)
        return error_set(err, "cannot open the lock %s: %s", path, strerror(errno));
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &lock) != 0) {
        char holder[256] = "";
        ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
        holder[got > 0 ? got : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        return error_set(err, "%s is in use by another psrec train (%s); wait for it or use "
                              "another folder",
                         folder, holder[0] ? holder : "holder unknown");
    }
    char host[128] = "unknown host";
    gethostname(host, sizeof host - 1);
    char text[320];
    time_t now = time(NULL);
    struct tm when;
    gmtime_r(&now, &when);
    int len = snprintf(text, sizeof text, "pid %ld on %s since %04d-%02d-%02d %02d:%02d:%02d UTC\n",
                       (long)getpid(), host, when.tm_year + 1900, when.tm_mon + 1, when.tm_mday,
                       when.tm_hour, when.tm_min, when.tm_sec);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        close(fd);
        return error_set(err, "cannot write the lock %s: %s", path, strerror(errno));
    }
    *lock_fd = fd;
    return 0;
}

int run_dir_begin(RunDir *run, const char *root, Error *err)
{
    memset(run, 0, sizeof *run);
    run->lock_fd = -1;
    snprintf(run->root, sizeof run->root, "%s", root);
    if (path_make_dirs(root, err) != 0 || run_dir_lock_folder(root, &run->lock_fd, err) != 0)
        return -1;
    if (adopt_legacy(root, err) != 0) {
        run_dir_end(run);
        return -1;
    }
    remove_leftovers(root);
    /* A run id unique enough to tell runs apart: time, pid and a hash. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t mix = hash_u64((uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec) ^
                   hash_u64((uint64_t)getpid());
    run->run_number = mix ? mix : 1; /* 0 means "no run id" in files */
    snprintf(run->generation, sizeof run->generation, "%s/gen-%016llx", root,
             (unsigned long long)run->run_number);
    char model[RUN_PATH_BYTES + 64];
    snprintf(model, sizeof model, "%s/model", run->generation);
    if (path_make_dirs(model, err) != 0) {
        run_dir_end(run);
        return -1;
    }
    return 0;
}

int run_dir_commit(RunDir *run, Error *err)
{
    char previous[64], link[RUN_PATH_BYTES];
    current_generation(run->root, previous, sizeof previous);
    snprintf(link, sizeof link, "%s/current", run->root);
    if (replace_link(run->generation + strlen(run->root) + 1, link, err) != 0 ||
        make_entry_links(run->root, err) != 0)
        return -1;
    run->committed = true;
    if (previous[0]) {
        char path[RUN_PATH_BYTES + 64];
        snprintf(path, sizeof path, "%s/%s", run->root, previous);
        run_dir_remove_tree(path); /* best effort: a leftover goes with the next run */
    }
    return 0;
}

void run_dir_end(RunDir *run)
{
    if (run->generation[0] && !run->committed)
        run_dir_remove_tree(run->generation);
    if (run->lock_fd >= 0)
        close(run->lock_fd); /* releases the lock */
    run->lock_fd = -1;
}

RunDirHistory run_dir_history(const char *root, char *holder, size_t holder_bytes)
{
    holder[0] = '\0';
    char path[RUN_PATH_BYTES];
    snprintf(path, sizeof path, "%s/.lock", root);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return RUN_DIR_UNTOUCHED; /* every run takes the lock first */
    /* F_GETLK asks who would block a write lock, without taking one. */
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    bool held = fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
    if (held) {
        ssize_t got = pread(fd, holder, holder_bytes - 1, 0);
        holder[got > 0 ? got : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
    }
    close(fd);
    return held ? RUN_DIR_TRAINING : RUN_DIR_UNFINISHED;
}

double run_dir_free_bytes(const char *path) { return path_free_bytes(path); }
