/* placement.c — the line that says where a job's ranks run (placement.h).
 * Three forms, the first that fits: every host with its workers' and
 * servers' numbers, every host with its counts, hosts grouped by their
 * counts. The text is built in a ByteBuffer and handed over NUL-terminated.
 */
#include "psrec/ps/placement.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"

/* The grouped form names this many groups of hosts, then counts the rest. */
#define PLACEMENT_GROUPS_SHOWN 4

/* The job's hosts, in the order of their lowest rank. */
typedef struct {
    int n_hosts;
    const char **names; /* by host */
    int *host_of;       /* by world rank */
    int *workers;       /* by host: its workers (its ranks, for a job without roles) */
    int *servers;       /* by host: its servers */
} HostIndex;

static void hosts_index(HostIndex *index, const char *const *hosts, int world_size,
                        int n_workers)
{
    index->n_hosts = 0;
    index->names = xmalloc((size_t)world_size * sizeof *index->names);
    index->host_of = xmalloc((size_t)world_size * sizeof *index->host_of);
    index->workers = xcalloc((size_t)world_size, sizeof *index->workers);
    index->servers = xcalloc((size_t)world_size, sizeof *index->servers);
    int last = -1; /* neighbouring ranks usually share a host: look there first */
    for (int r = 0; r < world_size; r++) {
        int host = last >= 0 && strcmp(index->names[last], hosts[r]) == 0 ? last : -1;
        for (int h = 0; host < 0 && h < index->n_hosts; h++)
            if (strcmp(index->names[h], hosts[r]) == 0)
                host = h;
        if (host < 0) {
            host = index->n_hosts++;
            index->names[host] = hosts[r];
        }
        index->host_of[r] = host;
        if (n_workers == 0 || r < n_workers)
            index->workers[host]++;
        else
            index->servers[host]++;
        last = host;
    }
}

static void hosts_free(HostIndex *index)
{
    free(index->names);
    free(index->host_of);
    free(index->workers);
    free(index->servers);
}

static void appendf(ByteBuffer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void appendf(ByteBuffer *out, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    assert(n >= 0);
    bytebuffer_reserve(out, out->len + (size_t)n + 1);
    va_start(args, fmt);
    vsnprintf((char *)out->data + out->len, (size_t)n + 1, fmt, args);
    va_end(args);
    out->len += (size_t)n;
}

static const char *plural(int n) { return n == 1 ? "" : "s"; }

/* Appends numbers[0, n) - offset, ascending, as runs: "3", "3,4", "3-7". */
static void append_numbers(ByteBuffer *out, const int *numbers, int n, int offset)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && numbers[j + 1] == numbers[j] + 1)
            j++;
        appendf(out, "%s%d", i > 0 ? "," : "", numbers[i] - offset);
        if (j == i + 1)
            appendf(out, ",%d", numbers[j] - offset);
        else if (j > i + 1)
            appendf(out, "-%d", numbers[j] - offset);
        i = j + 1;
    }
}

/* "worker 0 (rank 0)" or "servers 0-1 (ranks 2-3)": the role's members
 * among world ranks[0, n), whose first member is world rank first_rank. */
static void append_members(ByteBuffer *out, const char *role, const int *ranks, int n,
                           int first_rank)
{
    appendf(out, "%s%s ", role, plural(n));
    append_numbers(out, ranks, n, first_rank);
    appendf(out, " (rank%s ", plural(n));
    append_numbers(out, ranks, n, 0);
    appendf(out, ")");
}

/* "2 workers + 1 server", "1 server" or, without roles, "3 ranks". */
static void append_counts(ByteBuffer *out, int workers, int servers, bool roles)
{
    if (!roles) {
        appendf(out, "%d rank%s", workers, plural(workers));
        return;
    }
    if (workers > 0)
        appendf(out, "%d worker%s", workers, plural(workers));
    if (servers > 0)
        appendf(out, "%s%d server%s", workers > 0 ? " + " : "", servers, plural(servers));
}

/* "; h1: worker 0 (rank 0), server 0 (rank 2); h2: …", stopping after the
 * host that takes the text past stop_bytes (it will not be used then). */
