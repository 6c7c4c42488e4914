#!/usr/bin/env bash
# sidecar_e2e.sh: mosta-sidecar end to end against the cluster of PGHOST/PGPORT/PGUSER (scripts/pg-cluster run).
# Declares project 'app' (its postgres master, a sqlite slave, a sqldump slave) and a cdc rule r1 on '*'; runs
# "mosta-sidecar --once" (initial copy under the slot's snapshot, then the stream up to a heartbeat), makes more
# changes (inserts, updates incl. a key change and an unchanged TOAST column, deletes, a 10,000-row transaction,
# a TRUNCATE), runs "--once" again, then checks: the SQLite file equals the source row by row (types as
# sidecar/src/sink/sqlite_table.hpp maps them), the SQL dump replayed into a fresh database equals the source
# (EXCEPT both ways), the catalog status, and that a rule with a postgres target outside its source project is
# reported as a rule error (MongoDB targets run: test/integration/sidecar_mongo.sh).
# No sleeps: --once returns only when everything committed before it started is applied and confirmed.
# Prints "sidecar_e2e: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_e2e
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work, psql_db, run_once and the exit trap, which runs cleanup_extra (the replay
# database) and drops the slots, $db and $work
use_database mosta_sidecar_e2e_$$
replay=${db}_replay
cleanup_extra() { dropdb --if-exists "$replay" >/dev/null 2>&1; }
export PGTZ=UTC

# The source schema: several types, a toasted column, names needing quotes, a second schema.
psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE items (
	id int PRIMARY KEY, name text, price numeric(10,2), qty bigint, ratio float8, active boolean,
	data jsonb, tags text[], blob bytea, created timestamptz, big text);
CREATE TABLE "Order Lines" (order_id int, line int, note text, PRIMARY KEY (order_id, line));
CREATE SCHEMA s2;
CREATE TABLE s2.events (id bigint PRIMARY KEY, payload text);
INSERT INTO items
SELECT i, 'item ' || i || CASE WHEN i % 7 = 0 THEN ' "quoted" é' ELSE '' END, i * 1.25, i::bigint * 1000000000,
       i / 8.0 + 0.125, i % 2 = 0, jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)),
       ARRAY['t' || i, 'x y'], decode(md5(i::text), 'hex'), timestamptz '2024-05-01 10:30:00.5+00' + i * interval '1 hour',
       CASE WHEN i % 10 = 0 THEN (SELECT string_agg(md5(i::text || g::text), '') FROM generate_series(1, 400) g) END
  FROM generate_series(1, 300) i;
INSERT INTO "Order Lines" SELECT o, l, 'note ' || o || '/' || l FROM generate_series(1, 20) o, generate_series(1, 3) l;
INSERT INTO s2.events SELECT i, 'event ' || i FROM generate_series(1, 100) i;
CREATE EXTENSION mostajs;
SQL

uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/app.db" -v dump="$work/app.sql" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
-- a wide lag tolerance: the routing check below must not depend on this machine's speed
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite', lag_tolerance_ms => 600000);
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SELECT mosta_add_replica('docs', 'pg', 'master', 'postgres', 'postgresql://127.0.0.1:1/docs');
SELECT mosta_add_rule('r2', 'app', 'docs', 'cdc', ARRAY['items']);
SELECT mosta_add_replica('sub', 'lines', 'slave', 'sqlite', :'lite' || '.lines');
SELECT mosta_add_rule('r3', 'app', 'sub', 'cdc', ARRAY['"Order Lines"']);
SQL

run_once first
if [ -s "$work/app.db" ]; then ok "sqlite file created"; else not_ok "sqlite file created"; fi

# Changes after the initial copy.
psql_db <<'SQL' || not_ok "changes"
INSERT INTO items (id, name, price, qty, ratio, active, data, tags, blob, created)
VALUES (1001, 'new', 9.99, -5, -0.5, true, '{"n": null}', '{}', '\x00', '2000-01-01T00:00:00Z');
UPDATE items SET name = 'renamed ' || id, price = price + 0.01 WHERE id % 10 = 0;   -- big stays unchanged (TOAST)
UPDATE items SET id = id + 5000 WHERE id BETWEEN 11 AND 15;                         -- key change
UPDATE "Order Lines" SET line = line + 10 WHERE order_id = 3;                       -- composite key change
DELETE FROM items WHERE id BETWEEN 100 AND 120;
DELETE FROM "Order Lines" WHERE order_id = 4;
BEGIN;
INSERT INTO s2.events SELECT i, repeat('p', i % 50) FROM generate_series(1000, 10999) i;
COMMIT;
TRUNCATE "Order Lines";
INSERT INTO "Order Lines" VALUES (99, 1, 'after truncate');
SQL
# a second replication consumer position cannot be faked: this really streams from the slot
run_once second --source "$uri password=s3cret"

