/* test_wire.c — the wire codec: every message kind survives a round trip with
 * exact values (empty arrays and 100k keys included), truncated encodings are
 * rejected or decode to a consistent shorter message, random bytes never
 * crash a decoder (run under ASan), and a Control of unknown kind is refused.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
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
    WirePullResponse msg = {.request_id = 17, .n_values = 6, .values = values};
    ByteBuffer buf = {0};
    wire_encode_pull_response(&msg, &buf);

    WirePullResponse back;
    Error err;
    ck_assert_int_eq(wire_decode_pull_response(&back, buf.data, buf.len, &err), 0);
    ck_assert_uint_eq(back.request_id, 17);
    ck_assert_uint_eq(back.n_values, 6);
    /* Bit-exact: compare the representation, so -0.0f is told from 0.0f. */
    ck_assert_int_eq(memcmp(back.values, values, sizeof values), 0);
    wire_pull_response_free(&back);
    ck_assert_ptr_null(back.values);
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
    WireControl msg = {.kind = WIRE_CONTROL_WORKER_DONE, .value = UINT64_MAX};
    ByteBuffer buf = {0};
    wire_encode_control(&msg, &buf);

    WireControl back;
    Error err;
    ck_assert_int_eq(wire_decode_control(&back, buf.data, buf.len, &err), 0);
    ck_assert_int_eq(back.kind, WIRE_CONTROL_WORKER_DONE);
    ck_assert_uint_eq(back.value, UINT64_MAX);
    bytebuffer_free(&buf);
}
END_TEST

START_TEST(test_control_unknown_kind_rejected)
{
    WireControl back;
    Error err;
    /* kind = 7: tag 0x08, varint 7. */
    const uint8_t kind7[] = {0x08, 0x07, 0x10, 0x05};
    ck_assert_int_eq(wire_decode_control(&back, kind7, sizeof kind7, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "unknown kind 7"));

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
    ck_assert_ptr_nonnull(prefix);
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

/* ---- random bytes: no decoder may crash or hand back inconsistent arrays.
 * Under ASan, touching every element checks the arrays are as long as said. */

static void test_touch_u64(const uint64_t *a, size_t n)
{
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < n; i++)
        sink ^= a[i];
    (void)sink;
}

static void test_touch_float(const float *a, size_t n)
{
    volatile float sink = 0;
    for (size_t i = 0; i < n; i++)
        sink += a[i];
    (void)sink;
}

static void test_decode_all(const uint8_t *bytes, size_t len, int *n_ok)
{
    Error err;
    WirePullRequest req;
    if (wire_decode_pull_request(&req, bytes, len, &err) == 0) {
        test_touch_u64(req.keys, req.n_keys);
        wire_pull_request_free(&req);
        n_ok[0]++;
    }
    WirePullResponse resp;
    if (wire_decode_pull_response(&resp, bytes, len, &err) == 0) {
        test_touch_float(resp.values, resp.n_values);
        wire_pull_response_free(&resp);
        n_ok[1]++;
    }
    WirePush push;
    if (wire_decode_push(&push, bytes, len, &err) == 0) {
        test_touch_u64(push.keys, push.n_keys);
        test_touch_float(push.grads, push.n_grads);
        wire_push_free(&push);
        n_ok[2]++;
    }
    WireControl control;
    if (wire_decode_control(&control, bytes, len, &err) == 0) {
        ck_assert_int_eq(control.kind, WIRE_CONTROL_WORKER_DONE);
        n_ok[3]++;
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
    /* Flipping bytes of a real message reaches deeper decoder paths than pure
     * noise does (valid tags with wrong lengths, fields of the wrong type). */
    uint64_t keys[8];
    float grads[16];
    for (size_t i = 0; i < 8; i++)
        keys[i] = test_key(i + 3);
    for (size_t i = 0; i < 16; i++)
        grads[i] = test_value(i);
    WirePush msg = {.clock = 77, .n_keys = 8, .keys = keys, .n_grads = 16, .grads = grads};
    ByteBuffer buf = {0};
    wire_encode_push(&msg, &buf);

    Rng rng;
    rng_seed(&rng, 7);
    int n_ok[4] = {0};
    uint8_t *bytes = malloc(buf.len);
    for (int t = 0; t < 20000; t++) {
        memcpy(bytes, buf.data, buf.len);
        int flips = 1 + (int)rng_below(&rng, 3);
        for (int f = 0; f < flips; f++)
            bytes[rng_below(&rng, buf.len)] = (uint8_t)rng_next_u64(&rng);
        test_decode_all(bytes, buf.len, n_ok);
    }
    free(bytes);
    bytebuffer_free(&buf);
    /* The unmutated message is a valid Push; most mutants are something else. */
    ck_assert_int_gt(n_ok[2], 0);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *round_trip = tcase_create("round_trip");
    tcase_add_test(round_trip, test_pull_request_round_trip);
    tcase_add_test(round_trip, test_pull_request_empty);
    tcase_add_test(round_trip, test_pull_response_round_trip);
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
