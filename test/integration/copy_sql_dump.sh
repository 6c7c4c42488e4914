#!/usr/bin/env bash
# copy_sql_dump.sh: mosta-copy's SQL dump and JSON export against a live server (issue 14). Backs the type zoo
# (test/integration/lib/copy_zoo.sql) up to an SQL dump and a JSON export in one run, then: `psql -v
# ON_ERROR_STOP=1 -f` restores the dump into an empty database with every table's mosta_checksum equal to the
# source's, and the same schema (pg_dump --schema-only of both equal); the data-only dump restores into tables
# made beforehand, sequences set; the JSON export is one valid JSON document (python3 json.load) whose values are
# the output plugin's encoding; reading each back (--source sql-dump:FILE, --source json:FILE and a directory of
# one file per table) gives the manifest's checksums, and restores into an empty database (--dest postgres) with
# the source's; --jobs 3 writes the same dump; the password never reaches a file.
# Prints "copy_sql_dump: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/copy.sh
source test/integration/lib/copy.sh
tap_init copy_sql_dump
require_cluster

COPY=${MOSTA_COPY_BIN:-build/copy/mosta-copy}
[ -x "$COPY" ] || fail_setup "$COPY not found: cmake --build build -j2 --target mosta-copy"

use_database mosta_copy_dump_$$
restored=${db}_restored
data_only=${db}_data
cleanup_extra() {
	dropdb --if-exists "$restored" >/dev/null 2>&1
	dropdb --if-exists "$data_only" >/dev/null 2>&1
}
uri="postgresql://$PGUSER:s3cret@$PGHOST:$PGPORT/$db"

psql_db -o /dev/null -c "CREATE EXTENSION mostajs" -f test/integration/lib/copy_zoo.sql ||
	fail_setup "cannot load the zoo"


zoo_checksums "$db" >"$work/source.sums" || fail_setup "mosta_checksum on the source"

# 1. one run: SQL dump (with the DDL) + JSON export (a file) + JSON export (a directory)
if "$COPY" --source "$uri" --dest sql-dump --dest-file "$work/zoo.sql" --dest json --dest-file "$work/zoo.json" \
	--dest json --dest-file "$work/tables/" --create-tables --manifest "$work/zoo.manifest.json" \
	--no-progress 2>"$work/err"; then
	ok "mosta-copy writes an SQL dump and two JSON exports in one run: $(tail -1 "$work/err")"
else
	not_ok "mosta-copy writes an SQL dump and two JSON exports in one run: $(cat "$work/err")"
	finish
fi
if grep -rq s3cret "$work/zoo.sql" "$work/zoo.json" "$work/tables" "$work/zoo.manifest.json" "$work/err"; then
	not_ok "the password reaches a file"
else
	ok "the password reaches no file (source masked: $(grep -m1 '^-- Source:' "$work/zoo.sql"))"
fi
ls "$work" | grep -q mosta-tmp && not_ok "a temporary is left: $(ls "$work")" || ok "no temporary left"

# 2. psql -f restores the dump into an empty database: same rows, same schema
createdb "$restored" || fail_setup "createdb $restored"
psql -X -q -d "$restored" -c "CREATE EXTENSION mostajs" || fail_setup "CREATE EXTENSION in $restored"
if psql -X -q -v ON_ERROR_STOP=1 -d "$restored" -f "$work/zoo.sql" >"$work/psql.out" 2>&1; then
	ok "psql -v ON_ERROR_STOP=1 -f restores the dump into an empty database"
else
	not_ok "psql -v ON_ERROR_STOP=1 -f restores the dump: $(tail -5 "$work/psql.out")"
fi
if zoo_checksums "$restored" | diff "$work/source.sums" - >"$work/diff"; then
	ok "every restored table has the source's mosta_checksum ($(wc -l <"$work/source.sums") tables)"
else
	not_ok "restored checksums differ"
	sed 's/^/#   /' "$work/diff"
