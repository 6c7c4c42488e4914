#!/usr/bin/env bash
# mongo-backfill.sh: `mosta-migrate backfill` (docs/migration.md, "Backfill") of BENCH_DOCUMENTS documents (default
# 1,000,000) against the floor: the same rows, already mapped (ids and references uuids), loaded by a plain COPY
# into the same tables. Issue 16's goal: backfill >= 0.5x of the floor's documents/s.
#
# Data: the shop data set (test/integration/migrate/shop_data.py, loaded with pymongo into mosta-test-mongod; its
# shapes: users with a self-reference, offers, purchase requests and payments referencing them, Mixed references,
# Decimal128 money, arrays of subdocuments into child tables, unmapped fields into extra), scaled so that its
# collections hold about BENCH_DOCUMENTS documents; mapping test/integration/migrate/shop.mapping.json.
#
# Each round, on one throwaway cluster:
#   backfill  a fresh database, `mosta-migrate schema --apply`, then `mosta-migrate backfill` timed (wall clock of
#             the command: reading MongoDB, mapping, id_map, writing the tables, the held-back retry, counters);
#   floor     a fresh database, the same `schema --apply` (same indexes, foreign keys, CHECKs, TTL and invariant
#             helpers), then the rows the first backfill wrote (COPY ... TO files, table by table) loaded back with
#             one plain COPY per table, parents first, timed (psql's \copy from the server's files: no mapping, no
#             id_map, no reading of MongoDB).
# Both are given as documents/s (the documents of the collections; the child rows come with them) and their ratio.
# BENCH_RUNS rounds (default 2) alternate floor and backfill; medians are printed. The catch-up lag under a steady
# write rate (issue 16, item 7's second figure) is bench/mongo-follow-lag.sh's (make bench runs it; BENCH_LAG=1 runs
# it at the end of this script too, on the same cluster).
#
# Settings: BENCH_DOCUMENTS, BENCH_RUNS, BENCH_BATCH (backfill --batch; default: the command's),
# MOSTA_MIGRATE_BIN and MOSTA_TEST_MONGOD_BIN (default: the Release builds bench/run-all makes, else build/).
# A benchmark: never passes or fails on a number; a failing step stops it with a message.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

# shellcheck source=../test/integration/lib/tap.sh
source test/integration/lib/tap.sh
tap_init mongo-backfill
[ -z "${MOSTA_MIGRATE_BIN:-}" ] && [ -x build/release/migrate/mosta-migrate ] &&
	export MOSTA_MIGRATE_BIN=build/release/migrate/mosta-migrate
[ -z "${MOSTA_TEST_MONGOD_BIN:-}" ] && [ -x build/release/test/support/mosta-test-mongod ] &&
	export MOSTA_TEST_MONGOD_BIN=build/release/test/support/mosta-test-mongod
use_database bench_backfill_setup
# shellcheck source=../test/integration/lib/migrate.sh
source test/integration/lib/migrate.sh
require_migrate
databases=()
cleanup_extra() {
	migrate_cleanup
	local database
	for database in "${databases[@]}"; do dropdb --if-exists "$database" >/dev/null 2>&1; done
}

documents=${BENCH_DOCUMENTS:-1000000}
runs=${BENCH_RUNS:-2}
batch=()
[ -n "${BENCH_BATCH:-}" ] && batch=(--batch "$BENCH_BATCH")
# shop_data.py's default sizes sum to 2,460 documents at scale 1
scale=$(awk -v n="$documents" 'BEGIN { printf "%.4f", n / 2460 }')

start_shop_mongo
began=$(date +%s%N)
load_shop --scale "$scale"
loaded=$(( ($(date +%s%N) - began) / 1000000 ))
total=$("$python" -c 'import json, sys; print(sum(json.load(open(sys.argv[1]))["counts"].values()))' "$work/shop.json")
children=$("$python" -c 'import json, sys; print(sum(json.load(open(sys.argv[1]))["children"].values()))' "$work/shop.json")
echo "# $total documents ($children child-table rows) loaded into mosta-test-mongod by pymongo in $((loaded / 1000)) s"

