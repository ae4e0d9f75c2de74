/* test_wire.c — the wire codec: every message kind survives a round trip with
 * exact values (empty arrays and 100k keys included), truncated encodings are
 * rejected or decode to a consistent shorter message, and a Control of
 * unknown kind is refused. Random and mutated bytes never crash a decoder
 * (run under ASan), and whatever one accepts re-encodes to bytes that decode
 * to the same fields and whose every prefix decodes consistently.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "psrec/ps/wire.h"

#include "test_support.h"

/* Hand-written encodings below follow the protobuf wire format: a tag byte is
 * field << 3 | wire type (0 varint, 2 length-delimited). */

static uint64_t test_key(size_t i) { return ((uint64_t)(i % 7) << 56) | (i * 2654435761u); }
static float test_value(size_t i) { return (float)i * 0.25f - 1000.0f + 1e-3f * (float)(i % 13); }

/* ---- round trips */

START_TEST(test_pull_request_round_trip)
{
    uint64_t keys[] = {0, 1, UINT64_MAX, (uint64_t)3 << 56 | 12345, 1ull << 63};
    WirePullRequest msg = {.request_id = 4000000000u, .min_clock = 1ull << 40,
                           .batch = (1ull << 40) + 3, .create = true,
                           .n_keys = 5, .keys = keys};
    ByteBuffer buf = {0};
    wire_encode_pull_request(&msg, &buf);
    ck_assert_uint_gt(buf.len, 0);

    WirePullRequest back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_request(&back, buf.data, buf.len, &err), 0);
    ck_assert_uint_eq(back.request_id, 4000000000u);
    ck_assert_uint_eq(back.min_clock, 1ull << 40);
    ck_assert_uint_eq(back.batch, (1ull << 40) + 3);
    ck_assert(back.create);
    ck_assert_uint_eq(back.n_keys, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_uint_eq(back.keys[i], keys[i]);
    wire_pull_request_free(&back);
    ck_assert_ptr_null(back.keys);
    ck_assert_uint_eq(back.n_keys, 0);

    /* create = false must come back false, not just "whatever it was". */
    msg.create = false;
    wire_encode_pull_request(&msg, &buf);
    ck_assert_int_eq(wire_decode_pull_request(&back, buf.data, buf.len, &err), 0);
    ck_assert(!back.create);
    wire_pull_request_free(&back);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_pull_request_empty)
{
    WirePullRequest msg = {0};
    ByteBuffer buf = {0};
    wire_encode_pull_request(&msg, &buf);
    /* proto3 omits default values: the all-default message is zero bytes. */
    ck_assert_uint_eq(buf.len, 0);

    WirePullRequest back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_request(&back, NULL, 0, &err), 0);
    ck_assert_uint_eq(back.request_id, 0);
    ck_assert_uint_eq(back.min_clock, 0);
    ck_assert(!back.create);
    ck_assert_uint_eq(back.n_keys, 0);
    wire_pull_request_free(&back);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_pull_response_round_trip)
{
    float values[] = {0.0f, -0.0f, 1.5f, -3.25e-30f, 3.4e38f, 0.1f};
    WirePullResponse msg = {.request_id = 17, .n_values = 6, .values = values, .stop_signal = 10};
    ByteBuffer buf = {0};
    wire_encode_pull_response(&msg, &buf);

    WirePullResponse back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_response(&back, buf.data, buf.len, &err), 0);
    ck_assert_uint_eq(back.request_id, 17);
    ck_assert_int_eq(back.stop_signal, 10);
    ck_assert_uint_eq(back.n_values, 6);
    /* Bit-exact: compare the representation, so -0.0f is told from 0.0f. */
    ck_assert_int_eq(memcmp(back.values, values, sizeof values), 0);
    wire_pull_response_free(&back);
    ck_assert_ptr_null(back.values);
    bytebuffer_free(&buf);
}
END_TEST

/* A response written in place (the server's path): the same message as
 * wire_encode_pull_response's, fields in another order. */
