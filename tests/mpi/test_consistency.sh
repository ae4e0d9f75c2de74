#!/usr/bin/env bash
# Several workers in each consistency mode learn the generated data: the test
# RMSE must beat the best constant predictor (the mean rating) by a wide
# margin, and BSP/SSP must report staleness within their bound.
source "$(dirname "$0")/common.sh"
"$PSREC" generate --users 2000 --items 1000 --ratings 120000 --dim 4 --seed 3 \
    --out "$WORK/train.csv" --test-out "$WORK/test.csv" --test-fraction 0.1 >/dev/null
# RMSE of predicting the training mean for every test rating.
baseline=$(awk -F, 'NR == FNR { if (FNR > 1) { s += $3; n++ } next }
                    FNR > 1 { e = $3 - s / n; sse += e * e; m++ }
                    END { printf "%.6f", sqrt(sse / m) }' "$WORK/train.csv" "$WORK/test.csv")
for mode in bsp ssp asp; do
    run_mpi 4 train --servers 1 --consistency "$mode" --staleness 2 --epochs 8 --dim 8 \
        --learning-rate 0.01 --batch-size 512 --train "$WORK/train.csv" --test "$WORK/test.csv" \
        --run-dir "$WORK/$mode" --progress false >"$WORK/$mode.log" 2>&1 ||
        { cat "$WORK/$mode.log"; fail "$mode: psrec train failed"; }
    rmse=$(json_field "$WORK/$mode/summary.json" test_rmse)
    workers=$(json_field "$WORK/$mode/summary.json" workers)
    staleness=$(json_field "$WORK/$mode/summary.json" staleness_max)
    echo "$mode: workers $workers test_rmse $rmse (mean predictor $baseline) staleness_max $staleness"
    [ "$workers" = 3 ] || fail "$mode: expected 3 workers, summary says $workers"
    awk -v r="$rmse" -v b="$baseline" 'BEGIN { exit !(r < 0.85 * b) }' ||
        fail "$mode: test RMSE $rmse is not clearly below the mean predictor's $baseline"
    case $mode in
    bsp) [ "$staleness" = 0 ] || fail "bsp: staleness $staleness, expected 0" ;;
    ssp) [ "$staleness" -le 2 ] || fail "ssp: staleness $staleness exceeds the bound 2" ;;
    esac
done
