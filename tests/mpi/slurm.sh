# slurm.sh — shared by the tests that submit jobs to a Slurm cluster
# (sourced after common.sh, not run).

# slurm_require — returns when a cluster answers (SLURM_CONF set, sinfo
# works); otherwise skips the test (exit 77), or fails it when CI=true: CI
# starts a cluster (.ci/run), so a missing one there is a broken setup, not
# a reason to skip.
slurm_require() {
    if [ -n "${SLURM_CONF:-}" ] && command -v sbatch >/dev/null && sinfo -h >/dev/null 2>&1; then
        return 0
    fi
    if [ "${CI:-}" = true ]; then
        fail "CI=true and no Slurm cluster answers (SLURM_CONF='${SLURM_CONF:-}'; .ci/run starts one with cluster/slurm-local start)"
    fi
    echo "SKIP: no Slurm cluster reachable (run cluster/slurm-local start and export SLURM_CONF)"
    exit 77
}

# slurm_cancel_at_exit — names every job this test submits (SBATCH_JOB_NAME,
# unique to the test) and cancels those still queued or running when the
# test ends: a test that gives up on a job (a timeout) must not leave it
# holding the cores, nor running into the next test's jobs.
slurm_cancel_at_exit() {
    export SBATCH_JOB_NAME=psrec-test-${WORK##*.}
    trap 'scancel --name="$SBATCH_JOB_NAME" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
}

# slurm_logs [FILE...] — Slurm's own account of a failure: the FILEs (job
# outputs; by default every *.out under $WORK), the queue, and the tails of
# the controller's and the node daemon's logs.
slurm_logs() {
    local file log key
    if [ $# = 0 ]; then
        local outputs
        mapfile -t outputs < <(find "$WORK" -name '*.out' | sort)
        set -- "${outputs[@]}"
    fi
    for file in "$@"; do
        [ -r "$file" ] && { echo "---- $file"; cat "$file"; }
    done
    echo "---- squeue"
    squeue 2>&1 || true
    for key in SlurmctldLogFile SlurmdLogFile; do
        log=$(sed -n "s/^$key=//p" "$SLURM_CONF")
        [ -n "$log" ] && [ -r "$log" ] && { echo "---- $log (last 30 lines)"; tail -n 30 "$log"; }
    done
    return 0
}
