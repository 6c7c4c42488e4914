#!/usr/bin/env bash
# ha_dcs_sidecars.sh: two rule sidecars with --dcs on one catalog (issue 17, test (b); docs/sidecar.md "Several
# sidecars: --dcs"), cluster of PGHOST/PGPORT/PGUSER as scripts/pg-cluster run provides. Starts a 3-member etcd
# (scripts/etcd-cluster), declares one cdc rule into a SQLite target and a JSON archive (jsonl) target, starts two
# sidecars (--dcs-ttl 3s, --poll-interval 200ms for the test's speed) and a write load in the background (small
# transactions: inserts into an insert-only table, updates, deletes and inserts on a keyed one). Checks:
#   1. exactly one sidecar holds P/rules/r1 and streams (one active slot; the other never starts the rule), and
#      one holds P/sidecar-leader;
#   2. kill -9 of the holder mid-load: the other takes the key (polled with a deadline) and streams (the slot's
#      confirmed position moves again); a row committed right after the kill reaches the SQLite target (committed
#      while streaming, as bench/failover.sh's takeover case expects); a rule_takeover row (from, to) in
#      mosta.activity;
#   3. the killed one runs again; the holder is frozen with SIGSTOP mid-load: the restarted one takes the key and
#      terminates the frozen holder's walsender (logged; rule_takeover with terminated_pid); woken with SIGCONT,
#      the former holder stops the rule (its lease lapsed; its sinks refuse to commit) and the key stays with the
#      new holder, which streams (checked after SIGCONT: a holder frozen inside a SQLite write transaction keeps
#      the file's lock until it runs again);
#   4. the load stops; 5. SIGTERM of the holder: it exits 0, revokes its lease on its way out (its P/sidecars key
#      is gone as soon as it exited, not a TTL later) and the other takes the rule;
#   6. etcd loses its quorum (two members killed): the holder stops the rule at its fence deadline (the slot
#      idle); the members back, it holds and streams r1 again;
#   7. more changes; once caught up, "mosta-sidecar verify r1" says equal, and the archive holds every change
#      exactly once: no transaction twice (commit_lsn), no change document twice ((xid, lsn, index in its
#      transaction)), every row of the insert-only table inserted once.
# The times (kill -9, SIGSTOP -> key taken -> streaming; SIGTERM -> key taken) are printed, no threshold asserted
# (bench/failover.sh measures them at the production TTL). The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR),
# default build/sidecar/mosta-sidecar.
# Prints "ha_dcs_sidecars: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it kills its sidecars mid-stream and runs an etcd cluster: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_sidecars
require_cluster
require_sidecar
command -v etcd >/dev/null && command -v etcdctl >/dev/null || fail_setup "etcd and etcdctl are needed: make deps (etcd-server, etcd-client)"

# lib/tap.sh: $db (created), $work, psql_db, scalar and the exit trap, which runs cleanup_extra (the sidecars, the
# load, etcd) and drops the slots, $db and $work
use_database mosta_ha_dcs_sidecars_$$
pid_a=
pid_b=
load=
cleanup_extra() {
	for pid in $pid_a $pid_b $load; do kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	scripts/etcd-cluster stop "$work/etcd" >/dev/null 2>&1
}
export PGTZ=UTC

if ! scripts/etcd-cluster start "$work/etcd" 3 >"$work/etcd.env" 2>"$work/etcd.err"; then
	not_ok "etcd cluster starts"
	cat "$work/etcd.err" >&2
	finish
fi
# shellcheck disable=SC1091
source "$work/etcd.env"
prefix=/mosta_test_$$
dcs_url="etcd://$MOSTA_DCS_HOSTS$prefix"
etcd_get() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=2s get --print-value-only "$prefix/$1" 2>/dev/null; }

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE acct (id int PRIMARY KEY, balance bigint, note text);
CREATE TABLE events (id bigint PRIMARY KEY, round int, payload text); -- insert-only: each row archived once
CREATE TABLE load_control (stop boolean NOT NULL);
INSERT INTO load_control VALUES (false);
INSERT INTO acct SELECT i, 0, 'seed ' || i FROM generate_series(1, 500) i;
CREATE SEQUENCE event_ids;
-- rounds of small transactions until load_control says stop
CREATE PROCEDURE churn() LANGUAGE plpgsql AS $$
DECLARE r int := 0;
BEGIN
	WHILE NOT (SELECT stop FROM load_control) LOOP
		r := r + 1;
		INSERT INTO events SELECT nextval('event_ids'), r, md5(g::text) FROM generate_series(1, 3) g;
		UPDATE acct SET balance = balance + 1, note = 'round ' || r WHERE id % 50 = r % 50;
		DELETE FROM acct WHERE id = 1000 + r - 1;
		INSERT INTO acct VALUES (1000 + r, r, 'new ' || r);
		COMMIT;
		PERFORM pg_sleep(0.002); -- --allow-sleep: pacing of the workload, not a wait for a result
	END LOOP;
