#!/usr/bin/env bash
# sql_dump_replay.sh: the SQL dump sink end to end. Changes to tables of many types (keyed, keyless with
# REPLICA IDENTITY FULL, hostile names, unchanged TOAST, key moves, ADD COLUMN, truncate) are read from a mostajs
# slot with include-types and include-lsn, written to a dump by the sink (the gtest SqlDumpReplay.FromDocuments,
# documents and dump passed through the environment), replayed with psql into a fresh database, and each table
# is compared with its source row by row (sorted row_to_json text). The tables exist before the slot, so no DDL
# message brings their user-defined types (domain, enum, composite) into the dump: the target gets them first here;
# test/integration/sql_dump_types.sh shows the dump creating them (initial copy, DDL while streaming).
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER/PGDATABASE (scripts/pg-cluster run), after the CMake build
# (MOSTA_SIDECAR_TESTS overrides the test binary's path). Prints "ok"/"not ok" per check, then
# "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

SIDECAR_TESTS=${MOSTA_SIDECAR_TESTS:-build/test/cpp/sidecar/sidecar_tests}
DATABASE=${PGDATABASE:-postgres}
TARGET=mostajs_dump_replay
SLOT=mostajs_it_sql_dump
TABLES=('dump_src.v' 'dump_src.docs' 'dump_src.nokey' 'dump_src."we""ird; --"' 'dump_src.gone')

passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mostajs-sql-dump.XXXXXX")

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# check DESCRIPTION COMMAND...: runs the command, counts and prints the result.
check() {
	local description=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $description"
	else
		failed=$((failed + 1))
		echo "not ok - $description"
	fi
}

drop_objects() {
	sql -d "$DATABASE" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE slot_name = '$SLOT'" >/dev/null 2>&1
	sql -d "$DATABASE" -c "DROP SCHEMA IF EXISTS dump_src CASCADE" >/dev/null 2>&1
	sql -d "$DATABASE" -c "DROP DATABASE IF EXISTS $TARGET" >/dev/null 2>&1
}
trap 'drop_objects; rm -rf "$WORK"' EXIT
drop_objects

TYPES_SQL="CREATE SCHEMA dump_src;
CREATE DOMAIN dump_src.qty AS int CHECK (VALUE >= 0);
CREATE TYPE dump_src.mood AS ENUM ('sad', 'happy');
CREATE TYPE dump_src.pair AS (a int, b text);"

setup() {
	sql -d "$DATABASE" <<-EOF
		$TYPES_SQL
		CREATE TABLE dump_src.v (
		  id int PRIMARY KEY, i8 bigint, o oid, f4 real, f8 float8, n numeric(10,3), b bool,
		  j json, jb jsonb, by bytea, t text, c char(3), tstz timestamptz, ts timestamp, d date,
		  iv interval, arr int[], arr2 text[], q dump_src.qty, m dump_src.mood, p dump_src.pair, u uuid,
		  r tstzrange, mo money, tm time, pt point, f8arr float8[], jbarr jsonb[], byarr bytea[]);
		CREATE TABLE dump_src.docs (id int PRIMARY KEY, title text, body text);
		CREATE TABLE dump_src.nokey (a int, b text, j json);
		ALTER TABLE dump_src.nokey REPLICA IDENTITY FULL;
		CREATE TABLE dump_src."we""ird; --" ("c""ol" text PRIMARY KEY, "x'y" int);
		CREATE TABLE dump_src.gone (id int PRIMARY KEY);
		SELECT 1 FROM pg_create_logical_replication_slot('$SLOT', 'mostajs');
	EOF
}

