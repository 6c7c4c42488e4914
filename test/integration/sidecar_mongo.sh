#!/usr/bin/env bash
# sidecar_mongo.sh: mosta-sidecar into a MongoDB target (docs/mongodb.md), against the in-memory MongoDB-wire test
# server mosta-test-mongod (cluster of PGHOST/PGPORT/PGUSER, as scripts/pg-cluster run provides). Starts the test
# server on a free port; a keyed table of int/bigint/text/numeric(12,2)/boolean/timestamptz/jsonb/uuid columns and a
# composite-key table with seed rows; a cdc rule on '*' into mongodb://127.0.0.1:PORT/testdb; the daemon in the
# background. Then:
#   1. the initial copy arrives (documents counted with pymongo);
#   2. a workload in the background (small transactions of inserts, updates, deletes and key changes of the
#      composite key, one transaction of 20,000 rows) while the daemon is killed with SIGKILL at random points
#      (past a random number of applied changes) and restarted, at least 5 times; "mosta-sidecar --once" ends it,
#      then every source row has exactly one document, equal field by field under the mapping of docs/mongodb.md
#      (numeric → Decimal128, timestamptz → date in ms, uuid → binary subtype 4, jsonb → embedded, SQL NULL of jsonb
#      → no field), no document
#      more, and _mosta_checkpoints holds the slot's checkpoint, equal to the slot's confirmed_flush_lsn;
#   3. an outage: with the daemon running, the test server stops (SIGTERM); changes made meanwhile put the target
#      in error (mosta_rule_targets()); the server restarts on the same port, empty; the daemon retries, finds no
#      checkpoint, drops the slot, takes a new initial copy and ends equal to the source, with later changes too;
#      then the same with a server that restarts at once, before the daemon writes (it sees no outage: its next
#      checkpoint write finds the previous checkpoint gone), and with the database dropped under the daemon;
#   4. SIGTERM: exit 0.
# Every wait polls with a deadline. The binaries: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default
# build/sidecar/mosta-sidecar; MOSTA_TEST_MONGOD_BIN, default build/test/support/mosta-test-mongod. pymongo is
# Debian's python3-pymongo (/usr/bin/python3).
# Prints "sidecar_mongo: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_mongo
require_cluster
require_sidecar
require_test_mongod
require_pymongo
KILLS=${MOSTA_MONGO_KILLS:-6}

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap, which kills the daemon,
# runs cleanup_extra (the workload, the test server) and drops the slots, $db and $work
use_database mosta_sidecar_mongo_$$
workload=
server=
cleanup_extra() {
	[ -n "$workload" ] && kill "$workload" 2>/dev/null && wait "$workload" 2>/dev/null
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" >/dev/null 2>&1
}
export PGTZ=UTC

# start_server [PORT]: the test server in the background (PORT, else a free one); sets $server and $port.
# listening: the server printed its whole "listening on ADDRESS:PORT" line
listening() { grep -qs 'listening on .*:[0-9]' "$work/mongod.out" && [ -z "$(tail -c 1 "$work/mongod.out")" ]; }
server_gone() { ! kill -0 "$server" 2>/dev/null; }
start_server() {
	"$MONGOD_BINARY" --port "${1:-0}" >"$work/mongod.out" 2>>"$work/mongod.err" &
	server=$!
	if ! poll_until 20 listening; then
		not_ok "mosta-test-mongod starts on port ${1:-0}"
		cat "$work/mongod.err" >&2
		finish
	fi
	port=$(sed -n 's/.*listening on 127\.0\.0\.1://p' "$work/mongod.out" | head -1)
}
if [ -n "${MOSTA_TEST_MONGO_URI:-}" ]; then
	start_mongo_target testdb # a real mongod (lib/tap.sh): the outages below need our own server and are skipped
else
	start_server
	ok "mosta-test-mongod listens on port $port"
	mongo_uri="mongodb://127.0.0.1:$port/testdb"
fi

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE kv (id int PRIMARY KEY, i int, b bigint, t text, n numeric(12,2), f boolean, ts timestamptz, j jsonb,
                 u uuid);
CREATE TABLE pair (a int, b text, v int, PRIMARY KEY (a, b));
INSERT INTO kv SELECT g, g * 3, g::bigint * 10000000000, 'seed ' || g, g * 1.25, g % 2 = 0,
       timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '1 hour 1.5 ms',
       jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 3), 'deep', jsonb_build_object('x', g % 2 = 0)),
       md5(g::text)::uuid
  FROM generate_series(1, 2000) g;
