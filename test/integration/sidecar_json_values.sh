#!/usr/bin/env bash
# sidecar_json_values.sh: json values and key order through every sink (cluster of PGHOST/PGPORT/PGUSER, as
# scripts/pg-cluster run provides; mosta-test-mongod, or MOSTA_TEST_MONGO_URI's server). A cdc rule copies
#   jv (id int PRIMARY KEY, j json, jb jsonb, ja jsonb[], big text): rows with SQL NULL, the JSON null, nested
#      nulls, arrays with SQL NULL and JSON-null elements, the JSON string "null", a scalar, json text with a line
#      break, and a row whose jsonb becomes SQL NULL while its large (TOASTed) big stays unchanged;
#   ba (a int, b text, v int, PRIMARY KEY (b, a)): a key declared out of column order;
# into a SQLite file, an SQL dump, a MongoDB database and a JSON archive, half of the rows by the initial copy and
# half streamed (updates turning SQL NULL into JSON null and back included). Then:
#   1. SQLite: per row, typeof() and the text of every json column equal the source's (JSON null: TEXT 'null';
#      SQL NULL: NULL; the json text exact, line break included; jsonb[] as the plugin's array text), and the
#      table's PRIMARY KEY is (b, a);
#   2. the dump replays into an empty database to the same rows (IS NULL and text per column), with PRIMARY KEY
#      (b, a);
#   3. MongoDB (pymongo): a json column's SQL NULL is no field (also after a partial update, $set of the columns
#      sent and $unset of the json column, when a TOASTed column is unchanged), the JSON null is BSON null, nested
#      values equal the source's JSON; ba's _id documents are {b, a} in that order;
#   4. the archive's begin lines say format_version 2 and the JSON null travels as the string "null";
#   5. verify: the SQLite target matches; on MongoDB only the rows whose jsonb[] holds a JSON-null element differ
#      (BSON has one null for both: docs/verification.md).
# --once returns only when everything committed before it started is applied: no sleeps. Prints
# "sidecar_json_values: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_json_values
require_cluster
require_sidecar
require_test_mongod
command -v sqlite3 >/dev/null || fail_setup "sqlite3 (the command-line shell) is not installed"
require_pymongo

use_database mosta_sidecar_json_values_$$
replayed=mosta_sidecar_json_values_replay_$$
server=
cleanup_extra() {
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	dropdb --if-exists "$replayed" >/dev/null 2>&1
}
start_mongo_target jsondb # mosta-test-mongod, or MOSTA_TEST_MONGO_URI's server (lib/tap.sh)

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE jv (id int PRIMARY KEY, j json, jb jsonb, ja jsonb[], big text);
CREATE TABLE ba (a int, b text, v int, PRIMARY KEY (b, a));
INSERT INTO jv VALUES
	(1, NULL, NULL, NULL),
	(2, 'null', 'null', ARRAY['null'::jsonb]),
	(3, E'{"a": null,\n "b": [null, 1]}', '{"a": null, "b": [null, {"c": null}]}',
	    ARRAY[NULL, 'null', '{"k": null}', '[null, 2]']::jsonb[]),
	(4, '"null"', '"null"', '{}');
INSERT INTO jv SELECT 8, '{"x": 1}', '{"x": 1}', NULL, string_agg(md5(i::text), '') FROM generate_series(1, 400) i;
INSERT INTO ba VALUES (1, 'x', 10), (2, 'x', 20);
CREATE EXTENSION mostajs;
SQL

uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/app.db" -v dump="$work/app.sql" -v archive="$work/archive" \
	-v mongo="$mongo_uri" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_replica('app', 'archive', 'slave', 'jsonl', :'archive');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['jv', 'ba']);
SQL

run_once copy
psql_db <<'SQL' || not_ok "streamed changes"
INSERT INTO jv VALUES
	(5, ' 5 ', 'true', ARRAY['"x\"y"', '1.5']::jsonb[]),
	(6, 'null', 'null', ARRAY[NULL, 'null']::jsonb[]),
	(7, NULL, NULL, NULL);
UPDATE jv SET jb = 'null', j = E'[1,\n null]' WHERE id = 1; -- SQL NULL → JSON values
UPDATE jv SET jb = NULL WHERE id = 2;                      -- JSON null → SQL NULL
UPDATE jv SET jb = NULL, j = NULL WHERE id = 8;            -- big is unchanged TOAST: a partial update
INSERT INTO ba VALUES (3, 'y', 30);
UPDATE ba SET v = 11 WHERE a = 1;
SQL
run_once stream

