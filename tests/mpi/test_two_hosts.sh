#!/usr/bin/env bash
# Two hosts on one machine: two network namespaces joined by a veth pair,
# each with its own host name. mpirun starts in the first and launches into
# the second through an rsh agent (instead of ssh); ranks talk TCP over the
# pair, as on a cluster. With --map-by node the ranks alternate between the
# hosts:
#  - one worker, servers on both hosts, BSP: the same predictions, byte for
#    byte, as the same job on one host, and psrec's placement line says
#    where each rank ran;
#  - a worker and a server on each host (-np 4 --servers 2), BSP: the
#    placement line, and the test RMSE of the one-host job within 1% (two
#    workers' pushes of a clock are applied in the order they arrive, so
#    the last digits differ between any two such runs, on one host too);
#  - a server on the second host killed (SIGKILL) mid-training: the job
#    ends on both hosts within 10 s, and Open MPI's message names the rank
#    and its host;
#  - a worker on the second host stopped (SIGSTOP): psrec's --rank-timeout
#    ends the job, naming the rank, its role and its host.
# Needs root, ip (iproute2) and unshare (util-linux). Skips, saying why,
# where namespaces cannot be made; fails instead when CI=true.
source "$(dirname "$0")/common.sh"
cd "$WORK"

# Host names, links and addresses are private to the namespaces, so they
# can be fixed; the namespaces' own names carry this run's process id, so
# that runs side by side cannot meet.
H1=psrec-h1
H2=psrec-h2
NS1=psrec$$h1
NS2=psrec$$h2
SUBNET=10.77.13.0/24 # exists only inside NS1 and NS2
KILL_LIMIT_S=10

CREATED="" # the namespaces this run made, the only ones it deletes
cleanup() {
    local ns pid
    for ns in $CREATED; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -CONT "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    # Deleting a namespace deletes its end of the veth pair, and with it the
    # other end.
    for ns in $CREATED; do
        ip netns delete "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

cannot_run() {
    if [ "${CI:-}" = true ]; then
        fail "$* (CI=true: this test must run; .ci/run installs iproute2 and runs as root)"
    fi
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || cannot_run "network namespaces need root"
command -v ip >/dev/null || cannot_run "no ip command (package iproute2)"
command -v unshare >/dev/null || cannot_run "no unshare command (package util-linux)"
# make_hosts — the namespaces, the link between them, its addresses.
make_hosts() {
    ip netns add "$NS1" && CREATED=$NS1 && ip netns add "$NS2" && CREATED="$NS1 $NS2" &&
        ip link add eth-h1 netns "$NS1" type veth peer name eth-h2 netns "$NS2" &&
        ip -n "$NS1" addr add 10.77.13.1/24 dev eth-h1 &&
        ip -n "$NS2" addr add 10.77.13.2/24 dev eth-h2 &&
        ip -n "$NS1" link set eth-h1 up && ip -n "$NS2" link set eth-h2 up &&
        ip -n "$NS1" link set lo up && ip -n "$NS2" link set lo up
}
make_hosts 2>namespaces.err || cannot_run "cannot make two network namespaces joined by a" \
    "veth pair: $(paste -sd ' ' namespaces.err)"
unshare --uts true 2>namespaces.err ||
    cannot_run "cannot unshare the host name: $(paste -sd ' ' namespaces.err)"

# Open MPI's rsh agent: "agent HOST COMMAND..." runs COMMAND on HOST, here
# in its namespace under its host name.
cat >agent <<AGENT
#!/bin/sh
host=\$1
shift
case \$host in
$H1) ns=$NS1 ;;
$H2) ns=$NS2 ;;
*) echo "agent: no host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$host; \$*"
AGENT
chmod +x agent

# run_two_hosts NP ARGS... — psrec under mpirun started on host 1, ranks
# placed round robin over host 1 and host 2, TCP only over their link.
run_two_hosts() {
    local np=$1
    shift
    timeout --kill-after=10 "${PSREC_TEST_TIMEOUT:-120}" \
        ip netns exec "$NS1" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$H1" \
        "$MPIEXEC" -np "$np" --host "$H1:2,$H2:2" --map-by node --bind-to none \
        --mca plm_rsh_agent "$WORK/agent" --mca btl vader,tcp,self \
        --mca btl_tcp_if_include "$SUBNET" --mca oob_tcp_if_include "$SUBNET" "$PSREC" "$@"
}

