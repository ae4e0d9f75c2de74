/* time_shares.c — one process-wide account of time by kind (time_shares.h). */
#include "psrec/core/time_shares.h"

#include <assert.h>
#include <string.h>

#include "psrec/core/util.h"

static double charged_seconds[TIME_KINDS];
static double last_charge_s;

const char *time_kind_name(TimeKind kind)
{
    static const char *const names[TIME_KINDS] = {
        [TIME_WAIT] = "wait",   [TIME_TRANSFER] = "transfer", [TIME_WIRE] = "wire",
        [TIME_LOOKUP] = "lookup", [TIME_COPY] = "copy",       [TIME_MODEL] = "model",
        [TIME_OPTIMIZER] = "optimizer", [TIME_OTHER] = "other",
    };
    assert(kind >= 0 && kind < TIME_KINDS);
    return names[kind];
}

void time_shares_reset(void)
{
    memset(charged_seconds, 0, sizeof charged_seconds);
    last_charge_s = time_now_s();
}

void time_shares_charge(TimeKind kind)
{
    assert(kind >= 0 && kind < TIME_KINDS);
    double now = time_now_s();
    charged_seconds[kind] += now - last_charge_s;
    last_charge_s = now;
}

void time_shares_read(double *out)
{
    memcpy(out, charged_seconds, sizeof charged_seconds);
}