if grep -q 's3cret' "$work/log.first" "$work/log.second"; then not_ok "logs mask credentials"; else ok "logs mask credentials"; fi

# SQLite equals the source, row by row. Each column has a kind: how the sink stores it and how psql prints it.
python3 - "$work/app.db" "$db" <<'PY' && ok "sqlite equals source row by row" || not_ok "sqlite equals source row by row"
import json, sqlite3, subprocess, sys
path, db = sys.argv[1], sys.argv[2]
tables = {
    ("public", "items", "id"): [("id", "plain"), ("name", "plain"), ("price", "text"), ("qty", "plain"),
        ("ratio", "float"), ("active", "bool"), ("data", "json"), ("tags", "json"), ("blob", "bytea"),
        ("created", "plain"), ("big", "plain")],
    ("public", "Order Lines", "order_id, line"): [("order_id", "plain"), ("line", "plain"), ("note", "plain")],
    ("s2", "events", "id"): [("id", "plain"), ("payload", "plain")],
}
def qi(name): return '"' + name.replace('"', '""') + '"'
lite = sqlite3.connect(path)
bad = 0
for (schema, table, order), cols in tables.items():
    exprs = []
    for name, kind in cols:
        col = qi(name)
        exprs.append({"plain": f"to_json({col})", "text": f"to_json({col}::text)", "float": f"to_json({col})",
                      "bool": f"to_json({col}::int)", "json": f"to_json({col})", "bytea": f"to_json({col}::text)"}[kind])
    sql = f"SELECT json_build_array({', '.join(exprs)}) FROM {qi(schema)}.{qi(table)} ORDER BY {order}"
    out = subprocess.run(["psql", "-X", "-At", "-d", db, "-c", sql], check=True, capture_output=True, text=True).stdout
    source = [json.loads(line) for line in out.splitlines()]
    rows = lite.execute(f"SELECT {', '.join(qi(n) for n, _ in cols)} FROM {qi(schema + '.' + table)} ORDER BY {order}").fetchall()
    target = []
    for row in rows:
        values = []
        for (name, kind), value in zip(cols, row):
            if value is not None and kind == "json": value = json.loads(value)
            if value is not None and kind == "bytea": value = "\\x" + bytes(value).hex()
            values.append(value)
        target.append(values)
    for row in source:
        for i, (name, kind) in enumerate(cols):
            if kind == "float" and row[i] is not None: row[i] = float(row[i])
    if source != target:
        bad += 1
        print(f"{schema}.{table}: source {len(source)} rows, sqlite {len(target)} rows", file=sys.stderr)
        for s, t in zip(source, target):
            if s != t:
                print(f"  first difference: source {s!r}\n                    sqlite {t!r}", file=sys.stderr)
                break
    else:
        print(f"  {schema}.{table}: {len(source)} rows equal")
sys.exit(1 if bad else 0)
PY

# Rule r3 names one collection: its target holds that table only, with the source's rows.
lines=$(psql_db -At -c 'SELECT count(*) FROM "Order Lines"')
r3=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = ? AND name <> ? ORDER BY 1", ("table", "_mosta_checkpoint"))]
print(",".join(names), db.execute("SELECT count(*) FROM \"public.Order Lines\"").fetchone()[0])' "$work/app.db.lines" 2>&1)
if [ "$r3" = "public.Order Lines $lines" ]; then ok "rule r3 (one collection) replicates only it: $r3"; else not_ok "rule r3: '$r3' (source $lines rows)"; fi

# The SQL dump, replayed into a fresh database, equals the source (EXCEPT both ways, in the replay database).
createdb "$replay"
if psql -X -q -v ON_ERROR_STOP=1 -d "$replay" -f "$work/app.sql" >"$work/replay.log" 2>&1; then
	ok "sql dump replays with psql"
else
	not_ok "sql dump replays with psql"
	tail -5 "$work/replay.log" >&2
fi
for table in public.items 'public."Order Lines"' s2.events; do
	psql -X -q -v ON_ERROR_STOP=1 -d "$replay" -c "CREATE SCHEMA IF NOT EXISTS src; CREATE TABLE src.t_$((passed + failed)) (LIKE $table)" >/dev/null 2>&1
	copy=src.t_$((passed + failed))
	psql -X -q -d "$db" -c "COPY $table TO STDOUT" | psql -X -q -d "$replay" -c "COPY $copy FROM STDIN"
	diff=$(psql -X -At -d "$replay" -c "SELECT (SELECT count(*) FROM (SELECT * FROM $table EXCEPT ALL SELECT * FROM $copy) a) + (SELECT count(*) FROM (SELECT * FROM $copy EXCEPT ALL SELECT * FROM $table) b) || ' ' || (SELECT count(*) FROM $copy)" 2>&1)
	case $diff in
	"0 "[1-9]*) ok "dump replay equals source: $table (${diff#0 } rows)" ;;
	*) not_ok "dump replay equals source: $table ($diff)" ;;
	esac
