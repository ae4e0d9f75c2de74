#!/usr/bin/env bash
# test_scaling.sh — scripts/scaling on tiny generated data with RANKS="2 3"
# and two repeats, without plots (no gnuplot needed): the layouts each
# series must choose, workers + servers = ranks, the medians, seconds per
# epoch and parallel efficiency recomputed from runs.csv and from the rates
# in the same CSV, and the network model's table: the least bound wins,
# more bandwidth never predicts less, more latency never more, one node like
# the probe is bounded by the probe's per-batch times, and a bandwidth of
# 1 Mbit/s is the limit from 2 nodes with the rate its formula gives. Bad RANKS and SERVERS stop with a message naming them. Runs MPI
# jobs: CTest registers it with the multi-rank tests.
set -euo pipefail
: "${PSREC:?PSREC must name the psrec binary}"
: "${PSREC_SOURCE_DIR:?PSREC_SOURCE_DIR must name the repository root}"
SCRIPT=$PSREC_SOURCE_DIR/scripts/scaling
WORK=$(mktemp -d "${TMPDIR:-/tmp}/psrec-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PSREC SCALING_DIR=$WORK/out SCALING_PLOTS=0 RUN_TIMEOUT=240
export RANKS="3 2" SERVER_SHARES="0.5 0.25" REPEATS=2 EPOCHS=1 DIM=8 BATCH=256 ITEMS=500
export STRONG_RATINGS=6000 STRONG_USERS=600 WEAK_RATINGS_PER_WORKER=3000 WEAK_USERS_PER_WORKER=300
export NODES="1 2 4 8" BANDWIDTHS_GBIT="10 100" LATENCIES_US="2 50" NODE_WORKERS=3 NODE_SERVERS=1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# expect_equal WHAT FOUND EXPECTED
expect_equal() {
    [ "$2" = "$3" ] || fail "$1: found '$2', expected '$3'"
}
# close A B — A and B agree within a relative 1e-3 (the CSVs round).
close() {
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d
                                     m = (a < 0 ? -a : a); if (m < 1e-12) m = 1e-12
                                     exit !(d <= 1e-3 * m) }'
}

"$SCRIPT" >"$WORK/log" 2>&1 || fail "scripts/scaling failed: $(cat "$WORK/log")"
grep -q "scaling: wrote $SCALING_DIR/runs.csv" "$WORK/log" || fail "no 'wrote' line: $(cat "$WORK/log")"
for png in strong weak predicted; do
    [ ! -e "$SCALING_DIR/$png.png" ] || fail "SCALING_PLOTS=0 wrote $png.png"
done

# ---- runs.csv: 3 layouts (2:1, 3:1, 3:2) × 2 modes × 2 repeats
expect_equal "runs in runs.csv" "$(($(wc -l <"$SCALING_DIR/runs.csv") - 1))" 12

