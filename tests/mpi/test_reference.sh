#!/usr/bin/env bash
# BSP with one worker must compute exactly the steps of a single-process
# reference implementation: train with psrec under mpirun, score the test
# pairs with `psrec predict`, and compare with reference_mf's own training.
# usage: test_reference.sh OPTIMIZER SERVERS [USERS RATINGS BLOCKS]
# With USERS, the data has that many users and RATINGS ratings, and the
# worker must visit them in BLOCKS user blocks (--shuffle blocks).
source "$(dirname "$0")/common.sh"
optimizer=$1
servers=$2
users=${3:-300}
ratings=${4:-12000}
blocks=${5:-1}
np=$((servers + 1))
lr=0.01
[ "$optimizer" = sgd ] && lr=0.002
[ "$optimizer" = adagrad ] && lr=0.05

"$PSREC" generate --users "$users" --items 200 --ratings "$ratings" --dim 4 --seed 7 \
    --out "$WORK/train.csv" --test-out "$WORK/test.csv" --test-fraction 0.2 >/dev/null
run_mpi "$np" train --servers "$servers" --consistency bsp --optimizer "$optimizer" \
    --learning-rate "$lr" --lr-decay 0.8 --dim 8 --epochs 4 --batch-size 256 --seed 11 \
    --train "$WORK/train.csv" --test "$WORK/test.csv" --run-dir "$WORK/run" --progress false \
    >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "psrec train failed"; }
"$PSREC" predict --run-dir "$WORK/run" --pairs "$WORK/test.csv" --out "$WORK/pred.csv"
"$REFERENCE_MF" "$WORK/run" "$WORK/pred.csv" | tee "$WORK/reference.log"
grep -q "^reference_mf: $blocks user blocks$" "$WORK/reference.log" ||
    fail "expected the examples in $blocks user blocks"

# The RMSE psrec reported equals the one computed from its predictions.
reported=$(json_field "$WORK/run/summary.json" test_rmse)
computed=$(rmse_from_predictions "$WORK/pred.csv" "$WORK/test.csv")
echo "reported test_rmse $reported, from predictions $computed"
awk -v a="$reported" -v b="$computed" 'BEGIN { exit !(a - b < 1e-5 && b - a < 1e-5) }' ||
    fail "reported RMSE $reported differs from predicted $computed"