# 1. SQLite: the storage class and text of each value, as the source's would be stored
source_rows() {
	psql -X -At -d "$1" -c "SELECT id, CASE WHEN j IS NULL THEN 'null' ELSE 'text' END, coalesce(j::text, '-'),
		CASE WHEN jb IS NULL THEN 'null' ELSE 'text' END, coalesce(jb::text, '-'),
		CASE WHEN ja IS NULL THEN 'null' ELSE 'text' END, coalesce(mosta.canonical_text(ja), '-') FROM jv ORDER BY id"
}
source_rows "$db" >"$work/source.txt"
sqlite3 "$work/app.db" "SELECT id, typeof(j), ifnull(j, '-'), typeof(jb), ifnull(jb, '-'), typeof(ja), ifnull(ja, '-')
	FROM \"public.jv\" ORDER BY id" >"$work/sqlite.txt" 2>&1
if [ "$(grep -c . "$work/source.txt")" -ge 8 ] && diff "$work/source.txt" "$work/sqlite.txt" >"$work/sqlite.diff"; then
	ok "SQLite: every json value has the source's storage class and text (JSON null TEXT, SQL NULL NULL)"
else
	not_ok "SQLite: every json value has the source's storage class and text"
	cat "$work/sqlite.diff" >&2
fi
if [ "$(sqlite3 "$work/app.db" "SELECT typeof(jb), jb, j IS NULL FROM \"public.jv\" WHERE id = 2")" = "null||0" ] &&
	[ "$(sqlite3 "$work/app.db" "SELECT typeof(jb), jb FROM \"public.jv\" WHERE id = 1")" = "text|null" ]; then
	ok "SQLite: updates turn SQL NULL into the JSON null and back"
else
	not_ok "SQLite: updates turn SQL NULL into the JSON null and back"
fi
key=$(sqlite3 "$work/app.db" "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('public.ba') WHERE pk > 0 ORDER BY pk)")
if [ "$key" = "b,a" ]; then ok "SQLite: PRIMARY KEY (b, a) keeps its order"; else not_ok "SQLite: PRIMARY KEY (b, a) keeps its order (got $key)"; fi

# 2. the dump replays to the same rows and key
createdb "$replayed" || not_ok "createdb $replayed"
if PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$replayed" -f "$work/app.sql" >"$work/replay.log" 2>&1; then
	ok "the dump replays into an empty database"
else
	not_ok "the dump replays into an empty database"
	tail -5 "$work/replay.log" >&2
fi
psql -X -q -d "$replayed" -c "CREATE EXTENSION mostajs" >/dev/null 2>&1
if source_rows "$replayed" >"$work/replayed.txt" 2>&1 && diff "$work/source.txt" "$work/replayed.txt" >"$work/replay.diff"; then
	ok "dump: every json value replays equal, JSON null apart from SQL NULL"
else
	not_ok "dump: every json value replays equal"
	cat "$work/replay.diff" >&2
fi
pk_of() {
	psql -X -At -d "$1" -c "SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = 'ba'::regclass AND i.indisprimary"
}
key=$(pk_of "$replayed")
if [ "$key" = "b,a" ]; then ok "dump: PRIMARY KEY (b, a) keeps its order"; else not_ok "dump: PRIMARY KEY (b, a) keeps its order (got $key)"; fi

# 3. MongoDB through pymongo, against the source's JSON
psql -X -At -d "$db" -c "SELECT json_build_object('id', id, 'j', j::text, 'jb', jb::text,
	'ja', (SELECT json_agg(e::text ORDER BY n) FROM unnest(ja) WITH ORDINALITY u(e, n)), 'ja_null', ja IS NULL)
	FROM jv ORDER BY id" >"$work/source.jsonl"
cat >"$work/mongo_check.py" <<'PY'
import json, sys
import pymongo
uri, source = sys.argv[1], sys.argv[2]
database = pymongo.MongoClient(uri).get_default_database()
docs = {d["_id"]: d for d in database["jv"].find({})}
problems = []
for line in open(source):
    row = json.loads(line)
    doc = docs.get(row["id"])
    if doc is None:
        problems.append("no document for id %d" % row["id"])
        continue
    for column in ("j", "jb"):
        if row[column] is None:
            if column in doc:
                problems.append("id %d: %s is SQL NULL but the field is there (%r)" % (row["id"], column, doc[column]))
        elif column not in doc or doc[column] != json.loads(row[column]):
            problems.append("id %d: %s is %r, want %s" % (row["id"], column, doc.get(column, "(no field)"), row[column]))
    want = None if row["ja_null"] else [None if e is None else json.loads(e) for e in (row["ja"] or [])]
    if doc.get("ja", "(no field)") != want:
        problems.append("id %d: ja is %r, want %r" % (row["id"], doc.get("ja", "(no field)"), want))
