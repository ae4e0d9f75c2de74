#!/usr/bin/env bash
# Bad input ends in one clear error line and a non-zero exit, never a hang:
# a malformed line, a missing file, an unknown flag, too many servers, a bad
# value, a diverging learning rate. With
# --skip-malformed the bad line is skipped and counted instead. psrec predict
# refuses a corrupt shard (by its checksum) and shard files swapped between
# slots, and reads a pairs CSV whose unused rating column is empty. psrec
# export refuses a folder without a model and an output folder it cannot make.
# A rating outside --rating-range is a malformed line (and a failed run
# leaves the model already in its folder whole); input quoted in a message
# is escaped; UTF-16 files and NUL bytes are named as such; psrec generate
# refuses sizes the machine cannot hold before doing any work.
source "$(dirname "$0")/common.sh"
export PSREC_TEST_TIMEOUT=60
printf 'user_id,item_id,rating\n1,10,4\n2,11,5\n3,x12,3\n4,13,2\n5,14,1\n' >"$WORK/bad.csv"

# expect_failure NAME PATTERN NP ARGS... — the job must fail (not time out)
# and print PATTERN exactly once. Its exit status is left in last_status.
last_status=0
expect_failure() {
    local name=$1 pattern=$2 np=$3
    shift 3
    local status=0
    run_mpi "$np" train "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || status=$?
    [ "$status" -ne 0 ] || fail "$name: exit status 0"
    [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "$name: timed out (hang)"
    local count
    count=$(grep -c -- "$pattern" "$WORK/$name.err" || true)
    [ "$count" = 1 ] || { cat "$WORK/$name.err"; fail "$name: '$pattern' printed $count times"; }
    echo "$name: exit $status: $(grep -- "$pattern" "$WORK/$name.err")"
    last_status=$status
}

# expect_status NAME STATUS — the last expect_failure exited with STATUS
# (1: the run failed, 2: a usage error).
expect_status() {
    [ "$last_status" = "$2" ] || fail "$1: exit status $last_status, expected $2"
}

# no_raw_controls NAME FILE — FILE holds no escape, bell or NUL byte: what a
# message quoted from input was escaped.
no_raw_controls() {
    if tr -d '\n' <"$2" | LC_ALL=C grep -q "$(printf '[\033\007\001]')"; then
        fail "$1: a control character reached the terminal: $(od -c "$2" | head -5)"
    fi
    [ "$(tr -d '\000' <"$2" | wc -c)" = "$(wc -c <"$2")" ] || fail "$1: a NUL byte was printed"
}

expect_failure malformed "bad.csv:4: expected an integer item id" 4 \
    --servers 2 --train "$WORK/bad.csv" --run-dir "$WORK/r1"
expect_failure missing_file "cannot open $WORK/nope.csv" 4 \
    --servers 2 --train "$WORK/nope.csv" --run-dir "$WORK/r2"
expect_failure unknown_flag "unknown option '--epoch'" 4 \
    --servers 2 --train "$WORK/bad.csv" --epoch 3 --run-dir "$WORK/r3"
expect_failure too_many_servers "servers 4 leaves no worker" 4 \
    --servers 4 --train "$WORK/bad.csv" --run-dir "$WORK/r4"
expect_failure bad_value "expected an integer" 2 \
    --servers 1 --train "$WORK/bad.csv" --epochs many --run-dir "$WORK/r5"

# A learning rate far too large: the loss stops being finite; the job says so
# and commits no model (no manifest), so predict cannot use a broken one.
"$PSREC" generate --users 50 --items 40 --ratings 600 --seed 2 --out "$WORK/small.csv" >/dev/null
expect_failure diverged "training diverged" 3 \
    --servers 1 --optimizer sgd --learning-rate 50 --epochs 5 --batch-size 16 --train "$WORK/small.csv" \
    --run-dir "$WORK/r6" --progress false
[ ! -e "$WORK/r6/model/manifest.txt" ] || fail "diverged: a manifest was written"

# Skipping instead: the run succeeds and counts the one bad line. Two servers,
# so the model has two shard files for the mix-up case below.
run_mpi 3 train --servers 2 --skip-malformed --epochs 1 --train "$WORK/bad.csv" \
    --run-dir "$WORK/skip" --progress false >"$WORK/skip.log" 2>&1 ||
    { cat "$WORK/skip.log"; fail "skip-malformed run failed"; }
skipped=$(json_field "$WORK/skip/summary.json" skipped_lines)
trained=$(json_field "$WORK/skip/summary.json" train_examples)
[ "$skipped" = 1 ] && [ "$trained" = 4 ] ||
    fail "skip-malformed: skipped $skipped (want 1), trained on $trained (want 4)"
echo "skip_malformed: 1 line skipped, 4 examples trained"

# psrec predict: the good model loads, so the failures below are down to the
# damage each one does, not to the model itself.
"$PSREC" predict --run-dir "$WORK/skip" --pairs "$WORK/bad.csv" --out "$WORK/p.csv" \
    --skip-malformed 2>/dev/null || fail "predict on a good model failed"

# psrec predict: a pairs CSV needs only user and item columns; an empty rating
# field is not read. One output line per pair, in input order.
printf 'user_id,item_id,rating\n1,10,\n5,14,\n' >"$WORK/pairs-empty.csv"
"$PSREC" predict --run-dir "$WORK/skip" --pairs "$WORK/pairs-empty.csv" \
    --out "$WORK/p-empty.csv" 2>"$WORK/empty.err" ||
    fail "predict on pairs with an empty rating column failed: $(cat "$WORK/empty.err")"
[ "$(cut -d, -f1,2 "$WORK/p-empty.csv" | tr '\n' ' ')" = "1,10 5,14 " ] ||
    fail "predict on pairs with empty ratings wrote: $(cat "$WORK/p-empty.csv")"
echo "empty_rating_column: $(tr '\n' ' ' <"$WORK/p-empty.csv")"
printf '1\t10\t\t\n5\t14\t\tx\n' >"$WORK/pairs-empty.tsv"
"$PSREC" predict --run-dir "$WORK/skip" --pairs "$WORK/pairs-empty.tsv" --format movielens \
    --out "$WORK/p-empty-ml.csv" 2>"$WORK/empty-ml.err" ||
    fail "predict on MovieLens pairs with an empty rating failed: $(cat "$WORK/empty-ml.err")"
[ "$(cut -d, -f1,2 "$WORK/p-empty-ml.csv" | tr '\n' ' ')" = "1,10 5,14 " ] ||
    fail "predict on MovieLens pairs with empty ratings wrote: $(cat "$WORK/p-empty-ml.csv")"
echo "empty_rating_movielens: $(tr '\n' ' ' <"$WORK/p-empty-ml.csv")"

# expect_predict_failure NAME RUN_DIR PATTERN — predict with the model in
# RUN_DIR must exit non-zero with PATTERN (a grep pattern) in its error.
expect_predict_failure() {
    local name=$1 run_dir=$2 pattern=$3 status=0
    "$PSREC" predict --run-dir "$run_dir" --pairs "$WORK/bad.csv" --out "$WORK/p.csv" \
        --skip-malformed 2>"$WORK/$name.err" || status=$?
    [ "$status" -ne 0 ] && grep -q -- "$pattern" "$WORK/$name.err" ||
        fail "$name: predict exit $status, expected '$pattern': $(cat "$WORK/$name.err")"
    echo "$name: $(cat "$WORK/$name.err")"
}

# psrec predict: shard 0 copied over shard 1 is refused, naming the file.
cp -r "$WORK/skip" "$WORK/mixed"
cp "$WORK/mixed/model/shard-00000-of-00002.bin" "$WORK/mixed/model/shard-00001-of-00002.bin"
expect_predict_failure mixed_shards "$WORK/mixed" \
    "mixed/model/shard-00001-of-00002.bin: .*mixed up"

# psrec predict: a corrupt model file is refused with its name, and it is the
# checksum that catches it. The byte flipped is inside the floats of the first
# row (past the 24-byte header, the 20-byte entry of each of the 2 tables and
# the row's 12-byte key and step), where nothing but the checksum can tell.
cp -r "$WORK/skip" "$WORK/corrupt"
shard="$WORK/corrupt/model/shard-00000-of-00002.bin"
row_start=$((24 + 2 * 20))
[ "$(stat -c %s "$shard")" -gt $((row_start + 12 + 4 + 8)) ] ||
    fail "corrupt_shard: $shard holds no row to corrupt"
flip_at=$((row_start + 12 + 2))
byte=$(od -An -tu1 -j "$flip_at" -N1 "$shard" | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 0x10)))" |
    dd of="$shard" bs=1 seek="$flip_at" conv=notrunc status=none
