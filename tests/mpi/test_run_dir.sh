#!/usr/bin/env bash
# Run folders never lose a model:
#  - a good model survives a second run into the same folder that fails on a
#    bad file, is killed with SIGKILL or SIGTERM part way, or meets a full
#    disk (a small tmpfs, as root): `psrec predict` gives the same output as
#    before, and the configuration is the old one;
#  - two runs on one folder: the second refuses, naming the holder; once the
#    holder is killed (SIGKILL) the next run takes the folder;
#  - predict on a folder whose only run is training says so (naming the
#    holder), and once that run is killed, that it never finished;
#  - config.conf leaves out run-dir, so reusing it trains a new folder;
#  - a shard of another run (same configuration) is refused by predict, and
#    an absurd manifest number is refused before anything is allocated.
source "$(dirname "$0")/common.sh"
cd "$WORK"
"$PSREC" generate --users 300 --items 100 --ratings 6000 --out small.csv --test-out test.csv \
    >/dev/null
"$PSREC" generate --users 3000 --items 1000 --ratings 400000 --out big.csv --seed 5 >/dev/null
printf 'user_id,item_id,rating\n1,2,x\n' >bad.csv
train() { # RUN_DIR TRAIN_FILE [flags...]
    local run=$1 data=$2
    shift 2
    run_mpi 3 train --servers 1 --train "$data" --run-dir "$run" --progress false "$@"
}
same_model() { # LABEL — predictions and configuration as they were
    "$PSREC" predict --run-dir run --pairs test.csv --out after.csv 2>/dev/null ||
        fail "$1: predict failed on the folder"
    cmp -s before.csv after.csv || fail "$1: the model in the folder changed"
    cmp -s config.before run/config.conf || fail "$1: the configuration in the folder changed"
    [ "$(ls -d run/gen-* | wc -l)" -le 2 ] || fail "$1: leftovers pile up: $(ls run)"
    echo "$1: the previous model is whole"
}
# stop_job PID SIGNAL — signals the background job (its mpirun's process
# group, then any rank still running: ranks are not all in that group) and
# waits until none of it is left.
stop_job() {
    kill -"$2" -- -"$1" 2>/dev/null || true
    pkill -"$2" -f -- "--epochs 500" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for _ in $(seq 1 300); do
        pgrep -f -- "--epochs 500" >/dev/null || return 0
        sleep 0.1
    done
    pkill -KILL -f -- "--epochs 500" 2>/dev/null || true
    sleep 1
}
# wait_for_training LOG — until the background run has started its epochs
wait_for_training() {
    for _ in $(seq 1 600); do
        grep -q "^data: " "$1" 2>/dev/null && { sleep 1; return 0; }
        sleep 0.1
    done
    fail "the background run did not start: $(cat "$1")"
}

train run small.csv --test test.csv --epochs 3 >good.log || fail "the first run failed: $(cat good.log)"
"$PSREC" predict --run-dir run --pairs test.csv --out before.csv 2>/dev/null
cp run/config.conf config.before
grep -q '^run-dir' run/config.conf && fail "config.conf names run-dir"

# a bad file
train run bad.csv >bad.log 2>&1 && fail "the run on a bad file succeeded"
same_model "bad file"

# killed with SIGKILL, with SIGTERM
for signal in KILL TERM; do
    setsid bash -c "$(declare -f run_mpi); PSREC=$PSREC MPIEXEC=$MPIEXEC; \
        run_mpi 3 train --servers 1 --train big.csv --run-dir run --epochs 500 --progress false" \
        >"killed_$signal.log" 2>&1 &
    pid=$!
    wait_for_training "killed_$signal.log"
    stop_job "$pid" "$signal"
    same_model "SIG$signal part way"
done

# two runs at once
setsid bash -c "$(declare -f run_mpi); PSREC=$PSREC MPIEXEC=$MPIEXEC; \
    run_mpi 3 train --servers 1 --train big.csv --run-dir run --epochs 500 --progress false" \
    >holder.log 2>&1 &
pid=$!
wait_for_training holder.log
status=0
train run small.csv --epochs 1 >second.log 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "a second run on a folder in use succeeded"
grep -q "run is in use by another psrec train (pid [0-9]* on .* since " second.log ||
    fail "the refusal does not name the holder: $(cat second.log)"
echo "concurrent: $(grep -o 'in use by another psrec train ([^)]*)' second.log)"
stop_job "$pid" KILL
same_model "holder killed"
train run small.csv --test test.csv --epochs 2 --seed 9 >next.log ||
    fail "the folder stayed locked after its holder died: $(cat next.log)"
"$PSREC" predict --run-dir run --pairs test.csv --out next.csv 2>/dev/null
cmp -s before.csv next.csv && fail "the run after the killed holder did not replace the model"
[ "$(ls -d run/gen-* | wc -l)" = 1 ] || fail "a committed run left other generations: $(ls run)"
echo "after the holder's death: a new run took the folder and replaced the model"

