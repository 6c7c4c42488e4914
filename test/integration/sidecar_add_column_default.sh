#!/usr/bin/env bash
# sidecar_add_column_default.sh: ALTER TABLE ... ADD COLUMN ... DEFAULT leaves every target's existing rows equal to
# the source's (issue 10 item 3), on the cluster of PGHOST/PGPORT/PGUSER (scripts/pg-cluster run).
#
# One cdc rule over table t (5 rows) into a SQLite file, an SQL dump and a MongoDB database (mosta-test-mongod, or
# the real mongod of MOSTA_TEST_MONGO_URI), run with "mosta-sidecar --once" after each step:
#   1. ADD COLUMN c int DEFAULT 42 (a constant) and ADD COLUMN at timestamptz DEFAULT date_trunc('milliseconds',
#      now()) (an expression, evaluated once: PostgreSQL's fast default; milliseconds, which a BSON date holds
#      exactly), then a new row with its own values: SQLite holds the source's
#      rows exactly (old rows 42 and the source's timestamp, the new row its own), MongoDB's old documents have
#      c = 42 and an "at", no re-copy happened;
#   2. ALTER COLUMN c SET DEFAULT 7 (no effect on existing rows) and ADD COLUMN plain int (no default): the
#      targets' rows do not change (c still 42, plain NULL);
#   3. ADD COLUMN r float8 DEFAULT random() (volatile: the source rewrites the table, each row gets its own value,
#      which no change carries): the sidecar re-copies loudly (a WARNING in its log, a mosta.activity row
#      "resnapshot", target_status.resnapshots = 1 for each target) and every target then holds each row's own r;
#   4. mosta-sidecar verify r1 exits 0 (SQLite and MongoDB), and the dump replayed into an empty database holds
#      the source's rows;
#   5. the daemon (not --once): another volatile default re-copies, each row gets its own value in SQLite, and
#      streaming goes on from the new copy (a row inserted afterwards arrives).
# Every file target lives under $work. Prints "sidecar_add_column_default: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_add_column_default
require_cluster
require_sidecar
require_test_mongod
command -v sqlite3 >/dev/null || fail_setup "the sqlite3 CLI is not installed (scripts/install-deps installs it)"
require_pymongo

use_database mosta_add_column_default_$$
replayed=${db}_replay
server=
cleanup_extra() {
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	dropdb --if-exists "$replayed" >/dev/null 2>&1
}
export PGTZ=UTC
start_mongo_target addcol

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 5) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v w="$work" -v mongo="$mongo_uri" <<'SQL' || { not_ok "catalog"; finish; }
SET client_min_messages = warning;
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'w' || '/t.db');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'w' || '/t.sql');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['t']);
SQL

# source_rows COLUMNS / lite_rows COLUMNS: t's rows, sorted, '|'-separated, NULL as <null>; timestamps as the
# stream writes them (ISO 8601 in UTC). Floats are compared exactly, as their shortest round-trip text: the
# source's float8 text (extra_float_digits 1) and Python's repr() of what SQLite or MongoDB hold (lite_floats).
source_rows() { psql -X -At -F '|' -P null='<null>' -d "$db" -c "SELECT $1 FROM t" 2>&1 | LC_ALL=C sort; }
lite_rows() { sqlite3 -batch -noheader -separator '|' -nullvalue '<null>' -cmd '.timeout 5000' "$work/t.db" "SELECT $1 FROM \"public.t\"" 2>&1 | LC_ALL=C sort; }
# lite_floats COLUMN: "id|value" per row of the SQLite table, the float as Python's repr() (shortest round-trip).
lite_floats() {
	"$python" - "$work/t.db" "$1" <<'PY' | LC_ALL=C sort
import sqlite3, sys
for row_id, value in sqlite3.connect(sys.argv[1]).execute('SELECT id, "%s" FROM "public.t"' % sys.argv[2]):
    print("%s|%s" % (row_id, "<null>" if value is None else repr(value)))
PY
}
# same LABEL SOURCE_COLUMNS SQLITE_COLUMNS: one result, SQLite's rows against the source's.
same() {
	local source target
	source=$(source_rows "$2")
	target=$(lite_rows "$3")
	if [ -n "$source" ] && [ "$source" = "$target" ]; then ok "$1"; else not_ok "$1: source $(head -c 300 <<<"$source") / sqlite $(head -c 300 <<<"$target")"; fi
}
# mongo_fields FIELD...: "id|field|..." per document of t (sorted); a missing field is <missing>, floats as repr().
mongo_fields() {
	"$python" - "$mongo_uri" "$@" <<'PY' | LC_ALL=C sort
import sys, pymongo, datetime
db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000).get_default_database()
for doc in db.t.find({}):
    out = [str(doc["_id"])]
    for field in sys.argv[2:]:
        if field not in doc:
            out.append("<missing>")
        elif isinstance(doc[field], float):
            out.append(repr(doc[field]))
        elif isinstance(doc[field], datetime.datetime):
            out.append("date")
        elif doc[field] is None:
            out.append("<null>")
        else:
            out.append(str(doc[field]))
    print("|".join(out))
PY
}
same_mongo() {
	local source target
	source=$(source_rows "$2")
	target=$(mongo_fields "${@:3}")
	if [ -n "$source" ] && [ "$source" = "$target" ]; then ok "$1"; else not_ok "$1: source $(head -c 300 <<<"$source") / mongodb $(head -c 300 <<<"$target")"; fi
}
resnapshots() { scalar "SELECT string_agg(replica || '=' || resnapshots, ' ' ORDER BY replica) FROM mosta.target_status WHERE rule = 'r1'"; }

