#!/usr/bin/env bash
# sqlite_promotion.sh: writes on a promoted SQLite replica, end to end (issue 15 item 4; docs/failover.md, "Writes
# on a promoted SQLite replica"). On the cluster of PGHOST/PGPORT/PGUSER and MOSTA_CLUSTER_DIR (scripts/pg-cluster
# run), a cdc rule r1 (conflict_resolution target-wins) copies table items into the SQLite slave lite; the daemon
# runs with --tree. Checks:
#   - refused, nothing changed: promote while the master is up (exit 1, "is up", no promotion row, no trigger); an
#     unknown replica, the postgres master named as the replica, an unknown project (exit 1, each named); promote
#     without --tree or --file (exit 2);
#   - with the master down, promote --file without --tree is refused by the lag gate (no observation);
#   - once the tree shows lite caught up (status up, lag 0, the file's checkpoint), the daemon is killed and
#     PostgreSQL stopped (pg_ctl stop: pg-cluster stop would remove the cluster): promote exits 0, its gate allows
#     it, the file holds the promotion row and capture triggers, the topology file says lite is the master and
#     write target and the former master a down slave, and mosta-monitor (on that file alone) answers /master for
#     lite, not the former master, and routes to lite;
#   - writes into the file by another connection (python3's sqlite3): an insert, an update and a delete of rows
#     PostgreSQL has, and an update of a row that PostgreSQL also updates once it is back (split brain), with a
#     PostgreSQL-only insert; the daemon started again: its topology file still names lite the write target;
#   - switch-back before the daemon runs times out (exit 1), removing nothing;
#   - switch-back exits 0: every episode write is in PostgreSQL, the conflicting row has lite's value (target-wins)
#     and mosta_conflicts('r1') records it, the activity rows (sqlite_promotion, switch_back with 4 captured
#     changes) exist, the topology names the PostgreSQL master again, the file has no promotion and no trigger,
#     verify r1 exits 0 (the file equal to PostgreSQL), and cdc goes on: a new PostgreSQL row reaches the file and
#     is not captured back;
#   - a second episode with the daemon running through it (PostgreSQL stopped under it): it restarts the rule for
#     the promotion once PostgreSQL is back and drains the file, switch-back counts the episode's one change, and
#     the daemon restarts the rule as plain cdc after the switch-back; a switch-back interrupted before its
#     activity rows (its record left in the file) is finished by running it again;
#   - a third episode forced with PostgreSQL up (promote --force warns; the running daemon drains the file; the
#     activity row says force).
# Every server and process it starts is stopped on exit (trap). The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR),
# default build/sidecar/mosta-sidecar. Prints "sqlite_promotion: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it stops and starts its server)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sqlite_promotion
require_cluster MOSTA_CLUSTER_DIR
require_sidecar
BINARY=$(realpath "$BINARY")
python3 -c 'import sqlite3, json' 2>/dev/null || fail_setup "python3 with sqlite3 and json is needed"
MONITOR=${MOSTA_MONITOR_BIN:-build/monitor/mosta-monitor}
[ -x "$MONITOR" ] || fail_setup "$MONITOR not found: build it with cmake -S . -B build && cmake --build build -j2"
command -v curl >/dev/null || fail_setup "curl is not installed (scripts/install-deps)"
monitor=

as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}
bindir=$(${PG_CONFIG:-pg_config} --bindir)
pg_data=$MOSTA_CLUSTER_DIR/data
server_up() { as_server_user "$bindir/pg_ctl" status -D "$pg_data" >/dev/null 2>&1; }
stop_server() { as_server_user "$bindir/pg_ctl" stop -D "$pg_data" -m fast -w -t 60 >/dev/null; }
start_server() { as_server_user "$bindir/pg_ctl" start -D "$pg_data" -l "$MOSTA_CLUSTER_DIR/postgres.log" -w -t 60 >/dev/null; }
# the cluster must run again for tap_cleanup's dropdb and for scripts/pg-cluster's own stop
cleanup_extra() {
	[ -n "$monitor" ] && kill "$monitor" 2>/dev/null && wait "$monitor" 2>/dev/null
	server_up || start_server
	return 0
}

