#!/usr/bin/env bash
# Several workers in each consistency mode learn the generated data: the test
# RMSE must beat the best constant predictor (the mean rating) by a wide
# margin, and the staleness reported must fit the mode: 0 for BSP, within the
# bound for SSP, and at least 1 for ASP, whose prefetched pulls cannot see the
# worker's own last push.
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
    # A prefetched pull leaves before its worker's previous push: at least 1.
    asp) [ "$staleness" -ge 1 ] || fail "asp: staleness $staleness, expected at least 1" ;;
    esac
done

# More workers than lines: most partitions are empty, every worker still
# takes part in each clock, and the model is saved and usable.
printf 'user_id,item_id,rating\n1,10,4\n2,11,5\n3,12,3\n' >"$WORK/tiny.csv"
run_mpi 6 train --servers 2 --consistency bsp --epochs 2 --train "$WORK/tiny.csv" \
    --test "$WORK/tiny.csv" --run-dir "$WORK/tiny" --progress false >"$WORK/tiny.log" 2>&1 ||
    { cat "$WORK/tiny.log"; fail "4 workers on 3 lines failed"; }
"$PSREC" predict --run-dir "$WORK/tiny" --pairs "$WORK/tiny.csv" --out "$WORK/tiny.pred" 2>/dev/null
[ "$(wc -l <"$WORK/tiny.pred")" = 3 ] || fail "4 workers on 3 lines: expected 3 predictions"
echo "tiny: 4 workers on 3 lines trained, $(json_field "$WORK/tiny/summary.json" train_examples) examples"
