#!/usr/bin/env bash
# The user exchange sends every interaction to the worker that owns its user,
# keeps file order and loses or repeats nothing, and every worker agrees on
# the item catalogue: exchange_check under 2, 3 and 4 workers, and with more
# workers than lines (plus the server rank comm_split_roles needs).
source "$(dirname "$0")/common.sh"
: "${EXCHANGE_CHECK:?EXCHANGE_CHECK must name the exchange_check program}"

# run_check WORKERS FILE — exchange_check under mpirun; prints its PASS line.
run_check() {
    local status=0
    timeout --kill-after=10 60 "$MPIEXEC" -np $(($1 + 1)) --oversubscribe --bind-to none \
        "$EXCHANGE_CHECK" "$2" >"$WORK/check.out" 2>"$WORK/check.err" || status=$?
    [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "$1 workers on $2: the job hung"
    if [ "$status" -ne 0 ] || ! grep -q ": PASS$" "$WORK/check.out"; then
        cat "$WORK/check.out" "$WORK/check.err"
        fail "$1 workers on $2: exit $status"
    fi
    cat "$WORK/check.out"
}

# The generator writes lines user by user; shuffle them so users are spread
# over every byte range, mix in three heavy users (one with the largest id a
# file may hold, 2^56-1), and number the lines in the timestamp column so the
# check can see file order.
"$PSREC" generate --feedback implicit --users 300 --items 200 --ratings 5000 --seed 5 \
    --out "$WORK/generated.csv" >/dev/null
awk -F, 'BEGIN { srand(7); split("3 1000001 72057594037927935", heavy, " ") }
    NR == 1 { next }
    { line[++n] = $1 "," $2 "," $4 }
    END {
        for (i = n; i > 1; i--) {
            j = int(rand() * i) + 1; t = line[i]; line[i] = line[j]; line[j] = t
        }
        print "user_id,item_id,timestamp,event"
        for (i = 1; i <= n; i++) {
            split(line[i], f, ",")
            print f[1] "," f[2] "," ++seq "," f[3]
            if (i % 4 == 0)
                print heavy[i % 3 + 1] "," i % 200 "," ++seq ",view"
        }
    }' "$WORK/generated.csv" >"$WORK/interactions.csv"
for workers in 2 3 4; do
    run_check "$workers" "$WORK/interactions.csv"
done

# More workers than lines: some byte ranges hold no line at all.
printf 'user_id,item_id,timestamp\n7,1,1\n8,2,2\n7,2,3\n' >"$WORK/tiny.csv"
run_check 5 "$WORK/tiny.csv"
