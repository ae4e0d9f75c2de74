#!/usr/bin/env bash
# Incremental training with --warm-start, on generated ratings split by time:
# the oldest 72% of the ratings are A, the next 18% B (A is 80% of the
# training period), and the last 10% — kept for the users A or B saw — are
# the test slice. Three models:
#  - A: trained on A alone (10 epochs; 2 servers);
#  - scratch: trained on A+B from new rows (10 epochs; 2 servers);
#  - warm: A's model continued on B alone (5 epochs at a higher learning
#    rate; 1 server, so A's two shards are re-sharded onto one).
# warm must come within TOLERANCE of scratch's test RMSE, beat A alone and B
# alone (the same flags from new rows) clearly, hold exactly scratch's rows
# (A's old rows kept, B's new ones added) and have processed at most a
# quarter of scratch's examples (summary.json's examples_processed); the
# times are printed, not asserted. Row by row, the rows of A's model that B
# does not touch are in the warm model bit for bit (weights, Adam's moments,
# step count) and those it touches continued their step counts. Then: the provenance in summary.json and
# the manifest, --resume winning over --warm-start, and the refusals (another
# dim, a folder without a model, a damaged shard, --run-dir = the source, a
# neighbourhood model), each with its exact message and the source folder
# unchanged.
source "$(dirname "$0")/common.sh"
cd "$WORK"

# Measured on the 2-core machine: A 0.962, scratch 0.677, warm 0.698, B alone
# 0.747; another seed moves scratch by about 0.003. Warm trails scratch by
# about 0.02 here because nearly every test user is new in B (users of this
# generator are active for a few weeks of its six years): their rows learn
# from B in both runs, but in the warm run the items are fine-tuned on B
# alone, and drift from what A taught them.
TOLERANCE=${TOLERANCE:-0.035}

"$PSREC" generate --users 6000 --items 800 --ratings 400000 --out all.csv --seed 3 >/dev/null ||
    fail "generate failed"
header=$(head -1 all.csv)
[ "$header" = "user_id,item_id,rating,timestamp" ] || fail "generate wrote the header '$header'"
tail -n +2 all.csv | sort -t, -k4,4n -k1,1n -k2,2n >sorted.csv
n=$(wc -l <sorted.csv)
a=$((n * 72 / 100))
b=$((n * 90 / 100))
{ echo "$header"; head -n "$a" sorted.csv; } >A.csv
{ echo "$header"; sed -n "$((a + 1)),${b}p" sorted.csv; } >B.csv
{ echo "$header"; head -n "$b" sorted.csv; } >AB.csv
{ echo "$header"; awk -F, -v b="$b" 'NR <= b { seen[$1] = 1; next } ($1 in seen)' sorted.csv; } >test.csv
tests=$(($(wc -l <test.csv) - 1))
[ "$tests" -gt 5000 ] || fail "the test slice holds only $tests ratings of known users"
last_b=$(tail -1 B.csv | cut -d, -f4)
first_test=$(sed -n "$((b + 1))p" sorted.csv | cut -d, -f4)
[ "$last_b" -le "$first_test" ] || fail "the test slice is not later than B"

train() { # NP SERVERS RUN_DIR [flags...] — prints the seconds the mpirun took
    local np=$1 servers=$2 run=$3
    shift 3
    local start end
    start=$(date +%s.%N)
    run_mpi "$np" train --servers "$servers" --test test.csv --run-dir "$run" --progress false \
        "$@" >"$run.log" 2>&1 || fail "train $run failed: $(cat "$run.log")"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }'
}
figure() { json_field "$1/summary.json" "$2"; }

seconds_a=$(train 4 2 runA --train A.csv --epochs 10)
seconds_scratch=$(train 4 2 scratch --train AB.csv --epochs 10)
(cd runA && find -L . -type f -exec md5sum {} + | sort) >source.md5
seconds_warm=$(train 3 1 warm --train B.csv --epochs 5 --learning-rate 0.01 --warm-start runA)
seconds_b=$(train 3 1 onlyB --train B.csv --epochs 5 --learning-rate 0.01)

rmse_a=$(figure runA test_rmse)
rmse_scratch=$(figure scratch test_rmse)
rmse_warm=$(figure warm test_rmse)
rmse_b=$(figure onlyB test_rmse)
processed_scratch=$(figure scratch examples_processed)
processed_warm=$(figure warm examples_processed)
echo "test RMSE on $tests later ratings: scratch $rmse_scratch, warm $rmse_warm, A only $rmse_a," \
    "B only $rmse_b"
echo "seconds (whole mpirun): scratch $seconds_scratch, warm $seconds_warm, A $seconds_a," \
    "B only $seconds_b"
echo "examples processed: scratch $processed_scratch, warm $processed_warm"

