#!/usr/bin/env bash
# sidecar_fanout.sh: one slot per rule, fanned out to its targets in the sidecar (docs/guarantees.md, "One slot per
# rule"), cluster of PGHOST/PGPORT/PGUSER as scripts/pg-cluster run provides. Rule r1 ('*') into three targets of
# project app: "lite" (SQLite), "dump" (SQL dump) and "arch" (JSON archive).
#   1. While streaming: exactly one slot for the rule and one walsender; all three targets receive the same rows
#      (SQLite compared row by row, the dump replayed, the archive holding each inserted row once).
#   2. lite fails (its file locked by another process): it is in error while dump and arch keep receiving new
#      rows; unlocked, it catches up, and the others hold nothing twice.
#   3. kill -9 in the middle of a stream of small transactions, restart, --once: every target equals the source.
#   4. Migration from 0.2.0: per-target slots made by hand (pg_create_logical_replication_slot with the names of
#      SlotName) behind every target's checkpoint, the rule's slot dropped: the next run copies the per-target
#      slot furthest behind to the rule's slot and drops them, without a new copy (resnapshots unchanged, each row
#      once).
# Prints "sidecar_fanout: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_fanout
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work (MOSTA_DATA_DIR), $daemon, psql_db, scalar and the exit trap
use_database mosta_sidecar_fanout_$$
replay=${db}_replay
workload=
locker=
cleanup_extra() {
	[ -n "$workload" ] && kill "$workload" 2>/dev/null && wait "$workload" 2>/dev/null
	[ -n "$locker" ] && kill "$locker" 2>/dev/null && wait "$locker" 2>/dev/null
	dropdb --if-exists "$replay" >/dev/null 2>&1
}

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 50) i;
CREATE TABLE log (seq int, note text); -- no key: a row applied twice shows as a duplicate
ALTER TABLE log REPLICA IDENTITY FULL;
INSERT INTO log SELECT i, 'seed' FROM generate_series(1, 20) i;
CREATE PROCEDURE churn(first int, rounds int) LANGUAGE plpgsql AS $$
BEGIN
	FOR r IN first .. first + rounds - 1 LOOP
		INSERT INTO log VALUES (r, 'churn');
		UPDATE t SET v = 'churn ' || r WHERE id = r % 50 + 1;
		COMMIT;
	END LOOP;
END $$;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'lite.db');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', 'app.sql');
SELECT mosta_add_replica('app', 'arch', 'slave', 'jsonl', 'arch');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

start_daemon() {
	echo "--- start $1" >>"$work/log.daemon"
	PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>>"$work/log.daemon" &
	daemon=$!
}

# lite_equal: the SQLite target equals the source, as multisets (a doubled row shows)
lite_equal() {
	python3 - "$work/lite.db" "$db" <<'PY' 2>"$work/lite.diff"
import collections, json, sqlite3, subprocess, sys
path, db = sys.argv[1], sys.argv[2]
lite = sqlite3.connect(path)
for table, cols in {"t": ["id", "v"], "log": ["seq", "note"]}.items():
    out = subprocess.run(["psql", "-X", "-At", "-d", db, "-c", f"SELECT json_build_array({', '.join(cols)}) FROM {table}"],
                         check=True, capture_output=True, text=True).stdout
    source = collections.Counter(tuple(json.loads(line)) for line in out.splitlines())
    target = collections.Counter(tuple(r) for r in lite.execute(f'SELECT {", ".join(cols)} FROM "public.{table}"'))
    if source != target:
        print(f"{table}: source {sum(source.values())}, sqlite {sum(target.values())}", file=sys.stderr)
        sys.exit(1)
PY
}

# dump_equal: the SQL dump replayed into a fresh database equals the source (EXCEPT ALL both ways)
dump_equal() {
	dropdb --if-exists "$replay" >/dev/null 2>&1
	createdb "$replay" || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d "$replay" -f "$work/app.sql" >"$work/replay.log" 2>&1 || return 1
	local table diff
	for table in t log; do
		psql -X -At -d "$db" -c "COPY $table TO STDOUT" | sort >"$work/source.$table"
		psql -X -At -d "$replay" -c "COPY public.$table TO STDOUT" | sort >"$work/replay.$table"
		diff -q "$work/source.$table" "$work/replay.$table" >/dev/null || return 1
	done
}