START_TEST(test_pull_response_open_matches)
{
    float values[7] = {0.25f, -1.0f, 3.5e-20f, 1e20f, 0.0f, -0.0f, 0.1f};
    WirePullResponse msg = {.request_id = 4, .n_values = 7, .stop_signal = 12};
    ByteBuffer buf = {0};
    memcpy(wire_encode_pull_response_open(&msg, &buf), values, sizeof values);
    float dest[7];
    WirePullResponse back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_response_into(&back, buf.data, buf.len, dest, 7, &err), 0);
    ck_assert_uint_eq(back.request_id, 4);
    ck_assert_int_eq(back.stop_signal, 12);
    ck_assert_uint_eq(back.n_values, 7);
    ck_assert(!back.bf16);
    ck_assert_int_eq(memcmp(dest, values, sizeof values), 0);
    /* Same size as protobuf-c's own encoding of it. */
    ByteBuffer whole = {0};
    msg.values = values;
    wire_encode_pull_response(&msg, &whole);
    ck_assert_uint_eq(whole.len, buf.len);
    bytebuffer_free(&whole);
    bytebuffer_free(&buf);
}
END_TEST

/* bfloat16: exact where 8 significant bits suffice, ties to even, within
 * 2^-8 relative elsewhere, NaN and infinities kept; a response in bf16
 * decodes into floats. */
START_TEST(test_bf16_values)
{
    ck_assert_uint_eq(wire_bf16_from_float(1.0f), 0x3f80);
    ck_assert_uint_eq(wire_bf16_from_float(-2.0f), 0xc000);
    ck_assert(wire_float_from_bf16(wire_bf16_from_float(0.15625f)) == 0.15625f);
    /* 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: to the even one, 1. */
    ck_assert_uint_eq(wire_bf16_from_float(1.0f + 0x1p-8f), 0x3f80);
    /* 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up. */
    ck_assert_uint_eq(wire_bf16_from_float(1.0f + 0x3p-8f), 0x3f82);
    ck_assert(isinf(wire_float_from_bf16(wire_bf16_from_float(INFINITY))));
    ck_assert(isnan(wire_float_from_bf16(wire_bf16_from_float(NAN))));
    Rng rng;
    rng_seed(&rng, 3);
    float values[200], dest[200];
    for (int i = 0; i < 200; i++)
        values[i] = (float)(rng_normal(&rng) * 0.3);
    WirePullResponse msg = {.request_id = 8, .n_values = 200, .bf16 = true};
    ByteBuffer buf = {0};
    wire_put_bf16(wire_encode_pull_response_open(&msg, &buf), values, 200);
    WirePullResponse back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_response_into(&back, buf.data, buf.len, dest, 200, &err),
                     0);
    ck_assert(back.bf16);
    ck_assert_uint_eq(back.n_values, 200);
    for (int i = 0; i < 200; i++)
        ck_assert_float_le(fabsf(dest[i] - values[i]), fabsf(values[i]) * 0x1p-8f);
    /* About half the bytes of the float response. */
    ByteBuffer whole = {0};
    WirePullResponse as_floats = {.request_id = 8, .n_values = 200, .values = values};
    wire_encode_pull_response(&as_floats, &whole);
    ck_assert_uint_lt(buf.len, whole.len / 2 + 8);
    bytebuffer_free(&whole);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_pull_response_into_destination)
{
    /* 12 floats: 48 bytes, the size of a small struct too — only the array
     * may land in the destination. */
    float values[12];
    for (int i = 0; i < 12; i++)
        values[i] = (float)i * 0.5f - 2.0f;
    WirePullResponse msg = {.request_id = 9, .n_values = 12, .values = values, .stop_signal = 15};
    ByteBuffer buf = {0};
    wire_encode_pull_response(&msg, &buf);
    float dest[12] = {0};
    WirePullResponse back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_response_into(&back, buf.data, buf.len, dest, 12, &err), 0);
    ck_assert_uint_eq(back.request_id, 9);
    ck_assert_uint_eq(back.n_values, 12);
    ck_assert_int_eq(back.stop_signal, 15);
    ck_assert_int_eq(memcmp(dest, values, sizeof values), 0);
    /* A response of another size leaves the destination alone. */
    float other[11];
    for (int i = 0; i < 11; i++)
        other[i] = 7.0f;
    ck_assert_int_eq(wire_decode_pull_response_into(&back, buf.data, buf.len, other, 11, &err), 0);
    ck_assert_uint_eq(back.n_values, 12);
    for (int i = 0; i < 11; i++)
        ck_assert(other[i] == 7.0f);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_push_round_trip_large)
{
    const size_t n_keys = 100000;
    const size_t width = 3;
    uint64_t *keys = malloc(n_keys * sizeof *keys);
    float *grads = malloc(n_keys * width * sizeof *grads);
    for (size_t i = 0; i < n_keys; i++)
        keys[i] = test_key(i);
    for (size_t i = 0; i < n_keys * width; i++)
        grads[i] = test_value(i);

    WirePush msg = {.clock = 123456789, .n_keys = n_keys, .keys = keys,
                    .n_grads = n_keys * width, .grads = grads};
    ByteBuffer buf = {0};
    wire_encode_push(&msg, &buf);
    /* Packed floats are 4 bytes each: the grads alone take 1.2 MB. */
    ck_assert_uint_gt(buf.len, n_keys * width * 4);

    WirePush back;
    Error err;
    ck_assert_int_eq(wire_decode_push(&back, buf.data, buf.len, &err), 0);
    ck_assert_uint_eq(back.clock, 123456789);
    ck_assert_uint_eq(back.n_keys, n_keys);
    ck_assert_uint_eq(back.n_grads, n_keys * width);
    ck_assert_int_eq(memcmp(back.keys, keys, n_keys * sizeof *keys), 0);
    ck_assert_int_eq(memcmp(back.grads, grads, n_keys * width * sizeof *grads), 0);
    ck_assert_uint_eq(back.keys[99999], test_key(99999));
    wire_push_free(&back);
    bytebuffer_free(&buf);
    free(keys);
    free(grads);
}
END_TEST

