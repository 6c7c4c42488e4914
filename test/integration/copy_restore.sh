#!/usr/bin/env bash
# copy_restore.sh: mosta-copy's PostgreSQL destination (restore) end to end, on the type zoo
# (test/integration/lib/copy_zoo.sql): the zoo is copied from one database into empty ones, with --jobs 1 (one
# transaction) and --jobs 2 (a connection per table), and restored from its SQL dump, SQLite and JSON backups; each
# restored database must have
#   - every table's mosta_checksum (the extension, in both databases) and row count equal to the source's;
#   - the same schema: pg_dump --schema-only of zoo and app, normalised, equal to the source's (types, sequences
#     and their values, identity and generated columns, defaults, checks, partitions, constraints, indexes, FKs);
# a restore into a database whose table already holds rows is refused naming the table; a restore that fails
# (a value the target refuses while loading, an index that cannot be built after the data) leaves nothing behind
# with --jobs 1. Also runs the gtests that need a server (DdlOnPostgres, PgDestinationTest).
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (scripts/pg-cluster run -- bash test/integration/copy_restore.sh),
# after the CMake build (MOSTA_COPY_BIN and MOSTA_COPY_TESTS override the binaries' paths). Prints "ok"/"not ok"
# per check, then "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/copy.sh
source test/integration/lib/copy.sh
tap_init copy_restore
require_cluster

COPY=${MOSTA_COPY_BIN:-build/copy/mosta-copy}
COPY_TESTS=${MOSTA_COPY_TESTS:-build/test/cpp/copy/copy_tests}
[ -x "$COPY" ] || fail_setup "$COPY not found: cmake --build build -j2 --target mosta-copy"
[ -x "$COPY_TESTS" ] || fail_setup "$COPY_TESTS not found: cmake --build build -j2 --target copy_tests"

SOURCE=copy_restore_src
TARGETS=(copy_restore_j1 copy_restore_j2 copy_restore_rows copy_restore_bad_value copy_restore_bad_index1
	copy_restore_bad_index2 copy_restore_from_sql_dump copy_restore_from_sqlite copy_restore_from_json)
drop_databases() {
	local db
	for db in "$SOURCE" "${TARGETS[@]}"; do dropdb --if-exists --force "$db" >/dev/null 2>&1; done
}
drop_databases
work=$(mktemp -d "${TMPDIR:-/tmp}/mostajs-copy-restore.XXXXXX")
trap 'drop_databases; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# The gtests that need a server.
if MOSTA_COPY_TEST_PG=1 MOSTA_DDL_TEST_CONNINFO="dbname=postgres" \
	"$COPY_TESTS" --gtest_filter='DdlOnPostgres.*:PgDestinationTest.*' >"$work/gtest.log" 2>&1 &&
	! grep -q SKIPPED "$work/gtest.log"; then
	ok "gtests on PostgreSQL ($(grep -o 'PASSED .*' "$work/gtest.log"))"
else
	not_ok "gtests on PostgreSQL"
	tail -30 "$work/gtest.log" >&2
fi

createdb "$SOURCE" || fail_setup "createdb $SOURCE"
sql -d "$SOURCE" -c "CREATE EXTENSION mostajs" -f test/integration/lib/copy_zoo.sql >/dev/null ||
	fail_setup "loading the zoo"