INSERT INTO kv VALUES (0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL); -- every column NULL
INSERT INTO pair SELECT g, 'k' || (g % 7), g FROM generate_series(1, 500) g;
-- rounds of small transactions: inserts, updates, deletes on both tables, a key change on the composite one
CREATE PROCEDURE churn(first int, rounds int) LANGUAGE plpgsql AS $$
BEGIN
	FOR r IN first .. first + rounds - 1 LOOP
		INSERT INTO kv SELECT 100000 + r * 5 + g, r, -r::bigint, 'new ' || r, r * -0.01, NULL, now(),
		       jsonb_build_object('r', r, 'list', jsonb_build_array(r, 'x', null, true, 1.5)), gen_random_uuid()
		  FROM generate_series(0, 4) g;
		UPDATE kv SET b = b + 1, t = 'upd ' || r, n = n + 0.01, f = NOT coalesce(f, false),
		       ts = ts + interval '1 second', j = jsonb_set(coalesce(j, '{}'), '{upd}', to_jsonb(r))
		 WHERE id % 97 = r % 97 AND id > 0;
		DELETE FROM kv WHERE id = 100000 + (r - 1) * 5 + 2;
		INSERT INTO pair VALUES (1000 + r, 'n', r);
		UPDATE pair SET b = b || 'm' WHERE a = r; -- the key moves
		UPDATE pair SET v = v + 1 WHERE a = 1000 + r - 1;
		DELETE FROM pair WHERE a = 250 + r;
		COMMIT;
	END LOOP;
END $$;
CREATE EXTENSION mostajs;
SQL

uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v mongo="$mongo_uri" <<'SQL' 2>"$work/catalog.err" || { not_ok "catalog"; cat "$work/catalog.err" >&2; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

# compare.py URI DB SLOT [--checkpoint]: every source row has one document with equal fields, no document more;
# with --checkpoint, _mosta_checkpoints holds the target's checkpoint, equal to SLOT's confirmed_flush_lsn. Exits 0
# when all holds; prints one line per table (or per problem).
cat >"$work/compare.py" <<'PY'
import datetime, json, subprocess, sys, uuid
import pymongo
from bson.binary import Binary
from bson.decimal128 import Decimal128

uri, db, slot = sys.argv[1:4]
# the sink keys its checkpoint by the target's SlotName (app/catalog.hpp); SLOT is the rule's slot, shared by its targets
def slot_name(rule, project, replica):
    h = 2166136261
    for part in (rule, project, replica):
        for c in part.encode() + b"\0":
            h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return f"mosta_{rule}_{replica}_{h:08x}"
checkpoint_key = slot_name("r1", "app", "mongo")
want_checkpoint = "--checkpoint" in sys.argv[4:]
EPOCH = datetime.datetime(1970, 1, 1)

def source(sql):
    out = subprocess.run(["psql", "-X", "-At", "-d", db, "-c", sql], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]

def target_value(value):
    """A document's field as the source query prints it."""
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, datetime.datetime):
        return (value.replace(tzinfo=None) - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Binary):
        return str(uuid.UUID(bytes=bytes(value))) if value.subtype == 4 else ("binary subtype %d" % value.subtype)
    return value