START_TEST(test_push_empty_arrays)
{
    WirePush msg = {.clock = 9};
    ByteBuffer buf = {0};
    wire_encode_push(&msg, &buf);
    /* Just field 1 (varint 9): tag 0x08, value 0x09. */
    ck_assert_uint_eq(buf.len, 2);
    ck_assert_uint_eq(buf.data[0], 0x08);
    ck_assert_uint_eq(buf.data[1], 0x09);

    WirePush back;
    Error err;
    ck_assert_int_eq(wire_decode_push(&back, buf.data, buf.len, &err), 0);
    ck_assert_uint_eq(back.clock, 9);
    ck_assert_uint_eq(back.n_keys, 0);
    ck_assert_uint_eq(back.n_grads, 0);
    ck_assert_ptr_null(back.keys);
    ck_assert_ptr_null(back.grads);
    wire_push_free(&back);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_control_round_trip)
{
    /* Every kind, workers' and servers': done, snapshot, restore, pairs and
     * checkpoints, with the checkpoint number. */
    for (int kind = WIRE_CONTROL_WORKER_DONE; kind <= WIRE_CONTROL_CHECKPOINT_SAVED; kind++) {
        WireControl msg = {.kind = (WireControlKind)kind,
                           .value = UINT64_MAX - (uint64_t)kind,
                           .checkpoint = (uint64_t)kind * 1000003u};
        ByteBuffer buf = {0};
        wire_encode_control(&msg, &buf);

        WireControl back;
        Error err;
        ck_assert_int_eq(wire_decode_control(&back, buf.data, buf.len, &err), 0);
        ck_assert_int_eq(back.kind, kind);
        ck_assert_uint_eq(back.value, UINT64_MAX - (uint64_t)kind);
        ck_assert_uint_eq(back.checkpoint, (uint64_t)kind * 1000003u);
        bytebuffer_free(&buf);
    }
}
END_TEST

