#!/usr/bin/env bash
# idmap_concurrency.sh: 8 sessions map overlapping legacy ids at the same time
# (issue 5: "safe under concurrent callers"; issue 10 item 15: whatever the
# order and the size of their transactions).
# Part 1: session i maps ids i*500 .. i*500+1999 of a collection: even
# sessions with mosta_map_ids in shuffled batches of 250, odd ones with one
# mosta_map_id call (and transaction) per id, shuffled; for a random
# collection and an objectid one.
# Part 2 (the case that deadlocked): for every id policy, 8 sessions map the
# same 20,000 ids, each in its own random order, in one transaction each:
# two as ONE statement of mosta_map_id calls, three as one mosta_map_ids
# call, three as several calls in one transaction (mosta_map_ids over
# shuffled chunks; two statements of mosta_map_id; mosta_map_id then
# mosta_map_ids).
# In both, every session must succeed (no deadlock, no error), every legacy
# id must get exactly one uuid, and all sessions must agree with id_map.
# Part 3: a deadlock the application makes (it holds a row the allocating
# transaction waits for) gets the id map's message and hint.
# Run under scripts/pg-cluster run, after make install.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/tap.sh
. test/integration/lib/tap.sh

tap_init idmap_concurrency
require_cluster
use_database mosta_idmap_concurrency

readonly sessions=8 per_session=2000 stride=500 batch=250
readonly distinct=$(((sessions - 1) * stride + per_session))

psql_db -c "CREATE EXTENSION mostajs" -c "SELECT mosta_set_id_policy('orders', 'objectid')" >/dev/null

# legacy_id COLLECTION N: the legacy id number N of a collection.
legacy_id() {
	case $1 in
	orders | big_objectid) printf '5f%06x%016x\n' "$2" "$2" ;;
	*) echo "user-$2" ;;
	esac
}

# session_sql COLLECTION I: the SQL of session I, printing "legacy_id uuid" lines.
session_sql() {
	local collection=$1 i=$2 ids
	ids=$(for n in $(seq $((i * stride)) $((i * stride + per_session - 1)) | shuf); do legacy_id "$collection" "$n"; done)
	if [ $((i % 2)) -eq 0 ]; then
		# shellcheck disable=SC2016
		xargs -n "$batch" <<<"$ids" | while read -r line; do
			printf "SELECT l || ' ' || u FROM unnest(ARRAY['%s'], mosta_map_ids('%s', ARRAY['%s'])) AS t(l, u);\n" \
				"${line// /\',\'}" "$collection" "${line// /\',\'}"
		done
	else
		while read -r id; do
			printf "SELECT '%s ' || mosta_map_id('%s', '%s');\n" "$id" "$collection" "$id"
		done <<<"$ids"
	fi
}

# check_sessions COLLECTION SESSIONS PER_SESSION DISTINCT: the sessions whose pids are in pids and whose
# output is $work/COLLECTION.I.out ("legacy_id uuid" lines) all succeeded and agree with mosta.id_map.
check_sessions() {
	local collection=$1 count=$2 each=$3 expected=$4 failures=0 lines pairs ids rows
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { failures=$((failures + 1)); sed 's/^/    /' "$work/$collection.$i.err" | head -5 >&2; }
	done
	if [ "$failures" -eq 0 ] && ! grep -q . "$work"/"$collection".*.err; then
		ok "$collection: $count concurrent sessions map $each overlapping ids each without an error"
	else
		not_ok "$collection: $failures of $count sessions failed"
	fi

	lines=$(cat "$work"/"$collection".*.out | wc -l)
	[ "$lines" -eq $((count * each)) ] && ok "$collection: every session got a uuid for each of its ids" ||
		not_ok "$collection: $lines uuids returned, $((count * each)) expected"

	pairs=$(cat "$work"/"$collection".*.out | sort -u | wc -l)
	ids=$(cat "$work"/"$collection".*.out | cut -d' ' -f1 | sort -u | wc -l)
	[ "$pairs" -eq "$expected" ] && [ "$ids" -eq "$expected" ] &&
		ok "$collection: exactly one uuid per legacy id across all sessions ($expected ids)" ||
		not_ok "$collection: $pairs distinct (id, uuid) pairs for $ids ids, $expected expected"

	rows=$(scalar "SELECT count(*) || ' ' || count(DISTINCT new_id) FROM mosta.id_map WHERE collection = '$collection'")
	[ "$rows" = "$expected $expected" ] && ok "$collection: id_map holds $expected rows with distinct uuids" ||
		not_ok "$collection: id_map holds $rows (rows, distinct uuids), $expected expected"

	psql -X -At -d "$db" -c "SELECT legacy_id || ' ' || new_id FROM mosta.id_map WHERE collection = '$collection'" |
		sort >"$work/$collection.table"
	cat "$work"/"$collection".*.out | sort -u | cmp -s - "$work/$collection.table" &&
		ok "$collection: all sessions agree with mosta.id_map" ||
		not_ok "$collection: the sessions' uuids differ from mosta.id_map"
}