use_database mosta_sqlite_promotion_$$
lite=$work/lite.db
tree=$work/tree.json

psql_db <<'SQL' || fail_setup "source schema"
CREATE TABLE items (id int PRIMARY KEY, name text, qty int);
ALTER TABLE items REPLICA IDENTITY FULL;
INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 10) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" <<'SQL' || fail_setup "catalog"
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'lite.db', lag_tolerance_ms => 0);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['items'], 'target-wins');
SQL

start_daemon() {
	PGDATABASE=$db "$BINARY" --status-interval 500ms --poll-interval 200ms --tree "$tree" 2>>"$work/log.daemon" &
	daemon=$!
}
# lite_sql SQL: one statement on the file by python3's sqlite3 (another connection than the daemon's), its rows
# printed as "a|b"
lite_sql() {
	python3 - "$lite" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
rows = db.execute(sys.argv[2]).fetchall()
db.commit()
for row in rows:
    print("|".join("" if v is None else str(v) for v in row))
PY
}
# tree_value PATH...: the values at those paths of the topology file (python3's json), one per line
tree_value() {
	python3 - "$tree" "$@" <<'PY' 2>/dev/null
import json, sys
tree = json.load(open(sys.argv[1]))
for path in sys.argv[2:]:
    value = tree
    for part in path.split("."):
        if isinstance(value, list):
            value = next((r for r in value if r.get("name") == part), None)
        elif value is not None:
            value = value.get(part)
    print("null" if value is None else json.dumps(value) if not isinstance(value, str) else value)
PY
}
role_of() { tree_value "projects.app.replicas.$1.role"; }
checkpoint() { lite_sql "SELECT lsn FROM _mosta_checkpoint" 2>/dev/null; }
lite_caught_up() {
	[ -n "$(checkpoint)" ] &&
		[ "$(tree_value projects.app.replicas.lite.status.status projects.app.replicas.lite.status.lagMs \
			projects.app.replicas.lite.status.appliedLsn | paste -sd ' ')" = "up 0 $(checkpoint)" ]
}
promotion_rows() { lite_sql "SELECT count(*) FROM sqlite_master WHERE name = '_mosta_promotion'" | grep -q '^1$' && lite_sql "SELECT project, replica, state FROM _mosta_promotion"; }
trigger_count() { lite_sql "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"; }