cmp -s "$shard" "$WORK/skip/model/shard-00000-of-00002.bin" &&
    fail "corrupt_shard: no byte changed"
expect_predict_failure corrupt_shard "$WORK/corrupt" "$shard: checksum mismatch"

# psrec export: the good model exports; a folder without a model and an output
# folder that cannot be made each end in exit 1 and one line saying so.
"$PSREC" export --run-dir "$WORK/skip" --out "$WORK/export" 2>"$WORK/export.err" ||
    fail "export of a good model failed: $(cat "$WORK/export.err")"
for f in user.npy user_ids.csv item.npy item_ids.csv model.txt; do
    [ -s "$WORK/export/$f" ] || fail "export: $f is missing or empty"
done
# expect_export_failure NAME PATTERN ARGS... — exit 1, one line, PATTERN in it.
expect_export_failure() {
    local name=$1 pattern=$2 status=0
    shift 2
    "$PSREC" export "$@" 2>"$WORK/$name.err" || status=$?
    [ "$status" = 1 ] && [ "$(wc -l <"$WORK/$name.err")" = 1 ] &&
        grep -q -- "$pattern" "$WORK/$name.err" ||
        fail "$name: export exit $status, expected 1 and one line with '$pattern':" \
            "$(cat "$WORK/$name.err")"
    echo "$name: $(cat "$WORK/$name.err")"
}
expect_export_failure export_no_model "$WORK/nothing has no trained model" \
    --run-dir "$WORK/nothing" --out "$WORK/export-none"