fi
if diff <(zoo_schema "$db") <(zoo_schema "$restored") >"$work/schema.diff"; then
	ok "the restored schema equals the source's (pg_dump --schema-only)"
else
	not_ok "the restored schema differs from the source's"
	sed 's/^/#   /' "$work/schema.diff" | head -40
fi
[ "$(psql -X -At -d "$restored" -c "SELECT nextval('app.ticket_seq')")" = 120 ] &&
	ok "sequence values set after the data (app.ticket_seq continues at 120)" ||
	not_ok "sequence values set after the data"

# 3. a data-only dump restores into tables made beforehand
if "$COPY" --source "$uri" --dest sql-dump --dest-file "$work/data.sql" --no-progress 2>"$work/err" &&
	! grep -q '^CREATE ' "$work/data.sql"; then
	ok "without --create-tables the dump holds data only"
else
	not_ok "without --create-tables the dump holds data only: $(cat "$work/err")"
fi
createdb "$data_only" || fail_setup "createdb $data_only"
psql -X -q -d "$data_only" -c "CREATE EXTENSION mostajs" || fail_setup "CREATE EXTENSION in $data_only"
pg_dump --schema-only -n zoo -n app -d "$db" | psql -X -q -v ON_ERROR_STOP=1 -d "$data_only" >/dev/null 2>"$work/err" ||
	fail_setup "schema for the data-only restore: $(cat "$work/err")"
if psql -X -q -v ON_ERROR_STOP=1 -d "$data_only" -f "$work/data.sql" >"$work/psql.out" 2>&1 &&
	zoo_checksums "$data_only" | diff -q "$work/source.sums" - >/dev/null &&
	[ "$(psql -X -At -d "$data_only" -c "SELECT nextval('app.ticket_seq')")" = 120 ]; then
	ok "the data-only dump restores into existing tables: checksums equal, sequences set"
else
	not_ok "the data-only dump restores into existing tables: $(tail -5 "$work/psql.out")"
fi

# 4. the JSON export: one valid JSON document, the plugin's value encoding
if python3 - "$work/zoo.json" >"$work/json.out" 2>&1 <<'PY'; then
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc['format'] == 'mostajs.export' and doc['version'] == 1, doc['format']
tables = {t['schema'] + '.' + t['name']: t for t in doc['tables']}
assert [t['schema'] + '.' + t['name'] for t in doc['schema']['tables']] == list(tables), 'tables in schema order'
for t in doc['tables']:
    assert t['row_count'] == len(t['rows']), t['name']
v = tables['zoo.values']
rows = {r[v['columns'].index('id')]: dict(zip(v['columns'], r)) for r in v['rows']}
r1, r2, r3 = rows[1], rows[2], rows[3]
assert r1['i8'] == 9223372036854775807 and r1['f8'] == 0.1 and r1['b'] is True and r1['n'] == '12.500', r1
assert r1['ia'] == [1, None, 3] and r1['ma'] == [[1, 2], [3, 4]] and r1['jba'] == [None, 'null', '{"k": 1}'], r1
assert r1['jb'] == '{"a": null, "b": [1, "x"]}' and r1['by'] == '\\x00ff10' and r1['q'] == 5, r1
assert r1['tstz'] == '2024-05-01T08:30:00.5+00:00' and r1['moods'] == ['happy', 'sad'], r1
assert r2['f4'] == 'NaN' and r2['f8'] == '-Infinity' and r2['j'] == 'null' and r2['jb'] == 'null', r2
assert r2['t'] == 'tab\there\nnewline\r\\back \\N é 日本' and r2['vc'] == '' and r2['by'] == '\\x', r2
assert r3['b'] is None and r3['t'] == '' and r3['c'] is None and r3['f4'] == -0.0 and r3['n'] == 'Infinity', r3
assert 'twice_q' not in v['columns']
assert tables['zoo.empty']['rows'] == [] and len(tables['zoo.measures']['rows']) == 300
print(len(doc['tables']), 'tables')
PY
	ok "the JSON export is one valid JSON document with the plugin's encoding ($(cat "$work/json.out"))"
