#!/usr/bin/env bash
# cluster/psrec-multinode.sbatch and the job-array sweep through a real
# Slurm: the multi-node script on the one local node chooses one server
# (one per node) and runs 2 workers + 1 server; psrec-sweep.sbatch with
# --array=0-2 trains three configurations of a sweep file into run-0..2,
# each with its own config; cluster/sweep-gather's CSV has those three
# rows, sorted by validation RMSE, with the figures of each summary.json.
# On a cluster of 2 nodes or more (SLURM_LOCAL_NODES=2 cluster/slurm-local
# start) it also runs the multi-node script on 2 nodes × 2 tasks and checks
# where srun put each rank: one server and one worker on each node.
# Needs a running cluster (cluster/slurm-local start, then export SLURM_CONF).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/slurm.sh"
slurm_require
slurm_cancel_at_exit
CLUSTER=$PSREC_SOURCE_DIR/cluster
export PSREC PSREC_CLUSTER_DIR=$CLUSTER
nodes=$(sinfo -h -N -o %N | sort -u | grep -c .)
if [ "$nodes" -ge 2 ]; then
    # The local "nodes" share one host: ranks on different ones must use
    # TCP (shared memory between them hangs; see cluster/slurm-local).
    export OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=lo
fi

"$PSREC" generate --users 800 --items 400 --ratings 30000 --dim 4 --seed 7 \
    --out "$WORK/train.csv" >/dev/null

# ---- the multi-node script on one node: --servers from the allocation
timeout --kill-after=10 240 sbatch --wait --time=00:05:00 --nodes=1 --ntasks-per-node=3 \
    -o "$WORK/multinode.out" "$CLUSTER/psrec-multinode.sbatch" --epochs 3 --dim 8 \
    --split loo --train "$WORK/train.csv" --run-dir "$WORK/multinode" \
    >"$WORK/multinode-sbatch.out" 2>&1 || { slurm_logs; fail "the multi-node job failed"; }
layout="psrec-multinode: 1 node(s), 3 tasks (per node: 3): 2 worker(s) (ranks 0-1) and 1 server(s) (rank 2, from 1 node(s) × 1 per node) on nodes: 0 (srun --distribution=cyclic)"
grep -qxF "$layout" "$WORK/multinode.out" || { slurm_logs; fail "no layout line: expected '$layout'"; }
np=$(json_field "$WORK/multinode/summary.json" np)
workers=$(json_field "$WORK/multinode/summary.json" workers)
servers=$(json_field "$WORK/multinode/summary.json" servers)
[ "$np/$workers/$servers" = 3/2/1 ] ||
    fail "multi-node job: expected 3 ranks = 2 workers + 1 server, got $np = $workers + $servers"
grep -q '^servers = 1$' "$WORK/multinode/config.conf" || fail "the run's config.conf does not say servers = 1"
echo "multi-node script on 1 node × 3 tasks: $workers workers + $servers server (one per node)"

# ---- the multi-node script on 2 nodes: where each rank ran
if [ "$nodes" -ge 2 ]; then
    mkdir "$WORK/placement"
    # psrec behind a probe that notes each rank's node (srun's environment).
    cat >"$WORK/probe" <<PROBE
#!/usr/bin/env bash
echo "\$SLURMD_NODENAME" >"$WORK/placement/rank-\$SLURM_PROCID"
exec "$PSREC" "\$@"
PROBE
    chmod +x "$WORK/probe"
    PSREC=$WORK/probe timeout --kill-after=10 240 sbatch --wait --time=00:05:00 --nodes=2 \
        --ntasks-per-node=2 -o "$WORK/twonodes.out" "$CLUSTER/psrec-multinode.sbatch" --epochs 3 \
        --dim 8 --split loo --train "$WORK/train.csv" --run-dir "$WORK/twonodes" \
        >"$WORK/twonodes-sbatch.out" 2>&1 || { slurm_logs; fail "the 2-node job failed"; }
    layout="psrec-multinode: 2 node(s), 4 tasks (per node: 2 2): 2 worker(s) (ranks 0-1) and 2 server(s) (ranks 2-3, from 2 node(s) × 1 per node) on nodes: 0 1 (srun --distribution=cyclic)"
    grep -qxF "$layout" "$WORK/twonodes.out" || { slurm_logs; fail "no 2-node layout line: expected '$layout'"; }
    workers=$(json_field "$WORK/twonodes/summary.json" workers)
    servers=$(json_field "$WORK/twonodes/summary.json" servers)
    [ "$workers/$servers" = 2/2 ] || fail "2-node job: expected 2 workers + 2 servers, got $workers + $servers"
    for rank in 0 1 2 3; do
        [ -s "$WORK/placement/rank-$rank" ] || fail "2-node job: rank $rank left no note of its node"
    done
    node() { cat "$WORK/placement/rank-$1"; }
    # Ranks 2 and 3 are the servers (psrec's last --servers ranks).
    [ "$(node 2)" != "$(node 3)" ] || fail "2-node job: both servers ran on $(node 2)"
    [ "$(node 0)" != "$(node 1)" ] || fail "2-node job: both workers ran on $(node 0)"
    if [ "$(node 0)" != "$(node 2)" ] || [ "$(node 1)" != "$(node 3)" ]; then
        fail "2-node job: ranks ran on $(node 0) $(node 1) $(node 2) $(node 3), expected the script's map (node r mod 2)"
    fi
    echo "multi-node script on 2 nodes × 2 tasks: servers (ranks 2, 3) on $(node 2) and $(node 3), workers on $(node 0) and $(node 1)"