if len(docs) != sum(1 for _ in open(source)):
    problems.append("%d documents for the source's rows" % len(docs))
for doc in database["ba"].find({}):
    if list(doc["_id"].keys()) != ["b", "a"]:
        problems.append("ba _id %r is not {b, a}" % (doc["_id"],))
print("\n".join(problems) or "ok")
sys.exit(1 if problems else 0)
PY
# streamed in format version 3: the update's values by position (id, j, jb, ja, big), big's position unchanged
partial=$(grep -c '"new":\[8,null,null,null,null\],"unchanged":\[4\]' "$work/archive"/*.jsonl | awk -F: '{s += $NF} END {print s + 0}')
if [ "$partial" -eq 1 ]; then ok "the update of row 8 left big unchanged (a partial update)"; else not_ok "the update of row 8 left big unchanged (got $partial)"; fi
if "$python" "$work/mongo_check.py" "$mongo_uri" "$work/source.jsonl" >"$work/mongo.out" 2>&1; then
	ok "MongoDB: SQL NULL json columns have no field, JSON nulls are BSON null, values equal the source's"
else
	not_ok "MongoDB: json values"
	cat "$work/mongo.out" >&2
fi
ids=$("$python" -c 'import sys, pymongo; print(",".join("%s%s" % (list(d["_id"].keys()), "") for d in pymongo.MongoClient(sys.argv[1]).get_default_database()["ba"].find({})))' "$mongo_uri" 2>&1)
if [ -n "$ids" ] && ! grep -q "'a', 'b'" <<<"$ids"; then ok "MongoDB: composite _id in key order {b, a}"; else not_ok "MongoDB: composite _id in key order {b, a} ($ids)"; fi

# 4. the archive
# the copy's transaction is in format version 2 (its documents describe themselves), streamed ones in 3
if grep -q '^{"op":"begin","format_version":2,' "$work/archive"/*.jsonl &&
	grep -q '^{"op":"begin","format_version":3,' "$work/archive"/*.jsonl &&
	! grep '^{"op":"begin"' "$work/archive"/*.jsonl | grep -vq '"format_version":[23],' &&
	grep -q '"new":{"id":2,"j":"null","jb":"null","ja":\["null"\],"big":null}' "$work/archive"/*.jsonl &&
	grep -q '"new":\[6,"null","null",\[null,"null"\],null\]' "$work/archive"/*.jsonl; then
	ok "archive: begin lines say format_version 2 (copy) or 3 (streamed); the JSON null is the string \"null\""
else
	not_ok "archive: begin lines say format_version 2 (copy) or 3 (streamed); the JSON null is the string \"null\""
	head -5 "$work/archive"/*.jsonl >&2
fi

# 5. verify
PGDATABASE=$db "$BINARY" verify r1 >"$work/verify.out" 2>"$work/verify.err"
sed 's/^/    /' "$work/verify.out" "$work/verify.err"
sqlite_part=$(sed -n '/^target app\/lite/,/^target /p' "$work/verify.out")
mongo_part=$(sed -n '/^target app\/mongo/,/^target \|^verify:/p' "$work/verify.out")
if grep -Eq '^  public.jv +8 +8 .* match$' <<<"$sqlite_part" && grep -Eq '^  public.ba +3 +3 .* match$' <<<"$sqlite_part"; then
	ok "verify: the SQLite target matches"
else
	not_ok "verify: the SQLite target matches"
fi
if grep -Eq '^  public.ba +3 +3 .* match$' <<<"$mongo_part" &&
	[ "$(grep -E '^    different: ' <<<"$mongo_part" | awk '{print $2}' | sort | tr '\n' ' ')" = "2 3 6 " ]; then
	ok "verify: on MongoDB only the rows with a JSON-null jsonb[] element differ"
else
	not_ok "verify: on MongoDB only the rows with a JSON-null jsonb[] element differ"
fi

finish
