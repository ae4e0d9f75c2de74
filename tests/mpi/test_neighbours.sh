#!/usr/bin/env bash
# Neighbourhood models end to end, on generated shop events:
#  - item-knn's lists do not depend on the layout or on counting in blocks:
#    4 ranks (2 servers) under a 0.2 MiB memory budget (many blocks) export
#    the very same neighbours.csv as 3 ranks (1 server) in one block, and
#    both match a brute-force cosine computed here in awk (ids exactly,
#    similarities to float precision);
#  - the peak pair memory a server reports stays within the budget;
#  - `psrec predict` scores a pair as the sum of the similarities of the
#    user's items to it (read from neighbours.csv) plus the popularity
#    tie-break, and `recommend`'s top item is the best of those scores;
#  - popularity recommends the best-sellers a user does not have;
#  - user-knn's lists are the same on 4 ranks in blocks (histories passed
#    round between the workers) as on 3, and match a brute-force cosine of
#    users; `predict` sums the similarities of the neighbours who have the
#    item.
source "$(dirname "$0")/common.sh"
cd "$WORK"
"$PSREC" generate --feedback implicit --users 400 --items 150 --ratings 8000 --dim 8 \
    --out events.csv --seed 3 >/dev/null
K=20
SHRINK=5
knn() { # RUN_DIR NP SERVERS [flags...]
    local run=$1 np=$2 servers=$3
    shift 3
    run_mpi "$np" train --servers "$servers" --model item-knn --train events.csv \
        --run-dir "$run" --neighbours $K --shrink $SHRINK --progress false "$@" >"$run.log"
    "$PSREC" export --run-dir "$run" --out "$run.export" 2>/dev/null
}
knn blocks 4 2 --memory-budget 0.2
knn whole 3 1
blocks=$(json_field blocks/summary.json neighbour_blocks)
peak=$(json_field blocks/summary.json pair_memory_peak_mib)
echo "4 ranks, budget 0.2 MiB: $blocks blocks, peak $peak MiB per server"
awk -v b="$blocks" -v p="$peak" 'BEGIN { exit !(b > 1 && p > 0 && p <= 0.2) }' ||
    fail "expected several blocks within the 0.2 MiB budget, got $blocks blocks and $peak MiB"
cmp blocks.export/neighbours.csv whole.export/neighbours.csv ||
    fail "the neighbour lists differ between 2 servers in $blocks blocks and 1 server"

# check_brute_force ROW_COLUMN EXPORT — the lists in EXPORT/neighbours.csv
# against a brute-force cosine c/(sqrt(n_a n_b) + shrink) over the distinct
# pairs of events.csv, where rows are column ROW_COLUMN (2: items, which
# co-occur in users; 1: users, which co-occur in items), each row's top K
# by similarity (ties: the smaller id first). Ids exactly, similarities to
# float precision.
check_brute_force() {
    local row=$1 export_dir=$2 other=$((3 - $1))
    awk -F, -v r="$row" -v o="$other" -v shrink=$SHRINK '
        NR > 1 { if (!(($1, $2) in seen)) { seen[$1, $2] = 1; group[$o] = group[$o] " " $r; n[$r]++ } }
        END {
            for (g in group) {
                m = split(substr(group[g], 2), list, " ")
                for (a = 1; a <= m; a++) for (b = 1; b <= m; b++) if (a != b) c[list[a], list[b]]++
            }
            for (key in c) {
                split(key, ab, SUBSEP)
                printf "%s,%s,%.9g\n", ab[1], ab[2], c[key] / (sqrt(n[ab[1]] * n[ab[2]]) + shrink)
            }
        }' events.csv | sort -t, -k1,1n -k3,3gr -k2,2n |
        awk -F, -v k=$K '{ if ($1 != last) { rank = 0; last = $1 } if (++rank <= k) print $1 "," rank "," $2 "," $3 }' \
        >"$export_dir/expected.csv"
    awk -F, 'NR == FNR { want[$1 "," $2] = $3 "," $4; n++; next }
        FNR == 1 { next }
        { got++; key = $1 "," $2
          if (!(key in want)) { print "unexpected neighbour " $0; bad++; next }
          split(want[key], w, ",")
          if (w[1] != $3 || (w[2] - $4) > 1e-6 * w[2] || ($4 - w[2]) > 1e-6 * w[2]) { print "row " $1 " rank " $2 ": got " $3 " " $4 ", expected " want[key]; bad++ } }
        END { if (got != n) { print "got " got " neighbours, expected " n; bad++ } exit bad > 0 }' \
        "$export_dir/expected.csv" "$export_dir/neighbours.csv"
}
check_brute_force 2 whole.export || fail "the neighbour lists differ from the brute-force cosine"
echo "neighbour lists: identical across layouts and equal to the brute force ($(wc -l <whole.export/expected.csv) entries)"

