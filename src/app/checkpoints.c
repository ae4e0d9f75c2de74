/* checkpoints.c — numbered checkpoint folders (checkpoints.h). */
#include "psrec/app/checkpoints.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psrec/app/run_dir.h"

#define CHECKPOINT_PREFIX "ckpt-"
#define PATH_BYTES 4200

void checkpoints_folder(char *out, size_t out_bytes, const char *dir, uint64_t number)
{
    snprintf(out, out_bytes, "%s/" CHECKPOINT_PREFIX "%06" PRIu64, dir, number);
}

/* The number of a checkpoint folder's name, or 0 when it is not one. */
static uint64_t folder_number(const char *name)
{
    size_t prefix = strlen(CHECKPOINT_PREFIX);
    if (strncmp(name, CHECKPOINT_PREFIX, prefix) != 0 || name[prefix] == '\0')
        return 0;
    uint64_t number = 0;
    for (const char *c = name + prefix; *c; c++) {
        if (*c < '0' || *c > '9' || number > UINT64_MAX / 10 - 1)
            return 0;
        number = number * 10 + (uint64_t)(*c - '0');
    }
    return number;
}

static bool is_complete(const char *dir, uint64_t number)
{
    char path[PATH_BYTES];
    checkpoints_folder(path, sizeof path - 16, dir, number);
    strcat(path, "/manifest.txt");
    return access(path, F_OK) == 0;
}

static int compare_descending(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Every checkpoint folder number in dir, newest first (*out: malloc'd). */
static int list_numbers(const char *dir, uint64_t **out, size_t *n_out, Error *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *folder = opendir(dir);
    if (!folder) {
        if (errno == ENOENT)
            return 0;
        return error_set(err, "cannot read the checkpoint folder %s: %s", dir, strerror(errno));
    }
    size_t n = 0, capacity = 0;
    uint64_t *numbers = NULL;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        uint64_t number = folder_number(entry->d_name);
        if (number == 0)
            continue;
        if (n == capacity) {
            capacity = capacity ? 2 * capacity : 16;
            numbers = xrealloc(numbers, capacity * sizeof *numbers);
        }
        numbers[n++] = number;
    }
    closedir(folder);
    if (n > 0)
        qsort(numbers, n, sizeof *numbers, compare_descending);
    *out = numbers;
    *n_out = n;
    return 0;
}

int checkpoints_list(const char *dir, uint64_t *complete, size_t max, size_t *n_complete,
                     uint64_t *highest, Error *err)
{
    uint64_t *numbers;
    size_t n;
    *n_complete = 0;
    *highest = 0;
    if (list_numbers(dir, &numbers, &n, err) != 0)
        return -1;
    if (n > 0)
        *highest = numbers[0];
    for (size_t i = 0; i < n && *n_complete < max; i++)
        if (is_complete(dir, numbers[i]))
            complete[(*n_complete)++] = numbers[i];
    free(numbers);
    return 0;
}

void checkpoints_prune(const char *dir, int keep)
{
    uint64_t *numbers;
    size_t n;
    Error ignored;
    if (list_numbers(dir, &numbers, &n, &ignored) != 0)
        return;
    int kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool complete = is_complete(dir, numbers[i]);
        /* Incomplete folders newer than every complete one may be being
         * written right now (this run's next checkpoint): left alone. */
        if (complete ? ++kept <= keep : kept == 0)
            continue;
        char path[PATH_BYTES];
        checkpoints_folder(path, sizeof path, dir, numbers[i]);
        run_dir_remove_tree(path);
    }
    free(numbers);
}

int checkpoints_write_shard(const char *folder, Store *store, uint64_t run_id, int server,
                            int n_servers, const char *snapshot_path, Error *err)
{
    if (mkdir(folder, 0777) != 0 && errno != EEXIST)
        return error_set(err, "cannot create %s: %s", folder, strerror(errno));
    char path[PATH_BYTES];
    checkpoint_shard_path(path, sizeof path, folder, server, n_servers);
    if (checkpoint_write_shard(path, store, run_id, err) != 0)
        return -1;
    if (!snapshot_path)
        return 0;
    char best[PATH_BYTES + 8];
    snprintf(best, sizeof best, "%s/best-%s", folder, strrchr(path, '/') + 1);
    return checkpoint_copy_file(snapshot_path, best, false, NULL, NULL, err);
}

int checkpoints_read_rows(const char *folder, bool best, int n_shards, Store *store,
                          const ShardMap *map, int server, uint64_t run_id, Error *err)
{
    for (int s = 0; s < n_shards; s++) {
        char path[PATH_BYTES], file[PATH_BYTES + 8];
        checkpoint_shard_path(path, sizeof path, folder, s, n_shards);
        if (best)
            snprintf(file, sizeof file, "%s/best-%s", folder, strrchr(path, '/') + 1);
        else
            snprintf(file, sizeof file, "%s", path);
        uint64_t written_by = 0;
        if (checkpoint_read_shard_owned(file, store, map, server, &written_by, err) != 0)
            return -1;
        if (written_by != run_id)
            return error_set(err, "%s: written by run %016" PRIx64 ", but the manifest names run "
                                  "%016" PRIx64 ": files of two checkpoints are mixed",
                             file, written_by, run_id);
    }
    return 0;
}

int checkpoints_save_metrics(const char *from, const char *folder, uint64_t *bytes,
                             uint64_t *checksum, Error *err)
{
    char to[PATH_BYTES];
    snprintf(to, sizeof to, "%s/metrics.jsonl", folder);
    *bytes = 0;
    *checksum = CHECKSUM_INIT;
    return checkpoint_copy_file(from, to, true, bytes, checksum, err);
}

int checkpoints_restore_metrics(const char *folder, uint64_t bytes, uint64_t checksum,
                                const char *to, int epoch, EpochRecord *reported, Error *err)
{
    char from[PATH_BYTES];
    snprintf(from, sizeof from, "%s/metrics.jsonl", folder);
    uint64_t copied = 0, sum = CHECKSUM_INIT;
    if (checkpoint_copy_file(from, to, false, &copied, &sum, err) != 0)
        return -1;
    if (copied != bytes || sum != checksum)
        return error_set(err, "%s: %" PRIu64 " bytes with checksum %" PRIu64 ", but the manifest "
                              "recorded %" PRIu64 " bytes with checksum %" PRIu64 ": the file is "
                              "damaged",
                         from, copied, sum, bytes, checksum);
    if (!reported || epoch == 0)
        return 0;
    FILE *file = fopen(to, "r");
    if (!file)
        return error_set(err, "%s: cannot open: %s", to, strerror(errno));
    char *line = NULL;
    size_t line_bytes = 0;
    bool found = false;
    while (!found && getline(&line, &line_bytes, file) != -1)
        found = progress_read_json(line, reported) == 0 && reported->epoch == epoch;
    free(line);
    fclose(file);
    if (!found)
        return error_set(err, "%s: no line for epoch %d, whose figures the run reports", from,
                         epoch);
    return 0;
}