START_TEST(test_control_unknown_kind_rejected)
{
    WireControl back;
    Error err;
    /* kind = 10: tag 0x08, varint 10 (9 is the last kind). */
    const uint8_t kind10[] = {0x08, 0x0a, 0x10, 0x05};
    ck_assert_int_eq(wire_decode_control(&back, kind10, sizeof kind10, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "unknown kind 10"));

    /* No kind at all reads as KIND_UNSPECIFIED (0), which is not a kind either. */
    const uint8_t value_only[] = {0x10, 0x05};
    ck_assert_int_eq(wire_decode_control(&back, value_only, sizeof value_only, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "unknown kind 0"));
    ck_assert_int_eq(wire_decode_control(&back, NULL, 0, &err), -1);

    /* A hand-made WORKER_DONE with value 5 is accepted. */
    const uint8_t done[] = {0x08, 0x01, 0x10, 0x05};
    ck_assert_int_eq(wire_decode_control(&back, done, sizeof done, &err), 0);
    ck_assert_int_eq(back.kind, WIRE_CONTROL_WORKER_DONE);
    ck_assert_uint_eq(back.value, 5);
}
END_TEST

START_TEST(test_decode_failure_message)
{
    /* Field 2 of Push (keys) with wire type 2 and a length of 100 but only 1
     * byte behind it. */
    const uint8_t bad[] = {0x12, 0x64, 0x01};
    WirePush back;
    Error err;
    ck_assert_int_eq(wire_decode_push(&back, bad, sizeof bad, &err), -1);
    ck_assert_str_eq(err.message, "cannot decode Push message (3 bytes)");
    ck_assert_uint_eq(back.n_keys, 0);
    ck_assert_ptr_null(back.keys);
    ck_assert_ptr_null(back.grads);
}
END_TEST

/* ---- truncation: every prefix of a message with packed fields */

/* A fresh heap copy of the first len bytes of buf, exactly that long, so
 * ASan sees any read past it (one byte when len is 0: malloc(0) may be
 * NULL). The caller frees it. */
static uint8_t *test_copy_prefix(const ByteBuffer *buf, size_t len)
{
    uint8_t *prefix = malloc(len ? len : 1);
    if (!prefix) /* not ck_assert: a passing one costs a write, and fuzzing calls this a lot */
        ck_abort_msg("out of memory copying %zu bytes", len);
    if (len) /* an empty encoding may have no buffer at all */
        memcpy(prefix, buf->data, len);
    return prefix;
}

