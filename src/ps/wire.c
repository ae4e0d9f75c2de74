/* wire.c — the plain message structs of wire.h to and from protobuf-c bytes.
 *
 * The only file that includes the generated psrec.pb-c.h. Encoders point the
 * generated structs at the caller's arrays (no copy); decoders point the
 * plain struct at the arrays protobuf-c unpacked (no copy either) and keep
 * the unpacked message, opaque, until wire_*_free. Any byte string may reach
 * a decoder: it returns 0 or -1 with a message, never crashes, and on
 * failure leaves *out empty.
 */
#include "psrec/ps/wire.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "psrec.pb-c.h"

/* protobuf-c may do pointer arithmetic on its input, so an empty message is
 * handed a valid (never read) byte rather than a possibly NULL pointer. */
static const uint8_t WIRE_EMPTY_INPUT[1] = {0};

static const uint8_t *wire_input_bytes(const uint8_t *bytes, size_t len)
{
    return len == 0 ? WIRE_EMPTY_INPUT : bytes;
}

/* Makes room for `bytes` in out and sets its length. Packing is skipped by the
 * callers when bytes is 0, so an empty message never touches out->data. */
static void wire_prepare_output(ByteBuffer *out, size_t bytes)
{
    bytebuffer_reserve(out, bytes);
    out->len = bytes;
}

/* ---- encoders */

void wire_encode_pull_request(const WirePullRequest *msg, ByteBuffer *out)
{
    Psrec__PullRequest pb = PSREC__PULL_REQUEST__INIT;
    pb.request_id = msg->request_id;
    pb.min_clock = msg->min_clock;
    pb.batch = msg->batch;
    pb.create = msg->create ? 1 : 0;
    pb.bf16_values = msg->bf16_values ? 1 : 0;
    pb.n_keys = msg->n_keys;
    pb.keys = msg->keys; /* pack only reads it */

    wire_prepare_output(out, psrec__pull_request__get_packed_size(&pb));
    if (out->len > 0) {
        size_t written = psrec__pull_request__pack(&pb, out->data);
        assert(written == out->len);
        (void)written;
    }
}

void wire_encode_pull_response(const WirePullResponse *msg, ByteBuffer *out)
{
    assert(!msg->bf16 && "bfloat16 values are written through wire_encode_pull_response_open");
    Psrec__PullResponse pb = PSREC__PULL_RESPONSE__INIT;
    pb.request_id = msg->request_id;
    pb.n_values = msg->n_values;
    pb.values = msg->values;
    pb.stop_signal = msg->stop_signal;

    wire_prepare_output(out, psrec__pull_response__get_packed_size(&pb));
    if (out->len > 0) {
        size_t written = psrec__pull_response__pack(&pb, out->data);
        assert(written == out->len);
        (void)written;
    }
}

