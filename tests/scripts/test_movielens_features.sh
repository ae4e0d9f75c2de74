#!/usr/bin/env bash
# test_movielens_features.sh — scripts/movielens-features against figures
# computed here another way: the `::` format on a few lines written here,
# then MovieLens 100K (../shared/data/ml-100k; skips, saying so, without
# it): 1682 items, 943 users of exactly one age band, gender and occupation
# each, genre and age-band counts equal to direct counts of u.item and
# u.user with cut, and broken copies that stop with FILE:LINE and exit 1.
# No MPI: CTest runs it with the unit tests.
set -euo pipefail
: "${PSREC_SOURCE_DIR:?PSREC_SOURCE_DIR must name the repository root}"
SCRIPT=$PSREC_SOURCE_DIR/scripts/movielens-features
WORK=$(mktemp -d "${TMPDIR:-/tmp}/psrec-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_equal WHAT FOUND EXPECTED
expect_equal() {
    [ "$2" = "$3" ] || fail "$1: found '$2', expected '$3'"
}

# lines_of FILE FEATURE_ID — how many lines of a features file have it.
lines_of() {
    awk -F, -v f="$2" 'NR > 1 && $2 == f { n++ } END { print n + 0 }' "$1"
}

# expect_broken DIR FILE:LINE WORDS — the script fails on DIR with exit 1,
# a message naming FILE:LINE and containing WORDS, and writes no file.
expect_broken() {
    local dir=$1 where=$2 words=$3 rc=0
    "$SCRIPT" "$dir" "$WORK/broken-out" >"$WORK/broken.log" 2>&1 || rc=$?
    expect_equal "exit code on a broken $where" "$rc" 1
    grep -q "$dir/$where: expected .*$words" "$WORK/broken.log" ||
        fail "no '$where: expected ... $words' message: $(cat "$WORK/broken.log")"
    [ -z "$(ls -A "$WORK/broken-out" 2>/dev/null)" ] || fail "a failed run left files behind"
}

# ---- the ML-1M `::` format: genre names, age codes and occupation codes
mkdir -p "$WORK/ml1m"
printf '%s\r\n' "1::Toy Story (1995)::Animation|Children's|Comedy" >"$WORK/ml1m/movies.dat"
printf '%s\n' "2::Heat (1995)::Action|Crime|Thriller" >>"$WORK/ml1m/movies.dat"
printf '%s\n' "1::F::1::10::48067" "2::M::56::16::70072" "3::M::25::0::55117" \
    >"$WORK/ml1m/users.dat"
"$SCRIPT" "$WORK/ml1m" "$WORK/ml1m-out" >/dev/null
expect_equal "ML-1M item features" "$(tr '\n' ' ' <"$WORK/ml1m-out/item-features.csv")" \
    "item_id,feature_id 1,4 1,5 1,6 2,2 2,7 2,17 "
expect_equal "ML-1M user features" "$(tr '\n' ' ' <"$WORK/ml1m-out/user-features.csv")" \
    "user_id,feature_id 1,1 1,8 1,20 2,7 2,9 2,26 3,3 3,9 3,10 "
cp -r "$WORK/ml1m" "$WORK/ml1m-bad"
printf '%s\n' "3::Nowhere (1999)::Action|Cooking" >>"$WORK/ml1m-bad/movies.dat"
expect_broken "$WORK/ml1m-bad" movies.dat:3 "genre.*found 'Cooking'"

# ---- MovieLens 100K
data=${PSREC_DATA_DIR:-$PSREC_SOURCE_DIR/../shared/data}/ml-100k
if [ ! -f "$data/u.item" ] || [ ! -f "$data/u.user" ]; then
    echo "SKIP: MovieLens 100K not found at $data (see ../shared/data/README.md);" \
        "the ::-format checks passed"
    exit 77
fi
out=$WORK/out
"$SCRIPT" "$data" "$out" | tee "$WORK/run.log"
items=$out/item-features.csv
users=$out/user-features.csv
expect_equal "items header" "$(head -n 1 "$items")" "item_id,feature_id"
expect_equal "users header" "$(head -n 1 "$users")" "user_id,feature_id"

expect_equal "items with a genre" "$(tail -n +2 "$items" | cut -d, -f1 | sort -u | wc -l)" 1682
expect_equal "lines of u.item" "$(wc -l <"$data/u.item")" 1682
# Genre k is flag field k + 5 of u.item.
for k in $(seq 1 19); do
    expect_equal "items of genre $k" "$(lines_of "$items" "$k")" \
        "$(cut -d'|' -f$((k + 5)) "$data/u.item" | grep -c '^1$' || true)"
done
expect_equal "Drama (genre 9) movies" "$(lines_of "$items" 9)" 725
expect_equal "genre lines" "$(tail -n +2 "$items" | wc -l)" \
    "$(cut -d'|' -f6-24 "$data/u.item" | tr -cd 1 | wc -c)"

expect_equal "users" "$(tail -n +2 "$users" | cut -d, -f1 | sort -u | wc -l)" 943
# Exactly one feature of each kind per user: age band 1..7, gender 8..9,
# occupation 10..30.
expect_equal "users without exactly one feature of each kind" "$(awk -F, 'NR > 1 {
        kind = $2 <= 7 ? "age" : $2 <= 9 ? "gender" : $2 <= 30 ? "occupation" : "other"
        n[$1]++; seen[$1, kind]++ }
    END { for (u in n) bad += n[u] != 3 || seen[u, "age"] != 1 || seen[u, "gender"] != 1 ||
          seen[u, "occupation"] != 1
          print bad + 0 }' "$users")" 0
