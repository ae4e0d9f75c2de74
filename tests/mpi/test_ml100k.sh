#!/usr/bin/env bash
# ML-100K fold 1 with the shipped configuration on 2 servers + 2 workers:
# test RMSE at the level the README promises, and the RMSE computed from
# `psrec predict` equals the one psrec reported.
source "$(dirname "$0")/common.sh"
data=${PSREC_DATA_DIR:-../shared/data}/ml-100k
if [ ! -f "$data/u1.base" ]; then
    echo "SKIP: MovieLens 100K not found at $data (see ../shared/data/README.md)"
    exit 77
fi
export PSREC_TEST_TIMEOUT=300
run_mpi 4 train --servers 2 --config "$PSREC_SOURCE_DIR/configs/ml100k-mf.conf" \
    --train "$data/u1.base" --test "$data/u1.test" --run-dir "$WORK/run" --progress false \
    >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "psrec train failed"; }
tail -n 3 "$WORK/train.log"
"$PSREC" predict --run-dir "$WORK/run" --pairs "$data/u1.test" --out "$WORK/pred.csv"
reported=$(json_field "$WORK/run/summary.json" test_rmse)
computed=$(rmse_from_predictions "$WORK/pred.csv" "$data/u1.test")
echo "u1: reported test_rmse $reported, from predictions $computed"
awk -v a="$reported" -v b="$computed" 'BEGIN { exit !(a - b < 1e-5 && b - a < 1e-5) }' ||
    fail "reported RMSE $reported differs from predicted $computed"
# Fold 1 is the hardest of the five for most models; 0.925 here is
# consistent with a 5-fold mean under 0.915.
awk -v r="$computed" 'BEGIN { exit !(r <= 0.925) }' || fail "u1 test RMSE $computed > 0.925"