# predict on a folder whose first run is still training, then was killed:
# it says the run has no finished model yet, and why, and writes nothing
# predict_refuses LABEL PATTERN — predict on fresh/ exits 1 with PATTERN
predict_refuses() {
    local status=0
    "$PSREC" predict --run-dir fresh --pairs test.csv --out fresh.csv 2>fresh.err || status=$?
    [ "$status" = 1 ] && grep -q -- "$2" fresh.err ||
        fail "$1: predict exit $status, expected 1 and '$2': $(cat fresh.err)"
    [ ! -e fresh.csv ] || fail "$1: predict wrote fresh.csv"
    echo "$1: $(cat fresh.err)"
}
setsid bash -c "$(declare -f run_mpi); PSREC=$PSREC MPIEXEC=$MPIEXEC; \
    run_mpi 3 train --servers 1 --train big.csv --run-dir fresh --epochs 500 --progress false" \
    >fresh.log 2>&1 &
pid=$!
wait_for_training fresh.log
predict_refuses "predict while training" \
    "fresh has no trained model yet: a psrec train is running there (pid [0-9]* on .* since .*); wait for it to finish"
stop_job "$pid" KILL
predict_refuses "predict after a killed run" \
    "fresh has no trained model: the psrec train started there did not finish (it failed or was killed before saving one); run psrec train --run-dir fresh again"

# config.conf reused for a new run leaves this one alone
cp run/summary.json summary.before
train other small.csv --config run/config.conf --epochs 1 >reuse.log ||
    fail "a run from the saved config.conf failed: $(cat reuse.log)"
cmp -s summary.before run/summary.json || fail "reusing config.conf overwrote the original run"
[ -e other/model/manifest.txt ] || fail "reusing config.conf did not train into --run-dir"
echo "config.conf reused: the new run went to its own folder"

# a shard of another run with the very same configuration
train twin small.csv --test test.csv --epochs 2 --seed 9 >twin.log
cp -L twin/model/shard-00000-of-00001.bin mixed.bin
cp -rL run mixed && cp mixed.bin mixed/model/shard-00000-of-00001.bin
status=0
"$PSREC" predict --run-dir mixed --pairs test.csv --out mixed.csv 2>mixed.err || status=$?
[ "$status" -ne 0 ] && grep -q "belongs to another run" mixed.err ||
    fail "a shard of another run was not refused: $(cat mixed.err)"
echo "mixed shards: $(cat mixed.err)"
cp -rL run absurd && sed -i 's/^n_vshards = .*/n_vshards = 2147483647/' absurd/model/manifest.txt
status=0
timeout 10 "$PSREC" predict --run-dir absurd --pairs test.csv --out absurd.csv 2>absurd.err || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] && grep -q "n_vshards must be an integer from 1 to" absurd.err ||
    fail "an absurd n_vshards was not refused at once: $status $(cat absurd.err)"
echo "absurd manifest: $(cat absurd.err)"

# a full disk: the run folder on a small file system of its own (a tmpfs;
# needs root), first with a little room left (the run refuses before
# training), then with none (its first write fails): the model stays whole
mkdir -p small-fs
if ! mount -t tmpfs -o size=24m tmpfs small-fs 2>/dev/null; then
    [ "${CI:-}" = true ] && fail "cannot mount a tmpfs to fill (CI runs as root)"
    echo "SKIP full disk: cannot mount a tmpfs here (not root?)"
    exit 0
fi
trap 'umount "$WORK/small-fs" 2>/dev/null; rm -rf "$WORK"' EXIT
train small-fs/run small.csv --test test.csv --epochs 2 >full0.log 2>&1 ||
    fail "the first run on the small file system failed: $(cat full0.log)"
"$PSREC" predict --run-dir small-fs/run --pairs test.csv --out full.before 2>/dev/null
cp small-fs/run/config.conf full.config
# leave 2 MiB: less than the room check asks for
dd if=/dev/zero of=small-fs/filler bs=1k count=$(($(df -k --output=avail small-fs | tail -1) - 2048)) 2>/dev/null
for room in little no; do
    [ "$room" = no ] && { dd if=/dev/zero of=small-fs/filler2 bs=1k count=4096 2>/dev/null || true; }
    status=0
    train small-fs/run big.csv --epochs 2 >"full-$room.log" 2>&1 || status=$?
    [ "$status" = 1 ] || fail "a run on a full disk ($room room) exited $status: $(cat "full-$room.log")"
    grep -Eq "not enough room in small-fs/run|No space left on device" "full-$room.log" ||
        fail "a full disk ($room room) was not said: $(cat "full-$room.log")"
    "$PSREC" predict --run-dir small-fs/run --pairs test.csv --out full.after 2>/dev/null ||
        fail "full disk ($room room): predict failed on the folder"
    cmp -s full.before full.after || fail "full disk ($room room): the model in the folder changed"
    cmp -s full.config small-fs/run/config.conf || fail "full disk ($room room): config.conf changed"
    echo "full disk, $room room left: $(grep -Eom1 "not enough room[^;]*|[^ ]*: No space left on device" "full-$room.log"); the previous model is whole"
done