END $$;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/app.db" -v archive="$work/archive" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_replica('app', 'archive', 'slave', 'jsonl', :'archive');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['acct', 'events']);
SQL

# start_sidecar NAME: a daemon with --dcs in the background, its log in $work/log.NAME; sets started_pid.
start_sidecar() {
	echo "--- start $(date +%T.%N)" >>"$work/log.$1"
	PGDATABASE=$db "$BINARY" --dcs "$dcs_url" --dcs-ttl 3s --poll-interval 200ms --status-interval 500ms \
		--heartbeat-interval 1s --name "$1" 2>>"$work/log.$1" &
	started_pid=$!
}
now() { date +%s.%N; }
elapsed_ms() { python3 -c 'import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' "$1" "$2"; }
holder() { etcd_get rules/r1; }
holder_is() { [ "$(holder)" = "$1" ]; }
holder_set() { [ -n "$(holder)" ]; }
slot_name() { scalar "SELECT slot_name FROM pg_replication_slots WHERE database = current_database() AND plugin = 'mostajs' AND NOT temporary LIMIT 1"; }
confirmed() { scalar "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'"; }
confirmed_past() { [ "$(scalar "SELECT active AND confirmed_flush_lsn > '$1' FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]; }
streaming() { [ -n "$(slot_name)" ] && [ "$(scalar "SELECT coalesce((SELECT confirmed_lsn IS NOT NULL FROM mosta.rule_stats WHERE rule = 'r1'), false)")" = t ]; }
end_lsn=
caught_up() {
	[ -n "$end_lsn" ] || end_lsn=$(scalar "SELECT mosta_heartbeat()::text")
	[ "$(scalar "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]
}

# 1. Two sidecars: one holds the rule and streams, the other waits.
start_sidecar side-a
pid_a=$started_pid
start_sidecar side-b
pid_b=$started_pid
if poll_until 30 holder_set && poll_until 30 streaming; then
	first=$(holder)
	ok "one sidecar holds P/rules/r1 and the rule streams (holder $first)"
else
	not_ok "one sidecar holds P/rules/r1 and the rule streams (holder '$(holder)')"
	tail -n 20 "$work"/log.side-* >&2
	finish
fi
slot=$(slot_name)
case $first in
side-a) active=$pid_a other=side-b other_pid=$pid_b ;;
*) active=$pid_b other=side-a other_pid=$pid_a ;;
esac
at_load=$(confirmed)
psql_db >"$work/log.load" 2>&1 -c "CALL churn()" &
load=$!
# mid-load: some rounds made, and the holder streams them
mid_load() { [ "$(scalar "SELECT count(*) >= 300 FROM events")" = t ] && confirmed_past "$at_load"; }
if poll_until 60 mid_load; then ok "the load streams through $first"; else not_ok "the load streams through $first"; fi
if [ "$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active")" = 1 ] &&
	! grep -q "rule r1: starting" "$work/log.$other"; then
	ok "exactly one sidecar applies r1: one active slot, $other never started it"
else
	not_ok "exactly one sidecar applies r1: $(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active") active slot(s); $other log: $(grep -c "rule r1: starting" "$work/log.$other") start(s)"
fi
leader=$(etcd_get sidecar-leader)
if [ "$leader" = side-a ] || [ "$leader" = side-b ]; then ok "one sidecar leads the catalog's once-only work ($leader)"; else not_ok "P/sidecar-leader names a sidecar ('$leader')"; fi