# --- the replica fed, the tree written
start_daemon
lite_has() { [ "$(lite_sql "SELECT count(*) FROM \"public.items\" WHERE id = $1" 2>/dev/null)" = "${2:-1}" ]; }
poll_until 60 lite_has 10 || fail_setup "the initial copy did not reach lite.db: $(tail -5 "$work/log.daemon")"
psql_db -c "INSERT INTO items VALUES (11, 'item 11', 11)" -c "UPDATE items SET qty = 20 WHERE id = 2" \
	-c "DELETE FROM items WHERE id = 10" || not_ok "changes before the episode"
if poll_until 60 lite_has 10 0 && poll_until 60 lite_has 11 && poll_until 60 lite_caught_up; then
	ok "the changes reach lite, and the topology file shows it caught up at its checkpoint ($(checkpoint))"
else
	not_ok "lite caught up in the topology file (tree: $(tree_value projects.app.replicas.lite.status | tr -d '\n'), checkpoint $(checkpoint))"
fi

# promote PROJECT REPLICA [ARG...]: runs the command, its output in $work/promote.out and .err, status in $status
promote() {
	"$BINARY" promote "$@" >"$work/promote.out" 2>"$work/promote.err"
	status=$?
	sed 's/^/    /' "$work/promote.out" "$work/promote.err"
}

promote app lite --tree "$tree" --source "$uri"
if [ "$status" -eq 1 ] && grep -q "promote refused: the master master is up" "$work/promote.err" &&
	grep -q "nothing was changed" "$work/promote.err" && [ -z "$(promotion_rows)" ] && [ "$(trigger_count)" = 0 ]; then
	ok "promote is refused while the master is up, and changes nothing"
else
	not_ok "promote refused while the master is up (status $status, promotion '$(promotion_rows)', triggers $(trigger_count))"
fi
promote app nope --tree "$tree"
if [ "$status" -eq 1 ] && grep -q 'replica "nope" is not a replica of project "app" in the topology file (it has: master (postgres master), lite (sqlite slave))' "$work/promote.err"; then
	ok "an unknown replica is refused, naming the project's replicas"
else
	not_ok "an unknown replica is refused (status $status)"
fi
promote app master --tree "$tree"
if [ "$status" -eq 1 ] && grep -q 'replica "master" is a postgres master' "$work/promote.err"; then
	ok "a postgres replica is refused"
else
	not_ok "a postgres replica is refused (status $status)"
fi
promote shop lite --tree "$tree"
if [ "$status" -eq 1 ] && grep -q 'project "shop" is not in the topology file' "$work/promote.err"; then
	ok "an unknown project is refused"
else
	not_ok "an unknown project is refused (status $status)"
fi
promote app lite
if [ "$status" -eq 2 ] && grep -q "promote needs --tree FILE" "$work/promote.err"; then
	ok "promote without --tree or --file is bad usage (exit 2)"
else
	not_ok "promote without --tree or --file is bad usage (status $status)"
fi

# --- the master goes away
kill -9 "$daemon" && wait "$daemon" 2>/dev/null
daemon=
stop_server || fail_setup "pg_ctl stop"
promote app lite --file "$lite" --source "$uri"
if [ "$status" -eq 1 ] && grep -q "refusing to promote lite: never reported by mosta-sidecar in the topology file" "$work/promote.err" &&
	[ -z "$(promotion_rows)" ] && [ "$(trigger_count)" = 0 ]; then
	ok "promote --file without the topology file is refused by the lag gate (nothing tells what the file holds)"
else
	not_ok "promote --file without the topology file is refused by the lag gate (status $status)"
fi
promote app lite --tree "$tree" --source "$uri"
if [ "$status" -eq 0 ] && grep -q "gate (tolerance 0 ms) allows it: caught up at the last observation" "$work/promote.out" &&
	grep -q "is down" "$work/promote.out"; then
	ok "promote exits 0 once the master is down, the lag gate allowing it"
else
	not_ok "promote exits 0 once the master is down (status $status)"
fi
if [ "$(promotion_rows)" = "app|lite|master" ] && [ "$(trigger_count)" -ge 3 ]; then
	ok "the file holds the promotion row and the capture triggers"
else
	not_ok "the file holds the promotion row and the capture triggers ('$(promotion_rows)', $(trigger_count) triggers)"
fi
if [ "$(role_of lite) $(role_of master) $(tree_value projects.app.writeTarget projects.app.replicas.master.status.status generatedBy | paste -sd ' ')" = "master slave lite down mosta-sidecar promote" ]; then
	ok "the topology file names lite the master and write target, the former master a down slave"
else
	not_ok "the topology file after promote ($(role_of lite) $(role_of master) $(tree_value projects.app.writeTarget))"
fi

# the monitor, on the topology file alone: lite is the project's master
"$MONITOR" --port 0 --tree "$tree" --poll-interval 200ms --stale-after 60s 2>"$work/log.monitor" &
monitor=$!
listening() { grep -qs 'listening on http://' "$work/log.monitor"; }
poll_until 20 listening || fail_setup "mosta-monitor did not start: $(cat "$work/log.monitor")"
base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/log.monitor" | head -1)
http_code() { curl -s -o /dev/null -w '%{http_code}' "$base$1"; }
if [ "$(http_code '/master?project=app&replica=lite') $(http_code '/master?project=app&replica=master')" = "200 503" ] &&
	curl -s "$base/route?project=app" | grep -q '"replica":"lite"'; then
	ok "mosta-monitor on the topology file: /master names lite, not the former master; /route sends to lite"
else
	not_ok "mosta-monitor during the episode ($(http_code '/master?project=app&replica=lite') $(http_code '/master?project=app&replica=master'))"
fi
kill "$monitor" && wait "$monitor" 2>/dev/null
monitor=

# --- writes on the promoted replica, by another connection
lite_sql "INSERT INTO \"public.items\" (id, name, qty) VALUES (100, 'from lite', 100)" >/dev/null &&
	lite_sql "UPDATE \"public.items\" SET name = 'renamed on lite' WHERE id = 2" >/dev/null &&
	lite_sql "DELETE FROM \"public.items\" WHERE id = 4" >/dev/null &&
	lite_sql "UPDATE \"public.items\" SET qty = 300 WHERE id = 3" >/dev/null || not_ok "writes on lite"
if [ "$(lite_sql "SELECT count(*) FROM _mosta_changes")" = 4 ]; then
	ok "the four writes on lite are captured"
else
	not_ok "the four writes on lite are captured ($(lite_sql "SELECT count(*) FROM _mosta_changes"))"
fi

# --- PostgreSQL back: split brain, a conflicting update of row 3 and an insert of its own
start_server || fail_setup "pg_ctl start"
psql_db -c "UPDATE items SET qty = 333 WHERE id = 3" -c "INSERT INTO items VALUES (200, 'from postgres', 200)" ||
	not_ok "writes on PostgreSQL during the episode"
# no daemon yet: nothing drains the captured writes, so switch-back waits, times out and removes nothing
"$BINARY" switch-back app --source "$uri" --timeout 2s >"$work/back.out" 2>"$work/back.err"
status=$?
sed 's/^/    /' "$work/back.out" "$work/back.err"
if [ "$status" -eq 1 ] && grep -q "not drained within 2 s: captured up to seq 4, PostgreSQL holds nothing" "$work/back.err" &&
	[ "$(promotion_rows)" = "app|lite|switching-back" ] && [ "$(trigger_count)" -ge 3 ]; then
	ok "switch-back without a daemon times out, the promotion and its triggers kept (state switching-back)"
else
	not_ok "switch-back without a daemon times out (status $status, '$(promotion_rows)', $(trigger_count) triggers)"
fi
start_daemon
tree_names_lite() { [ "$(tree_value projects.app.writeTarget generatedBy | paste -sd ' ')" = "lite null" ]; }
if poll_until 30 tree_names_lite; then
	ok "with PostgreSQL back, the daemon's topology file still names lite the write target"
else
	not_ok "the daemon's topology file names lite the write target ($(tree_value projects.app.writeTarget generatedBy | paste -sd ' '))"
fi

"$BINARY" switch-back app --source "$uri" --tree "$tree" --timeout ${SWITCH_BACK_TIMEOUT:-90s} >"$work/back.out" 2>"$work/back.err"
status=$?
sed 's/^/    /' "$work/back.out" "$work/back.err"
if [ "$status" -eq 0 ] && grep -q "is the master of \"app\" again" "$work/back.out"; then
	ok "switch-back exits 0"
else
	not_ok "switch-back exits 0 (status $status; daemon log: $(tail -5 "$work/log.daemon"))"
fi
rows=$(scalar "SELECT string_agg(id || ':' || name || ':' || qty, ',' ORDER BY id) FROM items WHERE id IN (2, 3, 4, 100, 200)")
if [ "$rows" = "2:renamed on lite:20,3:item 3:300,100:from lite:100,200:from postgres:200" ]; then
	ok "every write of the episode is in PostgreSQL; row 3 has lite's value (target-wins)"
else
	not_ok "the episode's writes in PostgreSQL (got $rows)"
fi
conflict=$(scalar "SELECT kind || ' ' || incoming_side || ' ' || decision FROM mosta_conflicts('r1') WHERE key->>'id' = '3' ORDER BY id LIMIT 1")
if [ -n "$conflict" ]; then
	ok "the conflict on row 3 is recorded ($conflict)"
else
	not_ok "the conflict on row 3 is recorded in mosta_conflicts('r1')"
fi
activity=$(scalar "SELECT string_agg(action, ',' ORDER BY id) FROM mosta.activity WHERE action IN ('sqlite_promotion', 'switch_back')")
captured=$(scalar "SELECT detail->>'captured_changes' FROM mosta.activity WHERE action = 'switch_back'")
if [ "$activity" = "sqlite_promotion,switch_back" ] && [ "$captured" = 4 ]; then
	ok "the episode is in mosta.activity (sqlite_promotion, switch_back with 4 captured changes)"
else
	not_ok "the episode in mosta.activity ($activity, captured $captured)"
fi
if [ "$(role_of master) $(role_of lite) $(tree_value projects.app.writeTarget)" = "master slave null" ]; then
	ok "the topology file names the PostgreSQL master again"
else
	not_ok "the topology file after switch-back ($(role_of master) $(role_of lite) $(tree_value projects.app.writeTarget))"
fi
if [ -z "$(promotion_rows)" ] && [ "$(trigger_count)" = 0 ]; then
	ok "the file holds no promotion and no capture trigger"
else
	not_ok "the file after switch-back ('$(promotion_rows)', $(trigger_count) triggers)"
fi
verified() { PGDATABASE=$db "$BINARY" verify r1 >"$work/verify.out" 2>&1; }
if poll_until 60 verified; then
	ok "verify r1: the file equals PostgreSQL"
else
	not_ok "verify r1: the file equals PostgreSQL"
	sed 's/^/    /' "$work/verify.out"
fi
psql_db -c "INSERT INTO items VALUES (300, 'after', 300)" || not_ok "a write after the switch-back"
if poll_until 60 lite_has 300 && [ "$(lite_sql "SELECT count(*) FROM _mosta_changes")" = 0 ] &&
	[ "$(scalar "SELECT count(*) FROM items WHERE id = 300")" = 1 ]; then
	ok "cdc goes on: a new PostgreSQL row reaches the file and is not captured back"
else
	not_ok "cdc after the switch-back"
fi

# --- a second episode, the daemon running through it: it takes the promotion and the switch-back by itself
# the rule restarted for the switch-back (its last restart line is a start), then lite caught up in the tree
restarted() {
	[ "$(grep -E 'rule r1: (a SQLite target was promoted or switched back, restarting|starting \()' "$work/log.daemon" |
		tail -1 | grep -c 'starting (')" = 1 ]
}
settled() { restarted && lite_caught_up; }
restart_lines() { grep -c "rule r1: a SQLite target was promoted or switched back, restarting" "$work/log.daemon"; }
restarted_for_switch_back() { [ "$(restart_lines)" -ge 1 ]; }
if poll_until 60 restarted_for_switch_back && poll_until 60 settled; then
	ok "the daemon restarts the rule after the switch-back, lite caught up again"
else
	not_ok "the daemon restarts the rule after the switch-back, lite caught up again"
fi
stop_server || fail_setup "pg_ctl stop (second episode)"
promote app lite --tree "$tree" --source "$uri"
[ "$status" -eq 0 ] || not_ok "the second promote exits 0 (status $status)"
lite_sql "INSERT INTO \"public.items\" (id, name, qty) VALUES (400, 'second episode', 400)" >/dev/null ||
	not_ok "a write on lite in the second episode"
start_server || fail_setup "pg_ctl start (second episode)"
pg_has_400() { [ "$(scalar "SELECT count(*) FROM items WHERE id = 400")" = 1 ]; }
if poll_until 60 pg_has_400 && grep -q "rule r1: a SQLite target was promoted or switched back, restarting" "$work/log.daemon"; then
	ok "the daemon that ran through the outage restarts the rule for the promotion and drains the file"
else
	not_ok "the daemon that ran through the outage drains the file ($(tail -3 "$work/log.daemon"))"
fi
"$BINARY" switch-back app --source "$uri" --tree "$tree" --timeout 60s >"$work/back.out" 2>"$work/back.err"
status=$?
sed 's/^/    /' "$work/back.out" "$work/back.err"
captured=$(scalar "SELECT detail->>'captured_changes' FROM mosta.activity WHERE action = 'switch_back' ORDER BY id DESC LIMIT 1")
if [ "$status" -eq 0 ] && [ "$captured" = 1 ]; then
	ok "the second switch-back exits 0, its episode counting its one captured change"
else
	not_ok "the second switch-back (status $status, captured $captured)"
fi
restarts() { [ "$(restart_lines)" -ge 3 ]; }
psql_db -c "INSERT INTO items VALUES (500, 'after the second', 500)" || not_ok "a write after the second switch-back"
if poll_until 60 restarts && poll_until 60 lite_has 500 && poll_until 60 verified; then
	ok "the daemon restarts the rule as plain cdc after the switch-back; the file equals PostgreSQL"
else
	not_ok "the daemon after the second switch-back"
fi
# --- a third episode forced while PostgreSQL runs (split brain by choice): promote --force, the daemon drains
poll_until 60 settled || not_ok "lite caught up before the forced episode"
promote app lite --tree "$tree" --source "$uri" --force
lite_sql "INSERT INTO \"public.items\" (id, name, qty) VALUES (600, 'forced episode', 600)" >/dev/null ||
	not_ok "a write on lite in the forced episode"
pg_has_600() { [ "$(scalar "SELECT count(*) FROM items WHERE id = 600")" = 1 ]; }
if [ "$status" -eq 0 ] && grep -q "WARNING: the master master is up: it accepts connections and is not in recovery; promoting anyway (--force)" "$work/promote.out" &&
	poll_until 60 pg_has_600; then
	ok "promote --force with the master up warns, and the running daemon drains the file"
else
	not_ok "promote --force with the master up (status $status)"
fi
"$BINARY" switch-back app --source "$uri" --timeout 60s >"$work/back.out" 2>"$work/back.err"
status=$?
sed 's/^/    /' "$work/back.out" "$work/back.err"
forced=$(scalar "SELECT detail->'promote'->>'force' FROM mosta.activity WHERE action = 'sqlite_promotion' ORDER BY id DESC LIMIT 1")
if [ "$status" -eq 0 ] && [ "$forced" = true ]; then
	ok "the forced episode's switch-back exits 0, its activity row saying force"
else
	not_ok "the forced episode's switch-back (status $status, force $forced)"
fi

# a switch-back that removed the promotion but stopped before its activity rows (the episode's record left in
# the file): run again, it writes them
seq=$(lite_sql "SELECT seq FROM sqlite_sequence WHERE name = '_mosta_changes'")
lite_sql "INSERT INTO _mosta_promotion_episode VALUES ('app', 'lite', '2026-12-07T00:00:00.000Z', $seq, 'master', '{}')" >/dev/null ||
	not_ok "the record of an unfinished switch-back"
"$BINARY" switch-back app --source "$uri" --timeout 10s >"$work/back.out" 2>"$work/back.err"
status=$?
sed 's/^/    /' "$work/back.out" "$work/back.err"
backs=$(scalar "SELECT count(*) FROM mosta.activity WHERE action = 'switch_back'")
if [ "$status" -eq 0 ] && grep -q "an earlier switch-back removed the promotion" "$work/back.out" && [ "$backs" = 4 ] &&
	[ "$(lite_sql "SELECT count(*) FROM _mosta_promotion_episode")" = 0 ]; then
	ok "switch-back finishes an earlier one that stopped before its activity rows"
else
	not_ok "switch-back finishes an earlier one (status $status, $backs switch_back rows)"
fi
stop_daemon "the daemon stops cleanly"

finish