ages=$(cut -d'|' -f2 "$data/u.user")
expect_equal "users under 18" "$(lines_of "$users" 1)" "$(awk '$1 < 18' <<<"$ages" | wc -l)"
expect_equal "users 25-34" "$(lines_of "$users" 3)" \
    "$(awk '$1 >= 25 && $1 < 35' <<<"$ages" | wc -l)"
expect_equal "users 56 and over" "$(lines_of "$users" 7)" "$(awk '$1 >= 56' <<<"$ages" | wc -l)"
expect_equal "women" "$(lines_of "$users" 8)" "$(cut -d'|' -f3 "$data/u.user" | grep -c '^F$')"
expect_equal "women in MovieLens 100K" "$(lines_of "$users" 8)" 273
# Occupation: 9 + its line in u.occupation, for the students and in all.
student=$(( 9 + $(grep -n '^student$' "$data/u.occupation" | cut -d: -f1) ))
expect_equal "students" "$(lines_of "$users" "$student")" \
    "$(cut -d'|' -f4 "$data/u.user" | grep -c '^student$')"
expect_equal "user 1 (24, M, technician)" "$(grep '^1,' "$users" | tr '\n' ' ')" "1,2 1,9 1,29 "
grep -q "1682 items, 2893 genre lines" "$WORK/run.log" || fail "item counts not printed"
grep -q "943 users, 2829 lines" "$WORK/run.log" || fail "user counts not printed"

# Broken copies: a short u.user line, a non-numeric age, a bad genre flag.
broken=$WORK/broken
mkdir -p "$broken"
cp "$data/u.item" "$data/u.user" "$broken/"
sed -i '5s/|[^|]*$//' "$broken/u.user"
expect_broken "$broken" u.user:5 "5 |-separated fields"
cp "$data/u.user" "$broken/"
sed -i '7s/^7|[0-9]*|/7|fifty|/' "$broken/u.user"
expect_broken "$broken" u.user:7 "a numeric age, found 'fifty'"
cp "$data/u.user" "$broken/"
sed -i '3s/|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0$/|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|2|0|0/' \
    "$broken/u.item"
expect_broken "$broken" u.item:3 "genre flag 0 or 1 in field 22, found '2'"
echo "movielens-features: all checks passed"
