#!/usr/bin/env bash
# sqlite_capture_zoo.sh: the round trip of SQLite capture on the type zoo (test/integration/lib/copy_zoo.sql). The
# zoo is written while a mostajs slot records it; its documents (format version 2 with types, as the sidecar's
# initial copy reads) are applied by a capturing SQLite sink (the gtest SqliteCaptureZoo.FromDocuments, documents
# and database passed through the environment), another connection touches every row of the SQLite file, and each
# captured document must give back, value for value, the row PostgreSQL sent: every type the SQLite sink maps,
# read back from its storage. Also checks that the driver compared as many rows as the source holds.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER/PGDATABASE (scripts/pg-cluster run), after the CMake build
# (MOSTA_SIDECAR_TESTS overrides the test binary's path). Prints "ok"/"not ok" per check, then
# "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

SIDECAR_TESTS=${MOSTA_SIDECAR_TESTS:-build/test/cpp/sidecar/sidecar_tests}
DATABASE=${PGDATABASE:-postgres}
SLOT=mostajs_it_capture_zoo

passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mostajs-capture-zoo.XXXXXX")

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
	sql -d "$DATABASE" -c "DROP SCHEMA IF EXISTS zoo, app CASCADE" >/dev/null 2>&1
}
trap 'drop_objects; rm -rf "$WORK"' EXIT
drop_objects

# setup: the slot first, then the zoo and an update of every row of its widest table (update documents too).
setup() {
	sql -d "$DATABASE" -c "SELECT 1 FROM pg_create_logical_replication_slot('$SLOT', 'mostajs')" >/dev/null &&
		PGOPTIONS="-c client_min_messages=warning" sql -d "$DATABASE" -f test/integration/lib/copy_zoo.sql \
			>/dev/null &&
		sql -d "$DATABASE" -c "UPDATE zoo.values SET t = coalesce(t, '') || ' updated'" >/dev/null
}

# read_documents FILE: consumes the slot, one document per line.
read_documents() {
	sql -d "$DATABASE" -c "SELECT data FROM pg_logical_slot_get_changes('$SLOT', NULL, NULL, 'format-version', '2',
		'include-types', '1', 'include-lsn', '1', 'include-timestamp', '1')" >"$1" && [ -s "$1" ]
}

# source_rows: the rows of every table of the zoo (partitions count, their parents hold none).
source_rows() {
	sql -d "$DATABASE" -c "SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I',
		n.nspname, c.relname), false, true, '')))[1]::text::bigint)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname IN ('zoo', 'app') AND c.relkind = 'r'"
}

# round_trip DOCUMENTS: the driver applies, touches and compares; its count equals the source's rows.
round_trip() {
	local expected compared
	expected=$(source_rows) || return 1
	MOSTA_CAPTURE_DOCUMENTS=$1 MOSTA_CAPTURE_DB=$WORK/zoo.db "$SIDECAR_TESTS" \
		--gtest_filter=SqliteCaptureZoo.FromDocuments >"$WORK/driver.log" 2>&1 || {
		cat "$WORK/driver.log"
		return 1
	}
	compared=$(sed -n 's/^compared \([0-9]*\) rows$/\1/p' "$WORK/driver.log")
	[ -n "$compared" ] && [ "$compared" = "$expected" ] || {
		echo "# compared '$compared' rows, the source holds '$expected'"
		cat "$WORK/driver.log"
		return 1
	}
}

if [ ! -x "$SIDECAR_TESTS" ]; then
	echo "not ok - $SIDECAR_TESTS is not built (cmake --build build)"
	echo "0 passed, 1 failed"
	exit 1
fi
check "slot created, the zoo written and updated" setup
check "documents read with format-version 2 and include-types" read_documents "$WORK/documents.jsonl"
check "every row captured from the SQLite file gives back PostgreSQL's values" round_trip "$WORK/documents.jsonl"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
