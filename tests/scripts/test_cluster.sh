#!/usr/bin/env bash
# test_cluster.sh — the Slurm scripts' own logic, without a cluster:
# cluster/psrec-multinode.sbatch's choice of --servers and its map of ranks
# to nodes (PSREC_DRY_RUN=1, with the SLURM_* variables a job would have),
# including srun's manual example of cyclic placement; psrec-sweep.sbatch's
# reading of a sweep file (numbering past comments, quoted words, config-file
# lines, errors); and cluster/sweep-gather on hand-written run folders
# (values copied verbatim, CSV quoting, failed runs last, higher-first for
# ranking figures, lower-first for RMSE, --sort-by, ties in index order).
# The same scripts run on a real Slurm in tests/mpi/test_slurm_sweep.sh.
# No MPI: CTest runs it with the unit tests.
set -euo pipefail
: "${PSREC_SOURCE_DIR:?PSREC_SOURCE_DIR must name the repository root}"
CLUSTER=$PSREC_SOURCE_DIR/cluster
WORK=$(mktemp -d "${TMPDIR:-/tmp}/psrec-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
srun_command=() # set by layout and sweep_task

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_equal WHAT FOUND EXPECTED
expect_equal() {
    [ "$2" = "$3" ] || fail "$1: found '$2', expected '$3'"
}

# layout TASKS_PER_NODE ARGS... — psrec-multinode's dry run in a pretend
# allocation: sets $plan (its layout line) and $srun_command (the srun command,
# as an array). Extra environment comes from the caller.
layout() {
    local per_node=$1 out nodes
    shift
    nodes=$(printf '%s' "$per_node" | awk -F, '{ for (i = 1; i <= NF; i++)
        n += ($i ~ /\(x/) ? substr($i, index($i, "(x") + 2) + 0 : 1; print n }')
    out=$(PSREC_DRY_RUN=1 PSREC=psrec SLURM_JOB_NUM_NODES=$nodes SLURM_TASKS_PER_NODE=$per_node \
        bash "$CLUSTER/psrec-multinode.sbatch" "$@")
    plan=$(printf '%s\n' "$out" | sed -n 1p)
    eval "srun_command=($(printf '%s\n' "$out" | sed -n 's/^psrec-multinode: would run://p'))"
}

# expect_error WHAT PATTERN COMMAND... — the command fails with exit 2 and
# a message matching PATTERN.
expect_error() {
    local what=$1 pattern=$2 status=0
    shift 2
    "$@" >"$WORK/error.out" 2>&1 || status=$?
    expect_equal "$what: exit status" "$status" 2
    grep -q -- "$pattern" "$WORK/error.out" || fail "$what: no '$pattern' in: $(cat "$WORK/error.out")"
}

# ---- psrec-multinode.sbatch: servers from the allocation, cyclic placement
layout '4(x4)' --train a.csv
expect_equal "4 nodes × 4" "$plan" "psrec-multinode: 4 node(s), 16 tasks (per node: 4 4 4 4): 12 worker(s) (ranks 0-11) and 4 server(s) (ranks 12-15, from 4 node(s) × 1 per node) on nodes: 0 1 2 3 (srun --distribution=cyclic)"
expect_equal "4 nodes × 4: command" "${srun_command[*]}" "srun --mpi=pmix --distribution=cyclic psrec train --progress false --servers 4 --train a.csv"

SERVERS_PER_NODE=2 layout '4(x4)' --train a.csv
expect_equal "SERVERS_PER_NODE=2" "${srun_command[*]}" "srun --mpi=pmix --distribution=cyclic psrec train --progress false --servers 8 --train a.csv"
case $plan in *"on nodes: 0 1 2 3 0 1 2 3 "*) ;; *) fail "SERVERS_PER_NODE=2: two servers per node expected: $plan" ;; esac

# srun(1)'s example of cyclic placement: 4 tasks on 3 nodes → tasks 1 and
# 4 on the first node, 2 on the second, 3 on the third (counting from 1).
# With 2 servers (ranks 2, 3) they sit on the third node and the first.
layout '2,1,1' --servers=2 --train a.csv
case $plan in *"2 server(s) (ranks 2-3, from the arguments) on nodes: 2 0 "*) ;; *) fail "srun's cyclic example: $plan" ;; esac
expect_equal "--servers given: no --servers added" "${srun_command[*]}" "srun --mpi=pmix --distribution=cyclic psrec train --progress false --servers=2 --train a.csv"

