/* test_support.h — plumbing shared by the Check unit tests in tests/unit.
 *
 * A runner for each suite's main, and a scratch folder under /tmp for tests
 * that write files. The scratch functions report trouble as Check failures,
 * so they belong in a test or a checked fixture (which run where Check can
 * report), never in main or an unchecked fixture.
 */
#ifndef PSREC_TEST_SUPPORT_H
#define PSREC_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>

/* Runs every test of suite in CK_NORMAL mode (forking, unless CK_FORK=no
 * says otherwise), then frees the runner and with it the suite. Returns the
 * exit code for main: EXIT_SUCCESS if no test failed, else EXIT_FAILURE. */
int test_run_suite(Suite *suite);

/* Makes a fresh, empty folder /tmp/psrec_test_<name>_XXXXXX (mkdtemp) and
 * writes its path to dir, which holds dir_bytes. Fails the current test with
 * the path and the system's reason if the name does not fit or the folder
 * cannot be made. */
void test_scratch_create(char *dir, size_t dir_bytes, const char *name);

/* Removes the plain files in dir, then dir itself (tests make no
 * subfolders). Fails the current test, naming what could not be removed and
 * why, if any of it stays. */
void test_scratch_remove(const char *dir);

#endif
