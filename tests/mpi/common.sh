# common.sh — shared by the multi-rank test scripts (sourced, not run).
# Needs PSREC and MPIEXEC in the environment (CTest sets them).
set -euo pipefail
: "${PSREC:?PSREC must name the psrec binary}"
: "${MPIEXEC:=mpirun}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/psrec-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# run_mpi NP ARGS... — psrec under mpirun with a hard time limit, so a hang
# fails the test instead of blocking CI.
run_mpi() {
    local np=$1
    shift
    timeout --kill-after=10 "${PSREC_TEST_TIMEOUT:-240}" \
        "$MPIEXEC" -np "$np" --oversubscribe --bind-to none "$PSREC" "$@"
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# json_field FILE KEY — a number from a one-line JSON object.
json_field() {
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"
}

# rmse_from_predictions PREDICTIONS TRUTH — RMSE of psrec predict's output
# (user,item,prediction lines) against a ratings file in the same order
# (MovieLens tab-separated or CSV with header).
rmse_from_predictions() {
    awk -F'[,\t]' '
        NR == FNR { predicted[FNR] = $3; next }
        /^[0-9]/ { n++; e = predicted[n] - $3; sse += e * e }
        END { printf "%.6f\n", sqrt(sse / n) }' "$1" "$2"
}

# rank_pid RUN_DIR RANK — the pid of world rank RANK of the job writing
# RUN_DIR (Open MPI puts each rank's world rank in its environment).
rank_pid() {
    local pid
    for pid in $(pgrep -f -- "--run-dir $1( |$)"); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

# wait_for LOG PATTERN [SECONDS] — until a background run has printed a line
# matching PATTERN into LOG (polled every 0.05 s, for at most SECONDS, 120 by
# default); fails the test with the log otherwise.
wait_for() {
    local polls=$(( ${3:-120} * 20 ))
    for _ in $(seq 1 "$polls"); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "the background run never printed '$2' in ${3:-120} s: $(cat "$1")"
}