expect_export_failure export_unwritable "cannot create directory" \
    --run-dir "$WORK/skip" --out "$WORK/export/model.txt/sub"

# A run into a folder that holds a good model and fails (here: it diverges)
# leaves that model, its summary and its configuration whole: predict gives
# the same output as before, and nothing of the failed run is left.
cp -r "$WORK/skip" "$WORK/stale"
[ -e "$WORK/stale/model/manifest.txt" ] || fail "stale: the copied model has no manifest"
"$PSREC" predict --run-dir "$WORK/stale" --pairs "$WORK/small.csv" --out "$WORK/before.csv" 2>/dev/null
cp "$WORK/stale/config.conf" "$WORK/config.before"
run_mpi 3 train --servers 1 --optimizer sgd --learning-rate 50 --epochs 5 --batch-size 16 \
    --train "$WORK/small.csv" --run-dir "$WORK/stale" --progress false >/dev/null 2>&1 &&
    fail "stale: the diverging run succeeded"
"$PSREC" predict --run-dir "$WORK/stale" --pairs "$WORK/small.csv" --out "$WORK/after.csv" 2>/dev/null
cmp -s "$WORK/before.csv" "$WORK/after.csv" || fail "stale: the model changed after a failed run"
cmp -s "$WORK/config.before" "$WORK/stale/config.conf" ||
    fail "stale: the configuration changed after a failed run"
[ "$(ls -d "$WORK"/stale/gen-* | wc -l)" = 1 ] || fail "stale: the failed run left files: $(ls "$WORK/stale")"
echo "stale_model: a failed run leaves the previous model, configuration and summary whole"

# ---- implicit feedback
printf 'user_id,item_id,timestamp,event\n1,10,1,view\n1,11,2,wishlist\n2,10,3,cart\n' >"$WORK/events.csv"
expect_failure unknown_event "events.csv:3: unknown event 'wishlist'" 3 \
    --servers 1 --model bpr --event-weights view=1,cart=3,purchase=5 \
    --train "$WORK/events.csv" --run-dir "$WORK/r7"