awk -v w="$rmse_warm" -v s="$rmse_scratch" -v t="$TOLERANCE" 'BEGIN { exit !(w <= s + t) }' ||
    fail "warm RMSE $rmse_warm is not within $TOLERANCE of scratch's $rmse_scratch"
awk -v w="$rmse_warm" -v a="$rmse_a" 'BEGIN { exit !(w <= a - 0.15) }' ||
    fail "warm RMSE $rmse_warm is not clearly better than A alone ($rmse_a)"
awk -v w="$rmse_warm" -v b="$rmse_b" 'BEGIN { exit !(w <= b - 0.03) }' ||
    fail "warm RMSE $rmse_warm is not clearly better than B alone from new rows ($rmse_b): the" \
        "old rows did not help"
[ "$(figure warm train_examples)" = "$(($(wc -l <B.csv) - 1))" ] ||
    fail "the warm run trained on $(figure warm train_examples) examples, not B's"
[ "$processed_warm" = "$(($(figure warm train_examples) * 5))" ] ||
    fail "examples_processed $processed_warm is not 5 epochs of B"
awk -v w="$processed_warm" -v s="$processed_scratch" 'BEGIN { exit !(w > 0 && w <= 0.25 * s) }' ||
    fail "the warm run processed $processed_warm examples, not at most a quarter of scratch's" \
        "$processed_scratch"
# Every row of A's model is kept and B's new users are added: the warm
# model holds exactly the rows of the model trained on A+B.
[ "$(figure warm store_rows)" = "$(figure scratch store_rows)" ] ||
    fail "the warm model holds $(figure warm store_rows) rows, scratch $(figure scratch store_rows)"
grep -q "^warm start: [0-9]* rows with their optimizer state loaded onto 1 server" warm.log ||
    fail "the warm run did not say what it loaded: $(cat warm.log)"
grep -q "^warm start: from runA (run [0-9a-f]*: mf dim 32, 10 epochs); its mean rating" warm.log ||
    fail "the warm run did not say where it started: $(cat warm.log)"
