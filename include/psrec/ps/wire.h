/* wire.h — encoding and decoding of the messages in proto/psrec.proto.
 *
 * This is the only module that sees the protobuf-c generated types; the rest
 * of psrec uses the plain structs below. A decoded struct's arrays are where
 * protobuf-c unpacked them (no copy); the struct owns that memory, through
 * its opaque `unpacked` field, until the matching wire_*_free.
 * Bytes that do not decode return -1 with a message saying what was wrong;
 * never a crash. Whether the sizes agree with the keys is the receiver's
 * check, which knows the tables.
 */
#ifndef PSREC_WIRE_H
#define PSREC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/util.h"

typedef struct {
    uint32_t request_id;
    uint64_t min_clock;
    uint64_t batch;   /* global index of the batch the pull serves */
    bool create;
    bool bf16_values; /* the rows may come back as bfloat16 */
    size_t n_keys;
    uint64_t *keys;   /* (n_keys,) */
    void *unpacked;   /* decoded messages: the memory behind the arrays */
} WirePullRequest;

typedef struct {
    uint32_t request_id;
    size_t n_values;
    float *values;    /* (n_values,) */
    int stop_signal;  /* a stop signal the server got (its number: checkpoint and stop), or 0 */
    bool bf16;        /* the values travel as bfloat16 (only wire_encode_pull_response_open
                         writes them, only wire_decode_pull_response_into reads them) */
    void *unpacked;   /* decoded messages: the memory behind the arrays */
} WirePullResponse;

typedef struct {
    uint64_t clock;
    size_t n_keys;
    uint64_t *keys;   /* (n_keys,) */
    size_t n_grads;
    float *grads;     /* (n_grads,) */
    void *unpacked;   /* decoded messages: the memory behind the arrays */
} WirePush;

typedef enum {
    WIRE_CONTROL_WORKER_DONE = 1,   /* worker → server: nothing more comes */
    WIRE_CONTROL_SNAPSHOT = 2,      /* worker → server: save the model at clock `value` */
    WIRE_CONTROL_SNAPSHOT_SAVED = 3, /* server → worker: saved */
    WIRE_CONTROL_RESTORE = 4,       /* worker → server: back to the saved snapshot */
    WIRE_CONTROL_RESTORED = 5,      /* server → worker: restored */
    WIRE_CONTROL_PAIRS_DONE = 6,    /* worker → server: block `value`'s PairCounts are all sent */
    WIRE_CONTROL_PAIRS_MERGED = 7,  /* server → worker: block `value`'s rows are built */
    WIRE_CONTROL_CHECKPOINT = 8,    /* worker → server: write checkpoint `checkpoint` at clock `value` */
    WIRE_CONTROL_CHECKPOINT_SAVED = 9 /* server → worker: written */
} WireControlKind;

/* Pair sums of neighbourhood models (proto PairCounts). */
typedef struct {
    uint32_t width;       /* values per pair */
    size_t n_pairs;
    uint64_t *rows;       /* (n_pairs,) row keys */
    uint64_t *columns;    /* (n_pairs,) */
    size_t n_values;
    float *values;        /* (n_values,) width per pair, when the sizes agree */
    size_t n_norms;
    uint64_t *norm_columns; /* (n_norms,) */
    float *norms;         /* (n_norms,) */
    void *unpacked;
} WirePairCounts;

typedef struct {
    WireControlKind kind;
    uint64_t value;
    uint64_t checkpoint; /* CHECKPOINT, CHECKPOINT_SAVED: the checkpoint's number */
} WireControl;

/* Encoders: replace out's contents (out->len = encoded size); the structs are
 * only read, so their arrays may point at the caller's memory. */
void wire_encode_pull_request(const WirePullRequest *msg, ByteBuffer *out);
void wire_encode_pull_response(const WirePullResponse *msg, ByteBuffer *out);
void wire_encode_push(const WirePush *msg, ByteBuffer *out);

/* A PullResponse whose values the caller writes in place: encodes msg's
 * other fields (msg->values is not read) and room for msg->n_values floats,
 * and returns where their bytes start in out (not aligned for float: write
 * them with memcpy). Lets a server copy rows straight from its store into
 * the message instead of gathering them into an array first. The bytes
 * decode like wire_encode_pull_response's. */
uint8_t *wire_encode_pull_response_open(const WirePullResponse *msg, ByteBuffer *out);

/* bfloat16, for pulls with --pull-precision bf16: a float's top 16 bits,
 * rounded to nearest even (NaN stays NaN). Halves a response's bytes at a
 * relative error of at most 2^-8 per value (8 significant bits). wire_put_bf16 writes n values
 * as 2 little-endian bytes each (to a message being built). */
uint16_t wire_bf16_from_float(float value);
float wire_float_from_bf16(uint16_t bits);
void wire_put_bf16(uint8_t *dest, const float *values, size_t n);
void wire_encode_control(const WireControl *msg, ByteBuffer *out);
void wire_encode_pair_counts(const WirePairCounts *msg, ByteBuffer *out);

/* Decoders: fill *out (owning its arrays, see above) and return 0, or return -1
 * with a message in *err and leave *out empty. Checks done here: the bytes
 * decode, and a Control has a known kind. Whether the value counts agree
 * with the keys (rows differ in width per table) is checked by the receiver,
 * which knows the tables. */
int wire_decode_pull_request(WirePullRequest *out, const uint8_t *bytes, size_t len, Error *err);
int wire_decode_pull_response(WirePullResponse *out, const uint8_t *bytes, size_t len, Error *err);
/* Decodes a PullResponse straight into dest: when it holds exactly
 * dest_floats values they are in dest on return (protobuf-c unpacks the
 * array into dest itself, through an allocator that hands dest out, so the
 * rows are copied once, not twice). out gets the other fields, with
 * n_values as decoded and values NULL; the message is released. When
 * n_values differs, dest is left alone: the caller reports the mismatch.
 * bfloat16 values (values_bf16) are widened into dest (out->bf16 set). */
int wire_decode_pull_response_into(WirePullResponse *out, const uint8_t *bytes, size_t len,
                                   float *dest, size_t dest_floats, Error *err);
int wire_decode_push(WirePush *out, const uint8_t *bytes, size_t len, Error *err);
int wire_decode_control(WireControl *out, const uint8_t *bytes, size_t len, Error *err);
/* Also checks that rows and columns pair up, that values hold width per
 * pair and that every norm has its column. */
int wire_decode_pair_counts(WirePairCounts *out, const uint8_t *bytes, size_t len, Error *err);

/* Free the arrays of a decoded message and zero it; NULL-safe. */
void wire_pull_request_free(WirePullRequest *msg);
void wire_pull_response_free(WirePullResponse *msg);
void wire_push_free(WirePush *msg);
void wire_pair_counts_free(WirePairCounts *msg);

#endif