tables = {
    # id int, i int, b bigint, t text, n numeric(12,2) as its text, f boolean, ts as UTC milliseconds (truncated),
    # j jsonb, u uuid as its text
    "kv": ("SELECT json_build_object('_id', id, 'id', id, 'i', i, 'b', b, 't', t, 'n', n::text, 'f', f, "
           "'ts', floor(extract(epoch FROM ts) * 1000)::bigint, 'j', j, 'u', u::text) FROM kv"),
    "pair": "SELECT json_build_object('_id', json_build_object('a', a, 'b', b), 'a', a, 'b', b, 'v', v) FROM pair",
}
try:
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000, uuidRepresentation="standard")
    mdb = client.get_default_database()
    bad = 0
    for table, sql in tables.items():
        rows = {json.dumps(r["_id"], sort_keys=True): r for r in source(sql)}
        for r in rows.values():
            if "j" in r and r["j"] is None:
                del r["j"]  # SQL NULL of a jsonb column is no field (docs/mongodb.md), apart from the JSON null
        docs, doubled = {}, 0
        for doc in mdb[table].find():
            key = json.dumps(doc["_id"], sort_keys=True)
            doubled += key in docs
            docs[key] = {k: target_value(v) for k, v in doc.items()}
        missing = [k for k in rows if k not in docs]
        extra = [k for k in docs if k not in rows]
        differ = [k for k in rows if k in docs and rows[k] != docs[k]]
        if missing or extra or differ or doubled:
            bad += 1
            print(f"{table}: {len(rows)} rows, {len(docs)} documents: {len(missing)} missing, {len(extra)} extra, "
                  f"{len(differ)} differing, {doubled} doubled")
            for k in missing[:2]: print(f"  missing {k}")
            for k in extra[:2]: print(f"  extra {k}: {docs[k]}")
            for k in differ[:2]: print(f"  differs {k}:\n    source {rows[k]}\n    target {docs[k]}")
        else:
            print(f"{table}: {len(rows)} rows, each equal to its one document")
    if want_checkpoint:
        point = mdb["_mosta_checkpoints"].find_one({"_id": checkpoint_key})
        confirmed = source(f"SELECT json_build_object('lsn', confirmed_flush_lsn::text, 'bytes', "
                           f"(confirmed_flush_lsn - '0/0')::bigint) FROM pg_replication_slots WHERE slot_name = '{slot}'")
        if point is None or not confirmed or point.get("end_lsn") != confirmed[0]["bytes"] \
                or point.get("lsn") != confirmed[0]["lsn"]:
            bad += 1
            print(f"checkpoint of {slot}: {point}, slot confirmed {confirmed}")
        else:
            print(f"checkpoint of {slot}: {point['lsn']}, the slot's confirmed_flush_lsn")
    sys.exit(1 if bad else 0)
except pymongo.errors.PyMongoError as error:
    print(f"pymongo: {error}")
    sys.exit(1)
PY
compare() { "$python" "$work/compare.py" "$mongo_uri" "$db" "$slot" "$@" >"$work/compare.out" 2>&1; }

start_daemon() {
	echo "--- start $1" >>"$work/log.daemon"
	PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>>"$work/log.daemon" &
	daemon=$!
}
changes_applied() { scalar "SELECT coalesce((SELECT changes_applied FROM mosta.rule_stats WHERE rule = 'r1'), 0)"; }
document_count() {
	"$python" -c 'import sys, pymongo
try:
    d = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=2000).get_default_database()
    print(d.kv.count_documents({}) + d.pair.count_documents({}))
except Exception as e:
    print(-1)' "$mongo_uri"
}
# target_status: the mongo target's status in mosta_rule_targets()
target_status() { scalar "SELECT status FROM mosta_rule_targets() WHERE rule = 'r1' AND replica = 'mongo'"; }

# 1. The initial copy.
start_daemon 0
seed=$(scalar "SELECT (SELECT count(*) FROM kv) + (SELECT count(*) FROM pair)")
copied() { [ "$(document_count)" = "$seed" ] && [ "$(target_status)" = streaming ]; }
if poll_until 30 copied; then
	ok "initial copy: $seed documents"
else
	not_ok "initial copy: $seed documents (found $(document_count), status '$(target_status)')"
	tail -20 "$work/log.daemon" >&2
	finish
fi
slot=$(scalar "SELECT slot FROM mosta_rule_targets() WHERE rule = 'r1' AND replica = 'mongo'")
if compare; then ok "initial copy equals the source"; else not_ok "initial copy equals the source"; fi
sed 's/^/    /' "$work/compare.out"

# 2. The workload, in the background, and the kills.
psql_db >"$work/log.workload" 2>&1 <<'SQL' &
CALL churn(1, 150);
BEGIN;
INSERT INTO kv SELECT 200000 + g, g, g, 'bulk ' || g, g / 100.0, true, timestamptz '2025-06-01 12:00:00.5+00',
       jsonb_build_object('bulk', g), gen_random_uuid()
  FROM generate_series(1, 20000) g;
UPDATE pair SET v = -v WHERE a % 10 = 0;
COMMIT;
CALL churn(151, 150);
DELETE FROM kv WHERE id BETWEEN 200000 AND 200100;
UPDATE pair SET b = 'moved' WHERE a = 7;
SQL
workload=$!
workload_done() { ! kill -0 "$workload" 2>/dev/null; }
# caught_up: the workload is over and the sink confirmed a heartbeat written after it
end_lsn=
caught_up() {
	[ -n "$end_lsn" ] || end_lsn=$(scalar "SELECT mosta_heartbeat()::text")
	[ "$(scalar "SELECT coalesce((SELECT confirmed_lsn >= '$end_lsn' FROM mosta.rule_stats WHERE rule = 'r1'), false)")" = t ]
}