printf 'dim = 8\nservers = 2\nservers = 3\n' >three.conf
layout '4(x4)' --config three.conf
case $plan in *"3 server(s) (ranks 13-15, from three.conf) on nodes: 1 2 3 "*) ;; *) fail "servers from a config file: $plan" ;; esac
expect_equal "servers from a config file: command" "${srun_command[*]}" "srun --mpi=pmix --distribution=cyclic psrec train --progress false --config three.conf"
layout '4(x4)' --config three.conf --servers 1
case $plan in *"1 server(s) (rank 15, from the arguments)"*) ;; *) fail "--servers beats the config file: $plan" ;; esac

expect_error "one task per node" "leave no worker among the job's 2 tasks" \
    env PSREC_DRY_RUN=1 SLURM_JOB_NUM_NODES=2 SLURM_TASKS_PER_NODE='1(x2)' bash "$CLUSTER/psrec-multinode.sbatch"
expect_error "SERVERS_PER_NODE=0" "SERVERS_PER_NODE must be 1 or more" \
    env PSREC_DRY_RUN=1 SERVERS_PER_NODE=0 SLURM_JOB_NUM_NODES=1 SLURM_TASKS_PER_NODE=4 bash "$CLUSTER/psrec-multinode.sbatch"
expect_error "a missing config file" "cannot read the config file 'nowhere.conf'" \
    env PSREC_DRY_RUN=1 SLURM_JOB_NUM_NODES=1 SLURM_TASKS_PER_NODE=4 bash "$CLUSTER/psrec-multinode.sbatch" --config nowhere.conf
echo "psrec-multinode: servers from nodes, SERVERS_PER_NODE, --servers and config files; cyclic map as srun(1) describes"

# ---- psrec-sweep.sbatch: configuration i of the sweep file
cat >sweep.txt <<'SWEEP'
  # a comment, then a blank line

--learning-rate 0.01 --dim 16
--event-weights "view=1, cart=3" --learning-rate 0.02
lr.conf --dim 4
SWEEP
echo "learning-rate = 0.005" >lr.conf
expect_equal "--array-range" "$(bash "$CLUSTER/psrec-sweep.sbatch" --array-range sweep.txt)" 0-2
# sweep_task INDEX [SWEEP_FILE] — the dry run of array task INDEX; sets
# $srun_command like layout.
sweep_task() {
    local out
    out=$(PSREC_DRY_RUN=1 PSREC=psrec PSREC_CLUSTER_DIR=$CLUSTER SLURM_ARRAY_TASK_ID=$1 \
        SLURM_JOB_NUM_NODES=1 SLURM_TASKS_PER_NODE=3 \
        bash "$CLUSTER/psrec-sweep.sbatch" "${2:-sweep.txt}" sweep --split loo --epochs 4) || return $?
    eval "srun_command=($(printf '%s\n' "$out" | sed -n 's/^psrec-multinode: would run://p'))"
}
sweep_task 0
expect_equal "configuration 0" "${srun_command[*]}" "srun --mpi=pmix --distribution=cyclic psrec train --progress false --servers 1 --split loo --epochs 4 --learning-rate 0.01 --dim 16 --run-dir sweep/run-0"
expect_equal "run-0/sweep-flags" "$(cat sweep/run-0/sweep-flags)" "--learning-rate 0.01 --dim 16"
sweep_task 1
expect_equal "configuration 1: words" "${#srun_command[@]}" 19
expect_equal "configuration 1: the quoted word" "${srun_command[14]}" "view=1, cart=3"
expect_equal "run-1/sweep-flags" "$(cat sweep/run-1/sweep-flags)" '--event-weights "view=1, cart=3" --learning-rate 0.02'
sweep_task 2
expect_equal "configuration 2 (a config file)" "${srun_command[*]}" "srun --mpi=pmix --distribution=cyclic psrec train --progress false --servers 1 --split loo --epochs 4 --config lr.conf --dim 4 --run-dir sweep/run-2"
expect_error "array task 3" "sweep.txt has 3 configuration(s), numbered 0-2; array task 3 has none (submit with --array=0-2)" sweep_task 3
printf -- '--learning-rate "0.5\n' >unmatched.txt
expect_error "an unmatched quote" "unmatched.txt, configuration 0: cannot split" sweep_task 0 unmatched.txt
printf -- '--run-dir elsewhere\n' >rundir.txt
expect_error "--run-dir in a line" "run-dir is the sweep's (sweep/run-0)" sweep_task 0 rundir.txt
expect_error "not an array task" "not an array task" env -u SLURM_ARRAY_TASK_ID bash "$CLUSTER/psrec-sweep.sbatch" sweep.txt sweep
printf '# nothing\n\n' >empty.txt
expect_error "an empty sweep file" "empty.txt holds no configuration" bash "$CLUSTER/psrec-sweep.sbatch" --array-range empty.txt
echo "psrec-sweep: configurations numbered past comments, quoted words kept whole, config-file lines, errors named"