expect_failure bad_event_weights "view=-1" 3 \
    --servers 1 --model bpr --event-weights view=-1 --train "$WORK/events.csv" --run-dir "$WORK/r8"
expect_failure mf_on_implicit "cannot train on --feedback implicit" 3 \
    --servers 1 --model mf --feedback implicit --train "$WORK/events.csv" --run-dir "$WORK/r9"
# --split loo orders each user's interactions by time: a file without
# timestamps is refused unless file order is allowed to stand for time.
printf 'user_id,item_id\n1,10\n1,11\n1,12\n2,10\n2,11\n2,13\n' >"$WORK/untimed.csv"
expect_failure loo_without_time "allow-file-order" 3 \
    --servers 1 --model bpr --split loo --train "$WORK/untimed.csv" --run-dir "$WORK/r10"
run_mpi 3 train --servers 1 --model bpr --split loo --allow-file-order --epochs 1 \
    --train "$WORK/untimed.csv" --run-dir "$WORK/untimed" --progress false >"$WORK/untimed.log" 2>&1 ||
    { cat "$WORK/untimed.log"; fail "--split loo --allow-file-order failed"; }
[ "$(json_field "$WORK/untimed/summary.json" test_examples)" = 2 ] ||
    fail "loo with file order: expected 2 test examples"
echo "loo_file_order: 2 users, 2 test items"

# ---- feature files: a bad line is FILE:LINE, a bad weight says so, an item
# the data never names is counted and reported (catalogues change)
printf 'item_id,feature_id\n10,1\n11,x\n' >"$WORK/items_bad.csv"
expect_failure feature_line "items_bad.csv:3: expected a feature id" 3 \
    --servers 1 --model bpr --train "$WORK/untimed.csv" --item-features "$WORK/items_bad.csv" \
    --run-dir "$WORK/r11"
printf 'item_id,feature_id,weight\n10,1,1\n11,2,-2\n' >"$WORK/items_weight.csv"
expect_failure feature_weight "items_weight.csv:3: expected a weight (a finite number >= 0)" 3 \
    --servers 1 --model bpr --train "$WORK/untimed.csv" --item-features "$WORK/items_weight.csv" \
    --run-dir "$WORK/r12"
expect_failure cold_fraction "strictly between 0 and 1" 3 \
    --servers 1 --model bpr --train "$WORK/untimed.csv" --split cold-items 1 --run-dir "$WORK/r13"
printf 'item_id,feature_id\n10,1\n11,1\n999,2\n' >"$WORK/items_unknown.csv"
run_mpi 3 train --servers 1 --model bpr --epochs 1 --train "$WORK/untimed.csv" \
    --item-features "$WORK/items_unknown.csv" --run-dir "$WORK/unknown" --progress false \
    >"$WORK/unknown.log" 2>&1 || { cat "$WORK/unknown.log"; fail "a feature file with an unknown item failed"; }
grep -q "3 items with 2 distinct features .*1 of those items are not in the data" "$WORK/unknown.log" ||
    { cat "$WORK/unknown.log"; fail "the unknown item in the feature file was not reported"; }
echo "feature_unknown_item: $(grep -o '1 of those items are not in the data' "$WORK/unknown.log")"

# ---- inputs that used to hang or mislead
# Adam at a learning rate of 1000 keeps the loss finite but enormous: that
# is divergence too, not "done".
expect_failure exploded "training diverged: the train loss is" 3 \
    --servers 1 --train "$WORK/small.csv" --learning-rate 1000 --epochs 5 --run-dir "$WORK/r21"
mkfifo "$WORK/fifo.csv"
expect_failure fifo "fifo.csv: not a regular file" 3 \
    --servers 1 --train "$WORK/fifo.csv" --run-dir "$WORK/r18"
expect_failure init_std_zero "init-std 0 starts every factor at zero" 3 \
    --servers 1 --train "$WORK/untimed.csv" --init-std 0 --run-dir "$WORK/r19"
expect_failure same_columns "are both 'user_id'" 3 \
    --servers 1 --train "$WORK/untimed.csv" --item-column user_id --run-dir "$WORK/r20"
