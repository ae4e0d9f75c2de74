#!/usr/bin/env bash
# cluster/psrec.sbatch through a real Slurm: the job runs psrec with
# srun --mpi=pmix on 4 tasks (2 servers + 2 workers) and learns the data;
# a job with a bad flag fails, and sbatch --wait reports the failure.
# Needs a running cluster (cluster/slurm-local start, then export SLURM_CONF).
source "$(dirname "$0")/common.sh"
# slurm_require (skip without a cluster, fail under CI=true), slurm_logs
# (on failure, the jobs' outputs and Slurm's own logs).
source "$(dirname "$0")/slurm.sh"
slurm_require
export PSREC
"$PSREC" generate --users 2000 --items 1000 --ratings 60000 --dim 4 --seed 5 \
    --out "$WORK/train.csv" --test-out "$WORK/test.csv" --test-fraction 0.1 >/dev/null
baseline=$(awk -F, 'NR == FNR { if (FNR > 1) { s += $3; n++ } next }
                    FNR > 1 { e = $3 - s / n; sse += e * e; m++ }
                    END { printf "%.6f", sqrt(sse / m) }' "$WORK/train.csv" "$WORK/test.csv")

timeout --kill-after=10 240 sbatch --wait --time=00:05:00 -n 4 -o "$WORK/job.out" \
    "$PSREC_SOURCE_DIR/cluster/psrec.sbatch" --servers 2 --epochs 6 --dim 8 \
    --learning-rate 0.01 --train "$WORK/train.csv" --test "$WORK/test.csv" --run-dir "$WORK/run" \
    >"$WORK/sbatch.out" 2>&1 || { slurm_logs; fail "the Slurm job failed"; }
tail -n 1 "$WORK/job.out"
workers=$(json_field "$WORK/run/summary.json" workers)
servers=$(json_field "$WORK/run/summary.json" servers)
rmse=$(json_field "$WORK/run/summary.json" test_rmse)
[ "$workers" = 2 ] && [ "$servers" = 2 ] || fail "expected 2 workers + 2 servers, got $workers + $servers"
awk -v r="$rmse" -v b="$baseline" 'BEGIN { exit !(r < 0.9 * b) }' ||
    fail "test RMSE $rmse is not clearly below the mean predictor's $baseline"
echo "slurm job: 2 workers + 2 servers, test_rmse $rmse (mean predictor $baseline)"

status=0
timeout --kill-after=10 120 sbatch --wait --time=00:02:00 -n 2 -o "$WORK/bad.out" \
    "$PSREC_SOURCE_DIR/cluster/psrec.sbatch" --servers 1 --train "$WORK/train.csv" --epoch 3 \
    >/dev/null 2>&1 || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "a job with a bad flag: sbatch status $status"
grep -q "unknown option '--epoch'" "$WORK/bad.out" || { cat "$WORK/bad.out"; fail "no error line"; }
echo "bad flag: sbatch --wait exit $status, $(grep -m1 "unknown option" "$WORK/bad.out")"

# cluster/psrec-requeue.sbatch: SIGUSR1 to the batch script part way (what
# --signal=B:USR1@T sends before a time limit): psrec checkpoints and exits
# 75, the script requeues the job, and the requeued run resumes and finishes.
jobid=$(sbatch --parsable --time=00:08:00 -n 3 -o "$WORK/requeue.out" \
    "$PSREC_SOURCE_DIR/cluster/psrec-requeue.sbatch" --servers 1 --epochs 200 --dim 8 \
    --learning-rate 0.01 --train "$WORK/train.csv" --test "$WORK/test.csv" \
    --run-dir "$WORK/requeued") || fail "sbatch of the requeue script failed"
for _ in $(seq 1 1200); do
    grep -q "^epoch   3/200" "$WORK/requeue.out" 2>/dev/null && break
    sleep 0.1
done
grep -q "^epoch   3/200" "$WORK/requeue.out" || { slurm_logs; cat "$WORK/requeue.out"; fail "the job never trained"; }
scancel --signal=USR1 --batch "$jobid"
for _ in $(seq 1 600); do
    grep -q "requeueing job" "$WORK/requeue.out" && break
    sleep 0.1
done
grep -q "requeueing job" "$WORK/requeue.out" || { cat "$WORK/requeue.out"; fail "the job did not requeue"; }
# Slurm holds a requeued job back until the job's credential expires
# (cluster/slurm-local sets cred_expire=30), then starts it again.
for _ in $(seq 1 3000); do
    [ -e "$WORK/requeued/summary.json" ] && ! squeue -h -j "$jobid" 2>/dev/null | grep -q . && break
    sleep 0.1
done
[ -e "$WORK/requeued/summary.json" ] || { slurm_logs; cat "$WORK/requeue.out"; fail "the requeued job did not finish"; }
grep -q "stopped on SIGUSR1 after writing a checkpoint" "$WORK/requeue.out" ||
    fail "no checkpoint on SIGUSR1: $(cat "$WORK/requeue.out")"
grep -q "^resume: from .*ckpt-000001" "$WORK/requeue.out" ||
    fail "the requeued run did not resume: $(cat "$WORK/requeue.out")"
rmse=$(json_field "$WORK/requeued/summary.json" test_rmse)
awk -v r="$rmse" -v b="$baseline" 'BEGIN { exit !(r < 0.9 * b) }' ||
    fail "requeued job: test RMSE $rmse is not clearly below the mean predictor's $baseline"
echo "requeue: SIGUSR1 → $(grep -m1 '^checkpoint ' "$WORK/requeue.out" | cut -d' ' -f3-) → requeued, resumed, test_rmse $rmse"