START_TEST(test_push_truncations)
{
    enum { N_KEYS = 20, WIDTH = 4 };
    uint64_t keys[N_KEYS];
    float grads[N_KEYS * WIDTH];
    for (size_t i = 0; i < N_KEYS; i++)
        keys[i] = test_key(i + 1);
    for (size_t i = 0; i < N_KEYS * WIDTH; i++)
        grads[i] = test_value(i);
    WirePush msg = {.clock = 300, .n_keys = N_KEYS, .keys = keys, .n_grads = N_KEYS * WIDTH,
                    .grads = grads};
    ByteBuffer buf = {0};
    wire_encode_push(&msg, &buf);

    size_t accepted = 0;
    for (size_t len = 0; len < buf.len; len++) {
        uint8_t *prefix = test_copy_prefix(&buf, len);
        WirePush back;
        Error err;
        if (wire_decode_push(&back, prefix, len, &err) == 0) {
            /* Only a cut at a field boundary decodes, and then each field is
             * either whole or absent — never a partial array. */
            accepted++;
            ck_assert(back.clock == 0 || back.clock == 300);
            ck_assert(back.n_keys == 0 || back.n_keys == N_KEYS);
            ck_assert(back.n_grads == 0 || back.n_grads == N_KEYS * WIDTH);
            ck_assert((back.keys == NULL) == (back.n_keys == 0));
            ck_assert((back.grads == NULL) == (back.n_grads == 0));
            if (back.n_keys)
                ck_assert_int_eq(memcmp(back.keys, keys, sizeof keys), 0);
            if (back.n_grads)
                ck_assert_int_eq(memcmp(back.grads, grads, sizeof grads), 0);
            wire_push_free(&back);
        } else {
            ck_assert_uint_eq(back.n_keys, 0);
            ck_assert_uint_eq(back.n_grads, 0);
            ck_assert_ptr_nonnull(strstr(err.message, "cannot decode Push"));
        }
        free(prefix);
    }
    /* Three fields: the cuts at 0 and after clock and after keys are the only
     * ones that can decode; everything else (well over 200 prefixes) fails. */
    ck_assert_uint_le(accepted, 3);
    ck_assert_uint_gt(buf.len, 200);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_pull_response_truncations)
{
    enum { N_VALUES = 24 };
    float values[N_VALUES];
    for (size_t i = 0; i < N_VALUES; i++)
        values[i] = test_value(i);
    WirePullResponse msg = {.request_id = 99, .n_values = N_VALUES, .values = values};
    ByteBuffer buf = {0};
    wire_encode_pull_response(&msg, &buf);

    size_t accepted = 0;
    for (size_t len = 0; len < buf.len; len++) {
        uint8_t *prefix = test_copy_prefix(&buf, len);
        WirePullResponse back;
        Error err;
        if (wire_decode_pull_response(&back, prefix, len, &err) == 0) {
            accepted++;
            ck_assert(back.n_values == 0 || back.n_values == N_VALUES);
            ck_assert((back.values == NULL) == (back.n_values == 0));
            if (back.n_values == N_VALUES)
                ck_assert_int_eq(memcmp(back.values, values, sizeof values), 0);
            wire_pull_response_free(&back);
        } else {
            ck_assert_uint_eq(back.n_values, 0);
        }
        free(prefix);
    }
    ck_assert_uint_le(accepted, 3);
    /* request_id (tag + 1-byte varint), values (tag + length + 4 bytes each) */
    ck_assert_uint_eq(buf.len, 2 + 2 + 4 * N_VALUES);
    bytebuffer_free(&buf);
}
END_TEST

/* ---- fuzzing: random bytes and mutated messages. A decoder may refuse any
 * bytes, but what it accepts must be a real message: encoded again and
 * decoded, it gives back the very same fields (a decoder that invented, lost
 * or half-read data would not), and every prefix of that valid encoding fails
 * or decodes to a consistent part of it. Comparing every element also checks,
 * under ASan, that the arrays are as long as they say. */

/* Any decoded message, seen as its scalar fields and its arrays. */
typedef struct {
    int n_scalars;
    uint64_t scalars[4];
    int n_arrays;
    const void *arrays[2];
    size_t counts[2];
    size_t elem_bytes[2];
} TestFields;

typedef union {
    WirePullRequest pull_request;
    WirePullResponse pull_response;
    WirePush push;
    WireControl control;
} TestMessage;

/* One message kind: its codec, and how to see its fields. */
typedef struct {
    const char *name;
    int (*decode)(TestMessage *out, const uint8_t *bytes, size_t len, Error *err);
    void (*encode)(const TestMessage *msg, ByteBuffer *out);
    void (*fields)(const TestMessage *msg, TestFields *out);
    void (*release)(TestMessage *msg);
} TestCodec;

static int test_decode_pull_request(TestMessage *out, const uint8_t *bytes, size_t len, Error *err)
{
    return wire_decode_pull_request(&out->pull_request, bytes, len, err);
}
static void test_encode_pull_request(const TestMessage *msg, ByteBuffer *out)
{
    wire_encode_pull_request(&msg->pull_request, out);
}
static void test_fields_pull_request(const TestMessage *msg, TestFields *out)
{
    const WirePullRequest *m = &msg->pull_request;
    *out = (TestFields){.n_scalars = 4,
                        .scalars = {m->request_id, m->min_clock, m->batch, m->create},
                        .n_arrays = 1, .arrays = {m->keys}, .counts = {m->n_keys},
                        .elem_bytes = {sizeof *m->keys}};
}
static void test_release_pull_request(TestMessage *msg)
{
    wire_pull_request_free(&msg->pull_request);
}

