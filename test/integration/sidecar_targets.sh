#!/usr/bin/env bash
# sidecar_targets.sh: one slot per (rule, target), and what the supervisor does with it (cluster of PGHOST/PGPORT/
# PGUSER, as scripts/pg-cluster run provides). A long-running daemon with rule r1 ('*', cdc) into two SQLite
# targets, "good" and "bad":
#   1. isolation: another process holds an exclusive lock on bad's file; changes keep reaching good, bad is
#      reported in error in mosta_rule_targets() with the WAL its slot retains and a --retained-wal-warning
#      warning; once the lock goes, bad catches up;
#   2. runtime changes: mosta_disable_rule pauses the targets (slots kept, changes not applied), enabling resumes
#      them; SIGHUP is taken; the --tree file holds the topology with the password masked; heartbeats advance a
#      slot while only another database writes WAL; mosta_remove_rule drops the slots;
#   3. a slot PostgreSQL invalidates (max_slot_wal_keep_size, wal_status lost) while the daemon is stopped: the
#      next run says so (log, mosta.activity, target warning) and copies again, rows deleted meanwhile included.
# The daemon runs as a login role with just REPLICATION, pg_read_all_data and the extension's mosta_sidecar role.
# Every wait polls with a deadline. Prints "sidecar_targets: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_targets
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap, which kills the
# daemon, runs cleanup_extra (the lock holder, the setting, the other database, the role: it owns no object in
# $db) and drops the slots, $db and $work
use_database mosta_sidecar_targets_$$
role=mosta_sidecar_targets_$$
other=mosta_sidecar_targets_other_$$
locker=
cleanup_extra() {
	[ -n "$locker" ] && kill "$locker" 2>/dev/null
	psql -X -q -d postgres -c "ALTER SYSTEM RESET max_slot_wal_keep_size" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
	dropdb --if-exists "$other" >/dev/null 2>&1
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
}

# rows FILE: "<count> <sum of id>" of the SQLite copy of t, or an error text.
rows() {
	python3 -c 'import sqlite3, sys
try:
    print(*sqlite3.connect(sys.argv[1]).execute("SELECT count(*), coalesce(sum(id), 0) FROM \"public.t\"").fetchone())
except Exception as e:
    print("error", e)' "$1"
}
source_rows() { scalar "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM t"; }
equal_to_source() { [ "$(rows "$1")" = "$(source_rows)" ]; }
target_field() { scalar "SELECT $2 FROM mosta_rule_targets('r1') WHERE replica = '$1'"; }

createdb "$other" || { not_ok "createdb"; finish; }
# a database without the extension: a clear refusal, not "relation mosta.replicas does not exist"
if PGDATABASE=$other "$BINARY" --once 2>"$work/log.noext"; then
	not_ok "without the extension: --once fails"
elif grep -q "the mostajs extension is not installed in database \"$other\"" "$work/log.noext"; then
	ok "without the extension: --once fails and says CREATE EXTENSION mostajs is missing"
else
	not_ok "without the extension: a clear message ($(tail -1 "$work/log.noext"))"
fi
psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 100) i;
CREATE EXTENSION mostajs;
SQL
psql_db -c "CREATE ROLE $role LOGIN REPLICATION IN ROLE mosta_sidecar, pg_read_all_data" || { not_ok "sidecar role"; finish; }
uri="postgresql://$PGUSER:s3cret-pw@$PGHOST:$PGPORT/$db"
psql_db -o /dev/null -v uri="$uri" -v good="$work/good.db" -v bad="$work/bad.db" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'good', 'slave', 'sqlite', :'good');
SELECT mosta_add_replica('app', 'bad', 'slave', 'sqlite', :'bad');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

PGDATABASE=$db PGUSER=$role "$BINARY" --status-interval 200ms --poll-interval 100ms --retained-wal-warning 64kB \
	--heartbeat-interval 1s --tree "$work/tree.json" 2>"$work/log.daemon" &
daemon=$!
if poll_until 60 equal_to_source "$work/good.db" && poll_until 60 equal_to_source "$work/bad.db"; then
	ok "initial copy into both targets"
else
	not_ok "initial copy into both targets (good '$(rows "$work/good.db")', bad '$(rows "$work/bad.db")')"
