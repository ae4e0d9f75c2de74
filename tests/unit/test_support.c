/* test_support.c — the suite runner and scratch folders every unit test
 * shares (contracts in test_support.h).
 *
 * Every failure names the path and the system's reason, so a full or
 * read-only /tmp reads as such and not as a bug in the module under test.
 */
#include "test_support.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_run_suite(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void test_scratch_create(char *dir, size_t dir_bytes, const char *name)
{
    int len = snprintf(dir, dir_bytes, "/tmp/psrec_test_%s_XXXXXX", name);
    ck_assert_msg(len > 0 && (size_t)len < dir_bytes,
                  "scratch folder name for '%s' does not fit in %zu bytes", name, dir_bytes);
    if (mkdtemp(dir) == NULL)
        ck_abort_msg("cannot create a scratch folder %s: %s", dir, strerror(errno));
}

void test_scratch_remove(const char *dir)
{
    DIR *folder = opendir(dir);
    ck_assert_msg(folder != NULL, "cannot open scratch folder %s: %s", dir, strerror(errno));
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char path[512];
        int len = snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        ck_assert_msg(len > 0 && (size_t)len < sizeof path, "path too long: %s/%s", dir,
                      entry->d_name);
        ck_assert_msg(unlink(path) == 0, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(folder);
    ck_assert_msg(rmdir(dir) == 0, "cannot remove scratch folder %s: %s", dir, strerror(errno));
}