kills=0
idle_kills=0
for ((round = 1; round <= KILLS; round++)); do
	base=$(changes_applied)
	# small steps before and inside the 20,000-row transaction, one long step that lets it through, small after
	if [ "$round" -le 2 ]; then
		threshold=$((base + 300 + RANDOM % 2500))
	elif [ "$round" -eq 3 ]; then
		threshold=$((base + 20000 + RANDOM % 2000))
	else
		threshold=$((base + 200 + RANDOM % 1500))
	fi
	deadline=$((SECONDS + 40))
	reason=
	while :; do
		current=$(changes_applied)
		if [ "${current:-0}" -ge "$threshold" ]; then
			reason="changes_applied $current >= $threshold"
			break
		fi
		if workload_done && caught_up; then
			reason="caught up at $current"
			idle_kills=$((idle_kills + 1))
			break
		fi
		[ $SECONDS -lt $deadline ] || break
		sleep 0.05 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	if [ -z "$reason" ]; then
		not_ok "kill $round: no progress in 40 s (changes_applied ${current:-?}, threshold $threshold)"
		tail -20 "$work/log.daemon" >&2
		finish
	fi
	kill -9 "$daemon"
	wait "$daemon" 2>/dev/null
	kills=$((kills + 1))
	echo "    kill $round: SIGKILL ($reason; $(document_count) documents)"
	start_daemon "$round"
done
if [ "$kills" -ge 5 ] && [ $((kills - idle_kills)) -ge 3 ]; then
	ok "SIGKILL'd the sidecar $kills times, $((kills - idle_kills)) of them while streaming"
else
	not_ok "SIGKILL'd the sidecar $kills times, only $((kills - idle_kills)) of them while streaming"
fi
if poll_until 60 workload_done && wait "$workload"; then ok "workload ran"; else not_ok "workload ran"; cat "$work/log.workload" >&2; fi
workload=