# archive_once: every row of log is inserted exactly once in the JSON archive (copy and stream together)
archive_once() {
	python3 - "$work/arch" "$db" <<'PY' 2>"$work/arch.diff"
import collections, glob, json, os, subprocess, sys
directory, db = sys.argv[1], sys.argv[2]
seen = collections.Counter()
for name in sorted(glob.glob(os.path.join(directory, "archive-*.jsonl"))):
    relations = {}  # format version 3: each file describes its own relations, rows are values by position
    for line in open(name, encoding="utf-8"):
        doc = json.loads(line)
        if doc.get("op") == "relation":
            relations[doc["relid"]] = doc
            continue
        table, new = doc.get("table"), doc.get("new")
        if "relid" in doc:
            relation = relations[doc["relid"]]
            table = relation["table"]
            if isinstance(new, list):
                new = dict(zip([c["name"] for c in relation["columns"]], new))
        if doc.get("op") == "insert" and table == "log":
            seen[new["seq"]] += 1
out = subprocess.run(["psql", "-X", "-At", "-d", db, "-c", "SELECT seq FROM log"], check=True, capture_output=True,
                     text=True).stdout
source = collections.Counter(int(line) for line in out.splitlines())
if seen != source:
    extra, missing = seen - source, source - seen
    print(f"archive: {sum(seen.values())} inserts, source {sum(source.values())} rows; "
          f"twice or more: {list(extra)[:5]}, missing: {list(missing)[:5]}", file=sys.stderr)
    sys.exit(1)
PY
}

status_of() { scalar "SELECT status FROM mosta_rule_targets('r1') WHERE replica = '$1'"; }
applied_past() { [ "$(scalar "SELECT bool_and(applied_lsn >= '$2') FROM mosta.target_status WHERE rule = 'r1' AND replica IN ($1)")" = t ]; }
mosta_slots() { scalar "SELECT string_agg(slot_name, ' ' ORDER BY slot_name) FROM pg_replication_slots WHERE database = '$db'"; }

# 1. one slot, one walsender, the same rows everywhere
start_daemon 0
if poll_until 60 lite_equal; then ok "initial copy into lite"; else not_ok "initial copy into lite ($(cat "$work/lite.diff"))"; fi
rule_slot=$(scalar "SELECT slot FROM mosta.target_status WHERE rule = 'r1' AND replica = 'lite'")
psql_db -c "CALL churn(1, 30)" >/dev/null
lsn=$(scalar "SELECT mosta_heartbeat()") # a message every target of the rule applies: its LSN becomes their checkpoint
if poll_until 60 applied_past "'lite', 'dump', 'arch'" "$lsn"; then ok "all three targets applied the new rows"; else not_ok "all three targets applied the new rows"; fi
slots=$(scalar "SELECT count(*) || ' ' || string_agg(slot_name, ' ') FROM pg_replication_slots WHERE database = '$db'")
if [ "$slots" = "1 $rule_slot" ]; then ok "exactly one slot for the rule's three targets: $rule_slot"; else not_ok "exactly one slot for the rule ('$slots', expected '1 $rule_slot')"; fi
slot_targets=$(scalar "SELECT count(DISTINCT slot) || ' ' || count(*) FROM mosta.target_status WHERE rule = 'r1'")
if [ "$slot_targets" = "1 3" ]; then ok "mosta.target_status: the rule's slot for its three targets"; else not_ok "mosta.target_status: one slot for three targets ('$slot_targets')"; fi
walsenders=$(scalar "SELECT count(*) FROM pg_stat_replication")
active=$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = '$db' AND active")
if [ "$walsenders" = 1 ] && [ "$active" = 1 ]; then ok "one walsender while streaming"; else not_ok "one walsender while streaming ($walsenders walsenders, $active active slots)"; fi
if poll_until 30 lite_equal; then ok "lite equals the source"; else not_ok "lite equals the source ($(cat "$work/lite.diff"))"; fi
if dump_equal; then ok "the dump replays equal to the source"; else not_ok "the dump replays equal to the source ($(tail -3 "$work/replay.log"))"; fi
if archive_once; then ok "the archive holds each row once"; else not_ok "the archive holds each row once ($(cat "$work/arch.diff"))"; fi

