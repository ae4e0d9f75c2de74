/* comm.h — the only door to MPI.
 *
 * Layout: world ranks [0, n_workers) are workers and [n_workers, size) are
 * parameter servers; worker 0 (world rank 0) is the chief. Each role has its
 * own communicator for its collectives. Point-to-point traffic uses the world
 * communicator with one tag per message kind:
 *   COMM_TAG_PULL_REQUEST   worker → server   encoded PullRequest
 *   COMM_TAG_PULL_RESPONSE  server → worker   encoded PullResponse
 *   COMM_TAG_PUSH           worker → server   encoded Push
 *   COMM_TAG_CONTROL        worker → server   encoded Control
 *   COMM_TAG_PAIRS          worker → server   encoded PairCounts (neighbourhood models)
 * Messages from one sender arrive in the order sent (MPI's non-overtaking
 * rule holds because receivers never select by tag when they take any
 * source), which is what makes "push, then WORKER_DONE" safe. Sends are
 * asynchronous through an outbox that owns each message's bytes until MPI is
 * done with them, so neither side can deadlock on a large message.
 *
 * Liveness. A rank that stops answering without dying (SIGSTOP, a hung file
 * system) would otherwise leave the others waiting forever; a rank that
 * dies is the launcher's business (mpirun ends the job within a second).
 * So no call here blocks inside MPI: every wait (a receive, a collective,
 * the outbox flush) polls, and a wait that has made no progress for a
 * quarter of the rank timeout sends a PING to the ranks it waits for (the
 * source, or every rank of the group for COMM_ANY_SOURCE and collectives).
 * Pings and their PONGs travel on a duplicate of the world communicator, so
 * they never mix with the data messages or bend the ordering above. Every
 * rank answers pings whenever it is inside a comm wait, and from
 * comm_keepalive(), which long local loops call. A pinged rank that has not
 * answered after the rest of the timeout is stalled: the rank that found it
 * ends the job (fatal, so MPI_Abort) naming its world rank, role and host.
 * The first rank to find it tells the others, so that one message is
 * printed, not one per waiting rank (of two that find it at once, the lower
 * prints). The cost when nothing is wrong: a clock read per wait and per
 * poll, a look at the ping communicator every 0.1 s, a counter in
 * comm_keepalive; a wait idle for 10 ms sleeps 0.1 ms between polls,
 * leaving the core to ranks with work. What it cannot see: a
 * rank stuck before comm_init has made its communicators. What it gets
 * wrong: a rank busy for most of the timeout in a loop without
 * comm_keepalive is named stalled (raise the timeout).
 */
#ifndef PSREC_COMM_H
#define PSREC_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/util.h"

typedef enum {
    COMM_TAG_PULL_REQUEST = 1,
    COMM_TAG_PULL_RESPONSE = 2,
    COMM_TAG_PUSH = 3,
    COMM_TAG_CONTROL = 4,
    COMM_TAG_PAIRS = 5
} CommTag;

#define COMM_ANY_SOURCE (-1)
#define COMM_ANY_TAG (-1)

/* Initialises MPI (funneled threading is not needed: one thread per rank),
 * installs MPI_Abort as the fatal() handler and sets up the liveness watch
 * (its communicator, every rank's host name). Call once, first; collective
 * over the world. */
void comm_init(int *argc, char ***argv);

/* Finalises MPI. Collective over the world: the ranks first meet in a
 * watched barrier, so a rank that finished early keeps answering pings
 * while the others work. */
void comm_finalize(void);

/* The rank timeout until comm_set_rank_timeout says otherwise: the default
 * of psrec's --rank-timeout, which the option tables (app/config.c) repeat. */
#define COMM_RANK_TIMEOUT_DEFAULT_S 60.0

/* How long a rank may go without answering the ranks that wait for it
 * before it is taken for stalled and the job ends; 0 turns the check off
 * (waits then never end on their own). Every rank should set the same
 * value, once the configuration is agreed. */
void comm_set_rank_timeout(double seconds);

/* Answers the pings of waiting ranks, so that a rank busy with local work
 * (parsing, counting, scoring, writing) is not taken for stalled. Cheap
 * enough for a loop over lines or rows: it counts calls, reads the clock
 * every few calls and looks at the ping communicator at most every 0.1 s.
 * Place it where one pass takes between a fraction of a microsecond and a
 * few milliseconds. A no-op before comm_init and after comm_finalize (unit
 * tests, single-process commands). */