# sequences DB: each zoo sequence's last_value and is_called.
sequences() {
	local seq
	for seq in $(sql -d "$1" -c "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences
		WHERE schemaname IN ('zoo', 'app') ORDER BY 1"); do
		echo "$seq $(sql -d "$1" -c "SELECT last_value, is_called FROM $seq")"
	done
}

zoo_checksums "$SOURCE" >"$work/checksums.src"
zoo_schema "$SOURCE" >"$work/schema.src"
sequences "$SOURCE" >"$work/sequences.src"
[ "$(wc -l <"$work/checksums.src")" -ge 7 ] || fail_setup "the zoo's checksums: $(cat "$work/checksums.src")"

# The source database in the seed's form.
FROM_SOURCE=(--source db --source-dialect postgres --source-uri "dbname=$SOURCE")

# restore DB ARG...: mosta-copy ARG... (the source and options) into DB, created empty here; its log in $work/log.DB.
restore() {
	local db=$1
	shift
	createdb "$db" || return 1
	"$COPY" "$@" --dest postgres --dest-uri "dbname=$db" --no-progress 2>"$work/log.$db"
}

for jobs in 1 2; do
	db=copy_restore_j$jobs
	if restore "$db" "${FROM_SOURCE[@]}" --create-tables --jobs "$jobs"; then
		ok "restore with --jobs $jobs exits 0"
	else
		not_ok "restore with --jobs $jobs exits 0"
		cat "$work/log.$db" >&2
	fi
	sql -d "$db" -c "CREATE EXTENSION mostajs" >/dev/null
	zoo_checksums "$db" >"$work/checksums.$db"
	if diff -u "$work/checksums.src" "$work/checksums.$db" >&2; then
		ok "--jobs $jobs: every table's row count and mosta_checksum equal the source's"
	else
		not_ok "--jobs $jobs: every table's row count and mosta_checksum equal the source's"
	fi
	zoo_schema "$db" >"$work/schema.$db"
	if diff -u "$work/schema.src" "$work/schema.$db" >&2; then
		ok "--jobs $jobs: the schema (pg_dump --schema-only) equals the source's"
	else
		not_ok "--jobs $jobs: the schema (pg_dump --schema-only) equals the source's"
	fi
	sequences "$db" >"$work/sequences.$db"
	if diff -u "$work/sequences.src" "$work/sequences.$db" >&2; then
		ok "--jobs $jobs: every sequence has the source's value"
	else
		not_ok "--jobs $jobs: every sequence has the source's value"
	fi
done

# A table that already holds rows is refused, named, and keeps its rows.
db=copy_restore_rows
createdb "$db"
pg_dump --schema-only -n zoo -n app "$SOURCE" | sql -d "$db" >/dev/null 2>&1
sql -d "$db" -c "INSERT INTO zoo.events (kind) VALUES ('mine')"
"$COPY" --source db --source-dialect postgres --source-uri "dbname=$SOURCE" --dest postgres --dest-uri "dbname=$db" \
	--no-progress 2>"$work/log.$db"
status=$?
if [ "$status" = 1 ] && grep -q 'table zoo.events .*already holds rows' "$work/log.$db"; then
	ok "a table that holds rows is refused (exit 1, named)"
else
	not_ok "a table that holds rows is refused (exit 1, named): exit $status"
	cat "$work/log.$db" >&2
fi
if [ "$(sql -d "$db" -c "SELECT count(*) FROM zoo.events")$(sql -d "$db" -c "SELECT count(*) FROM zoo.customers")" = 10 ]; then
	ok "the refused restore wrote nothing"
else
	not_ok "the refused restore wrote nothing"
fi

# A value the target refuses (an extra check on the existing tables, no --create-tables): exit 1 naming the table
# and the COPY line, and the tables loaded before it in the same transaction are empty again.
db=copy_restore_bad_value
createdb "$db"
pg_dump --schema-only -n zoo -n app "$SOURCE" | sql -d "$db" >/dev/null 2>&1
sql -d "$db" -c "ALTER TABLE zoo.\"values\" ADD CONSTRAINT no_plain CHECK (t IS DISTINCT FROM 'plain')"
"$COPY" --source db --source-dialect postgres --source-uri "dbname=$SOURCE" --dest postgres --dest-uri "dbname=$db" \
	--no-progress 2>"$work/log.$db"
status=$?
if [ "$status" = 1 ] && grep -q 'zoo.values' "$work/log.$db" && grep -q 'no_plain' "$work/log.$db" &&
	grep -q 'line 1' "$work/log.$db"; then
	ok "a value the target refuses fails the restore naming the table, the constraint and the line"
else
	not_ok "a value the target refuses fails the restore naming the table, the constraint and the line: exit $status"
	cat "$work/log.$db" >&2
fi
rows=$(sql -d "$db" -c "SELECT (SELECT count(*) FROM zoo.customers) + (SELECT count(*) FROM zoo.\"values\")
	+ (SELECT count(*) FROM zoo.measures) + (SELECT count(*) FROM app.tickets)")
if [ "$rows" = 0 ]; then
	ok "the failed restore (--jobs 1) left no row in any table"
else
	not_ok "the failed restore (--jobs 1) left no row in any table: $rows rows"
fi

# A failure after the data (an index whose name is taken) with --create-tables: nothing of the restore stays, with
# --jobs 1 (rolled back) and with --jobs 2 (what Begin committed is dropped again).
for jobs in 1 2; do
	db=copy_restore_bad_index$jobs
	createdb "$db"
	sql -d "$db" -c "CREATE SCHEMA zoo" -c "CREATE TABLE zoo.values_tstz_idx (x int)"
	"$COPY" --source db --source-dialect postgres --source-uri "dbname=$SOURCE" --dest postgres --dest-uri "dbname=$db" \
		--create-tables --jobs "$jobs" --no-progress 2>"$work/log.$db"
	status=$?
	if [ "$status" = 1 ] && grep -q 'values_tstz_idx' "$work/log.$db"; then
		ok "--jobs $jobs: a post-data failure fails the restore naming the statement"
	else
		not_ok "--jobs $jobs: a post-data failure fails the restore naming the statement: exit $status"
		cat "$work/log.$db" >&2
	fi
	left=$(sql -d "$db" -c "SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1) FROM pg_class c JOIN
		pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		UNION ALL SELECT string_agg(typname, ',') FROM pg_type WHERE typnamespace = 'zoo'::regnamespace
		AND typtype IN ('e', 'd') UNION ALL SELECT count(*)::text FROM pg_namespace WHERE nspname = 'app'" | paste -sd'|')
	if [ "$left" = "zoo.values_tstz_idx||0" ]; then
		ok "--jobs $jobs: the failed restore left nothing behind"
	else
		not_ok "--jobs $jobs: the failed restore left nothing behind: $left"
	fi
done

# The restore of the issue: the source backed up to an SQL dump (and to SQLite and JSON), each file restored by
# mosta-copy into an empty database.
for kind in sql-dump sqlite json; do
	db=copy_restore_from_${kind/-/_}
	file=$work/zoo.$kind
	if ! "$COPY" "${FROM_SOURCE[@]}" --dest "$kind" --dest-file "$file" --create-tables --no-progress \
		2>"$work/log.backup.$kind"; then
		not_ok "the $kind backup is written"
		cat "$work/log.backup.$kind" >&2
		continue
	fi
	if restore "$db" --source "$kind:$file" --create-tables; then
		ok "restore from the $kind backup exits 0"
	else
		not_ok "restore from the $kind backup exits 0"
		cat "$work/log.$db" >&2
	fi
	sql -d "$db" -c "CREATE EXTENSION mostajs" >/dev/null
	zoo_checksums "$db" >"$work/checksums.$db"
	zoo_schema "$db" >"$work/schema.$db"
	sequences "$db" >"$work/sequences.$db"
	if diff -u "$work/checksums.src" "$work/checksums.$db" >&2 && diff -u "$work/schema.src" "$work/schema.$db" >&2 &&
		diff -u "$work/sequences.src" "$work/sequences.$db" >&2; then
		ok "restored from the $kind backup: checksums, schema and sequences equal the source's"
	else
		not_ok "restored from the $kind backup: checksums, schema and sequences equal the source's"
	fi
done

finish