changes() {
	sql -d "$DATABASE" <<-'EOF'
		INSERT INTO dump_src.v VALUES (1, 9223372036854775807, 4294967295, 3.14, 0.1, 12.5, true,
		  '{"a":  1, "a": 2}', '{"b": [1, "x"], "a": null}', '\x00ff10', E'tab\t"q" é\nline ''2'' \\', 'x',
		  '2024-05-01 12:30:00.5+02', '2024-05-01 12:30:00', '2024-05-01', '1 year 2 mons 3 days 04:05:06.5',
		  '[0:2]={1,NULL,3}', '{{a,b},{c,"d e"}}', 7, 'happy', '(1,"x y")',
		  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[2024-05-01 00:00+00,)', 12.34, '12:30:00.25', '(0.1,1e20)',
		  '{NaN,-Infinity,1e-7}', ARRAY['{"k": "}\""}'::jsonb, NULL], '{"\\x00", "\\xff"}');
		INSERT INTO dump_src.v (id, f4, f8, n, tstz, ts, d, iv, arr, t) VALUES
		  (2, 'NaN', '-Infinity', 'NaN', 'infinity', '-infinity', 'infinity', '-1 day -02:00:00', '{}', E'a\r\nb'),
		  (3, 1e-7, 1e300, 0, '0044-03-15 12:00+00 BC', '10000-01-01 00:00', '0044-03-15 BC', '0', NULL, '');
		BEGIN;
		UPDATE dump_src.v SET t = 'changed', n = -0.5 WHERE id = 2;
		UPDATE dump_src.v SET id = 4 WHERE id = 3;
		DELETE FROM dump_src.v WHERE id = 1;
		COMMIT;
		ALTER TABLE dump_src.v ADD COLUMN extra text; -- a DEFAULT would fill old rows outside the stream
		INSERT INTO dump_src.v (id, extra) VALUES (5, 'x');
		UPDATE dump_src.v SET extra = 'y' WHERE id = 2;
		INSERT INTO dump_src.docs VALUES (1, 'a', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i));
		UPDATE dump_src.docs SET title = 'b' WHERE id = 1;
		UPDATE dump_src.docs SET id = 2 WHERE id = 1;
		INSERT INTO dump_src.docs VALUES (3, 'c', 'short'), (4, 'd', NULL);
		DELETE FROM dump_src.docs WHERE id = 3;
		INSERT INTO dump_src.nokey VALUES (1, 'x', '{"a": 1}'), (1, 'x', '{"a": 1}'), (2, NULL, NULL), (3, 'z', '[1]');
		UPDATE dump_src.nokey SET b = 'y' WHERE a = 2;
		DELETE FROM dump_src.nokey WHERE ctid = (SELECT min(ctid) FROM dump_src.nokey WHERE a = 1);
		DELETE FROM dump_src.nokey WHERE a = 3;
		INSERT INTO dump_src."we""ird; --" VALUES ('x''); DROP TABLE y; --', 1), ('$mosta$', 2);
		UPDATE dump_src."we""ird; --" SET "x'y" = 3 WHERE "x'y" = 2;
		INSERT INTO dump_src.gone SELECT generate_series(1, 5);
		TRUNCATE dump_src.gone;
		INSERT INTO dump_src.gone VALUES (42);
	EOF
}

# read_documents FILE: consumes the slot with types and LSNs into FILE, one document per line, in the format
# version the sidecar reads (2: json values as strings of their text).
read_documents() {
	sql -d "$DATABASE" -c "SELECT data FROM pg_logical_slot_get_changes('$SLOT', NULL, NULL,
		'format-version', '2', 'include-types', '1', 'include-lsn', '1')" >"$1"
}

# write_dump DOCUMENTS DUMP: the sink writes DUMP from DOCUMENTS (through the gtest driver).
write_dump() {
	MOSTA_SQL_DUMP_DOCUMENTS=$1 MOSTA_SQL_DUMP_OUT=$2 "$SIDECAR_TESTS" --gtest_filter=SqlDumpReplay.FromDocuments \
		>"$WORK/driver.log" 2>&1 && grep -q '^-- mosta-checkpoint ' "$2" || { cat "$WORK/driver.log"; return 1; }
}

# replay DUMP: a fresh database with the user-defined types, then psql -f DUMP.
replay() {
	sql -d "$DATABASE" -c "CREATE DATABASE $TARGET" &&
		sql -d "$TARGET" -c "$TYPES_SQL" &&
		PGOPTIONS="-c client_min_messages=warning" sql -d "$TARGET" -f "$1"
}

# same_table NAME: the table holds the same rows in the source and the replayed database.
same_table() {
	local query="SELECT row_to_json(mosta_row)::text FROM $1 mosta_row ORDER BY 1"
	sql -d "$DATABASE" -c "$query" >"$WORK/source.txt" && sql -d "$TARGET" -c "$query" >"$WORK/target.txt" &&
		[ -s "$WORK/source.txt" ] && diff "$WORK/source.txt" "$WORK/target.txt"
}

# recovered_cut DOCUMENTS DUMP: a copy of DUMP cut 10 bytes short, reopened by the sink, ends at a checkpoint.
recovered_cut() {
	local copy=$WORK/cut.sql size
	cp "$2" "$copy" && size=$(stat -c %s "$copy") && truncate -s $((size - 10)) "$copy" &&
		MOSTA_SQL_DUMP_DOCUMENTS=/dev/null MOSTA_SQL_DUMP_OUT=$copy "$SIDECAR_TESTS" \
			--gtest_filter=SqlDumpReplay.FromDocuments >/dev/null 2>&1 &&
		[ "$(tail -n 1 "$copy" | cut -c1-20)" = "-- mosta-checkpoint " ] && [ "$(stat -c %s "$copy")" -lt "$size" ]
}

if [ ! -x "$SIDECAR_TESTS" ]; then
	echo "not ok - $SIDECAR_TESTS is not built (cmake --build build)"
	echo "0 passed, 1 failed"
	exit 1
fi
check "source tables and slot created" eval "setup >/dev/null"
check "changes made" changes
check "documents read with format-version 2, include-types and include-lsn" read_documents "$WORK/documents.jsonl"
check "sink wrote the dump" write_dump "$WORK/documents.jsonl" "$WORK/dump.sql"
check "psql replays the dump into a fresh database" replay "$WORK/dump.sql"
for table in "${TABLES[@]}"; do
	check "replayed $table equals its source" same_table "$table"
done
check "reopening a dump cut mid-transaction drops the partial tail" recovered_cut "$WORK/documents.jsonl" \
	"$WORK/dump.sql"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