# the last daemon dies too, then --once finishes the job (once the server has let go of the slot)
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
daemon=
slot_idle() { [ "$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active")" = 0 ]; }
poll_until 30 slot_idle
if PGDATABASE=$db "$BINARY" --once --status-interval 1s 2>"$work/log.once"; then
	ok "mosta-sidecar --once exits 0"
else
	not_ok "mosta-sidecar --once exits 0"
	cat "$work/log.once" >&2
	tail -30 "$work/log.daemon" >&2
fi
if compare --checkpoint; then
	ok "after the kills: every row one equal document, none more; the checkpoint is the slot's"
else
	not_ok "after the kills: every row one equal document, none more; the checkpoint is the slot's"
fi
sed 's/^/    /' "$work/compare.out"

# 3. The outage: the test server stops while the daemon runs, and comes back empty on the same port.
start_daemon outage
streaming() { [ "$(target_status)" = streaming ]; }
poll_until 30 streaming || not_ok "the daemon streams again (status '$(target_status)')"
recovered() { [ "$(target_status)" = streaming ] && compare; }
if [ "${mongo_external:-0}" = 1 ]; then
	ok "# SKIP the outage and the quick restart: they stop and restart our own test server"
else
	kill -TERM "$server"
	if poll_until 10 server_gone && wait "$server"; then ok "mosta-test-mongod stops on SIGTERM"; else not_ok "mosta-test-mongod stops on SIGTERM"; fi
	server=
	psql_db -c "CALL churn(301, 20)" -c "DELETE FROM kv WHERE id BETWEEN 1 AND 50" -c "UPDATE pair SET b = 'out' WHERE a = 8"
	in_error() { [ "$(target_status)" = error ]; }
	if poll_until 30 in_error; then
		ok "the target is in error while the server is down: $(scalar "SELECT last_error FROM mosta_rule_targets() WHERE rule = 'r1' AND replica = 'mongo'")"
	else
		not_ok "the target is in error while the server is down (status '$(target_status)')"
	fi
	old_port=$port
	start_server "$old_port"
	# (empty: its memory went with the old process; the daemon may start filling it at once)
	if [ "$port" = "$old_port" ]; then
		ok "mosta-test-mongod restarted on the same port $port"
	else
		not_ok "mosta-test-mongod restarted on the same port $old_port (port '$port')"
	fi
	psql_db -c "CALL churn(321, 20)" -c "UPDATE kv SET t = 'after the outage' WHERE id % 50 = 0"
	if poll_until 60 recovered; then
		ok "after the outage: the target streams again and every row has one equal document, none more"
	else
		not_ok "after the outage: the target streams again and every row has one equal document, none more (status '$(target_status)')"
		tail -30 "$work/log.daemon" >&2
	fi
	sed 's/^/    /' "$work/compare.out"
	if grep -q 'retrying in' "$work/log.daemon"; then ok "the daemon logged its retries"; else not_ok "the daemon logged its retries"; fi
	if grep -q 'holds no checkpoint' "$work/log.daemon" && grep -q "initial copy of .* durable at" <(sed -n '/--- start outage/,$p' "$work/log.daemon"); then
		ok "the empty target got a new initial copy (no checkpoint: slot dropped and recreated)"
	else
		not_ok "the empty target got a new initial copy (no checkpoint: slot dropped and recreated)"
	fi
	# changes after the recovery flow too
	psql_db -c "CALL churn(341, 10)" -c "DELETE FROM pair WHERE a % 3 = 0"
	if poll_until 30 compare; then ok "changes after the recovery arrive"; else not_ok "changes after the recovery arrive"; cat "$work/compare.out" >&2; fi

	# A quick restart: the server comes back empty before the daemon wrote anything, so no write failed meanwhile and
	# the driver reconnects silently; the sink's next checkpoint finds its previous one gone, fails, and the retry
	# takes a new copy. (One transaction: a row inserted by a group written into the empty server and deleted by a
	# later transaction before the new copy would stay there as an extra document, docs/mongodb.md.)
	mark=$(wc -l <"$work/log.daemon")
	kill -TERM "$server"
	if poll_until 10 server_gone && wait "$server"; then server=; start_server "$old_port"; fi
	if [ "$port" = "$old_port" ]; then ok "mosta-test-mongod restarted at once on port $port"; else not_ok "mosta-test-mongod restarted at once on port $old_port (port '$port')"; fi
	psql_db -c "BEGIN; INSERT INTO kv SELECT 300000 + g, g, g, 'quick', 1, false, now(), '[1, 2]', gen_random_uuid() FROM generate_series(1, 100) g; UPDATE pair SET v = 0 WHERE a < 20; DELETE FROM kv WHERE id BETWEEN 51 AND 60; COMMIT"
	if poll_until 60 recovered; then
		ok "after a quick restart: every row has one equal document, none more"
	else
		not_ok "after a quick restart: every row has one equal document, none more (status '$(target_status)')"
		tail -n +"$((mark + 1))" "$work/log.daemon" | tail -20 >&2
	fi
	sed 's/^/    /' "$work/compare.out"
	tail -n +"$((mark + 1))" "$work/log.daemon" | grep -E 'error|checkpoint|initial copy' | head -4 | sed 's/^/    /'
fi

# The database dropped under the running daemon (no connection breaks at all): the same, the next checkpoint write
# finds its previous checkpoint gone.
mark=$(wc -l <"$work/log.daemon")
if "$python" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000).drop_database("testdb")' "$mongo_uri"; then
	ok "dropped database testdb under the daemon"
else
	not_ok "dropped database testdb under the daemon"
fi
psql_db -c "BEGIN; INSERT INTO kv SELECT 400000 + g, g, g, 'dropped', 2, true, now(), '{}', gen_random_uuid() FROM generate_series(1, 100) g; DELETE FROM kv WHERE id BETWEEN 61 AND 70; COMMIT"
if poll_until 60 recovered; then
	ok "after the database was dropped: every row has one equal document, none more"
else
	not_ok "after the database was dropped: every row has one equal document, none more (status '$(target_status)')"
	tail -n +"$((mark + 1))" "$work/log.daemon" | tail -20 >&2
fi
sed 's/^/    /' "$work/compare.out"
tail -n +"$((mark + 1))" "$work/log.daemon" | grep -E 'error|checkpoint|initial copy' | head -4 | sed 's/^/    /'

# 4. SIGTERM: exit 0.
stop_daemon "SIGTERM: exits 0"
sed -n '/--- start outage/,$p' "$work/log.daemon" | grep -E 'retrying|error|checkpoint|initial copy|recovered' | head -12 | sed 's/^/    /'
if [ -s "$work/mongod.err" ]; then
	echo "    mosta-test-mongod stderr:"
	head -5 "$work/mongod.err" | sed 's/^/    /'
fi

finish