static int test_decode_pull_response(TestMessage *out, const uint8_t *bytes, size_t len,
                                     Error *err)
{
    return wire_decode_pull_response(&out->pull_response, bytes, len, err);
}
static void test_encode_pull_response(const TestMessage *msg, ByteBuffer *out)
{
    wire_encode_pull_response(&msg->pull_response, out);
}
static void test_fields_pull_response(const TestMessage *msg, TestFields *out)
{
    const WirePullResponse *m = &msg->pull_response;
    *out = (TestFields){.n_scalars = 1, .scalars = {m->request_id}, .n_arrays = 1,
                        .arrays = {m->values}, .counts = {m->n_values},
                        .elem_bytes = {sizeof *m->values}};
}
static void test_release_pull_response(TestMessage *msg)
{
    wire_pull_response_free(&msg->pull_response);
}

static int test_decode_push(TestMessage *out, const uint8_t *bytes, size_t len, Error *err)
{
    return wire_decode_push(&out->push, bytes, len, err);
}
static void test_encode_push(const TestMessage *msg, ByteBuffer *out)
{
    wire_encode_push(&msg->push, out);
}
static void test_fields_push(const TestMessage *msg, TestFields *out)
{
    const WirePush *m = &msg->push;
    *out = (TestFields){.n_scalars = 1, .scalars = {m->clock}, .n_arrays = 2,
                        .arrays = {m->keys, m->grads}, .counts = {m->n_keys, m->n_grads},
                        .elem_bytes = {sizeof *m->keys, sizeof *m->grads}};
}
static void test_release_push(TestMessage *msg) { wire_push_free(&msg->push); }

static int test_decode_control(TestMessage *out, const uint8_t *bytes, size_t len, Error *err)
{
    return wire_decode_control(&out->control, bytes, len, err);
}
static void test_encode_control(const TestMessage *msg, ByteBuffer *out)
{
    wire_encode_control(&msg->control, out);
}
static void test_fields_control(const TestMessage *msg, TestFields *out)
{
    *out = (TestFields){.n_scalars = 2,
                        .scalars = {(uint64_t)msg->control.kind, msg->control.value}};
}
static void test_release_control(TestMessage *msg) { (void)msg; }

static const TestCodec TEST_CODECS[4] = {
    {"PullRequest", test_decode_pull_request, test_encode_pull_request, test_fields_pull_request,
     test_release_pull_request},
    {"PullResponse", test_decode_pull_response, test_encode_pull_response,
     test_fields_pull_response, test_release_pull_response},
    {"Push", test_decode_push, test_encode_push, test_fields_push, test_release_push},
    {"Control", test_decode_control, test_encode_control, test_fields_control,
     test_release_control},
};
enum { TEST_PULL_REQUEST, TEST_PULL_RESPONSE, TEST_PUSH, TEST_CONTROL };

/* Whether array i of a starts with the first n elements of array i of b,
 * bit for bit (floats included: -0.0f and NaN payloads must survive). */
static bool test_array_starts_with(const TestFields *a, const TestFields *b, int i, size_t n)
{
    return n == 0 || memcmp(a->arrays[i], b->arrays[i], n * a->elem_bytes[i]) == 0;
}

static bool test_fields_equal(const TestFields *a, const TestFields *b)
{
    for (int i = 0; i < a->n_scalars; i++)
        if (a->scalars[i] != b->scalars[i])
            return false;
    for (int i = 0; i < a->n_arrays; i++)
        if (a->counts[i] != b->counts[i] || !test_array_starts_with(a, b, i, a->counts[i]))
            return false;
    return true;
}