# fresh_database NAME: an empty database with the extension and the mapping's schema.
fresh_database() {
	databases+=("$1")
	createdb "$1" || fail_setup "createdb $1"
	db=$1
	psql_db -c "CREATE EXTENSION mostajs" >/dev/null || fail_setup "CREATE EXTENSION in $1"
	migrate schema --apply >/dev/null || fail_setup "schema --apply: $(cat "$work/migrate.schema.err")"
	psql_db -c "CHECKPOINT" >/dev/null
}

# tables: the mapping's tables of $db, in creation order (schema --apply creates parents first).
tables() {
	scalar "SELECT string_agg(c.relname, ' ' ORDER BY c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	         WHERE c.relkind = 'r' AND n.nspname = 'public'"
}

# run_backfill ROUND: times the backfill into a fresh database (milliseconds appended to backfill_ms).
run_backfill() {
	fresh_database "bench_backfill_$1"
	local start written
	start=$(date +%s%N)
	migrate backfill "${batch[@]}" >"$work/backfill.$1.out" ||
		fail_setup "backfill: $(tail -5 "$work/migrate.backfill.err")"
	backfill_ms+=($((($(date +%s%N) - start) / 1000000)))
	written=$(scalar "SELECT sum(documents) FROM mosta_migration.checkpoints")
	[ "$written" = "$total" ] || echo "# round $1: the backfill's checkpoints count $written documents, not $total"
	sed 's/^/#   /' "$work/backfill.$1.out"
}

# dump_rows: the rows of bench_backfill_1's tables, one file per table (COPY's text format).
dump_rows() {
	db=bench_backfill_1
	dumped_tables=$(tables)
	local table
	for table in $dumped_tables; do
		psql_db -c "\\copy public.$table TO '$work/rows.$table'" >/dev/null || fail_setup "dumping $table"
	done
	rows=$(cat "$work"/rows.* | wc -l)
}

# run_floor ROUND: times the COPY of the dumped rows into a fresh database, parents first, each table its own
# transaction (milliseconds appended to floor_ms).
run_floor() {
	fresh_database "bench_floor_$1"
	local script="$work/floor.sql" table start copied
	: >"$script"
	for table in $dumped_tables; do
		echo "\\copy public.$table FROM '$work/rows.$table'" >>"$script"
	done
	start=$(date +%s%N)
	psql_db -f "$script" >/dev/null || fail_setup "the floor's COPY failed"
	floor_ms+=($((($(date +%s%N) - start) / 1000000)))
	copied=$(scalar "SELECT count(*) FROM users")
	[ "$copied" -gt 0 ] || fail_setup "the floor loaded no users"
}

backfill_ms=()
floor_ms=()
for round in $(seq 1 "$runs"); do
	if [ "$round" -gt 1 ]; then
		run_floor "$round"
		dropdb "bench_floor_$round"
	fi
	run_backfill "$round"
	if [ "$round" -eq 1 ]; then
		dump_rows
		run_floor 1
		dropdb bench_floor_1
	else
		dropdb "bench_backfill_$round"
	fi
	echo "# round $round: backfill ${backfill_ms[-1]} ms, floor ${floor_ms[-1]} ms"
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
backfill_median=$(median "${backfill_ms[@]}")
floor_median=$(median "${floor_ms[@]}")
echo "mongo-backfill.sh: $total documents, $rows rows in $(wc -w <<<"$dumped_tables") tables, $runs rounds (medians)"
awk -v n="$total" -v b="$backfill_median" -v f="$floor_median" 'BEGIN {
	printf "%-44s %9.2f s %12.0f documents/s\n", "floor: plain COPY of the pre-mapped rows", f / 1000, n / (f / 1000)
	printf "%-44s %9.2f s %12.0f documents/s\n", "mosta-migrate backfill (MongoDB → PostgreSQL)", b / 1000, n / (b / 1000)
	printf "backfill / floor: %.2fx of the floor'\''s documents/s (goal: at least 0.5x)\n", f / b
}'
if [ "${BENCH_LAG:-0}" = 1 ]; then
	migrate_cleanup
	bash bench/mongo-follow-lag.sh
fi
