#!/usr/bin/env bash
# Hybrid models and the neural model end to end, on generated shop events
# whose true factors come from item attributes and user profiles:
#  - cold items: with --split cold-items, bpr with item features ranks the
#    held-out items (never trained on) far above random (HR@10 0.10), while
#    without features they all score alike and it cannot;
#  - a cold item is scored from its features alone: two cold items with the
#    same attributes get the same `psrec predict` score, different ones not;
#  - deep with item and user features learns (beats its own first epoch and
#    best-sellers on full-ranking Recall@20), and `predict`, `recommend`
#    and `export` agree on it: the recommended top item's score is the
#    predicted one, and the exported matrices have the model's shapes.
source "$(dirname "$0")/common.sh"
cd "$WORK"
"$PSREC" generate --feedback implicit --users 1500 --items 600 --ratings 60000 --dim 8 \
    --item-features-out items.csv --user-features-out users.csv --feature-strength 1 \
    --categories 12 --brands 30 --out events.csv --seed 11 >/dev/null

# ---- cold items
cold_run() { # RUN_DIR [train flags...]
    local run=$1
    shift
    run_mpi 4 train --servers 2 --model bpr --split cold-items 0.2 --train events.csv \
        --run-dir "$run" --dim 16 --epochs 8 --learning-rate 0.01 --l2 0.001 --negatives 4 \
        --consistency bsp --progress false "$@" >"$run.log"
    json_field "$run/summary.json" test_hr_10
}
with=$(cold_run cold_features --item-features items.csv)
without=$(cold_run cold_plain)
echo "cold items (20% held out): test_hr_10 with item features $with, without $without"
grep -q "cold items: " cold_features.log || fail "train did not report the cold items"
awk -v a="$with" -v b="$without" 'BEGIN { exit !(a > 0.25 && a > b + 0.1) }' ||
    fail "cold items are not found from their features: HR@10 $with (without features $without)"

# Two cold items with identical attributes, and one with others: the cold
# items are the test items that never occur in training.
awk -F, 'FILENAME == "events.csv" { if (FNR > 1) seen[$2] = 1; next }
         FNR > 1 { f[$1] = ($1 in f) ? f[$1] " " $2 : $2 }
         END { for (i in f) print i "," f[i] "," (i in seen) }' events.csv items.csv |
    sort -t, -k2,2 -k1,1n >attributes.csv
user=$(awk -F, 'NR == 2 { print $1 }' events.csv)
awk -F, -v u="$user" 'BEGIN { print "user_id,item_id" } { print u "," $1 }' attributes.csv \
    >cold_pairs.csv
"$PSREC" predict --run-dir cold_features --pairs cold_pairs.csv --out cold_scores.csv 2>/dev/null
"$PSREC" export --run-dir cold_features --out cold_export 2>/dev/null
# The cold items are those without a row: never a positive, and never drawn
# as a negative (the sampler leaves held-out items out).
awk -F, 'NR > 1 { print $2 }' cold_export/item_ids.csv | sort -u >trained_items.txt
awk -F, 'FILENAME == "trained_items.txt" { trained[$1] = 1; next }
         FILENAME == "cold_scores.csv" { score[$2] = $3; next }
         !($1 in trained) { n[$2]++; if (n[$2] == 1) first[$2] = score[$1]
                            else if (score[$1] != first[$2]) { print "FAIL: cold items with " \
                                   "attributes " $2 " score " first[$2] " and " score[$1]; bad = 1 }
                            groups[$2] = score[$1] }
         END { k = 0; for (g in groups) if (n[g] >= 2) k++
               distinct = 0; for (g in groups) { if (!(groups[g] in values)) distinct++
                                                 values[groups[g]] = 1 }
               printf "%d groups of cold items sharing attributes, %d distinct scores\n", k, distinct
               exit bad || k == 0 || distinct < 2 }' \
    trained_items.txt cold_scores.csv attributes.csv || fail "cold items are not scored by their attributes"