/* Whether part could come from a prefix of whole's encoding: each scalar is
 * whole's or still the default 0, each array a prefix of whole's. */
static bool test_fields_within(const TestFields *part, const TestFields *whole)
{
    for (int i = 0; i < part->n_scalars; i++)
        if (part->scalars[i] != 0 && part->scalars[i] != whole->scalars[i])
            return false;
    for (int i = 0; i < part->n_arrays; i++)
        if (part->counts[i] > whole->counts[i] ||
            !test_array_starts_with(part, whole, i, part->counts[i]))
            return false;
    return true;
}

/* Every prefix of the valid encoding buf (whose fields are whole) fails or
 * decodes to fields within whole, holding at least what every shorter
 * accepted prefix held; all of buf decodes to exactly whole. Failures use
 * ck_abort_msg behind an `if`: a passing ck_assert costs Check a write to
 * its pipe, and fuzzing passes millions. */
static void test_assert_prefixes(const TestCodec *codec, const ByteBuffer *buf,
                                 const TestFields *whole)
{
    TestMessage previous;
    TestFields previous_fields;
    bool have_previous = false;
    for (size_t len = 0; len <= buf->len; len++) {
        uint8_t *prefix = test_copy_prefix(buf, len);
        TestMessage part;
        Error err;
        int rc = codec->decode(&part, prefix, len, &err);
        free(prefix);
        if (rc != 0 && len == buf->len)
            ck_abort_msg("%s: the whole %zu bytes do not decode: %s", codec->name, len,
                         err.message);
        if (rc != 0)
            continue;
        TestFields fields;
        codec->fields(&part, &fields);
        if (!test_fields_within(&fields, whole))
            ck_abort_msg("%s: the first %zu of %zu bytes decode to fields the message lacks",
                         codec->name, len, buf->len);
        if (have_previous && !test_fields_within(&previous_fields, &fields))
            ck_abort_msg("%s: the first %zu bytes lose fields a shorter prefix had",
                         codec->name, len);
        if (len == buf->len && !test_fields_equal(&fields, whole))
            ck_abort_msg("%s: the whole %zu bytes decode to other fields", codec->name, len);
        if (have_previous)
            codec->release(&previous);
        previous = part;
        previous_fields = fields;
        have_previous = true;
    }
    if (have_previous)
        codec->release(&previous);
}

/* msg was decoded from some bytes: its encoding must decode to the same
 * fields, and the prefixes of that encoding must behave. */
static void test_assert_stable(const TestCodec *codec, const TestMessage *msg)
{
    TestFields fields;
    codec->fields(msg, &fields);
    ByteBuffer buf = {0};
    codec->encode(msg, &buf);
    test_assert_prefixes(codec, &buf, &fields);
    bytebuffer_free(&buf);
}

/* Runs every decoder on the bytes; each message that decodes is checked for
 * stability and counted in n_ok (by codec). */
static void test_decode_all(const uint8_t *bytes, size_t len, int *n_ok)
{
    for (int c = 0; c < 4; c++) {
        const TestCodec *codec = &TEST_CODECS[c];
        TestMessage msg;
        Error err;
        if (codec->decode(&msg, bytes, len, &err) != 0)
            continue;
        if (c == TEST_CONTROL && (msg.control.kind < WIRE_CONTROL_WORKER_DONE ||
                                  msg.control.kind > WIRE_CONTROL_CHECKPOINT_SAVED))
            ck_abort_msg("Control decoded with unknown kind %d", (int)msg.control.kind);
        test_assert_stable(codec, &msg);
        codec->release(&msg);
        n_ok[c]++;
    }
}

START_TEST(test_random_garbage)
{
    Rng rng;
    rng_seed(&rng, 20240601);
    int n_ok[4] = {0};
    const int trials = 20000;
    for (int t = 0; t < trials; t++) {
        size_t len = (size_t)rng_below(&rng, 64);
        uint8_t *bytes = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)rng_next_u64(&rng);
        test_decode_all(bytes, len, n_ok);
        free(bytes);
    }
    /* Random bytes are mostly not valid protobuf; a Control, which needs
     * kind == 1 exactly, is rarer still. */
    for (int k = 0; k < 4; k++)
        ck_assert_int_lt(n_ok[k], trials / 2);
}
END_TEST