run_once copy
same "the copy" "id, v" "id, v"

# 1. A constant and an expression default (fast defaults): the old rows get the source's values.
psql_db <<'SQL' || not_ok "add columns with defaults"
ALTER TABLE t ADD COLUMN c int DEFAULT 42, ADD COLUMN at timestamptz DEFAULT date_trunc('milliseconds', now());
INSERT INTO t VALUES (6, 'row 6', 1, '2020-01-01 00:00+00');
SQL
run_once fill
same "SQLite: old rows hold the constant default and the expression's value, the new row its own" \
	"id, v, c, to_json(at) #>> '{}'" "id, v, c, at"
same_mongo "MongoDB: old documents hold the constant default and a date" \
	"id, c, CASE WHEN at IS NULL THEN '<null>' ELSE 'date' END" c at
if [ "$(resnapshots)" = "dump=0 lite=0 mongo=0" ]; then ok "no re-copy for a fast default"; else not_ok "re-copies: $(resnapshots)"; fi

# 2. SET DEFAULT changes no row; a column without default stays NULL.
psql_db -c "ALTER TABLE t ALTER COLUMN c SET DEFAULT 7; ALTER TABLE t ADD COLUMN plain int" || not_ok "set default"
run_once set_default
same "SQLite: SET DEFAULT changes no row, a column without default is NULL" "id, c, plain" "id, c, plain"
same_mongo "MongoDB: SET DEFAULT changes no document" "id, c" c

# 3. A volatile default: the table is rewritten, each row gets its own value; the targets are copied again.
before=$(scalar "SELECT count(*) FROM mosta.activity WHERE action = 'resnapshot'")
psql_db -c "ALTER TABLE t ADD COLUMN r float8 DEFAULT random()" || not_ok "add a volatile default"
run_once volatile
source=$(source_rows "id, r::text")
target=$(lite_floats r)
if [ -n "$source" ] && [ "$source" = "$target" ]; then ok "SQLite: each row holds its own volatile default after the re-copy"; else
	not_ok "SQLite: each row holds its own volatile default after the re-copy: source $source / sqlite $target"; fi
same_mongo "MongoDB: each document holds its own volatile default after the re-copy" "id, r::text" r
if grep -q 'WARNING: .*rewritten.*taking a new initial copy' "$work/log.volatile"; then ok "the re-copy is logged as a WARNING"; else not_ok "no WARNING logged for the re-copy"; fi
after=$(scalar "SELECT count(*) FROM mosta.activity WHERE action = 'resnapshot'")
if [ "$after" -ge $((before + 3)) ]; then ok "a mosta.activity row per target ($before -> $after)"; else not_ok "mosta.activity resnapshot rows: $before -> $after"; fi
if [ "$(resnapshots)" = "dump=1 lite=1 mongo=1" ]; then ok "resnapshots = 1 for each target"; else not_ok "resnapshots: $(resnapshots)"; fi

# 4. verify, and the dump replayed into an empty database.
psql_db -c "INSERT INTO t (id, v) VALUES (7, 'after')" || not_ok "insert after"
run_once after
if PGDATABASE=$db "$BINARY" verify r1 >"$work/verify.out" 2>&1; then ok "verify r1 exits 0"; else not_ok "verify r1"; cat "$work/verify.out" >&2; fi
query="SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, v, c, at, plain, r), ' ' ORDER BY id) FROM public.t"
dropdb --if-exists "$replayed" >/dev/null 2>&1
if createdb "$replayed" && PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$replayed" -f "$work/t.sql" >"$work/replay.out" 2>&1 &&
	[ "$(psql -X -At -d "$replayed" -c "$query")" = "$(psql -X -At -d "$db" -c "$query")" ]; then
	ok "the dump replays into an empty database to the source's rows"
else
	not_ok "the replayed dump differs"
	cat "$work/replay.out" >&2
	psql -X -At -d "$replayed" -c "$query" >&2
fi

# 5. The daemon (not --once): a volatile default re-copies, then streaming goes on from the new copy.
PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!
psql_db -c "ALTER TABLE t ADD COLUMN r2 float8 DEFAULT random()" || not_ok "add a second volatile default"
r2_equal() { [ "$(source_rows "id, r2::text")" = "$(lite_floats r2)" ]; }
if poll_until 30 r2_equal; then ok "daemon: the re-copy gives every row its own volatile default"; else not_ok "daemon: r2 differs"; tail -20 "$work/log.daemon" >&2; fi
psql_db -c "INSERT INTO t (id, v) VALUES (8, 'streamed after the re-copy')" || not_ok "insert after the re-copy"
row_8() { [ "$(lite_rows "v" | grep -c '^streamed after the re-copy$')" = 1 ]; }
if poll_until 30 row_8; then ok "daemon: streaming goes on after the re-copy"; else not_ok "daemon: row 8 not streamed"; tail -20 "$work/log.daemon" >&2; fi
if [ "$(resnapshots)" = "dump=2 lite=2 mongo=2" ]; then ok "resnapshots = 2 for each target"; else not_ok "resnapshots: $(resnapshots)"; fi
stop_daemon "daemon: SIGTERM, exit 0"

finish