# 2. lite fails (locked): dump and arch go on; unlocked, lite catches up; nothing doubled
python3 -c 'import signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
signal.pause()' "$work/lite.db" "$work/locked" &
locker=$!
poll_until 10 test -e "$work/locked" || not_ok "lock taken"
psql_db -c "CALL churn(31, 40)" >/dev/null
lsn=$(scalar "SELECT mosta_heartbeat()") # a message every target of the rule applies: its LSN becomes their checkpoint
lite_error() { [ "$(status_of lite)" = error ]; }
if poll_until 60 lite_error; then ok "lite in error: $(scalar "SELECT left(last_error, 60) FROM mosta_rule_targets('r1') WHERE replica = 'lite'")"; else not_ok "lite in error ('$(status_of lite)')"; fi
if poll_until 60 applied_past "'dump', 'arch'" "$lsn"; then ok "dump and arch keep receiving while lite fails"; else not_ok "dump and arch keep receiving while lite fails"; fi
if [ "$(status_of dump) $(status_of arch)" = "streaming streaming" ]; then ok "dump and arch streaming"; else not_ok "dump and arch streaming ('$(status_of dump) $(status_of arch)')"; fi
held=$(scalar "SELECT (s.confirmed_flush_lsn <= t.applied_lsn)::text FROM pg_replication_slots s, mosta.target_status t WHERE s.slot_name = '$rule_slot' AND t.rule = 'r1' AND t.replica = 'lite'")
if [ "$held" = true ]; then ok "the failing target holds the rule's slot back"; else not_ok "the failing target holds the rule's slot back ('$held')"; fi
kill "$locker"
wait "$locker" 2>/dev/null
locker=
if poll_until 90 lite_equal; then ok "lite caught up once unlocked"; else not_ok "lite caught up once unlocked ($(cat "$work/lite.diff"))"; fi
if poll_until 30 grep -q "target app.dump: skipped [0-9]* transaction(s) it already held" "$work/log.daemon"; then ok "the targets ahead skipped what they held: $(grep -o "target app.dump: skipped [0-9]* transaction(s)" "$work/log.daemon" | tail -1)"; else not_ok "the targets ahead logged what they skipped"; fi
lsn=$(scalar "SELECT mosta_heartbeat()") # a message every target of the rule applies: its LSN becomes their checkpoint
poll_until 30 applied_past "'lite', 'dump', 'arch'" "$lsn"
if dump_equal; then ok "dump: nothing doubled"; else not_ok "dump: nothing doubled ($(tail -3 "$work/replay.log"))"; fi
if archive_once; then ok "arch: nothing doubled"; else not_ok "arch: nothing doubled ($(cat "$work/arch.diff"))"; fi