printf '\xEF\xBB\xBFepochs = 1\nservers = 1\n' >"$WORK/bom.conf"
run_mpi 3 train --config "$WORK/bom.conf" --train "$WORK/small.csv" --run-dir "$WORK/bom" \
    --progress false >"$WORK/bom.log" 2>&1 || fail "a config file with a byte-order mark failed: $(cat "$WORK/bom.log")"
echo "bom: a config file starting with a UTF-8 byte-order mark is read"

# ---- neighbourhood models: a flag combination that cannot work says why
expect_failure knn_pearson_implicit "pearson-baseline compares ratings" 3 \
    --servers 1 --model item-knn --similarity pearson-baseline --train "$WORK/untimed.csv" \
    --run-dir "$WORK/r14"
expect_failure userknn_ratings "learns from implicit feedback" 3 \
    --servers 1 --model user-knn --feedback explicit --train "$WORK/untimed.csv" \
    --run-dir "$WORK/r15"
expect_failure knn_patience "watches a validation ranking figure of a model trained in epochs" 3 \
    --servers 1 --model item-knn --split loo --patience 2 --train "$WORK/untimed.csv" \
    --run-dir "$WORK/r16"
expect_failure knn_budget "memory-budget" 3 \
    --servers 1 --model item-knn --memory-budget 0 --train "$WORK/untimed.csv" \
    --run-dir "$WORK/r17"

# psrec recommend: a folder without a model, and a model whose shards are of
# another kind (mf rows where the manifest says bpr), each end in one line.
expect_recommend_failure() {
    local name=$1 run_dir=$2 pattern=$3 status=0
    run_mpi 2 recommend --run-dir "$run_dir" --k 5 --out "$WORK/recs.csv" \
        >/dev/null 2>"$WORK/$name.err" || status=$?
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$(grep -c -- "$pattern" "$WORK/$name.err")" = 1 ] ||
        fail "$name: recommend exit $status, expected '$pattern' once: $(cat "$WORK/$name.err")"
    echo "$name: $(grep -- "$pattern" "$WORK/$name.err")"
}
expect_recommend_failure recommend_no_model "$WORK/nothing" "has no trained model"
cp -r "$WORK/untimed" "$WORK/kinds"
rm "$WORK"/kinds/model/shard-*
cp "$WORK"/skip/model/shard-00000-of-00002.bin "$WORK/kinds/model/shard-00000-of-00001.bin"
expect_recommend_failure recommend_other_kind "$WORK/kinds" "shard-00000-of-00001.bin"
[ ! -e "$WORK/recs.csv" ] || fail "a failed recommend left $WORK/recs.csv"

# ---- issue 7: ratings outside --rating-range, control characters in
# messages, NUL bytes and UTF-16, generate sizes

# snapshot_model NAME RUN_DIR / check_model_kept NAME RUN_DIR — the model,
# configuration and summary in RUN_DIR are what they were at the snapshot,
# and a failed run left no generation of its own behind.
snapshot_model() {
    "$PSREC" predict --run-dir "$2" --pairs "$WORK/small.csv" --out "$WORK/$1.before.csv" 2>/dev/null ||
        fail "$1: predict on the kept model failed"
    cp "$2/config.conf" "$WORK/$1.config"
    cp "$2/summary.json" "$WORK/$1.summary"
}
check_model_kept() {
    "$PSREC" predict --run-dir "$2" --pairs "$WORK/small.csv" --out "$WORK/$1.after.csv" 2>/dev/null ||
        fail "$1: predict failed after the failed run"
    cmp -s "$WORK/$1.before.csv" "$WORK/$1.after.csv" || fail "$1: the model changed"
    cmp -s "$WORK/$1.config" "$2/config.conf" || fail "$1: the configuration changed"
    cmp -s "$WORK/$1.summary" "$2/summary.json" || fail "$1: the summary changed"
    [ "$(ls -d "$2"/gen-* | wc -l)" = 1 ] || fail "$1: the failed run left files: $(ls "$2")"
    echo "$1: the previous model, configuration and summary are whole"
}

