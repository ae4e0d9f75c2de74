#!/usr/bin/env bash
# Checkpoints and resume:
#  - BSP with one worker, stopped by SIGUSR1 mid-epoch (exit 75, a checkpoint
#    written) and resumed: the same predictions as an uninterrupted run, to
#    the printed digit;
#  - periodic checkpoints (--checkpoint-every 1) on 2 workers + 2 servers, the
#    whole job killed with SIGKILL, resumed on 2 workers + 1 server (rows
#    re-sharded): within 0.005 RMSE of an uninterrupted run;
#  - one byte flipped in any file of the newest checkpoint: resume names that
#    file and falls back to the checkpoint before it;
#  - a folder without checkpoints starts fresh; one written for another dim
#    is refused; only --keep-checkpoints remain.
source "$(dirname "$0")/common.sh"
cd "$WORK"
"$PSREC" generate --users 6000 --items 800 --ratings 400000 --out train.csv --test-out test.csv \
    --seed 3 >/dev/null
train() { # NP SERVERS RUN_DIR [flags...]
    local np=$1 servers=$2 run=$3
    shift 3
    run_mpi "$np" train --servers "$servers" --train train.csv --test test.csv --run-dir "$run" \
        --progress false --epochs 5 "$@"
}
predictions() { # RUN_DIR OUT
    "$PSREC" predict --run-dir "$1" --pairs test.csv --out "$2" >/dev/null 2>&1 ||
        fail "predict failed on $1"
}
rmse() { rmse_from_predictions "$1" test.csv; }

# ---- BSP, one worker: stop mid-epoch on SIGUSR1, resume, same model
train 2 1 whole --consistency bsp --epochs 8 >whole.log 2>&1 || fail "uninterrupted run failed: $(cat whole.log)"
predictions whole whole.csv
train 2 1 stopped --consistency bsp --epochs 8 >stop1.log 2>&1 &
job=$!
wait_for stop1.log "^epoch   2/8"
# To mpirun itself (not the timeout around it): it forwards SIGUSR1 to every rank.
pkill -USR1 -f -- "^$MPIEXEC .*--run-dir stopped" || fail "no mpirun to signal"

rc=0
wait "$job" || rc=$?
[ "$rc" = 75 ] || fail "a run stopped by SIGUSR1 exits $rc, not 75: $(cat stop1.log)"
grep -q "stopped on SIGUSR1 after writing a checkpoint" stop1.log || fail "no stop line: $(cat stop1.log)"
grep -q "written (stopping; epoch [0-9], batch [1-9]" stop1.log ||
    fail "the stop did not checkpoint mid-epoch: $(grep checkpoint stop1.log)"
[ ! -e stopped/model ] || fail "a stopped run committed a model"
train 2 1 stopped --consistency bsp --epochs 8 --resume stopped/checkpoints >resume1.log 2>&1 ||
    fail "resume failed: $(cat resume1.log)"
grep -q "^resume: from stopped/checkpoints/ckpt-000001 (epoch [0-9], batch [1-9]" resume1.log ||
    fail "resume did not say where it continues: $(cat resume1.log)"
predictions stopped stopped.csv
cmp -s whole.csv stopped.csv || fail "stop and resume changed the model (BSP, one worker): \
$(paste -d, whole.csv stopped.csv | awk -F, 'NR>1 && $3 != $6 { n++ } END { print n " predictions differ" }')"
[ "$(wc -l <stopped/metrics.jsonl)" = 8 ] || fail "metrics.jsonl lost epochs across the resume"
echo "stop on SIGUSR1 and resume (bsp, 1 worker): identical predictions"