"$PSREC" generate --users 2000 --items 1000 --ratings 60000 --dim 4 --seed 5 \
    --out train.csv --test-out test.csv --test-fraction 0.1 >/dev/null
baseline=$(awk -F, 'NR == FNR { if (FNR > 1) { s += $3; n++ } next }
                    FNR > 1 { e = $3 - s / n; sse += e * e; m++ }
                    END { printf "%.6f", sqrt(sse / m) }' train.csv test.csv)
TRAIN=(train --consistency bsp --dim 8 --learning-rate 0.01 --train train.csv --test test.csv
       --progress false)

# expect_placement LOG WORDS... — the job's log holds exactly the placement
# line "placement: WORDS..." (the words joined by spaces).
expect_placement() {
    local log=$1
    shift
    grep -qxF "placement: $*" "$log" ||
        fail "$log: expected 'placement: $*', found '$(grep "^placement:" "$log")'"
}

# ---- one worker (host 1), server 0 on host 2, server 1 on host 1: the
# traffic to server 0 crosses the link; the model must not change by a bit
run_two_hosts 3 "${TRAIN[@]}" --servers 2 --epochs 4 --run-dir "$WORK/two_1w" >two_1w.log 2>&1 ||
    { cat two_1w.log; fail "1 worker + 2 servers on two hosts failed"; }
expect_placement two_1w.log "1 worker + 2 servers on 2 hosts; $H1: worker 0 (rank 0)," \
    "server 1 (rank 2); $H2: server 0 (rank 1)"
run_mpi 3 "${TRAIN[@]}" --servers 2 --epochs 4 --run-dir "$WORK/one_1w" >one_1w.log 2>&1 ||
    { cat one_1w.log; fail "1 worker + 2 servers on one host failed"; }
for run in two_1w one_1w; do
    "$PSREC" predict --run-dir "$run" --pairs test.csv --out "$run.pred" 2>/dev/null ||
        fail "$run: predict failed"
done
rmse_two=$(json_field two_1w/summary.json test_rmse)
rmse_one=$(json_field one_1w/summary.json test_rmse)
hosts_two=$(json_field two_1w/summary.json hosts)
hosts_one=$(json_field one_1w/summary.json hosts)
[ "$hosts_two" = 2 ] && [ "$hosts_one" = 1 ] ||
    fail "summary.json says hosts $hosts_two and $hosts_one, want 2 (two hosts) and 1 (one)"
[ "$rmse_two" = "$rmse_one" ] || fail "1 worker: test_rmse $rmse_two on two hosts, $rmse_one on one"
cmp -s two_1w.pred one_1w.pred || fail "1 worker: the predictions differ between two hosts and one"
awk -v r="$rmse_two" -v b="$baseline" 'BEGIN { exit !(r < 0.9 * b) }' ||
    fail "1 worker: test RMSE $rmse_two is not clearly below the mean predictor's $baseline"
echo "1 worker + 2 servers, bsp: test_rmse $rmse_two on two hosts and on one, the same" \
    "$(wc -l <two_1w.pred) predictions byte for byte (mean predictor $baseline)"
echo "  $(grep "^placement:" two_1w.log)"

# ---- a worker and a server on each host
run_two_hosts 4 "${TRAIN[@]}" --servers 2 --epochs 6 --run-dir "$WORK/two_2w" >two_2w.log 2>&1 ||
    { cat two_2w.log; fail "2 workers + 2 servers on two hosts failed"; }
expect_placement two_2w.log "2 workers + 2 servers on 2 hosts; $H1: worker 0 (rank 0)," \
    "server 0 (rank 2); $H2: worker 1 (rank 1), server 1 (rank 3)"
run_mpi 4 "${TRAIN[@]}" --servers 2 --epochs 6 --run-dir "$WORK/one_2w" >one_2w.log 2>&1 ||
    { cat one_2w.log; fail "2 workers + 2 servers on one host failed"; }
rmse_two=$(json_field two_2w/summary.json test_rmse)
rmse_one=$(json_field one_2w/summary.json test_rmse)
for rmse in "$rmse_two" "$rmse_one"; do
    awk -v r="$rmse" -v b="$baseline" 'BEGIN { exit !(r < 0.9 * b) }' ||
        fail "2 workers: test RMSE $rmse is not clearly below the mean predictor's $baseline"
done
awk -v a="$rmse_two" -v b="$rmse_one" 'BEGIN { d = a > b ? a - b : b - a; exit !(d < 0.01 * b) }' ||
    fail "2 workers: test_rmse $rmse_two on two hosts, $rmse_one on one: more than 1% apart"
echo "2 workers + 2 servers, bsp: test_rmse $rmse_two on two hosts, $rmse_one on one"
echo "  $(grep "^placement:" two_2w.log)"


# signal_rank NAME RANK SIGNAL ARGS... — trains "for ever" on two hosts,
# sends SIGNAL to world rank RANK (which must run on host 2) once epochs
# run, and waits for mpirun to exit: sets STATUS, PID (the rank's),
# ELAPSED_MS and ELAPSED (seconds, text) from the signal to the exit.
signal_rank() {
    local name=$1 rank=$2 signal=$3
    shift 3
    PSREC_TEST_TIMEOUT=90 run_two_hosts 4 "${TRAIN[@]}" --servers 2 --epochs 100000 \
        --run-dir "$WORK/$name" "$@" >"$name.log" 2>&1 &
    local job=$!
    wait_for "$name.log" "^epoch" 60
    PID=$(rank_pid "$WORK/$name" "$rank") || fail "$name: no process of world rank $rank"
    [ "$(ip netns identify "$PID")" = "$NS2" ] ||
        fail "$name: rank $rank runs in '$(ip netns identify "$PID")', not on $H2 ($NS2)"
    local start
    start=$(date +%s%N)
    kill -"$signal" "$PID"
    STATUS=0
    wait "$job" || STATUS=$?
    ELAPSED_MS=$((($(date +%s%N) - start) / 1000000))
    ELAPSED=$(awk -v ms="$ELAPSED_MS" 'BEGIN { printf "%.1f", ms / 1000 }')
    [ "$STATUS" -ne 0 ] || fail "$name: the job exited 0 after $signal of rank $rank"
    [ "$STATUS" -ne 124 ] && [ "$ELAPSED_MS" -lt 90000 ] ||
        fail "$name: the job did not end by itself within 90 s:" \
            "$(grep -v "^epoch" "$name.log" | tail)"
    # Nothing of the job may stay on either host: the namespaces hold only
    # what this test started.
    local left=""
    for _ in $(seq 1 50); do
        left=$(ip netns pids "$NS1"; ip netns pids "$NS2")
        [ -z "$left" ] && break
        sleep 0.1
    done
    [ -z "$left" ] || fail "$name: processes left on the hosts after mpirun exited:" \
        "$(for pid in $left; do tr '\0' ' ' <"/proc/$pid/cmdline"; echo; done)"
}

# ---- server 1 (world rank 3, host 2) killed: Open MPI sees it die
signal_rank killed 3 KILL
[ "$ELAPSED_MS" -le $((KILL_LIMIT_S * 1000)) ] ||
    fail "killed: the job took $ELAPSED s to end after rank 3 died (limit $KILL_LIMIT_S s):" \
        "$(grep -v "^epoch" killed.log | tail -20)"
said=$(grep "process rank 3 with PID $PID on node $H2 exited on signal 9" killed.log) ||
    fail "killed: no message naming rank 3 on $H2: $(grep -v "^epoch" killed.log | tail -20)"
echo "killed: the job ended on both hosts $ELAPSED s after SIGKILL of rank 3 (server 1 on $H2)," \
    "exit $STATUS, saying"
echo "  $said"

# ---- worker 1 (world rank 1, host 2) stopped: psrec's rank timeout
signal_rank stopped 1 STOP --rank-timeout 4
said=$(grep "has not answered" stopped.log) ||
    fail "stopped: no stall message: $(grep -v "^epoch" stopped.log | tail -20)"
[ "$(grep -c "has not answered" stopped.log)" = 1 ] || fail "stopped: several stall messages: $said"
grep -qF "rank 1 (worker 1 on host $H2) has not answered" <<<"$said" ||
    fail "stopped: the message does not name rank 1 (worker 1 on host $H2): $said"
echo "stopped: the job ended $ELAPSED s after SIGSTOP of rank 1 (--rank-timeout 4), exit" \
    "$STATUS, saying"
echo "  $said"