# One rating of 1e30 in 2,000 (or one of -1) used to train silently; the
# default range 0:100 makes it a malformed line, FILE:LINE with the value and
# the range, and the model already in the run folder stays as it was.
"$PSREC" generate --users 100 --items 60 --ratings 2000 --seed 3 --out "$WORK/ratings.csv" >/dev/null
awk -F, -v OFS=, 'NR == 1000 { $3 = "1e30" } { print }' "$WORK/ratings.csv" >"$WORK/huge_rating.csv"
awk -F, -v OFS=, 'NR == 500 { $3 = "-1" } { print }' "$WORK/ratings.csv" >"$WORK/negative_rating.csv"
cp -r "$WORK/skip" "$WORK/kept"
snapshot_model range "$WORK/kept"
expect_failure rating_huge \
    "huge_rating.csv:1000: expected a rating from 0 to 100 in field 3 (--rating-range 0:100), found '1e30'" \
    3 --servers 1 --epochs 1 --train "$WORK/huge_rating.csv" --run-dir "$WORK/kept" --progress false
expect_status rating_huge 1
check_model_kept range "$WORK/kept"
expect_failure rating_negative \
    "negative_rating.csv:500: expected a rating from 0 to 100 in field 3 (--rating-range 0:100), found '-1'" \
    3 --servers 1 --epochs 1 --train "$WORK/ratings.csv" --test "$WORK/negative_rating.csv" \
    --run-dir "$WORK/r22"
expect_status rating_negative 1
expect_failure rating_narrow \
    "ratings.csv:[0-9]*: expected a rating from 1 to 4 in field 3 (--rating-range 1:4), found '5'" \
    3 --servers 1 --epochs 1 --train "$WORK/ratings.csv" --rating-range 1:4 --run-dir "$WORK/r23"
expect_failure rating_range_flag \
    "--rating-range: expected LOW:HIGH, two finite numbers with LOW <= HIGH (e.g. 1:5 or -10:10), found '5:1'" \
    3 --servers 1 --train "$WORK/ratings.csv" --rating-range 5:1 --run-dir "$WORK/r24"
expect_status rating_range_flag 2
# Skipped and counted instead; or accepted by a range that takes it.
run_mpi 3 train --servers 1 --epochs 1 --skip-malformed --train "$WORK/huge_rating.csv" \
    --run-dir "$WORK/range_skip" --progress false >"$WORK/range_skip.log" 2>&1 ||
    { cat "$WORK/range_skip.log"; fail "--skip-malformed with a rating out of range failed"; }
[ "$(json_field "$WORK/range_skip/summary.json" skipped_lines)" = 1 ] &&
    [ "$(json_field "$WORK/range_skip/summary.json" train_examples)" = 1999 ] ||
    fail "rating out of range, skipped: $(cat "$WORK/range_skip/summary.json")"
run_mpi 3 train --servers 1 --epochs 1 --rating-range -1:5 --train "$WORK/negative_rating.csv" \
    --run-dir "$WORK/range_wide" --progress false >"$WORK/range_wide.log" 2>&1 ||
    { cat "$WORK/range_wide.log"; fail "--rating-range -1:5 refused a rating of -1"; }
[ "$(json_field "$WORK/range_wide/summary.json" train_examples)" = 2000 ] ||
    fail "--rating-range -1:5 did not train on every line"
grep -q '^rating-range = -1:5$' "$WORK/range_wide/config.conf" ||
    fail "the run's config.conf does not record --rating-range"
echo "rating_range: 1e30 skipped and counted with --skip-malformed; -1 taken by --rating-range -1:5"
# Every line out of range and skipped: nothing to train on, and it says why.
printf 'user_id,item_id,rating\n1,10,1e30\n2,11,-3\n3,12,500\n' >"$WORK/all_out.csv"
expect_failure all_skipped "all_out.csv has no training examples (3 malformed lines skipped: every line was)" \
    3 --servers 1 --skip-malformed --train "$WORK/all_out.csv" --run-dir "$WORK/r25"

# Input quoted in a message is escaped: an escape sequence in a data file, a
# config key or a flag value cannot drive the terminal.
printf 'user_id,item_id,rating\n1,10,4\n2,\033]0;pwned\007,5\n' >"$WORK/escape.csv"
expect_failure control_data "escape.csv:3: expected an integer item id in field 2, found '\\\\x1b]0;pwned\\\\x07'" \
    3 --servers 1 --train "$WORK/escape.csv" --run-dir "$WORK/r26"