# ---- deep with item and user features
run_mpi 4 train --servers 2 --model deep --split loo --train events.csv --run-dir deep \
    --item-features items.csv --user-features users.csv --dim 16 --hidden 16 --epochs 10 \
    --learning-rate 0.005 --l2 0.001 --negatives 4 --init-std 0.05 --consistency bsp \
    --progress false >deep.log
first=$(sed -n '1p' deep/metrics.jsonl | sed -n 's/.*"valid_hr_10":\([^,}]*\).*/\1/p')
best=$(json_field deep/summary.json valid_hr_10)
recall=$(json_field deep/summary.json test_recall_20)
echo "deep: valid_hr_10 first epoch $first, kept $best; test_recall_20 $recall"
awk -v a="$first" -v b="$best" 'BEGIN { exit !(b > a + 0.05) }' || fail "deep did not learn"

# best-sellers' Recall@20 on the same split (training counts: each user's
# events but the last two by time)
popular=$(awk -F, 'NR > 1 { k = ++n[$1]; item[$1, k] = $2; time[$1, k] = $3 }
    END {
        for (u in n) {
            a = 0; b = 0
            for (k = 1; k <= n[u]; k++) {
                if (a == 0 || time[u, k] >= time[u, a]) { b = a; a = k }
                else if (b == 0 || time[u, k] >= time[u, b]) b = k
            }
            if (n[u] < 3) { for (k = 1; k <= n[u]; k++) count[item[u, k]]++; continue }
            test[u] = item[u, a]
            for (k = 1; k <= n[u]; k++) { if (k != a && k != b) count[item[u, k]]++
                                          if (k != a) own[u, item[u, k]] = 1 }
        }
        m = 0; for (i in count) order[++m] = i
        for (x = 1; x <= 60 && x <= m; x++) for (y = x + 1; y <= m; y++)
            if (count[order[y]] > count[order[x]]) { t = order[x]; order[x] = order[y]; order[y] = t }
        for (u in test) {
            users++; r = 0
            for (x = 1; x <= 60 && r < 20; x++) {
                if ((u, order[x]) in own) continue
                r++; if (order[x] == test[u]) hits++
            }
        }
        printf "%.4f\n", hits / users
    }' events.csv)
echo "best-sellers: Recall@20 $popular"
awk -v a="$recall" -v b="$popular" 'BEGIN { exit !(a > b) }' ||
    fail "deep's Recall@20 $recall is not above best-sellers' $popular"

# predict and recommend score alike
run_mpi 2 recommend --run-dir deep --k 5 --out deep_recs.csv 2>/dev/null
awk -F, 'BEGIN { print "user_id,item_id" } $2 == 1 { print $1 "," $3 }' deep_recs.csv >top1.csv
"$PSREC" predict --run-dir deep --pairs top1.csv --out top1_scores.csv 2>/dev/null
awk -F, 'FILENAME == "deep_recs.csv" { if ($2 == 1) rec[$1] = $4; next }
         { n++; d = rec[$1] - $3; if (d < 0) d = -d; if (d > 1e-4 * (1 + (rec[$1] < 0 ? -rec[$1] : rec[$1]))) bad++ }
         END { printf "%d top items: %d scores differ between recommend and predict\n", n, bad
               exit !(n > 1000 && bad == 0) }' deep_recs.csv top1_scores.csv ||
    fail "recommend and predict disagree on deep"

"$PSREC" export --run-dir deep --out deep_export 2>export.log
for m in w_hidden:16,_16 b_hidden:1,_16 w_out:16,_16 b_out:1,_1 user_feature: item_feature:; do
    name=${m%%:*} shape=${m#*:} shape=${shape//_/ }
    [ -f "deep_export/$name.npy" ] || fail "export has no $name.npy"
    if [ -n "$shape" ]; then
        head -c 128 "deep_export/$name.npy" | grep -aq "'shape': ($shape)" ||
            fail "$name.npy does not have shape ($shape)"
    fi
done
echo "export: dense matrices and feature tables written"