else
    echo "the 2-node placement check needs a cluster of 2 nodes (SLURM_LOCAL_NODES=2 cluster/slurm-local start); this one has $nodes"
fi

# ---- the sweep: three learning rates (one from a config file)
cat >"$WORK/sweep.txt" <<'SWEEP'
# learning rates; comment and blank lines are not configurations

--learning-rate 0.0005
--learning-rate 0.02 --dim 16
lr.conf
SWEEP
echo "learning-rate = 0.005" >"$WORK/lr.conf"
range=$(cd "$WORK" && bash "$CLUSTER/psrec-sweep.sbatch" --array-range sweep.txt)
[ "$range" = 0-2 ] || fail "--array-range: expected 0-2, got '$range'"
# From $WORK, as a user would submit: the sweep file and lr.conf are relative.
(cd "$WORK" && timeout --kill-after=10 300 sbatch --wait --time=00:05:00 --array="$range" -n 2 \
    -o "$WORK/sweep-%a.out" "$CLUSTER/psrec-sweep.sbatch" sweep.txt sweep \
    --split loo --epochs 4 --dim 8 --train train.csv) \
    >"$WORK/sweep-sbatch.out" 2>&1 || { slurm_logs; fail "the sweep's job array failed"; }

expected_flags=("--learning-rate 0.0005" "--learning-rate 0.02 --dim 16" "lr.conf")
expected_rate=(0.0005 0.02 0.005)
expected_dim=(8 16 8)
for i in 0 1 2; do
    run=$WORK/sweep/run-$i
    [ -e "$run/summary.json" ] || { slurm_logs; fail "run-$i has no summary.json"; }
    grep -qx "learning-rate = ${expected_rate[i]}" "$run/config.conf" ||
        fail "run-$i/config.conf: expected learning-rate = ${expected_rate[i]}, found '$(grep '^learning-rate' "$run/config.conf")'"
    grep -qx "dim = ${expected_dim[i]}" "$run/config.conf" ||
        fail "run-$i/config.conf: expected dim = ${expected_dim[i]}, found '$(grep '^dim' "$run/config.conf")'"
    grep -qx "split = loo" "$run/config.conf" || fail "run-$i did not get the common flags (--split loo)"
done
echo "sweep: run-0..2 trained with learning rates ${expected_rate[*]}, each config.conf its own"

# ---- the gatherer
"$CLUSTER/sweep-gather" "$WORK/sweep" >"$WORK/gather.out" || { cat "$WORK/gather.out"; fail "sweep-gather failed"; }
csv=$WORK/sweep/results.csv
cat "$csv"
header="index,status,flags,valid_rmse,valid_mae,test_rmse,test_mae,epochs_run,best_epoch,train_seconds"
[ "$(head -n 1 "$csv")" = "$header" ] || fail "results.csv header: expected '$header', got '$(head -n 1 "$csv")'"
[ "$(tail -n +2 "$csv" | grep -c .)" = 3 ] || fail "results.csv: expected 3 rows"
# The rows as tab-separated fields (the flags field is quoted: it has spaces).
fields=$(tail -n +2 "$csv" | awk '{
    out = ""; field = ""; quoted = 0
    for (i = 1; i <= length($0); i++) {
        c = substr($0, i, 1)
        if (quoted && c == "\"" && substr($0, i + 1, 1) == "\"") { field = field c; i++ }
        else if (c == "\"") quoted = !quoted
        else if (c == "," && !quoted) { out = out field "\t"; field = "" }
        else field = field c
    }
    print out field }')
previous=
while IFS=$'\t' read -r index status flags valid_rmse valid_mae test_rmse test_mae epochs best seconds; do
    summary=$WORK/sweep/run-$index/summary.json
    [ "$status" = ok ] || fail "run-$index: status $status"
    [ "$flags" = "${expected_flags[index]}" ] || fail "run-$index: flags '$flags', expected '${expected_flags[index]}'"
    for pair in "valid_rmse:$valid_rmse" "valid_mae:$valid_mae" "test_rmse:$test_rmse" \
        "test_mae:$test_mae" "epochs_run:$epochs" "best_epoch:$best" "train_seconds:$seconds"; do
        key=${pair%%:*}
        [ "${pair#*:}" = "$(json_field "$summary" "$key")" ] ||
            fail "run-$index: $key is '${pair#*:}' in results.csv, '$(json_field "$summary" "$key")' in summary.json"
    done
    [ "$epochs" = 4 ] || fail "run-$index: epochs_run $epochs, expected 4"
    if [ -n "$previous" ]; then
        awk -v a="$previous" -v b="$valid_rmse" 'BEGIN { exit !(a <= b) }' ||
            fail "results.csv is not sorted by valid_rmse, lowest first: $previous before $valid_rmse"
    fi
    previous=$valid_rmse
done <<<"$fields"
order=$(printf '%s\n' "$fields" | cut -f1 | tr '\n' ' ')
# Four epochs at 0.0005 barely move from the start; 0.02 learns the most.
[ "$order" = "1 2 0 " ] || fail "expected the runs in the order 1 2 0 (learning rate 0.02, 0.005, 0.0005), got $order"
grep -q "sorted by valid_rmse, lowest first" "$WORK/gather.out" || fail "sweep-gather did not say how it sorted"
echo "sweep-gather: 3 rows by valid_rmse ($(printf '%s\n' "$fields" | cut -f4 | tr '\n' ' ')), order $order"