no_raw_controls control_data "$WORK/control_data.err"
printf 'epochs = 1\n\033[2Jevil = 1\n' >"$WORK/escape.conf"
expect_failure control_key "escape.conf:2: unknown key '\\\\x1b\\[2Jevil'" \
    3 --config "$WORK/escape.conf" --train "$WORK/small.csv" --run-dir "$WORK/r27"
expect_status control_key 2
no_raw_controls control_key "$WORK/control_key.err"
expect_failure control_flag "--epochs: expected an integer from 1 to 100000, found '3\\\\x1b\\[31m'" \
    3 --servers 1 --train "$WORK/small.csv" --epochs "$(printf '3\033[31m')" --run-dir "$WORK/r28"
expect_status control_flag 2
no_raw_controls control_flag "$WORK/control_flag.err"

# UTF-16 and NUL bytes: said plainly for data, features, config and pairs.
printf '\377\376u\000s\000e\000r\000_\000i\000d\000,\000i\000t\000e\000m\000\n\000' >"$WORK/utf16.csv"
expect_failure utf16_data "utf16.csv: looks like UTF-16 text (byte-order mark FF FE); save it as UTF-8" \
    3 --servers 1 --train "$WORK/utf16.csv" --run-dir "$WORK/r29"
expect_status utf16_data 1
printf 'user_id,item_id,rating\n1,10,4\n2,1\00011,5\n' >"$WORK/nul.csv"
expect_failure nul_data "nul.csv:3: NUL byte in the line (byte 4)" \
    3 --servers 1 --train "$WORK/nul.csv" --run-dir "$WORK/r30"
no_raw_controls nul_data "$WORK/nul_data.err"
expect_failure utf16_features "utf16.csv: looks like UTF-16 text (byte-order mark FF FE)" \
    3 --servers 1 --model bpr --train "$WORK/untimed.csv" --item-features "$WORK/utf16.csv" \
    --run-dir "$WORK/r31"
printf '\376\377\000e\000p\000o\000c\000h\000s\000=\0001\000\n' >"$WORK/utf16.conf"
expect_failure utf16_config "utf16.conf: looks like UTF-16 text (byte-order mark FE FF); save it as UTF-8" \
    3 --config "$WORK/utf16.conf" --train "$WORK/small.csv" --run-dir "$WORK/r32"
expect_status utf16_config 2
printf 'user_id,item_id\n1,\00010\n' >"$WORK/nul_pairs.csv"
status=0
"$PSREC" predict --run-dir "$WORK/skip" --pairs "$WORK/nul_pairs.csv" --out "$WORK/nul_p.csv" \
    2>"$WORK/nul_pairs.err" || status=$?
[ "$status" = 1 ] && grep -q "nul_pairs.csv:2: NUL byte in the line (byte 3)" "$WORK/nul_pairs.err" ||
    fail "predict on pairs with a NUL: exit $status: $(cat "$WORK/nul_pairs.err")"
[ ! -e "$WORK/nul_p.csv" ] || fail "predict on pairs with a NUL left its output"
echo "nul_pairs: $(cat "$WORK/nul_pairs.err")"
# recommend --users: a byte-order mark before the first id is no header (the
# user is kept); a bad id is quoted escaped; a UTF-16 list is named as such.
printf '\357\273\2772\n' >"$WORK/users_bom.txt"
run_mpi 2 recommend --run-dir "$WORK/untimed" --k 2 --users "$WORK/users_bom.txt" \
    --out "$WORK/recs_bom.csv" >/dev/null 2>"$WORK/recs_bom.err" ||
    fail "recommend --users with a byte-order mark failed: $(cat "$WORK/recs_bom.err")"
[ "$(tail -n +2 "$WORK/recs_bom.csv" | cut -d, -f1 | sort -u)" = 2 ] ||
    fail "recommend --users with a byte-order mark: $(cat "$WORK/recs_bom.csv")"