void comm_keepalive(void);

int comm_world_rank(void);
int comm_world_size(void);

/* The host name of world rank `world_rank` as MPI_Get_processor_name gave
 * it there (cut to 63 bytes), gathered by comm_init: no communication.
 * Valid between comm_init and comm_finalize. */
const char *comm_rank_host(int world_rank);

typedef struct {
    int world_rank;
    int world_size;
    int n_workers;
    int n_servers;
    bool is_server;
    int role_rank;   /* index among workers or among servers */
} CommLayout;

/* Splits the world into n_workers = size - n_servers workers and n_servers
 * servers (1 ≤ n_servers < size, checked by the caller) and creates each
 * role's communicator. Collective over the world. */
void comm_split_roles(CommLayout *layout, int n_servers);

/* World rank of server `server` (0-based); worker w is world rank w. */
int comm_server_world_rank(const CommLayout *layout, int server);

/* ---- asynchronous sends */
typedef struct CommOutbox CommOutbox;

/* An empty outbox; the caller owns it (comm_outbox_destroy). */
CommOutbox *comm_outbox_create(void);

/* Sends message->data[0..len) to world rank dest with tag. The outbox takes
 * the bytes; *message is handed back as an empty buffer (recycled memory)
 * that the caller may fill again. */
void comm_outbox_send(CommOutbox *outbox, int dest_world_rank, CommTag tag, ByteBuffer *message);

/* Releases the buffers of sends that have completed; never blocks. */
void comm_outbox_progress(CommOutbox *outbox);

/* Waits until every send has completed. */
void comm_outbox_flush(CommOutbox *outbox);

/* Flushes, then frees. comm_outbox_destroy(NULL) is a no-op. */
void comm_outbox_destroy(CommOutbox *outbox);

/* ---- receives */

/* Waits until a message from `source` (or COMM_ANY_SOURCE) with `tag` (or
 * COMM_ANY_TAG) arrives and receives it into buf (resized to fit). Like
 * every wait here it answers pings meanwhile, and ends the job if the rank
 * it waits for (any rank, for COMM_ANY_SOURCE) is stalled.
 * *out_source and *out_tag (if not NULL) tell what came. */
void comm_recv(ByteBuffer *buf, int source, int tag, int *out_source, int *out_tag);

/* ---- collectives (each says over which group it is collective) */

/* In-place sum of n doubles over the workers. */
void comm_workers_sum_double(double *values, int n);
/* In-place max of n uint64 over the workers. */
void comm_workers_max_u64(uint64_t *values, int n);
void comm_workers_max_double(double *values, int n);
void comm_workers_barrier(void);
/* All-to-all exchange of bytes among the workers: send holds, worker by
 * worker, send_bytes[w] bytes for worker w (w < n_workers). recv is resized
 * to what arrives, worker by worker in worker order, and recv_bytes[w] says
 * how much came from worker w. Collective over the workers. */
void comm_workers_alltoallv(const uint8_t *send, const size_t *send_bytes, ByteBuffer *recv,
                            size_t *recv_bytes);
/* Every worker's `bytes` bytes, concatenated in worker order into recv
 * (resized). Collective over the workers. */
void comm_workers_allgatherv(const void *send, size_t bytes, ByteBuffer *recv);
/* In-place sum / max over every rank (workers and servers). */
void comm_world_sum_double(double *values, int n);
void comm_world_max_double(double *values, int n);
void comm_world_max_int(int *value);
void comm_world_min_int(int *value);
/* Broadcast n bytes from world rank `root` to every rank. */
void comm_world_broadcast(void *data, size_t bytes, int root);

/* ---- agreeing without waiting: a bitwise OR of one word over the workers,
 * started by each worker when it reaches the same point and collected
 * later (a non-blocking reduction), so no worker waits at the point itself.
 * Every worker must start the same votes in the same order. */
typedef struct CommVote CommVote;
CommVote *comm_workers_vote_start(uint64_t bits);
/* Waits for the vote (every worker has started it), frees it and returns
 * the OR of every worker's bits. */
uint64_t comm_workers_vote_finish(CommVote *vote);

/* Ends every rank of the job with exit_code (MPI_Abort). */
_Noreturn void comm_abort(int exit_code);

#endif
