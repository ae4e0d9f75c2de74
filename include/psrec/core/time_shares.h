/* time_shares.h — where a rank's wall time goes, by kind of work.
 *
 * A rank charges the time since its last charge to the kind of work it just
 * finished (time_shares_charge(TIME_COPY) after copying rows, ...), so the
 * kinds add up to the wall time since time_shares_reset. One account per
 * process: a rank is one single-threaded process, and the comm module
 * charges waiting and transfers from inside its own calls. The cost is two
 * clock reads per charge (tens of nanoseconds), a few per batch.
 */
#ifndef PSREC_TIME_SHARES_H
#define PSREC_TIME_SHARES_H

typedef enum {
    TIME_WAIT,      /* blocked until a message arrives */
    TIME_TRANSFER,  /* MPI moving message bytes (receives, sends' progress) */
    TIME_WIRE,      /* protobuf encoding and decoding */
    TIME_LOOKUP,    /* hash lookups: keys to rows, keys to a batch's slots */
    TIME_COPY,      /* copying rows between store, messages and batches */
    TIME_MODEL,     /* the model's forward and backward pass */
    TIME_OPTIMIZER, /* applying gradients to rows */
    TIME_OTHER,     /* everything else (batch order, sampling, votes, bookkeeping) */
    TIME_KINDS
} TimeKind;

/* Short lower-case name of a kind ("wait", "copy", ...), for reports. */
const char *time_kind_name(TimeKind kind);

/* Zeroes every kind and starts the clock. */
void time_shares_reset(void);

/* Adds the time since the last charge (or reset) to `kind`. */
void time_shares_charge(TimeKind kind);

/* Seconds charged to each kind since the reset: out is (TIME_KINDS,). */
void time_shares_read(double *out);

#endif
