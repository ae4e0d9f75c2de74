#!/usr/bin/env bash
# A message that does not decode, whose sizes disagree with its keys, or that
# comes after its sender said it was done ends the job with a protocol error
# naming the sender: non-zero exit, no hang.
source "$(dirname "$0")/common.sh"
: "${CORRUPT_SENDER:?}"
for mode in garbage sizes after-done; do
    status=0
    timeout --kill-after=10 60 "$MPIEXEC" -np 3 --oversubscribe "$CORRUPT_SENDER" "$mode" \
        >"$WORK/$mode.out" 2>"$WORK/$mode.err" || status=$?
    [ "$status" -ne 0 ] || fail "$mode: the job exited 0"
    [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "$mode: the job hung"
    case $mode in
    garbage) pattern="protocol error: Push from rank 0: " ;;
    sizes) pattern="protocol error: Push from rank 0 has 3 gradient values for 2 keys" ;;
    after-done) pattern="protocol error: Push message from rank 0 after it said WORKER_DONE" ;;
    esac
    grep -q -- "$pattern" "$WORK/$mode.err" || { cat "$WORK/$mode.err"; fail "$mode: no '$pattern'"; }
    echo "$mode: exit $status: $(grep -- "protocol error" "$WORK/$mode.err")"
done