# ---- strong.csv and weak.csv
columns="series,ranks,servers,workers,examples_per_epoch,examples_per_s,examples_per_s_min,\
examples_per_s_max,seconds_per_epoch,bytes_per_example,speedup,parallel_efficiency,runs"
for mode in strong weak; do
    csv=$SCALING_DIR/$mode.csv
    expect_equal "$mode.csv header" "$(head -1 "$csv")" "$columns"
    # share 0.5 of 3 ranks rounds to 2 servers; 0.25 of 3 to 1; 2 ranks have 1.
    expect_equal "$mode.csv layouts" "$(awk -F, 'NR > 1 { printf "%s:%s:%s:%s ", $1, $2, $3, $4 }' "$csv")" \
        "share0.5:2:1:1 share0.5:3:2:1 share0.25:2:1:1 share0.25:3:1:2 "
    while IFS=, read -r series ranks servers workers examples rate low high seconds bytes \
        speedup efficiency runs; do
        where="$mode.csv $series ranks=$ranks"
        expect_equal "$where: workers + servers" "$((workers + servers))" "$ranks"
        expect_equal "$where: runs" "$runs" 2
        if [ "$mode" = strong ]; then
            expect_equal "$where: examples per epoch" "$examples" "$STRONG_RATINGS"
        else
            expect_equal "$where: examples per epoch" "$examples" \
                "$((workers * WEAK_RATINGS_PER_WORKER))"
        fi
        # The two runs of this layout in runs.csv: min, max and their median.
        read -r run_low run_high <<<"$(awk -F, -v m="$mode" -v r="$ranks" -v s="$servers" \
            '$1 == m && $2 == r && $3 == s { print $7 }' "$SCALING_DIR/runs.csv" | sort -g |
            tr '\n' ' ')"
        close "$low" "$run_low" && close "$high" "$run_high" ||
            fail "$where: min/max $low/$high, runs.csv has $run_low/$run_high"
        close "$rate" "$(awk -v a="$run_low" -v b="$run_high" 'BEGIN { print (a + b) / 2 }')" ||
            fail "$where: examples_per_s $rate is not the median of $run_low and $run_high"
        close "$seconds" "$(awk -v e="$examples" -v x="$rate" 'BEGIN { print e / x }')" ||
            fail "$where: seconds_per_epoch $seconds is not $examples / $rate"
        awk -v b="$bytes" 'BEGIN { exit !(b > 0) }' || fail "$where: bytes_per_example $bytes"
    done < <(tail -n +2 "$csv")
    # Efficiency from the rates in the same CSV: the series' first row (2
    # ranks, 1 worker) is the baseline; strong per rank, weak per worker
    # (= seconds per epoch of the baseline over this row's).
    awk -F, -v mode="$mode" 'NR > 1 {
            if ($1 != series) { series = $1; p0 = $2; w0 = $4; x0 = $6; t0 = $9 }
            speedup = $6 / x0
            eff = mode == "strong" ? speedup * p0 / $2 : speedup * w0 / $4
            bad = 0
            if ((eff - $12) ^ 2 > (1e-3 * eff) ^ 2 || (speedup - $11) ^ 2 > (1e-3 * speedup) ^ 2)
                bad = 1
            if (mode == "weak" && (t0 / $9 - $12) ^ 2 > (2e-3 * eff) ^ 2) bad = 1
            if (bad) { printf "%s row %d: speedup %s efficiency %s, expected %.4f %.4f\n",
                              FILENAME, NR, $11, $12, speedup, eff; exit 1 } }' "$csv" ||
        fail "$mode.csv: parallel efficiency disagrees with its rates"
done

# ---- predicted.csv: 2 kinds of node (3 + 1, and 1 + 1 like the probe) ×
# 4 node counts × 2 bandwidths × 2 latencies
predicted=$SCALING_DIR/predicted.csv
expect_equal "predicted.csv header" "$(head -1 "$predicted")" \
    "node_workers,node_servers,nodes,ranks,bandwidth_gbit_s,latency_us,examples_per_s,compute_bound,server_bound,bandwidth_bound,latency_bound,limit,messages_per_batch,node_bytes_per_s"
expect_equal "predicted rows" "$(($(wc -l <"$predicted") - 1))" 32
awk -F, 'NR > 1 {
        if ($4 != $3 * ($1 + $2)) { printf "row %d: %s ranks for %s nodes\n", NR, $4, $3; exit 1 }
        least = $8; name = "compute"
        if ($9 < least) { least = $9; name = "servers" }
        if ($10 != "inf" && $10 + 0 < least) { least = $10; name = "bandwidth" }
        if ($11 != "inf" && $11 + 0 < least) { least = $11; name = "latency" }
        if ($7 != least || $12 != name) {
            printf "row %d: examples_per_s %s (%s), the least bound is %s (%s)\n", NR, $7, $12, least, name
            exit 1 }
        if ($3 == 1 && ($10 != "inf" || $11 != "inf")) { printf "row %d: one node has a network bound\n", NR; exit 1 }
        if ($13 != 3 * $3 * $2) { printf "row %d: %s messages per batch, not 3 per server\n", NR, $13; exit 1 }
        rate[$1 ":" $2 ":" $3, $5, $6] = $7 }
    END {
        for (key in rate) {
            split(key, k, SUBSEP)
            if (k[3] == 2 && rate[k[1], k[2], 50] > rate[key]) {
                printf "%s, %s Gbit/s: more latency predicts more\n", k[1], k[2]; exit 1 }
            if (k[2] == 10 && rate[k[1], 100, k[3]] < rate[key]) {
                printf "%s, %s us: more bandwidth predicts less\n", k[1], k[3]; exit 1 }
        } }' "$predicted" || fail "predicted.csv is inconsistent"