static void append_members_per_host(ByteBuffer *out, const HostIndex *index, int world_size,
                                    int n_workers, size_t stop_bytes)
{
    int *ranks = xmalloc((size_t)world_size * sizeof *ranks);
    int role_end = n_workers > 0 ? n_workers : world_size;
    for (int host = 0; host < index->n_hosts && out->len <= stop_bytes; host++) {
        appendf(out, "; %s: ", index->names[host]);
        int n = 0;
        for (int r = 0; r < role_end; r++)
            if (index->host_of[r] == host)
                ranks[n++] = r;
        if (n_workers == 0) {
            appendf(out, "rank%s ", plural(n));
            append_numbers(out, ranks, n, 0);
            continue;
        }
        if (n > 0)
            append_members(out, "worker", ranks, n, 0);
        int n_servers = 0;
        for (int r = n_workers; r < world_size; r++)
            if (index->host_of[r] == host)
                ranks[n_servers++] = r;
        if (n_servers > 0) {
            appendf(out, "%s", n > 0 ? ", " : "");
            append_members(out, "server", ranks, n_servers, n_workers);
        }
    }
    free(ranks);
}

/* "; h1: 2 workers + 1 server; h2: …", stopping like the above. */
static void append_counts_per_host(ByteBuffer *out, const HostIndex *index, bool roles,
                                   size_t stop_bytes)
{
    for (int host = 0; host < index->n_hosts && out->len <= stop_bytes; host++) {
        appendf(out, "; %s: ", index->names[host]);
        append_counts(out, index->workers[host], index->servers[host], roles);
    }
}

/* "; 6 workers + 2 servers on each of 24 hosts (n01 ... n24); 8 workers on
 * n25": hosts with the same counts together, in the order of their first. */
static void append_host_groups(ByteBuffer *out, const HostIndex *index, bool roles)
{
    bool *grouped = xcalloc((size_t)index->n_hosts, sizeof *grouped);
    int shown = 0;
    for (int host = 0; host < index->n_hosts; host++) {
        if (grouped[host])
            continue;
        if (shown == PLACEMENT_GROUPS_SHOWN) {
            int rest = 0;
            for (int h = host; h < index->n_hosts; h++)
                rest += !grouped[h];
            appendf(out, "; other counts on %d more host%s", rest, plural(rest));
            break;
        }
        int members = 0, last = host;
        for (int h = host; h < index->n_hosts; h++) {
            if (index->workers[h] == index->workers[host] &&
                index->servers[h] == index->servers[host]) {
                grouped[h] = true;
                members++;
                last = h;
            }
        }
        appendf(out, "; ");
        append_counts(out, index->workers[host], index->servers[host], roles);
        if (members == 1)
            appendf(out, " on %s", index->names[host]);
        else
            appendf(out, " on each of %d hosts (%s%s%s)", members, index->names[host],
                    members == 2 ? ", " : " ... ", index->names[last]);
        shown++;
    }
    free(grouped);
}

char *placement_describe(const char *const *hosts, int world_size, int n_workers)
{
    assert(world_size >= 1 && n_workers >= 0 && n_workers < world_size);
    bool roles = n_workers > 0;
    HostIndex index;
    hosts_index(&index, hosts, world_size, n_workers);
    ByteBuffer out = {0};
    if (roles)
        appendf(&out, "%d worker%s + %d server%s", n_workers, plural(n_workers),
                world_size - n_workers, plural(world_size - n_workers));
    else
        appendf(&out, "%d rank%s", world_size, plural(world_size));
    appendf(&out, " on %d host%s", index.n_hosts, plural(index.n_hosts));
    size_t totals = out.len, limit = totals + PLACEMENT_DETAIL_BYTES;
    append_members_per_host(&out, &index, world_size, n_workers, limit);
    if (out.len > limit) {
        out.len = totals;
        append_counts_per_host(&out, &index, roles, limit);
    }
    if (out.len > limit) {
        out.len = totals;
        append_host_groups(&out, &index, roles);
    }
    hosts_free(&index);
    out.data[out.len] = '\0'; /* appendf keeps a byte for it */
    return (char *)out.data;
}

int placement_count_hosts(const char *const *hosts, int world_size)
{
    HostIndex index;
    hosts_index(&index, hosts, world_size, 0);
    int n_hosts = index.n_hosts;
    hosts_free(&index);
    return n_hosts;
}