# run_sessions COLLECTION SESSIONS: runs $work/COLLECTION.I.sql for I < SESSIONS at once, pids in pids.
run_sessions() {
	local collection=$1 count=$2
	pids=()
	for i in $(seq 0 $((count - 1))); do
		psql -X -At -q -v ON_ERROR_STOP=1 -d "$db" -f "$work/$collection.$i.sql" >"$work/$collection.$i.out" \
			2>"$work/$collection.$i.err" &
		pids+=($!)
	done
}

for collection in users orders; do
	for i in $(seq 0 $((sessions - 1))); do session_sql "$collection" "$i" >"$work/$collection.$i.sql"; done
	run_sessions "$collection" "$sessions"
	check_sessions "$collection" "$sessions" "$per_session" "$distinct"
done

expected=$(scalar "SELECT count(*) FROM mosta.id_map WHERE collection = 'orders'
                     AND new_id = mosta.uuid_from_objectid('orders', legacy_id)")
[ "$expected" = "$distinct" ] && ok "orders: every uuid is the objectid policy's uuid of its legacy id" ||
	not_ok "orders: $expected of $distinct uuids follow the objectid policy"

# Part 2: every policy, 20,000 ids, 8 sessions in random orders, one transaction each.
readonly big=20000
# shellcheck disable=SC2016
big_session_sql() {
	local collection=$1 i=$2 ids list half
	# legacy_id's ids, made by awk: 160,000 calls of a shell function per policy would take longer than the test
	ids=$(seq 1 "$big" | shuf | awk -v c="$collection" \
		'{ if (c == "big_objectid") printf "5f%06x%016x\n", $1, $1; else print "user-" $1 }')
	list=$(sed "s/.*/'&'/" <<<"$ids" | paste -sd,)
	case $i in
	0 | 1) # one statement of mosta_map_id calls: the deadlock of issue 10
		echo "SELECT x || ' ' || mosta_map_id('$collection', x) FROM unnest(ARRAY[$list]) x;" ;;
	2 | 3 | 4)
		echo "SELECT l || ' ' || u FROM unnest(ARRAY[$list], mosta_map_ids('$collection', ARRAY[$list])) AS t(l, u);" ;;
	5) # several mosta_map_ids calls in one transaction
		echo "BEGIN;"
		xargs -n 5000 <<<"$ids" | while read -r chunk; do
			chunk="'${chunk// /\',\'}'"
			echo "SELECT l || ' ' || u FROM unnest(ARRAY[$chunk], mosta_map_ids('$collection', ARRAY[$chunk])) AS t(l, u);"
		done
		echo "COMMIT;" ;;
	6 | 7) # two statements in one transaction: mosta_map_id, then mosta_map_id (6) or mosta_map_ids (7)
		half=$(head -n $((big / 2)) <<<"$ids" | sed "s/.*/'&'/" | paste -sd,)
		list=$(tail -n +$((big / 2 + 1)) <<<"$ids" | sed "s/.*/'&'/" | paste -sd,)
		echo "BEGIN;"
		echo "SELECT x || ' ' || mosta_map_id('$collection', x) FROM unnest(ARRAY[$half]) x;"
		if [ "$i" -eq 6 ]; then
			echo "SELECT x || ' ' || mosta_map_id('$collection', x) FROM unnest(ARRAY[$list]) x;"
		else
			echo "SELECT l || ' ' || u FROM unnest(ARRAY[$list], mosta_map_ids('$collection', ARRAY[$list])) AS t(l, u);"
		fi
		echo "COMMIT;" ;;
	esac
}