fi
slots=$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = '$db' AND plugin = 'mostajs'")
if [ "$slots" = 1 ]; then ok "one slot for the rule's two targets"; else not_ok "one slot for the rule's two targets ($slots slots)"; fi

# 1. bad's file is locked by another process: good keeps flowing, bad reports its error and retained WAL.
python3 -c 'import signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
signal.pause()' "$work/bad.db" "$work/locked" &
locker=$!
poll_until 10 test -e "$work/locked" || not_ok "lock taken"
psql_db -c "INSERT INTO t SELECT i, repeat('x', 500) FROM generate_series(101, 400) i; DELETE FROM t WHERE id <= 10"
if poll_until 60 equal_to_source "$work/good.db"; then ok "good target caught up while bad is locked"; else not_ok "good target caught up while bad is locked ('$(rows "$work/good.db")' vs '$(source_rows)')"; fi
bad_error() { [ "$(target_field bad status)" = error ] && [ -n "$(target_field bad last_error)" ]; }
if poll_until 60 bad_error; then ok "bad target in error: $(target_field bad "left(last_error, 60)")"; else not_ok "bad target in error ('$(target_field bad status)')"; fi
for i in 1 2 3; do psql_db -c "UPDATE t SET v = repeat('y', 900) || $i" >/dev/null; done
retained_warning() { case $(target_field bad warning) in *retains*) true ;; *) false ;; esac; }
if poll_until 60 retained_warning; then
	ok "bad target's retained WAL reported ($(target_field bad retained_bytes) bytes) with a warning"
else
	not_ok "bad target's retained WAL warned about (retained '$(target_field bad retained_bytes)', warning '$(target_field bad warning)')"
fi
rule_status=$(scalar "SELECT status || ' ' || (last_error LIKE 'app.bad: %')::int || ' ' || (retained_bytes > 0)::int FROM mosta_rules() WHERE name = 'r1'")
if [ "$rule_status" = "error 1 1" ]; then ok "mosta_rules() shows the rule's error and retained WAL"; else not_ok "mosta_rules() shows the rule's error and retained WAL ('$rule_status': $(scalar "SELECT status, last_error, retained_bytes FROM mosta_rules() WHERE name = 'r1'"))"; fi
if [ "$(target_field good status)" = streaming ]; then ok "good target still streaming"; else not_ok "good target still streaming ('$(target_field good status)')"; fi
kill "$locker"
wait "$locker" 2>/dev/null
locker=
if poll_until 90 equal_to_source "$work/bad.db"; then ok "bad target caught up once unlocked"; else not_ok "bad target caught up once unlocked ('$(rows "$work/bad.db")' vs '$(source_rows)')"; fi

# 2. runtime changes, SIGHUP, the tree, heartbeats.
psql_db -c "SELECT mosta_disable_rule('r1')" >/dev/null
paused() { [ "$(scalar "SELECT string_agg(status, ',' ORDER BY replica) FROM mosta_rule_targets('r1')")" = "paused,paused" ]; }
if poll_until 30 paused; then ok "disabled rule: targets paused"; else not_ok "disabled rule: targets paused ('$(scalar "SELECT string_agg(status, ',') FROM mosta_rule_targets('r1')")')"; fi
psql_db -c "INSERT INTO t VALUES (1000, 'while paused')"
kill -HUP "$daemon"
if poll_until 10 grep -q SIGHUP "$work/log.daemon"; then ok "SIGHUP: the catalog is read at once"; else not_ok "SIGHUP logged"; fi
slots=$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = '$db' AND plugin = 'mostajs'")
if [ "$slots" = 1 ] && [ "$(rows "$work/good.db")" != "$(source_rows)" ]; then
	ok "paused: slot kept, the change not applied"
else
	not_ok "paused: slot kept ($slots), the change not applied ('$(rows "$work/good.db")')"
fi
psql_db -c "SELECT mosta_enable_rule('r1')" >/dev/null
if poll_until 60 equal_to_source "$work/good.db" && poll_until 60 equal_to_source "$work/bad.db"; then ok "enabled again: both targets resume"; else not_ok "enabled again: both targets resume"; fi