printf 'user_id\n1\n2\033[8m\n' >"$WORK/users_bad.txt"
printf '\377\376\061\000\n\000' >"$WORK/users_utf16.txt"
for list in users_bad users_utf16; do
    status=0
    run_mpi 2 recommend --run-dir "$WORK/untimed" --k 2 --users "$WORK/$list.txt" \
        --out "$WORK/recs_$list.csv" >/dev/null 2>"$WORK/$list.err" || status=$?
    [ "$status" = 1 ] || fail "recommend --users $list.txt: exit $status"
    no_raw_controls "$list" "$WORK/$list.err"
    [ ! -e "$WORK/recs_$list.csv" ] || fail "a failed recommend left recs_$list.csv"
done
grep -q "users_bad.txt:3: expected a user id (an integer below 2^56), found '2\\\\x1b\[8m'" "$WORK/users_bad.err" ||
    fail "recommend --users with a bad id: $(cat "$WORK/users_bad.err")"
grep -q "users_utf16.txt: looks like UTF-16 text (byte-order mark FF FE)" "$WORK/users_utf16.err" ||
    fail "recommend --users in UTF-16: $(cat "$WORK/users_utf16.err")"
echo "recommend_users: a byte-order mark skipped; $(head -1 "$WORK/users_bad.err")"

# A UTF-8 byte-order mark at the start of a data file is skipped, CSV or
# MovieLens: every line trains.
{ printf '\357\273\277'; cat "$WORK/ratings.csv"; } >"$WORK/bom.csv"
{ printf '\357\273\277'; tail -n +2 "$WORK/ratings.csv" | tr , '\t'; } >"$WORK/bom.tsv"
for bom_file in bom.csv bom.tsv; do
    run_mpi 3 train --servers 1 --epochs 1 --train "$WORK/$bom_file" --run-dir "$WORK/r_$bom_file" \
        --progress false >"$WORK/$bom_file.log" 2>&1 ||
        { cat "$WORK/$bom_file.log"; fail "$bom_file: a data file with a byte-order mark failed"; }
    [ "$(json_field "$WORK/r_$bom_file/summary.json" train_examples)" = 2000 ] ||
        fail "$bom_file: not every line was read"
done
echo "bom_data: CSV and MovieLens files with a UTF-8 byte-order mark read whole"

# psrec generate checks what its flags need before any work: a billion users
# and items used to run for minutes and abort on a 32 GB allocation.
echo "keep me" >"$WORK/g.csv"
start=$(date +%s)
status=0
timeout 20 "$PSREC" generate --users 1000000000 --items 1000000000 --dim 1024 \
    --out "$WORK/g.csv" 2>"$WORK/gen_memory.err" || status=$?
[ "$status" = 1 ] && [ "$(wc -l <"$WORK/gen_memory.err")" = 1 ] &&
    grep -q "^psrec generate: --users 1000000000 --items 1000000000 --dim 1024 needs about [0-9.]* TiB of memory, and [0-9.]* [KMGT]iB is available (of [0-9.]* [KMGT]iB physical)" \
        "$WORK/gen_memory.err" || fail "generate too large for memory: exit $status: $(cat "$WORK/gen_memory.err")"
[ $(($(date +%s) - start)) -le 5 ] || fail "generate took more than 5 s to refuse"
[ "$(cat "$WORK/g.csv")" = "keep me" ] || fail "the refused generate touched --out"
echo "generate_memory: $(cat "$WORK/gen_memory.err")"
status=0
timeout 20 "$PSREC" generate --users 1000000 --items 1000000 --ratings 500000000000 \
    --out "$WORK/g.csv" 2>"$WORK/gen_disk.err" || status=$?
[ "$status" = 1 ] &&
    grep -q "^psrec generate: --out would need about [0-9.]* TiB on the file system of $WORK, and .* is free there" \
        "$WORK/gen_disk.err" || fail "generate too large for the disk: exit $status: $(cat "$WORK/gen_disk.err")"
[ "$(cat "$WORK/g.csv")" = "keep me" ] || fail "the refused generate touched --out"
echo "generate_disk: $(cat "$WORK/gen_disk.err")"