# 2. kill -9 of the holder mid-load: the other takes over within TTL + a bounded delay.
kill -9 "$active"
t_kill=$(now)
wait "$active" 2>/dev/null
[ "$active" = "$pid_a" ] && pid_a= || pid_b=
at_kill=$(confirmed)
# a row committed right after the kill (bench/failover.sh's takeover case): the new holder must apply and commit it
# while streaming, not only at its stop
psql_db -c "INSERT INTO events VALUES (-1, 0, 'after the kill')" >/dev/null
if poll_until 30 holder_is "$other"; then
	t_key=$(now)
	ok "after kill -9 of $first, $other holds P/rules/r1"
else
	not_ok "after kill -9 of $first, $other holds P/rules/r1 (holder '$(holder)')"
	tail -20 "$work/log.$other" >&2
	finish
fi
if poll_until 30 confirmed_past "$at_kill"; then
	t_stream=$(now)
	ok "$other streams r1: the slot's confirmed position moves past $at_kill"
	echo "    takeover after kill -9 (ttl 3s, poll 200ms): key taken in $(elapsed_ms "$t_kill" "$t_key") ms, streaming in $(elapsed_ms "$t_kill" "$t_stream") ms"
else
	not_ok "$other streams r1: the slot's confirmed position moves past $at_kill"
	tail -20 "$work/log.$other" >&2