/* wire_encode_pull_response_open writes floats as the host holds them. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "psrec's wire format is written for little-endian hosts"
#endif

/* Appends a varint (protobuf's base-128 encoding) to out. */
static void wire_append_varint(ByteBuffer *out, uint64_t value)
{
    bytebuffer_reserve(out, out->len + 10);
    while (value >= 0x80) {
        out->data[out->len++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out->data[out->len++] = (uint8_t)value;
}

uint8_t *wire_encode_pull_response_open(const WirePullResponse *msg, ByteBuffer *out)
{
    WirePullResponse rest = *msg;
    rest.n_values = 0;
    rest.values = NULL;
    rest.bf16 = false;
    wire_encode_pull_response(&rest, out);
    /* protobuf merges fields wherever they stand in a message, so the values
     * may follow the fields protobuf-c packed: a packed repeated float (or a
     * bytes field) is the field's tag (field number, wire type 2 =
     * length-delimited), the byte count as a varint, then the bytes: floats
     * or bfloat16 values, little-endian. */
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
        &psrec__pull_response__descriptor, msg->bf16 ? "values_bf16" : "values");
    assert(field && (msg->bf16 ? field->type == PROTOBUF_C_TYPE_BYTES
                               : field->type == PROTOBUF_C_TYPE_FLOAT &&
                                     (field->flags & PROTOBUF_C_FIELD_FLAG_PACKED)));
    if (msg->n_values == 0)
        return out->data + out->len;
    size_t bytes = msg->n_values * (msg->bf16 ? sizeof(uint16_t) : sizeof(float));
    wire_append_varint(out, ((uint64_t)field->id << 3) | 2);
    wire_append_varint(out, bytes);
    bytebuffer_reserve(out, out->len + bytes);
    uint8_t *values = out->data + out->len;
    out->len += bytes;
    return values;
}

uint16_t wire_bf16_from_float(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it one (quiet), whatever its payload */
        return (uint16_t)((bits >> 16) | 0x0040u);
    bits += 0x7fffu + ((bits >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(bits >> 16);
}

float wire_float_from_bf16(uint16_t bits)
{
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, sizeof value);
    return value;
}

void wire_put_bf16(uint8_t *dest, const float *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t bits = wire_bf16_from_float(values[i]);
        dest[2 * i] = (uint8_t)bits;
        dest[2 * i + 1] = (uint8_t)(bits >> 8);
    }
}

void wire_encode_push(const WirePush *msg, ByteBuffer *out)
{
    Psrec__Push pb = PSREC__PUSH__INIT;
    pb.clock = msg->clock;
    pb.n_keys = msg->n_keys;
    pb.keys = msg->keys;
    pb.n_grads = msg->n_grads;
    pb.grads = msg->grads;

    wire_prepare_output(out, psrec__push__get_packed_size(&pb));
    if (out->len > 0) {
        size_t written = psrec__push__pack(&pb, out->data);
        assert(written == out->len);
        (void)written;
    }
}

void wire_encode_control(const WireControl *msg, ByteBuffer *out)
{
    Psrec__Control pb = PSREC__CONTROL__INIT;
    switch (msg->kind) {
    case WIRE_CONTROL_WORKER_DONE:
        pb.kind = PSREC__CONTROL__KIND__WORKER_DONE;
        break;
    case WIRE_CONTROL_SNAPSHOT:
        pb.kind = PSREC__CONTROL__KIND__SNAPSHOT;
        break;
    case WIRE_CONTROL_SNAPSHOT_SAVED:
        pb.kind = PSREC__CONTROL__KIND__SNAPSHOT_SAVED;
        break;
    case WIRE_CONTROL_RESTORE:
        pb.kind = PSREC__CONTROL__KIND__RESTORE;
        break;
    case WIRE_CONTROL_RESTORED:
        pb.kind = PSREC__CONTROL__KIND__RESTORED;
        break;
    case WIRE_CONTROL_PAIRS_DONE:
        pb.kind = PSREC__CONTROL__KIND__PAIRS_DONE;
        break;
    case WIRE_CONTROL_PAIRS_MERGED:
        pb.kind = PSREC__CONTROL__KIND__PAIRS_MERGED;
        break;
    case WIRE_CONTROL_CHECKPOINT:
        pb.kind = PSREC__CONTROL__KIND__CHECKPOINT;
        break;
    case WIRE_CONTROL_CHECKPOINT_SAVED:
        pb.kind = PSREC__CONTROL__KIND__CHECKPOINT_SAVED;
        break;
    default:
        assert(!"unknown WireControlKind");
    }
    pb.value = msg->value;
    pb.checkpoint = msg->checkpoint;

    wire_prepare_output(out, psrec__control__get_packed_size(&pb));
    if (out->len > 0) {
        size_t written = psrec__control__pack(&pb, out->data);
        assert(written == out->len);
        (void)written;
    }
}

void wire_encode_pair_counts(const WirePairCounts *msg, ByteBuffer *out)
{
    Psrec__PairCounts pb = PSREC__PAIR_COUNTS__INIT;
    pb.width = msg->width;
    pb.n_rows = msg->n_pairs;
    pb.rows = msg->rows;
    pb.n_columns = msg->n_pairs;
    pb.columns = msg->columns;
    pb.n_values = msg->n_values;
    pb.values = msg->values;
    pb.n_norm_columns = msg->n_norms;
    pb.norm_columns = msg->norm_columns;
    pb.n_norms = msg->n_norms;
    pb.norms = msg->norms;

    wire_prepare_output(out, psrec__pair_counts__get_packed_size(&pb));
    if (out->len > 0) {
        size_t written = psrec__pair_counts__pack(&pb, out->data);
        assert(written == out->len);
        (void)written;
    }
}

/* ---- decoders */

int wire_decode_pull_request(WirePullRequest *out, const uint8_t *bytes, size_t len, Error *err)
{
    memset(out, 0, sizeof *out);
    Psrec__PullRequest *pb = psrec__pull_request__unpack(NULL, len, wire_input_bytes(bytes, len));
    if (!pb)
        return error_set(err, "cannot decode PullRequest message (%zu bytes)", len);

    out->request_id = pb->request_id;
    out->min_clock = pb->min_clock;
    out->batch = pb->batch;
    out->create = pb->create != 0;
    out->bf16_values = pb->bf16_values != 0;
    out->n_keys = pb->n_keys;
    out->keys = pb->n_keys > 0 ? pb->keys : NULL;
    out->unpacked = pb;
    return 0;
}

int wire_decode_pull_response(WirePullResponse *out, const uint8_t *bytes, size_t len, Error *err)
{
    memset(out, 0, sizeof *out);
    Psrec__PullResponse *pb = psrec__pull_response__unpack(NULL, len, wire_input_bytes(bytes, len));
    if (!pb)
        return error_set(err, "cannot decode PullResponse message (%zu bytes)", len);

    out->request_id = pb->request_id;
    out->n_values = pb->n_values;
    out->values = pb->n_values > 0 ? pb->values : NULL;
    out->stop_signal = pb->stop_signal;
    out->unpacked = pb;
    return 0;
}

/* A protobuf-c allocator that hands out one caller-provided block for the
 * allocation of exactly its size after the first (protobuf-c allocates the
 * message struct first, then its arrays), and the heap for the rest. */
typedef struct {
    void *dest;
    size_t dest_bytes;
    int n_allocs;
    bool used;
} IntoAllocator;

static void *into_alloc(void *data, size_t size)
{
    IntoAllocator *into = data;
    if (into->n_allocs++ > 0 && !into->used && size == into->dest_bytes && size > 0) {
        into->used = true;
        return into->dest;
    }
    return malloc(size);
}

static void into_free(void *data, void *pointer)
{
    IntoAllocator *into = data;
    if (pointer != into->dest)
        free(pointer);
}

int wire_decode_pull_response_into(WirePullResponse *out, const uint8_t *bytes, size_t len,
                                   float *dest, size_t dest_floats, Error *err)
{
    memset(out, 0, sizeof *out);
    IntoAllocator into = {.dest = dest, .dest_bytes = dest_floats * sizeof(float)};
    ProtobufCAllocator allocator = {
        .alloc = into_alloc, .free = into_free, .allocator_data = &into};
    Psrec__PullResponse *pb =
        psrec__pull_response__unpack(&allocator, len, wire_input_bytes(bytes, len));
    if (!pb)
        return error_set(err, "cannot decode PullResponse message (%zu bytes)", len);
    out->request_id = pb->request_id;
    out->n_values = pb->n_values;
    out->stop_signal = pb->stop_signal;
    size_t half_bytes = pb->values_bf16.len;
    if (half_bytes > 0) {
        if (pb->n_values > 0 || half_bytes % 2 != 0) {
            psrec__pull_response__free_unpacked(pb, &allocator);
            memset(out, 0, sizeof *out);
            return error_set(err, "PullResponse holds %s (%zu bytes of bfloat16 values)",
                             half_bytes % 2 ? "an odd byte count" : "values in both precisions",
                             half_bytes);
        }
        out->bf16 = true;
        out->n_values = half_bytes / 2;
        /* Handed dest only when its size matches twice the values: then a
         * mismatch, which the caller reports. */
        if (out->n_values == dest_floats && pb->values_bf16.data != (uint8_t *)dest)
            for (size_t i = 0; i < dest_floats; i++)
                dest[i] = wire_float_from_bf16(
                    (uint16_t)(pb->values_bf16.data[2 * i] | pb->values_bf16.data[2 * i + 1] << 8));
    } else if (pb->n_values == dest_floats && pb->n_values > 0 && pb->values != dest) {
        memcpy(dest, pb->values, dest_floats * sizeof(float)); /* not handed out: copy */
    }
    psrec__pull_response__free_unpacked(pb, &allocator);
    return 0;
}

int wire_decode_push(WirePush *out, const uint8_t *bytes, size_t len, Error *err)
{
    memset(out, 0, sizeof *out);
    Psrec__Push *pb = psrec__push__unpack(NULL, len, wire_input_bytes(bytes, len));
    if (!pb)
        return error_set(err, "cannot decode Push message (%zu bytes)", len);

    out->clock = pb->clock;
    out->n_keys = pb->n_keys;
    out->keys = pb->n_keys > 0 ? pb->keys : NULL;
    out->n_grads = pb->n_grads;
    out->grads = pb->n_grads > 0 ? pb->grads : NULL;
    out->unpacked = pb;
    return 0;
}

int wire_decode_control(WireControl *out, const uint8_t *bytes, size_t len, Error *err)
{
    memset(out, 0, sizeof *out);
    Psrec__Control *pb = psrec__control__unpack(NULL, len, wire_input_bytes(bytes, len));
    if (!pb)
        return error_set(err, "cannot decode Control message (%zu bytes)", len);

    /* proto3 enums are open: protobuf-c hands back any number it read, and a
     * missing kind reads as KIND_UNSPECIFIED; only known kinds get through. */
    int kind = (int)pb->kind;
    uint64_t value = pb->value, checkpoint = pb->checkpoint;
    psrec__control__free_unpacked(pb, NULL);
    switch (kind) {
    case PSREC__CONTROL__KIND__WORKER_DONE:
        out->kind = WIRE_CONTROL_WORKER_DONE;
        break;
    case PSREC__CONTROL__KIND__SNAPSHOT:
        out->kind = WIRE_CONTROL_SNAPSHOT;
        break;
    case PSREC__CONTROL__KIND__SNAPSHOT_SAVED:
        out->kind = WIRE_CONTROL_SNAPSHOT_SAVED;
        break;
    case PSREC__CONTROL__KIND__RESTORE:
        out->kind = WIRE_CONTROL_RESTORE;
        break;
    case PSREC__CONTROL__KIND__RESTORED:
        out->kind = WIRE_CONTROL_RESTORED;
        break;
    case PSREC__CONTROL__KIND__PAIRS_DONE:
        out->kind = WIRE_CONTROL_PAIRS_DONE;
        break;
    case PSREC__CONTROL__KIND__PAIRS_MERGED:
        out->kind = WIRE_CONTROL_PAIRS_MERGED;
        break;
    case PSREC__CONTROL__KIND__CHECKPOINT:
        out->kind = WIRE_CONTROL_CHECKPOINT;
        break;
    case PSREC__CONTROL__KIND__CHECKPOINT_SAVED:
        out->kind = WIRE_CONTROL_CHECKPOINT_SAVED;
        break;
    default:
        return error_set(err, "Control message has unknown kind %d (%zu bytes)", kind, len);
    }
    out->value = value;
    out->checkpoint = checkpoint;
    return 0;
}

int wire_decode_pair_counts(WirePairCounts *out, const uint8_t *bytes, size_t len, Error *err)
{
    memset(out, 0, sizeof *out);
    Psrec__PairCounts *pb = psrec__pair_counts__unpack(NULL, len, wire_input_bytes(bytes, len));
    if (!pb)
        return error_set(err, "cannot decode PairCounts message (%zu bytes)", len);
    const char *wrong = NULL;
    if (pb->n_rows != pb->n_columns)
        wrong = "rows and columns differ in number";
    else if (pb->width == 0 && pb->n_rows > 0)
        wrong = "width is 0";
    else if ((uint64_t)pb->n_rows * pb->width != pb->n_values)
        wrong = "values are not width per pair";
    else if (pb->n_norm_columns != pb->n_norms)
        wrong = "norms and their columns differ in number";
    if (wrong) {
        error_set(err, "PairCounts message (%zu bytes): %s (%zu pairs, width %u, %zu values, "
                       "%zu norm columns, %zu norms)",
                  len, wrong, pb->n_rows, pb->width, pb->n_values, pb->n_norm_columns,
                  pb->n_norms);
        psrec__pair_counts__free_unpacked(pb, NULL);
        return -1;
    }
    out->width = pb->width;
    out->n_pairs = pb->n_rows;
    out->rows = pb->n_rows > 0 ? pb->rows : NULL;
    out->columns = pb->n_columns > 0 ? pb->columns : NULL;
    out->n_values = pb->n_values;
    out->values = pb->n_values > 0 ? pb->values : NULL;
    out->n_norms = pb->n_norms;
    out->norm_columns = pb->n_norm_columns > 0 ? pb->norm_columns : NULL;
    out->norms = pb->n_norms > 0 ? pb->norms : NULL;
    out->unpacked = pb;
    return 0;
}

/* ---- freeing */

void wire_pull_request_free(WirePullRequest *msg)
{
    if (!msg)
        return;
    if (msg->unpacked)
        psrec__pull_request__free_unpacked(msg->unpacked, NULL);
    memset(msg, 0, sizeof *msg);
}

void wire_pull_response_free(WirePullResponse *msg)
{
    if (!msg)
        return;
    if (msg->unpacked)
        psrec__pull_response__free_unpacked(msg->unpacked, NULL);
    memset(msg, 0, sizeof *msg);
}

void wire_push_free(WirePush *msg)
{
    if (!msg)
        return;
    if (msg->unpacked)
        psrec__push__free_unpacked(msg->unpacked, NULL);
    memset(msg, 0, sizeof *msg);
}

void wire_pair_counts_free(WirePairCounts *msg)
{
    if (!msg)
        return;
    if (msg->unpacked)
        psrec__pair_counts__free_unpacked(msg->unpacked, NULL);
    memset(msg, 0, sizeof *msg);
}