tree_ok() {
	python3 -c 'import json, sys
tree = json.load(open(sys.argv[1]))
uri = [r["uri"] for r in tree["projects"]["app"]["replicas"] if r["name"] == "master"][0]
assert "s3cret-pw" not in open(sys.argv[1]).read() and "***" in uri, uri
assert [r["name"] for r in tree["rules"]] == ["r1"]' "$work/tree.json" 2>/dev/null
}
if poll_until 30 tree_ok; then ok "--tree: the topology file, password masked"; else not_ok "--tree: the topology file ($(head -c 300 "$work/tree.json" 2>&1))"; fi

# only the other database writes: the heartbeats still move the slots forward
psql -X -q -d "$other" -c "CREATE TABLE noise AS SELECT g, repeat('n', 200) AS pad FROM generate_series(1, 20000) g"
far=$(scalar "SELECT pg_current_wal_lsn()")
advanced() { [ "$(scalar "SELECT bool_and(confirmed_flush_lsn >= '$far') FROM pg_replication_slots WHERE database = '$db'")" = t ]; }
if poll_until 60 advanced; then ok "heartbeats advance the slots of a quiet database"; else not_ok "heartbeats advance the slots of a quiet database"; fi

stop_daemon "daemon: SIGTERM, exit 0"

# 3. the slot of "good" (the rule's slot, shared with "bad") is invalidated while the daemon is stopped.
good_slot=$(target_field good slot)
psql -X -q -d postgres -c "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'" -c "SELECT pg_reload_conf()" >/dev/null
psql_db -c "DELETE FROM t WHERE id BETWEEN 11 AND 60"
lost() {
	psql -X -q -d "$other" -c "INSERT INTO noise SELECT g, repeat('m', 200) FROM generate_series(1, 5000) g" -c "SELECT pg_switch_wal()" -c "CHECKPOINT" >/dev/null
	[ "$(scalar "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$good_slot'")" = lost ]
}
if poll_until 120 lost; then ok "slot $good_slot invalidated by PostgreSQL"; else not_ok "slot $good_slot invalidated (wal_status '$(scalar "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$good_slot'")')"; fi
psql -X -q -d postgres -c "ALTER SYSTEM RESET max_slot_wal_keep_size" -c "SELECT pg_reload_conf()" >/dev/null
if PGDATABASE=$db PGUSER=$role "$BINARY" --once 2>"$work/log.once"; then ok "--once after the invalidation exits 0"; else not_ok "--once after the invalidation exits 0"; tail -20 "$work/log.once" >&2; fi
if equal_to_source "$work/good.db" && equal_to_source "$work/bad.db"; then ok "both targets equal the source, deleted rows gone"; else not_ok "targets equal the source (good '$(rows "$work/good.db")', bad '$(rows "$work/bad.db")', source '$(source_rows)')"; fi
if grep -q "WARNING: PostgreSQL invalidated slot $good_slot" "$work/log.once"; then ok "the invalidation is logged loudly"; else not_ok "the invalidation is logged loudly"; fi
event=$(scalar "SELECT count(*) FROM mosta.activity WHERE action = 'slot_invalidated' AND detail->>'slot' = '$good_slot'")
flags=$(scalar "SELECT resnapshots || ' ' || (warning LIKE '%invalidated%')::int FROM mosta_rule_targets('r1') WHERE replica = 'good'")
# one event per target of the rule: the slot is theirs
if [ "$event" = 2 ] && [ "$flags" = "1 1" ]; then ok "mosta.activity and mosta_rule_targets() record the re-snapshot"; else not_ok "re-snapshot recorded (activity $event, target '$flags')"; fi

# 4. the rule is removed: the next run drops its slots.
psql_db -c "SELECT mosta_remove_rule('r1')" >/dev/null
PGDATABASE=$db PGUSER=$role "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!
no_slots() { [ "$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = '$db'")" = 0 ]; }
if poll_until 30 no_slots; then ok "removed rule: its slots dropped"; else not_ok "removed rule: its slots dropped ($(scalar "SELECT string_agg(slot_name, ' ') FROM pg_replication_slots WHERE database = '$db'"))"; fi
stop_daemon "daemon without rules: SIGTERM, exit 0"

finish