fi
marker_in_sqlite() { [ "$(sqlite3 -readonly "$work/app.db" "SELECT count(*) FROM \"public.events\" WHERE id = -1" 2>/dev/null)" = 1 ]; }
if poll_until 30 marker_in_sqlite; then
	ok "the row committed right after the kill is in the SQLite target (applied and committed by $other)"
else
	not_ok "the row committed right after the kill is in the SQLite target (applied and committed by $other)"
	tail -20 "$work/log.$other" >&2
fi
takeovers=$(scalar "SELECT count(*) FROM mosta.activity WHERE action = 'rule_takeover' AND object = 'r1' AND detail->>'from' = '$first' AND detail->>'to' = '$other'")
if [ "${takeovers:-0}" -ge 1 ]; then ok "mosta.activity has rule_takeover r1 $first -> $other"; else not_ok "mosta.activity has rule_takeover r1 $first -> $other ($(scalar "SELECT json_agg(detail) FROM mosta.activity WHERE action = 'rule_takeover'"))"; fi

# 3. The killed one runs again; the holder is frozen (SIGSTOP) mid-load: its walsender still holds the slot, so the
# new holder terminates it (pg_terminate_backend) instead of waiting for the server to notice.
start_sidecar "$first"
[ "$first" = side-a ] && pid_a=$started_pid || pid_b=$started_pid
restarted=$started_pid
first_polls() { [ -n "$(etcd_get "sidecars/$first")" ]; }
poll_until 30 first_polls || not_ok "$first restarted publishes P/sidecars/$first"
kill -STOP "$other_pid"
t_stop=$(now)
at_stop=$(confirmed)
if poll_until 30 holder_is "$first"; then
	t_key=$(now)
	ok "after SIGSTOP of $other, $first holds P/rules/r1"
else
	not_ok "after SIGSTOP of $other, $first holds P/rules/r1 (holder '$(holder)')"
	tail -20 "$work/log.$first" >&2
fi
walsender_terminated() { grep -q "rule r1: slot .* was still active for walsender pid .*: terminated" "$work/log.$first"; }
if poll_until 30 walsender_terminated; then
	ok "$first terminated the frozen holder's walsender"
else
	not_ok "$first terminated the frozen holder's walsender"
	grep "r1" "$work/log.$first" | tail -5 >&2
fi
takeover_logged() { [ "$(scalar "SELECT count(*) > 0 FROM mosta.activity WHERE action = 'rule_takeover' AND detail->>'from' = '$other' AND detail->>'to' = '$first' AND detail->>'terminated_pid' IS NOT NULL")" = t ]; }
if poll_until 30 takeover_logged; then ok "mosta.activity has rule_takeover r1 $other -> $first with the terminated pid"; else not_ok "mosta.activity has rule_takeover r1 $other -> $first with the terminated pid"; fi
# woken up, the former holder stops the rule (its fence deadline passed): it writes nothing more
kill -CONT "$other_pid"
t_cont=$(now)
fenced() { grep -q "rule r1: stopped, its lease is not this sidecar's any more" "$work/log.$other"; }
if poll_until 30 fenced && holder_is "$first"; then
	ok "$other, resumed, stopped r1 (its lease lapsed) and $first still holds it"
else
	not_ok "$other, resumed, stopped r1 (its lease lapsed) and $first still holds it (holder '$(holder)')"
	tail -10 "$work/log.$other" >&2
fi

# the SQLite target may wait for the frozen holder: one frozen inside a SQLite write transaction keeps the file's
# lock until it resumes (and, fenced, rolls back) or dies; so streaming is checked once it runs again
if poll_until 30 confirmed_past "$at_stop"; then
	t_stream=$(now)
	ok "$first streams r1 (the slot's confirmed position moves past $at_stop)"
	echo "    takeover after SIGSTOP: key taken in $(elapsed_ms "$t_stop" "$t_key") ms, streaming in $(elapsed_ms "$t_stop" "$t_stream") ms (SIGCONT at $(elapsed_ms "$t_stop" "$t_cont") ms)"
else
	not_ok "$first streams r1 (the slot's confirmed position moves past $at_stop)"
	tail -20 "$work/log.$first" >&2
fi

# 4. The load stops.
psql_db -c "UPDATE load_control SET stop = true" >/dev/null
if wait "$load"; then ok "the load ran ($(scalar "SELECT count(*) FROM events") events)"; else not_ok "the load ran"; cat "$work/log.load" >&2; fi
load=

# 5. SIGTERM of the holder: its lease is revoked once its rule stopped, the handover is immediate.
kill -TERM "$restarted"
t_term=$(now)
if poll_until 30 holder_is "$other"; then
	t_handover=$(now)
	ok "after SIGTERM of $first, $other holds P/rules/r1"
	echo "    handover after SIGTERM: key taken in $(elapsed_ms "$t_term" "$t_handover") ms (ttl 3000 ms)"
else
	not_ok "after SIGTERM of $first, $other holds P/rules/r1 (holder '$(holder)')"
fi
first_gone() { ! kill -0 "$restarted" 2>/dev/null; }
if poll_until 30 first_gone && wait "$restarted"; then
	ok "$first exits 0 on SIGTERM"
else
	not_ok "$first exits 0 on SIGTERM"
	kill -9 "$restarted" 2>/dev/null
fi
# right after its exit its lease is gone with its keys: revoked, not left to expire a TTL later
sidecar_key=$(etcd_get "sidecars/$first")
[ "$first" = side-a ] && pid_a= || pid_b=
if [ -z "$sidecar_key" ] && grep -q "revoked" "$work/log.$first"; then
	ok "$first revoked its lease on SIGTERM (P/sidecars/$first gone at its exit)"
else
	not_ok "$first revoked its lease on SIGTERM (P/sidecars/$first: '$sidecar_key')"
	tail -5 "$work/log.$first" >&2
fi
last=$other
last_pid=$other_pid

# 6. etcd loses its quorum: the holder cannot renew, and stops the rule at its fence deadline (ttl - 2 s after its
# last keep-alive) whatever its calls to etcd are doing; the quorum back, the rule runs again.
fence_lines() { grep -c "not renewed by its fence deadline" "$work/log.$last"; }
fenced_before=$(fence_lines)
scripts/etcd-cluster stop-member "$work/etcd" 2
t_loss=$(now) # the second member's kill loses the quorum
scripts/etcd-cluster stop-member "$work/etcd" 3
slot_idle() { [ "$(fence_lines)" -gt "$fenced_before" ] && [ "$(scalar "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" = f ]; }
if poll_until 30 slot_idle; then
	echo "    quorum lost: r1 stopped within $(elapsed_ms "$t_loss" "$(now)") ms (fence deadline: 1 s after the last keep-alive)"
	ok "quorum lost: $last stops r1 at its fence deadline (no walsender on the slot)"
else
	not_ok "quorum lost: $last stops r1 at its fence deadline (no walsender on the slot)"
	tail -10 "$work/log.$last" >&2
fi
scripts/etcd-cluster start-member "$work/etcd" 2
scripts/etcd-cluster start-member "$work/etcd" 3
slot_active() { [ "$(scalar "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ] && holder_is "$last"; }
if poll_until 60 slot_active; then
	ok "quorum back: $last holds r1 and streams again"
else
	not_ok "quorum back: $last holds r1 and streams again (holder '$(holder)')"
	tail -10 "$work/log.$last" >&2
fi

# 7. More changes through the last holder, then everything is checked.
psql_db -c "INSERT INTO events SELECT nextval('event_ids'), -1, 'after' FROM generate_series(1, 50); UPDATE acct SET note = 'after' WHERE id <= 20; DELETE FROM acct WHERE id BETWEEN 21 AND 30" >/dev/null
if poll_until 60 caught_up; then
	ok "$last caught up (confirmed past $end_lsn)"
else
	not_ok "$last caught up (confirmed $(confirmed), want $end_lsn)"
	tail -20 "$work/log.$last" >&2
fi
if PGDATABASE=$db "$BINARY" verify r1 >"$work/verify.out" 2>"$work/verify.err"; then
	ok "mosta-sidecar verify r1: the SQLite target equals the source"
else
	not_ok "mosta-sidecar verify r1: the SQLite target equals the source"
	cat "$work/verify.out" "$work/verify.err" >&2
fi

# The archive: every change once. Format version 3 row changes name their relation document (relid) and carry
# values by position (sidecar/src/sink/json_archive_sink.hpp).
psql -X -At -d "$db" -c "SELECT id FROM events ORDER BY id" >"$work/events.ids"
python3 - "$work/archive" "$work/events.ids" >"$work/check.out" 2>&1 <<'PY'
import collections, glob, json, os, sys
directory, ids_file = sys.argv[1:3]
source_ids = collections.Counter(int(line) for line in open(ids_file) if line.strip())
def check(condition, text):
    print(("PASS " if condition else "FAIL ") + text)
transactions, current, relations, bad = [], None, {}, []
for path in sorted(glob.glob(os.path.join(directory, "archive-*.jsonl"))):
    relations = {}
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        try:
            d = json.loads(line)
        except ValueError as e:
            bad.append(f"{os.path.basename(path)}:{number}: {e}")
            continue
        op = d.get("op")
        if op == "relation":
            relations[d["relid"]] = d
        elif op == "begin":
            current = {"commit_lsn": d.get("commit_lsn"), "changes": []}
        elif op == "commit":
            if current is not None:
                transactions.append(current)
            current = None
        elif current is not None:
            if "relid" in d:
                relation = relations.get(d["relid"], {})
                d["table"] = relation.get("table")
                if isinstance(d.get("new"), list):
                    d["new"] = dict(zip([c["name"] for c in relation.get("columns", [])], d["new"]))
            current["changes"].append(d)
check(transactions and not bad, f"archive parsed: {len(transactions)} transactions" + (f"; bad lines {bad[:3]}" if bad else ""))
commits = collections.Counter(t["commit_lsn"] for t in transactions)
twice = [lsn for lsn, n in commits.items() if n > 1]
check(not twice, f"no transaction archived twice (distinct commit_lsn of {len(commits)})" + (f"; twice: {twice[:5]}" if twice else ""))
identities = collections.Counter()
for t in transactions:
    for index, c in enumerate(t["changes"]):
        if c.get("op") in ("insert", "update", "delete"):
            identities[(c.get("xid"), c.get("lsn"), index)] += 1
doubled = [k for k, n in identities.items() if n > 1]
check(identities and not doubled, f"no change document twice by (xid, lsn, index): {len(identities)} changes"
      + (f"; doubled {doubled[:5]}" if doubled else ""))
archived = collections.Counter(c["new"]["id"] for t in transactions for c in t["changes"]
                               if c.get("op") == "insert" and c.get("table") == "events" and isinstance(c.get("new"), dict))
missing = set(source_ids) - set(archived)
extra = [i for i, n in archived.items() if n > 1 or i not in source_ids]
check(sum(source_ids.values()) > 0 and not missing and not extra,
      f"every row of events archived once: {sum(source_ids.values())} in the source, {sum(archived.values())} inserts archived"
      + (f"; missing {sorted(missing)[:5]}" if missing else "") + (f"; doubled or unknown {sorted(extra)[:5]}" if extra else ""))
PY
while IFS= read -r line; do
	case $line in
	"PASS "*) ok "${line#PASS }" ;;
	"FAIL "*) not_ok "${line#FAIL }" ;;
	*) echo "    $line" ;;
	esac
done <"$work/check.out"
grep -h "dcs:\|takeover\|taken over\|terminated\|lease" "$work"/log.side-* | sed 's/^/    /' | head -40

# the last sidecar stops cleanly
daemon=$last_pid
[ "$last" = side-a ] && pid_a= || pid_b=
cp "$work/log.$last" "$work/log.daemon"
stop_daemon "$last exits 0 on SIGTERM"
finish