# Row by row (MODEL_ROWS prints table, id, step count and a hash of the
# weights with Adam's m and v): a row of A's model that B never touches — a
# user of A alone — is in the warm model bit for bit, step count and
# optimizer state included; every row B touched continued A's step count
# (it is higher, never restarted from 0).
: "${MODEL_ROWS:?MODEL_ROWS must name the model_rows helper}"
"$MODEL_ROWS" runA >rows_a.txt || fail "model_rows failed on runA"
"$MODEL_ROWS" warm >rows_warm.txt || fail "model_rows failed on warm"
tail -n +2 B.csv | cut -d, -f1 | sort -u >users_b.txt
read -r untouched continued lost restarted changed a_only < <(awk '
    FILENAME == ARGV[1] { in_b[$1] = 1; next }
    FILENAME == ARGV[2] { step[$1 " " $2] = $3; hash[$1 " " $2] = $4; next }
    {
        key = $1 " " $2
        if ($1 == 1 && !($2 in in_b)) a_only++
        if (!(key in step)) { lost++; next }
        if (step[key] == $3) { untouched++; if (hash[key] != $4) changed++ }
        else if (step[key] > $3) continued++
        else restarted++
    }
    END { print untouched + 0, continued + 0, lost + 0, restarted + 0, changed + 0, a_only + 0 }
    ' users_b.txt rows_warm.txt rows_a.txt)
echo "rows of A's model in the warm model: $untouched untouched (users of A alone: $a_only)," \
    "$continued trained on"
[ "$lost" = 0 ] || fail "$lost rows of A's model are missing from the warm model"
[ "$restarted" = 0 ] || fail "$restarted rows restarted their step count in the warm model"
[ "$changed" = 0 ] || fail "$changed rows B never touched changed in the warm model"
[ "$a_only" -gt 100 ] && [ "$untouched" = "$a_only" ] ||
    fail "$untouched rows untouched, but A has $a_only users that B lacks"
[ "$continued" -gt 100 ] || fail "only $continued rows of A's model were trained on by B"

# μ is the source model's.
[ "$(figure warm global_mean)" = "$(figure runA global_mean)" ] ||
    fail "global_mean $(figure warm global_mean) is not the source's $(figure runA global_mean)"

# ---- provenance: summary.json names the folder, run id and manifest checksum
source_id=$(readlink runA/current | sed 's/^gen-//')
source_checksum=$(sed -n 's/^checksum = //p' runA/model/manifest.txt)
source_run=$(sed -n 's/^run_id = //p' runA/model/manifest.txt)
grep -q "\"warm_start_from\":\"runA\",\"warm_start_run_id\":\"$source_id\",\"warm_start_checksum\":\"$source_checksum\"" \
    warm/summary.json || fail "summary.json does not name runA ($source_id, $source_checksum): \
$(cat warm/summary.json)"
grep -q '"warm_start_from":null' scratch/summary.json ||
    fail "a run from new rows names a source: $(cat scratch/summary.json)"
grep -qx "warm_start_run_id = $source_run" warm/model/manifest.txt &&
    grep -qx "warm_start_checksum = $source_checksum" warm/model/manifest.txt ||
    fail "the manifest does not name its source: $(cat warm/model/manifest.txt)"
grep -qx "warm-start = runA" warm/config.conf || fail "config.conf lacks warm-start = runA"
"$PSREC" predict --run-dir warm --pairs test.csv --out warm.csv >/dev/null 2>&1 ||
    fail "predict failed on the warm model"
rmse_predicted=$(rmse_from_predictions warm.csv test.csv)
awk -v p="$rmse_predicted" -v r="$rmse_warm" 'BEGIN { d = p - r; exit !(d < 1e-3 && d > -1e-3) }' ||
    fail "predict's RMSE $rmse_predicted differs from the reported $rmse_warm"

# ---- --resume wins: its folder empty, the run starts from the source; with
# a checkpoint there, it continues that checkpoint
run_mpi 3 train --servers 1 --train B.csv --test test.csv --run-dir resumed --progress false \
    --epochs 2 --checkpoint-every 1 --warm-start runA --resume ckpts >resume1.log 2>&1 ||
    fail "warm start with an empty --resume folder failed: $(cat resume1.log)"
grep -q "^warm start: [0-9]* rows with their optimizer state loaded" resume1.log ||
    fail "an empty --resume folder did not start from the --warm-start model: $(cat resume1.log)"
run_mpi 3 train --servers 1 --train B.csv --test test.csv --run-dir resumed --progress false \
    --epochs 3 --warm-start runA --resume ckpts >resume2.log 2>&1 ||
    fail "resume of a warm-started run failed: $(cat resume2.log)"
grep -q "^warm start: ckpts/ckpt-000002 already continues runA; resuming it" resume2.log ||
    fail "--resume did not win over --warm-start: $(cat resume2.log)"
[ "$(wc -l <resumed/metrics.jsonl)" = 3 ] || fail "the resumed run has not 3 epochs of metrics"
grep -qx "warm_start_checksum = $source_checksum" resumed/model/manifest.txt ||
    fail "the resumed model does not name its source"

# ---- refusals
refused() { # EXIT MESSAGE RUN_DIR [flags...] — the run fails with EXIT and MESSAGE
    local code=$1 message=$2 run=$3 rc=0
    shift 3
    run_mpi 2 train --servers 1 --train B.csv --run-dir "$run" --progress false --epochs 1 \
        "$@" >refused.log 2>&1 || rc=$?
    [ "$rc" = "$code" ] || fail "exit $rc, not $code, for $*: $(cat refused.log)"
    grep -qxF "psrec train: $message" refused.log ||
        fail "for $*: expected 'psrec train: $message', got: $(cat refused.log)"
}
refused 1 "cannot warm-start: runA holds a mf model of dim 32, and this run's dim differs (the \
model's dim: 32; this run asks for 16): warm-start with the options it was trained with (its \
config.conf); hyperparameters such as --learning-rate, --epochs or --l2 may differ" \
    other --dim 16 --warm-start runA
[ ! -e other ] || fail "a refused warm start left the folder 'other'"
refused 1 "cannot warm-start: runA holds a mf model of dim 32, and this run's optimizer differs \
(the model's optimizer: adam; this run asks for sgd): warm-start with the options it was trained \
with (its config.conf); hyperparameters such as --learning-rate, --epochs or --l2 may differ" \
    other --optimizer sgd --warm-start runA
refused 1 "cannot warm-start: nowhere has no trained model (no nowhere/model/manifest.txt): run \
psrec train --run-dir nowhere first" other --warm-start nowhere
refused 2 "--run-dir and --warm-start both name 'runA': a warm start writes a new run folder and \
leaves the model it starts from as it is; give another --run-dir" runA --warm-start runA/
refused 2 "--warm-start continues a model trained in epochs (mf, bpr, deep); --model item-knn \
builds its neighbour lists from the data in one counting pass, so there is nothing to continue: \
train it on all the data instead" other --model item-knn --feedback implicit --warm-start runA
# A damaged shard (one byte flipped in a copy) is refused naming the file.
cp -a runA damaged # its links are relative: they lead into the copy
shard="damaged/gen-$source_id/model/shard-00001-of-00002.bin"
printf '\xff' | dd of="$shard" bs=1 seek=200 conv=notrunc status=none
refused 1 "cannot warm-start from damaged, its model is damaged: $shard: checksum mismatch: the \
file is corrupt" other --warm-start damaged
grep -q "^warm start: from damaged" refused.log || fail "the damaged model was not found first"
(cd runA && find -L . -type f -exec md5sum {} + | sort) | cmp -s - source.md5 ||
    fail "warm starts changed the source folder runA"
echo "warm start: provenance, --resume precedence and 6 refusals as expected; runA unchanged"