# ---- sweep-gather on hand-written run folders
# run SWEEP INDEX FLAGS [SUMMARY] — a run folder; without SUMMARY it failed.
run() {
    mkdir -p "$1/run-$2"
    printf '%s\n' "$3" >"$1/run-$2/sweep-flags"
    [ $# -lt 4 ] || printf '%s\n' "$4" >"$1/run-$2/summary.json"
}
run ranking 0 "--dim 8" '{"model":"bpr","np":3,"epochs_run":5,"best_epoch":4,"train_seconds":1.5,"valid_hr_10":0.4,"valid_ndcg_10":0.10,"valid_recall_20":0.30,"test_ndcg_10":0.09,"test_recall_20":0.28}'
run ranking 1 '--event-weights "view=1,cart=3"' '{"model":"bpr","epochs_run":5,"best_epoch":5,"train_seconds":2.25,"valid_hr_10":0.5,"valid_ndcg_10":0.3,"valid_recall_20":0.20,"test_ndcg_10":0.29,"test_recall_20":0.19}'
run ranking 2 "--dim 64" # failed: no summary
run ranking 10 "--dim 32" '{"model":"bpr","epochs_run":3,"best_epoch":3,"train_seconds":1e-05,"valid_hr_10":0.45,"valid_ndcg_10":2.5e-1,"valid_recall_20":0.25,"test_ndcg_10":0.24,"test_recall_20":0.27}'
run ranking 11 "--dim 48" '{"model":"bpr","epochs_run":3,"best_epoch":3,"train_seconds":1,"valid_hr_10":0.45,"valid_ndcg_10":0.25,"valid_recall_20":0.25,"test_ndcg_10":0.24,"test_recall_20":0.27}'
mkdir ranking/run-x ranking/other # not run folders
"$CLUSTER/sweep-gather" ranking >gather.out
cat >expected.csv <<'CSV'
index,status,flags,valid_ndcg_10,valid_recall_20,valid_hr_10,test_ndcg_10,test_recall_20,epochs_run,best_epoch,train_seconds
1,ok,"--event-weights ""view=1,cart=3""",0.3,0.20,0.5,0.29,0.19,5,5,2.25
10,ok,"--dim 32",2.5e-1,0.25,0.45,0.24,0.27,3,3,1e-05
11,ok,"--dim 48",0.25,0.25,0.45,0.24,0.27,3,3,1
0,ok,"--dim 8",0.10,0.30,0.4,0.09,0.28,5,4,1.5
2,failed,"--dim 64",,,,,,,,
CSV
diff expected.csv ranking/results.csv || fail "sweep-gather ranking: results.csv differs from the expected (above)"
grep -q "5 run(s), 1 failed → ranking/results.csv, sorted by valid_ndcg_10, highest first" gather.out ||
    fail "sweep-gather ranking: summary line: $(cat gather.out)"
order=$("$CLUSTER/sweep-gather" --sort-by valid_recall_20 --out - ranking | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
expect_equal "--sort-by valid_recall_20" "$order" "0 10 11 1 2 "

run rating 0 "--learning-rate 0.01" '{"model":"mf","epochs_run":4,"best_epoch":4,"train_seconds":0.5,"test_rmse":0.95,"test_mae":0.75}'
run rating 1 "--learning-rate 0.001" '{"model":"mf","epochs_run":4,"best_epoch":4,"train_seconds":0.5,"test_rmse":0.99,"test_mae":0.80}'
run rating 2 "--learning-rate 0.05" '{"model":"mf","epochs_run":4,"best_epoch":4,"train_seconds":0.5,"test_rmse":0.9,"test_mae":0.7}'
"$CLUSTER/sweep-gather" --out rating.csv rating >gather.out 2>gather.err
expect_equal "rating sweep: order" "$(tail -n +2 rating.csv | cut -d, -f1 | tr '\n' ' ')" "2 0 1 "
expect_equal "rating sweep: header" "$(head -n 1 rating.csv)" "index,status,flags,test_rmse,test_mae,epochs_run,best_epoch,train_seconds"
grep -q "no run has a validation figure (train with --split loo); sorted by test_rmse" gather.err ||
    fail "rating sweep without validation: no warning: $(cat gather.err)"
expect_error "gather: no run folders" "has no run-<i> folders" "$CLUSTER/sweep-gather" "$WORK/ranking/other"
expect_error "gather: a bad --sort-by" "a figure name is letters" "$CLUSTER/sweep-gather" --sort-by 'x;y' ranking
echo "sweep-gather: values verbatim, CSV quoting, failed runs last, ndcg highest first, RMSE lowest first, --sort-by"