# predict = sum over the user's items of sim(j, i) + 1e-6 * users(i) / max users
user=$(awk -F, 'NR == 2 { print $1 }' events.csv)
awk -F, 'NR > 1 { print $2 }' events.csv | sort -un | awk -v u="$user" 'BEGIN { print "user_id,item_id" } { print u "," $1 }' >pairs.csv
"$PSREC" predict --run-dir whole --pairs pairs.csv --out scores.csv 2>/dev/null
awk -F, -v u="$user" '
    FILENAME == "events.csv" { if (FNR > 1 && !(($1, $2) in seen)) { seen[$1, $2] = 1; users[$2]++; if ($1 == u) mine[$2] = 1 } next }
    FILENAME ~ /neighbours.csv$/ { if (FNR > 1 && ($1 in mine)) sim[$3] += $4; next }
    { best = 0; for (i in users) if (users[i] > best) best = users[i]
      expected = sim[$2] + 1e-6 * users[$2] / best
      d = $3 - expected; if (d < 0) d = -d
      if (d > 1e-5 * (expected > 1 ? expected : 1)) { print "item " $2 ": predicted " $3 ", expected " expected; bad++ } }
    END { exit bad > 0 }' events.csv whole.export/neighbours.csv scores.csv ||
    fail "predict does not sum the similarities of the user's items"
run_mpi 2 recommend --run-dir whole --k 5 --out recs.csv 2>/dev/null
top=$(awk -F, -v u="$user" '$1 == u && $2 == 1 { print $3 }' recs.csv)
best=$(awk -F, -v u="$user" 'FILENAME == "events.csv" { if ($1 == u) mine[$2] = 1; next }
    !($2 in mine) && $3 > s { s = $3; b = $2 } END { print b }' events.csv scores.csv)
[ "$top" = "$best" ] || fail "recommend's top item for user $user is $top, predict's best is $best"

# popularity: everyone's top 5 are the best-sellers they do not have
run_mpi 3 train --servers 1 --model popularity --train events.csv --run-dir pop \
    --progress false >pop.log
run_mpi 2 recommend --run-dir pop --k 5 --out pop.csv 2>/dev/null
awk -F, 'FILENAME == "events.csv" { if (FNR > 1 && !(($1, $2) in seen)) { seen[$1, $2] = 1; n[$2]++ } next }
    { if (n[$3] != $4 + 0) { print "item " $3 " scored " $4 ", has " n[$3] " users"; bad++ } }
    END { exit bad > 0 }' events.csv pop.csv || fail "popularity scores are not the items' user counts"
awk -F, -v u="$user" 'FILENAME == "events.csv" { if (FNR > 1 && !(($1, $2) in seen)) { seen[$1, $2] = 1; n[$2]++ } if ($1 == u) mine[$2] = 1; next }
    $1 == u { got[$2] = $3 }
    END { for (r = 1; r <= 5; r++) { best = -1; for (i in n) if (!(i in mine) && !(i in used) && (n[i] > best || (n[i] == best && i + 0 < pick + 0))) { best = n[i]; pick = i }
          used[pick] = 1; if (got[r] != pick) { print "rank " r ": " got[r] ", expected " pick; bad++ } }
          exit bad > 0 }' events.csv pop.csv || fail "popularity does not recommend the best-sellers"
echo "predict, recommend and popularity agree with the lists"

# ---- user-knn: users' lists, the same checks with users and items swapped
run_mpi 4 train --servers 2 --model user-knn --train events.csv --run-dir ublocks \
    --neighbours $K --shrink $SHRINK --memory-budget 0.2 --progress false >ublocks.log
run_mpi 3 train --servers 1 --model user-knn --train events.csv --run-dir uwhole \
    --neighbours $K --shrink $SHRINK --progress false >uwhole.log
"$PSREC" export --run-dir ublocks --out ublocks.export 2>/dev/null
"$PSREC" export --run-dir uwhole --out uwhole.export 2>/dev/null
ublocks=$(json_field ublocks/summary.json neighbour_blocks)
[ "$ublocks" -gt 1 ] || fail "user-knn under a 0.2 MiB budget counted in $ublocks block(s)"
cmp ublocks.export/neighbours.csv uwhole.export/neighbours.csv ||
    fail "user-knn's lists differ between 2 servers in $ublocks blocks and 1 server"
check_brute_force 1 uwhole.export || fail "user-knn's lists differ from the brute-force cosine"
"$PSREC" predict --run-dir uwhole --pairs pairs.csv --out uscores.csv 2>/dev/null
awk -F, -v u="$user" '
    FILENAME == "events.csv" { if (FNR > 1 && !(($1, $2) in seen)) { seen[$1, $2] = 1; users[$2]++; has[$1, $2] = 1 } next }
    FILENAME ~ /neighbours.csv$/ { if (FNR > 1 && $1 == u) { nb[++k] = $3; s[k] = $4 } next }
    { best = 0; for (i in users) if (users[i] > best) best = users[i]
      expected = 1e-6 * users[$2] / best
      for (j = 1; j <= k; j++) if ((nb[j], $2) in has) expected += s[j]
      d = $3 - expected; if (d < 0) d = -d
      if (d > 1e-5 * (expected > 1 ? expected : 1)) { print "item " $2 ": predicted " $3 ", expected " expected; bad++ } }
    END { exit bad > 0 }' events.csv uwhole.export/neighbours.csv uscores.csv ||
    fail "user-knn's predict does not sum the similarities of the neighbours who have the item"
echo "user-knn: lists identical across layouts ($ublocks blocks) and equal to the brute force; predict agrees"