done

# SIGTERM: the daemon (no --once) streams, a change arrives, SIGTERM -> flush, confirm, exit 0.
PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!
# the target is a position inside the transaction: the sidecar confirms the end
# of each transaction it applied, and WAL written after ours by others (its own
# status updates, which carry no change for it) need not be confirmed yet
target=$(psql_db -At -c "BEGIN" -c "INSERT INTO s2.events VALUES (20000, 'while running')" \
	-c "SELECT pg_current_wal_insert_lsn()" -c "COMMIT" | grep '/')
deadline=$((SECONDS + 30))
until [ "$(psql_db -At -c "SELECT confirmed_lsn >= '$target' FROM mosta.rule_stats WHERE rule = 'r1'")" = t ]; do
	[ $SECONDS -lt $deadline ] && kill -0 $daemon 2>/dev/null || break
	sleep 0.1 # polling the catalog, bounded by the deadline
done
caught_up=$(psql_db -At -c "SELECT confirmed_lsn >= '$target' FROM mosta.rule_stats WHERE rule = 'r1'")
# lag_ms: how stale a target may be (0 when the stream was idle and flushed); it makes the SQLite slave
# eligible for reads while the daemon runs (mosta_read_replica never picks a replica whose lag is unknown)
routed_to_lite() { [ "$(psql_db -At -c "SELECT mosta_read_replica('app')")" = lite ]; }
if poll_until 30 routed_to_lite; then ok "reads are routed to the SQLite slave the sidecar keeps fresh"; else not_ok "reads routed to '$(psql_db -At -c "SELECT mosta_read_replica('app')")', expected lite"; fi
lags=$(psql_db -At -c "SELECT string_agg(replica || ':' || (lag_ms >= 0), ' ' ORDER BY replica) FROM mosta.replica_status")
if [ "$lags" = "dump:true lines:true lite:true" ]; then ok "lag_ms reported while running: $lags"; else not_ok "lag_ms reported while running: '$lags'"; fi
kill -TERM $daemon
if wait $daemon && [ "$caught_up" = t ]; then ok "daemon applies while running and exits 0 on SIGTERM"; else not_ok "daemon applies while running ($caught_up) and exits 0 on SIGTERM"; cat "$work/log.daemon" >&2; fi
daemon=
grep -q 'signal 15: stopping' "$work/log.daemon" && ok "SIGTERM logged" || not_ok "SIGTERM logged"

# Status in the catalog, after the clean stop: stopped, the replicas down with their lag unknown (item 6 of
# issue 10: a stopped daemon does not look healthy; sidecar_stop.sh covers it in detail).
status=$(psql_db -At -c "SELECT status, changes_applied > 0, transactions > 0, snapshot_rows, confirmed_lsn IS NOT NULL FROM mosta.rule_stats WHERE rule = 'r1'")
case $status in
stopped\|t\|t\|460\|t) ok "rule_stats r1: $status" ;;
*) not_ok "rule_stats r1: '$status'" ;;
esac
replicas=$(psql_db -At -c "SELECT string_agg(replica || ':' || status || ':' || (applied_lsn IS NOT NULL) || ':' || (lag_bytes IS NULL AND lag_ms IS NULL), ' ' ORDER BY replica) FROM mosta.replica_status")
if [ "$replicas" = "dump:down:true:true lines:down:true:true lite:down:true:true" ]; then ok "replica_status: $replicas"; else not_ok "replica_status: '$replicas'"; fi
reader=$(psql_db -At -c "SELECT mosta_read_replica('app')")
if [ "$reader" = master ]; then ok "reads go to the master once the sidecar is stopped"; else not_ok "reads routed to '$reader' after the stop, expected master"; fi
r2=$(psql_db -At -c "SELECT status || ': ' || last_error FROM mosta.rule_stats WHERE rule = 'r2'")
case $r2 in
error:*postgres*) ok "rule r2 (postgres target of another project) reported as a rule error" ;;
*) not_ok "rule r2 (postgres target of another project) reported as a rule error: '$r2'" ;;
esac
flush=$(psql_db -At -c "SELECT count(*) || ' ' || bool_and(s.confirmed_flush_lsn >= t.applied_lsn) FROM mosta.target_status t JOIN pg_replication_slots s ON s.slot_name = t.slot WHERE t.rule = 'r1'")
if [ "$flush" = "2 true" ]; then ok "each of rule r1's 2 slots confirmed up to its sink's checkpoint"; else not_ok "rule r1's slots confirmed up to their sinks' checkpoints ('$flush', expected '2 true')"; fi

finish