START_TEST(test_mutated_messages)
{
    /* Changing bytes of real messages reaches deeper decoder paths than pure
     * noise does (valid tags with wrong lengths, fields of the wrong type). */
    uint64_t keys[8];
    float values[16];
    for (size_t i = 0; i < 8; i++)
        keys[i] = test_key(i + 3);
    for (size_t i = 0; i < 16; i++)
        values[i] = test_value(i);
    TestMessage originals[4];
    originals[TEST_PULL_REQUEST].pull_request =
        (WirePullRequest){.request_id = 4000000012u, .min_clock = (1ull << 40) + 3,
                          .batch = (1ull << 40) + 2, .create = true, .n_keys = 8, .keys = keys};
    originals[TEST_PULL_RESPONSE].pull_response =
        (WirePullResponse){.request_id = 4000000012u, .n_values = 16, .values = values};
    /* Values wider than 32 bits: a decoder that truncates them is caught. */
    originals[TEST_PUSH].push = (WirePush){.clock = (1ull << 33) + 77, .n_keys = 8, .keys = keys,
                                           .n_grads = 16, .grads = values};
    originals[TEST_CONTROL].control =
        (WireControl){.kind = WIRE_CONTROL_WORKER_DONE, .value = 1ull << 40};

    Rng rng;
    rng_seed(&rng, 7);
    int n_ok[4] = {0};
    for (int c = 0; c < 4; c++) {
        const TestCodec *codec = &TEST_CODECS[c];
        ByteBuffer buf = {0};
        codec->encode(&originals[c], &buf);
        /* Unmodified, the message decodes to exactly what was encoded, and
         * its prefixes to parts of it. */
        TestFields expected;
        codec->fields(&originals[c], &expected);
        test_assert_prefixes(codec, &buf, &expected);

        uint8_t *bytes = malloc(buf.len);
        int own_kind_before = n_ok[c];
        for (int t = 0; t < 2500; t++) {
            memcpy(bytes, buf.data, buf.len);
            int changes = 1 + (int)rng_below(&rng, 3);
            for (int f = 0; f < changes; f++)
                bytes[rng_below(&rng, buf.len)] = (uint8_t)rng_next_u64(&rng);
            test_decode_all(bytes, buf.len, n_ok);
        }
        /* Many mutants still decode as their own kind, so the checks above
         * ran on real, varied messages and not just on failures. */
        ck_assert_msg(n_ok[c] - own_kind_before > 100, "%s: only %d mutants decoded",
                      codec->name, n_ok[c] - own_kind_before);
        free(bytes);
        bytebuffer_free(&buf);
    }
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *round_trip = tcase_create("round_trip");
    tcase_add_test(round_trip, test_pull_request_round_trip);
    tcase_add_test(round_trip, test_pull_request_empty);
    tcase_add_test(round_trip, test_pull_response_round_trip);
    tcase_add_test(round_trip, test_pull_response_into_destination);
    tcase_add_test(round_trip, test_pull_response_open_matches);
    tcase_add_test(round_trip, test_bf16_values);
    tcase_add_test(round_trip, test_push_round_trip_large);
    tcase_add_test(round_trip, test_push_empty_arrays);
    tcase_add_test(round_trip, test_control_round_trip);
    suite_add_tcase(s, round_trip);

    TCase *bad = tcase_create("bad_input");
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, test_control_unknown_kind_rejected);
    tcase_add_test(bad, test_decode_failure_message);
    tcase_add_test(bad, test_push_truncations);
    tcase_add_test(bad, test_pull_response_truncations);
    tcase_add_test(bad, test_random_garbage);
    tcase_add_test(bad, test_mutated_messages);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    return test_run_suite(wire_suite());
}