# 3. kill -9 in the middle of a stream of transactions, then a restart (--once) finishes the job
psql_db -c "CALL churn(100, 20000)" >"$work/log.workload" 2>&1 &
workload=$!
base=$(scalar "SELECT changes_applied FROM mosta.rule_stats WHERE rule = 'r1'")
past_base() { [ "$(scalar "SELECT changes_applied FROM mosta.rule_stats WHERE rule = 'r1'")" -gt $((base + 500)) ]; }
poll_until 60 past_base || not_ok "no progress before the kill"
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
daemon=
if kill -0 "$workload" 2>/dev/null; then ok "killed in the middle of the stream"; else not_ok "killed in the middle of the stream (the workload was over)"; fi
wait "$workload"
workload=
no_active() { [ "$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = '$db' AND active")" = 0 ]; }
poll_until 30 no_active
run_once after-kill
if lite_equal; then ok "after kill -9: lite equals the source"; else not_ok "after kill -9: lite equals the source ($(cat "$work/lite.diff"))"; fi
if dump_equal; then ok "after kill -9: the dump replays equal to the source"; else not_ok "after kill -9: dump equal ($(tail -3 "$work/replay.log"))"; fi
if archive_once; then ok "after kill -9: the archive holds each row once"; else not_ok "after kill -9: archive ($(cat "$work/arch.diff"))"; fi

# 4. migration from 0.2.0's per-target slots, without a new copy
slot_name() {
	python3 - "$@" <<'PY'
import re, sys
rule, project, replica = sys.argv[1:4]
h = 2166136261
for part in (rule, project, replica):
    for c in part.encode() + b"\0":
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
alphabet = lambda s: re.sub(r"[^a-z0-9_]", "_", s)
print("mosta_" + (alphabet(rule) + "_" + alphabet(replica))[:48] + "_%08x" % h)
PY
}
resnapshots=$(scalar "SELECT sum(resnapshots) FROM mosta.target_status WHERE rule = 'r1'")
start_daemon 2
poll_until 30 test "$(status_of arch)" = streaming
old_slots=
for replica in lite dump arch; do
	name=$(slot_name r1 app $replica)
	old_slots="$old_slots $name"
	psql_db -o /dev/null -c "SELECT pg_create_logical_replication_slot('$name', 'mostajs')" || not_ok "slot $name created"
done
psql_db -c "CALL churn(5000, 20)" >/dev/null
lsn=$(scalar "SELECT mosta_heartbeat()") # a message every target of the rule applies: its LSN becomes their checkpoint
if poll_until 60 applied_past "'lite', 'dump', 'arch'" "$lsn"; then ok "every target's checkpoint past the per-target slots"; else not_ok "every target's checkpoint past the per-target slots"; fi
stop_daemon "daemon before the migration: SIGTERM, exit 0"
psql_db -o /dev/null -c "SELECT pg_drop_replication_slot('$rule_slot')"
psql_db -c "CALL churn(6000, 25)" >/dev/null # after the checkpoints, before the migration: kept by the old slots
run_once migration
if grep -q "rule r1: migrated 3 per-target slot(s) of mostajs 0.2.0 to slot $rule_slot" "$work/log.migration"; then ok "migration logged"; else not_ok "migration logged"; fi
slots=$(mosta_slots)
if [ "$slots" = "$rule_slot" ]; then ok "per-target slots replaced by the rule's slot"; else not_ok "per-target slots replaced by the rule's slot ('$slots')"; fi
event=$(scalar "SELECT count(*) FROM mosta.activity WHERE action = 'slot_migrated' AND detail->>'slot' = '$rule_slot'")
if [ "$event" = 1 ]; then ok "mosta.activity records the migration"; else not_ok "mosta.activity records the migration ($event rows)"; fi
after=$(scalar "SELECT sum(resnapshots) FROM mosta.target_status WHERE rule = 'r1'")
if [ "$after" = "$resnapshots" ] && ! grep -q "initial copy" "$work/log.migration"; then ok "no new copy (resnapshots $after)"; else not_ok "no new copy (resnapshots $resnapshots -> $after)"; fi
if lite_equal; then ok "after the migration: lite equals the source"; else not_ok "after the migration: lite ($(cat "$work/lite.diff"))"; fi
if dump_equal; then ok "after the migration: the dump replays equal"; else not_ok "after the migration: dump ($(tail -3 "$work/replay.log"))"; fi
if archive_once; then ok "after the migration: each row once in the archive"; else not_ok "after the migration: archive ($(cat "$work/arch.diff"))"; fi
grep -q "Segmentation\|terminate called\|Aborted" "$work/log.daemon" "$work"/log.* && not_ok "no crash" || ok "no crash"

finish