for policy in random time-ordered deterministic objectid; do
	collection="big_$policy"
	psql_db -c "SELECT mosta_set_id_policy('$collection', '$policy')" >/dev/null
	for i in $(seq 0 $((sessions - 1))); do big_session_sql "$collection" "$i" >"$work/$collection.$i.sql"; done
	run_sessions "$collection" "$sessions"
	check_sessions "$collection" "$sessions" "$big" "$big"
done
expected=$(scalar "SELECT count(*) FROM mosta.id_map WHERE collection = 'big_deterministic'
                     AND new_id = mosta.uuid_from_legacy_id('big_deterministic', legacy_id)")
[ "$expected" = "$big" ] && ok "big_deterministic: every uuid is the deterministic policy's uuid of its legacy id" ||
	not_ok "big_deterministic: $expected of $big uuids follow the deterministic policy"

# Part 3: the one deadlock left is the application's: a transaction waits for the allocation lock while it
# holds a row the allocating transaction then waits for. It must get the id map's own message and hint.
# T2 waits first with deadlock_timeout 3s, T1 with 60s, so T2 is the one that finds the cycle.
psql_db -c "CREATE TABLE dl_rows (id int PRIMARY KEY); INSERT INTO dl_rows VALUES (1)"
mkfifo "$work/t1.in"
PGOPTIONS="-c deadlock_timeout=60s" psql -X -At -d "$db" <"$work/t1.in" >"$work/t1.out" 2>&1 &
t1=$!
exec 7>"$work/t1.in"
echo "BEGIN; SELECT 'mapped ' || mosta_map_id('deadlock', 'a');" >&7
# t1_mapped: T1 allocated, so it holds the allocation lock.
t1_mapped() { grep -q '^mapped ' "$work/t1.out"; }
poll_until 30 t1_mapped || not_ok "the first transaction did not map its id"
PGOPTIONS="-c deadlock_timeout=3s" psql -X -At -v ON_ERROR_STOP=1 -d "$db" \
	-c "BEGIN; UPDATE dl_rows SET id = id WHERE id = 1; SELECT mosta_map_id('deadlock', 'b'); COMMIT;" \
	>"$work/t2.out" 2>"$work/t2.err" &
t2=$!
# t2_waits: T2 holds the row and waits for the allocation lock.
t2_waits() { [ "$(scalar "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND wait_event = 'advisory'")" = 1 ]; }
poll_until 30 t2_waits || not_ok "the second transaction does not wait for the allocation lock"
echo "SELECT 'locked ' || id FROM dl_rows WHERE id = 1 FOR UPDATE; COMMIT;" >&7
exec 7>&-
if wait "$t2"; then t2_status=0; else t2_status=$?; fi
wait "$t1" || true
[ "$t2_status" -ne 0 ] && grep -q 'ERROR:  deadlock waiting to allocate uuids in mosta.id_map' "$work/t2.err" &&
	grep -q 'HINT:  Map the ids a transaction needs before it locks or writes other rows' "$work/t2.err" &&
	ok "a deadlock the application makes is reported by the id map, with a hint" ||
	{ not_ok "the deadlock was not reported as expected (exit $t2_status)"; sed 's/^/    /' "$work/t2.err" >&2; }
grep -q '^locked 1' "$work/t1.out" && [ "$(scalar "SELECT count(*) FROM mosta.id_map WHERE collection = 'deadlock'")" = 1 ] &&
	ok "the allocating transaction went on and committed" ||
	{ not_ok "the allocating transaction did not commit"; sed 's/^/    /' "$work/t1.out" >&2; }

finish