# ---- SIGKILL with periodic checkpoints, resumed on another layout
train 4 2 asp >asp.log 2>&1 || fail "uninterrupted asp run failed: $(cat asp.log)"
predictions asp asp.csv
train 4 2 killed --checkpoint-every 1 --keep-checkpoints 2 >kill.log 2>&1 &
job=$!
# At once: the two epochs left take well under a second on a quiet machine.
wait_for kill.log "^checkpoint .*ckpt-000003 written"
pkill -KILL -f -- "--run-dir killed" || fail "nothing to kill"  # mpirun and every rank
wait "$job" 2>/dev/null || true
sleep 1
[ "$(ls killed/checkpoints | grep -c '^ckpt-')" -le 3 ] ||
    fail "--keep-checkpoints 2 kept $(ls killed/checkpoints)"
cp -r killed/checkpoints pristine
train 3 1 killed --resume killed/checkpoints >resume2.log 2>&1 ||
    fail "resume on 1 server failed: $(cat resume2.log)"
grep -q "written by 3 workers; now 2 workers and 1 server" resume2.log ||
    grep -q "written by 2 workers; now 2 workers and 1 server" resume2.log ||
    fail "resume did not report the layout change: $(grep resume: resume2.log)"
predictions killed killed.csv
a=$(rmse asp.csv)
b=$(rmse killed.csv)
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005) }' ||
    fail "resumed on another layout: RMSE $b vs $a uninterrupted"
echo "SIGKILL, resume on 1 server instead of 2: RMSE $b vs $a uninterrupted"

# ---- a damaged checkpoint is refused naming the file; resume falls back
newest=$(ls -d pristine/ckpt-* | sort | tail -1)
older=$(ls -d pristine/ckpt-* | sort | tail -2 | head -1)
[ "$newest" != "$older" ] || fail "need two checkpoints to fall back: $(ls pristine)"
for file in "$newest"/*; do
    name=$(basename "$file")
    rm -rf damaged && cp -r pristine damaged
    size=$(stat -c %s "damaged/$(basename "$newest")/$name")
    offset=$((size / 2))
    byte=$(od -An -tu1 -j "$offset" -N1 "damaged/$(basename "$newest")/$name" | tr -d ' ')
    printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
        dd of="damaged/$(basename "$newest")/$name" bs=1 seek="$offset" conv=notrunc 2>/dev/null
    train 3 1 fallback --epochs 1 --resume damaged >flip.log 2>&1 || true
    grep -q "checkpoint damaged/$(basename "$newest") is damaged and not used: .*$name" flip.log ||
        fail "a flipped byte in $name was not named: $(cat flip.log)"
    grep -q "falling back to the one before" flip.log || fail "no fallback for $name"
    grep -q "^resume: from damaged/$(basename "$older")" flip.log ||
        fail "did not resume from the older checkpoint after damage to $name: $(cat flip.log)"
    echo "flipped byte in $name: named, fell back to $(basename "$older")"
done
rm -rf damaged && cp -r pristine damaged && rm "damaged/$(basename "$newest")"/shard-00001-of-00002.bin
train 3 1 fallback --epochs 1 --resume damaged >missing.log 2>&1 || true
grep -q "shard-00001-of-00002.bin: cannot open" missing.log || fail "a missing shard was not named: $(cat missing.log)"

# ---- fresh start, another model, incomplete checkpoints
train 3 1 fresh --epochs 1 --resume nothing-yet >fresh.log 2>&1 || fail "fresh start failed: $(cat fresh.log)"
grep -q "no checkpoint in nothing-yet yet; starting from the beginning" fresh.log || fail "$(cat fresh.log)"
rm -rf other && cp -r pristine other
rc=0
train 3 1 other-run --resume other --dim 16 >other.log 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a checkpoint of dim 32 resumed a dim 16 run"
grep -q "holds a mf model of dim 32, and this run's dim differs" other.log || fail "$(cat other.log)"
rm -f "other/$(basename "$newest")/manifest.txt" # killed while writing: incomplete
train 3 1 other-run --epochs 1 --resume other >incomplete.log 2>&1 || fail "$(cat incomplete.log)"
grep -q "^resume: from other/$(basename "$older")" incomplete.log || fail "$(cat incomplete.log)"
echo "fresh start, another dim refused, an incomplete checkpoint skipped"
