#!/usr/bin/env bash
# A message that does not decode, whose sizes disagree with its keys, that
# comes after its sender said it was done, or that the model has no use for
# (pair counts to a model without neighbours) ends the job with a protocol
# error naming the sender: non-zero exit, no hang.
source "$(dirname "$0")/common.sh"
: "${CORRUPT_SENDER:?}"
for mode in garbage sizes after-done pair-sizes pairs; do
    status=0
    timeout --kill-after=10 60 "$MPIEXEC" -np 3 --oversubscribe "$CORRUPT_SENDER" "$mode" \
        >"$WORK/$mode.out" 2>"$WORK/$mode.err" || status=$?
    [ "$status" -ne 0 ] || fail "$mode: the job exited 0"
    [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "$mode: the job hung"
    case $mode in
    garbage) pattern="protocol error: Push from rank 0: " ;;
    sizes) pattern="protocol error: Push from rank 0 has 3 gradient values for 2 keys" ;;
    after-done) pattern="protocol error: Push message from rank 0 after it said WORKER_DONE" ;;
    pair-sizes) pattern="protocol error: PairCounts from rank 0: .*values are not width per pair" ;;
    pairs) pattern="protocol error: PairCounts from rank 0, but this model counts no pairs" ;;
    esac
    grep -q -- "$pattern" "$WORK/$mode.err" || { cat "$WORK/$mode.err"; fail "$mode: no '$pattern'"; }
    echo "$mode: exit $status: $(grep -- "protocol error" "$WORK/$mode.err")"
done