# The probe's medians over its 2 runs (2 ranks, 1 server, strong data): per
# batch, the worker's compute seconds and the server's busy seconds; bytes
# per example. One node of 1 + 1 is bounded by exactly those.
probe_median() {
    awk -F, -v e="$1" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 == "strong" && $2 == 2 && $3 == 1 {
            batches = $c["batches_per_epoch"] * $c["epochs_run"]
            if (e == "worker") v = $c["worker_time_seconds"] * (1 - $c["worker_time_wait"]) / batches
            if (e == "server") v = $c["server_time_seconds"] * (1 - $c["server_time_wait"]) / batches
            if (e == "batch") v = $c["train_examples"] / $c["batches_per_epoch"]
            if (e == "bytes") v = $c["bytes_per_example"]
            n++; sum += v }
        END { if (n != 2) exit 1; printf "%.12g\n", sum / 2 }' "$SCALING_DIR/runs.csv"
}
batch=$(probe_median batch) worker=$(probe_median worker) server=$(probe_median server)
bytes=$(probe_median bytes)
expect_equal "examples per batch" "$(awk -v b="$batch" 'BEGIN { print (b > 0.9 * 256 && b <= 256) }')" 1
read -r compute_bound server_bound <<<"$(awk -F, '$1 == 1 && $2 == 1 && $3 == 1 { print $8, $9; exit }' "$predicted")"
close "$compute_bound" "$(awk -v b="$batch" -v t="$worker" 'BEGIN { print b / t }')" ||
    fail "one 1+1 node: compute bound $compute_bound, not $batch examples / $worker s"
close "$server_bound" "$(awk -v b="$batch" -v t="$server" 'BEGIN { print b / t }')" ||
    fail "one 1+1 node: server bound $server_bound, not $batch examples / $server s"

# A 1 Mbit/s network limits every multi-node point, at B·N²/((N−1)·E).
PREDICT_ONLY=1 BANDWIDTHS_GBIT=0.001 LATENCIES_US=2 "$SCRIPT" >"$WORK/slow.log" 2>&1 ||
    fail "PREDICT_ONLY=1 failed: $(cat "$WORK/slow.log")"
grep -q "the network limits: 2 nodes (bandwidth), 4 nodes (bandwidth), 8 nodes (bandwidth)" \
    "$WORK/slow.log" || fail "a 1 Mbit/s network is not said to limit from 2 nodes: $(cat "$WORK/slow.log")"
while IFS=, read -r nodes rate limit; do
    expect_equal "limit at $nodes nodes, 1 Mbit/s" "$limit" bandwidth
    close "$rate" "$(awk -v n="$nodes" -v e="$bytes" 'BEGIN { print 1e6 / 8 * n * n / ((n - 1) * e) }')" ||
        fail "$nodes nodes at 1 Mbit/s: $rate examples/s, the formula gives another rate"
done < <(awk -F, 'NR > 1 && $3 > 1 { print $3 "," $7 "," $12 }' "$predicted")

# ---- bad input stops before any run, naming the variable
expect_broken() { # expect_broken WORDS VAR=VALUE...
    local words=$1 rc=0
    shift
    env "$@" "$SCRIPT" >"$WORK/broken.log" 2>&1 || rc=$?
    expect_equal "exit code with $*" "$rc" 1
    grep -q "$words" "$WORK/broken.log" || fail "no '$words' with $*: $(cat "$WORK/broken.log")"
}
expect_broken "RANKS: '1' is not a rank count of 2 or more" RANKS="1 2"
expect_broken "SERVERS has 1 counts for 2 RANKS" SERVERS=1
expect_broken "SERVERS: 3 servers for 3 ranks" SERVERS="1 3"
expect_broken "SERVER_SHARES: '1.5' is not a share" SERVER_SHARES=1.5
echo "scaling: layouts, medians, efficiencies and the network model agree"