else
	not_ok "the JSON export: $(cat "$work/json.out")"
fi
# the line-by-line reader of docs/copy-formats.md ("Reading it line by line") reads every row
sed -n '/^```python$/,/^```$/p' docs/copy-formats.md | sed '1d;$d' | sed "s|daily.json|$work/zoo.json|" |
	sed 's/^\( *\)row = \(.*\)$/\1row = \2; print(len(row))/' >"$work/reader.py"
rows=$(python3 "$work/reader.py" 2>&1 | wc -l)
expected_rows=$(awk '{ n += $(NF - 1) } END { print n }' "$work/source.sums")
[ "$rows" = "$expected_rows" ] && ok "the docs' line-by-line reader reads every row of the export ($rows)" ||
	not_ok "the docs' line-by-line reader reads every row of the export: $rows, expected $expected_rows"
names=$(cd "$work/tables" && ls | tr '\n' ' ')
for f in "$work"/tables/*.json; do python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" || not_ok "$f is JSON"; done
[ "$(ls "$work/tables" | wc -l)" -eq "$(wc -l <"$work/source.sums")" ] &&
	ok "the directory export holds one valid document per table: $names" ||
	not_ok "the directory export holds one document per table: $names"

# 5. each file reads back with the manifest's checksums
manifest_checksums "$work/zoo.manifest.json" >"$work/expected.sums"
for source in "sql-dump:$work/zoo.sql" "json:$work/zoo.json" "json:$work/tables"; do
	kind=${source%%:*}
	rm -f "$work/back.json"
	if "$COPY" --source "$source" --dest json --dest-file "$work/back.json" --manifest "$work/back.manifest.json" \
		--no-progress 2>"$work/err" &&
		manifest_checksums "$work/back.manifest.json" | diff "$work/expected.sums" - >"$work/diff"; then
		ok "--source $kind reads back every table with the source's checksums (${source##*/})"
	else
		not_ok "--source $kind reads back with the source's checksums: $(cat "$work/err")"
		sed 's/^/#   /' "$work/diff"
	fi
done

# 6. mosta-copy restores each file into an empty database (tables created), checksums equal to the source's
for source in "sql-dump:$work/zoo.sql" "json:$work/zoo.json" "json:$work/tables"; do
	dropdb --if-exists "$restored" && createdb "$restored" && psql -X -q -d "$restored" -c "CREATE EXTENSION mostajs" ||
		fail_setup "recreate $restored"
	if "$COPY" --source "$source" --dest postgres --dest-uri "postgresql://$PGUSER@$PGHOST:$PGPORT/$restored" \
		--create-tables --jobs 2 --no-progress 2>"$work/err" && zoo_checksums "$restored" | diff "$work/source.sums" - >"$work/diff"; then
		ok "--source ${source%%:*} (${source##*/}) restores into an empty database with the source's checksums"
	else
		not_ok "--source ${source%%:*} (${source##*/}) restores with the source's checksums: $(tail -3 "$work/err")"
		sed 's/^/#   /' "$work/diff"
	fi
done

# 7. --jobs 3 writes the same dump (tables in schema order), apart from the snapshot
if "$COPY" --source "$uri" --dest sql-dump --dest-file "$work/jobs.sql" --create-tables --jobs 3 --no-progress \
	2>"$work/err" && diff <(grep -v '^-- ' "$work/zoo.sql") <(grep -v '^-- ' "$work/jobs.sql") >"$work/diff"; then
	ok "--jobs 3 writes the same dump"
else
	not_ok "--jobs 3 writes the same dump: $(cat "$work/err")"
	sed 's/^/#   /' "$work/diff" | head -20
fi

finish
