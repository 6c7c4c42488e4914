#!/usr/bin/env bash
# ha_dcs_cdc.sh: CDC across an automatic failover on etcd (issue 17, item 2: "the catalog and routing follow; CDC
# rules continue as in the manual case"; docs/ha.md, docs/failover.md "CDC across the failover").
# Three nodes with their node agents in DCS mode (lib/ha_dcs.sh: 3-member etcd, --dcs-ttl 4s, --synchronous on,
# lag_tolerance_ms 0) and ONE rule sidecar with --dcs (the same etcd and prefix), --name cdc1 and the multi-host
# read-write source (host=127.0.0.1,127.0.0.1,127.0.0.1 port=N1,N2,N3 ... target_session_attrs=read-write
# connect_timeout=5). A cdc rule r1 from the project's master (tables ha_load, the write load's, and acct) into a
# SQLite file and a JSON archive (jsonl). Under the write load (single-row commits through the same multi-host
# DSN), node1's postmaster is killed (kill -9). Then, each before a deadline:
#   - a new leader, writable; the catalog on it names it master;
#   - the sidecar follows it: the rule's slot is created again there and active; the SQLite target is re-synced by
#     key-range checksums (activity row resync, its counts printed), the archive copied whole, loudly (resnapshot);
#   - rows written on the new master (the load, and updates and deletes of acct) reach SQLite (counted in the file),
#     and "mosta-sidecar verify r1 --source <new master>" says equal;
#   - routing: from the new master's first write until node1 has rejoined (a walsender for it on the new master),
#     mosta_read_replica('app') on the new master never returns node1 and mosta_replica_status never shows it
#     within tolerance (probed every 100 ms);
#   - every acknowledged commit of the load is on the new master.
# The times (kill -> sidecar streaming on the new master, -> re-sync logged) are printed, not asserted.
# Everything it starts is stopped on exit (the harness's trap, the sidecar included). The binary: MOSTA_SIDECAR_BIN
# (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar. Prints "ha_dcs_cdc: N passed, N failed"; exits non-zero
# on failure. It needs no cluster from scripts/pg-cluster run: it starts its own three nodes and etcd.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_cdc
require_sidecar
BINARY=$(realpath "$BINARY")
# shellcheck source=lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
ha_dcs_init
ha_dcs_start
start_dcs_agents

if wait_leader 30 && [ "$leader" = node1 ]; then ok "node1's agent holds the leader key"
else fail_setup "node1's agent does not hold the leader key (leader '$leader')"; fi
wait_ready 30 || fail_setup "no synchronous standby (sync key '$(dcs_get sync)')"

# the schema and the rule, written on node1 once its agent granted the write lease
psql -X -q -h 127.0.0.1 -p "${node_port[node1]}" -U postgres -d "$db" -v ON_ERROR_STOP=1 -o /dev/null \
	-v lite="$work/app.db" -v archive="$work/archive" <<-'SQL' || fail_setup "schema and rule on node1"
	CREATE TABLE acct (id int PRIMARY KEY, balance bigint, note text);
	INSERT INTO acct SELECT g, g, 'seed ' || g FROM generate_series(1, 2000) g;
	SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
	SELECT mosta_add_replica('app', 'archive', 'slave', 'jsonl', :'archive');
	SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['public.ha_load', 'public.acct']);
SQL
start_dcs_sidecar cdc1 --poll-interval 100ms --status-interval 200ms --heartbeat-interval 1s
sidecar_log() { tail -"${1:-25}" "$work/log.sidecar-cdc1" | sed 's/^/    cdc1: /' >&2; }

# caught_up PORT: the rule confirmed a heartbeat written on the node at PORT after everything before (taken once
# per wait: the sidecar's own status writes move the WAL on)
heartbeat=
caught_up() {
	[ -n "$heartbeat" ] || heartbeat=$(on "$1" "SELECT mosta_heartbeat()::text" 2>/dev/null)
	[ -n "$heartbeat" ] || return 1
	[ "$(on "$1" "SELECT coalesce((SELECT confirmed_lsn >= '$heartbeat' FROM mosta.rule_stats WHERE rule = 'r1'),
	                               false)" 2>/dev/null)" = t ]
}
wait_caught_up() {
	heartbeat=
	if poll_until 60 caught_up "$1"; then ok "$2"; else not_ok "$2"; sidecar_log; fi
}
holds_rule() { [ "$(etcdctl_ get "$prefix/rules/r1" --print-value-only 2>/dev/null)" = cdc1 ]; }
poll_until 30 holds_rule && ok "the sidecar holds P/rules/r1" || { not_ok "the sidecar holds P/rules/r1"; sidecar_log; }
wait_caught_up "${node_port[node1]}" "the initial copy reached the targets"
slot_on() { on "${node_port[$1]}" "SELECT slot_name FROM pg_replication_slots WHERE plugin = 'mostajs' AND active" 2>/dev/null; }
slot=$(slot_on node1)
[ -n "$slot" ] && ok "the rule streams from node1 (slot $slot)" || not_ok "the rule streams from node1 (no active slot)"

acked=$work/acked
: >"$acked"
start_load "$acked"
acked_some() { [ "$(grep -c . "$acked")" -ge 20 ]; }
poll_until 60 acked_some && ok "the write load commits on node1" || not_ok "the write load commits on node1"
wait_caught_up "${node_port[node1]}" "the load streams to the targets"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
killed=$(now_ms)
kill -9 "$(postmaster_of node1)"
if wait_leader 40 node1; then ok "a new leader after node1's postmaster was killed: $leader"
else fail_setup "no new leader after node1's postmaster was killed"; fi
new=$leader
new_port=${node_port[$new]}
poll_until 30 writable "$new" && ok "$new takes writes" || { not_ok "$new takes writes"; agent_log "$new"; }

# routing on the new master, probed every 100 ms from now until node1 streams from it again (one statement: what
# routing returns and whether node1 streams, in the same instant); bounded by its own deadline
routes=$work/routes
probe_routing() {
	on "$new_port" "SELECT mosta_read_replica('app') || '|' ||
	                       coalesce((SELECT within_tolerance::text FROM mosta_replica_status('app') WHERE replica = 'node1'), 'none') || '|' ||
	                       coalesce((SELECT state FROM pg_stat_replication WHERE application_name = 'node1'), 'none')" 2>/dev/null
}
(
	deadline=$((SECONDS + 120))
	while [ $SECONDS -lt $deadline ]; do
		line=$(probe_routing)
		echo "$line" >>"$routes"
		[ "${line##*|}" = streaming ] && exit 0
		sleep 0.1 # --allow-sleep: the probe's pace, not a wait for a result
	done
	exit 1
) &
prober=$!
bg_pids+=("$prober")
node1_streams() {
	[ "$(on "$new_port" "SELECT state FROM pg_stat_replication WHERE application_name = 'node1'" 2>/dev/null)" = streaming ]
}

# the sidecar follows: a slot of the rule on the new master, active
streams_on_new() { [ "$(slot_on "$new")" = "$slot" ]; }
if poll_until 60 streams_on_new; then
	echo "# from the kill to the rule's slot active on $new: $(($(now_ms) - killed)) ms"
	ok "the sidecar follows $new: slot $slot created again there, active"
else
	not_ok "the sidecar follows $new: slot $slot created again there, active"
	sidecar_log
fi
resync_row() {
	on "$new_port" "SELECT concat_ws('|', d->>'rows_different', d->>'rows_extra', d->>'rows_missing', d->>'rows_deleted',
	                                d->>'rows_recopied', d->>'source_rows')
	                  FROM (SELECT detail AS d FROM mosta.activity WHERE action = 'resync' AND detail->>'replica' = 'lite'
	                         ORDER BY id DESC LIMIT 1) x" 2>/dev/null
}
resynced() { [ -n "$(resync_row)" ]; }
if poll_until 60 resynced; then
	echo "# from the kill to the re-sync logged: $(($(now_ms) - killed)) ms"
	ok "SQLite re-synced by key-range checksums on $new (different|extra|missing|deleted|recopied|source rows: $(resync_row))"
else
	not_ok "SQLite re-synced by key-range checksums on $new (activity resync)"
	sidecar_log
fi
got=$(on "$new_port" "SELECT count(*) FROM mosta.activity WHERE action = 'resnapshot' AND detail->>'replica' = 'archive'
                      AND detail->>'message' LIKE '%cannot be compared%'")
[ "$got" = 1 ] && ok "the JSON archive is copied whole, loudly (one activity row resnapshot)" ||
	not_ok "the JSON archive is copied whole, loudly (activity resnapshot: '$got' rows)"

# the load goes on through the read-write DSN, and updates and deletes on the new master
after=$(grep -c . "$acked")
acked_after() { [ "$(grep -c . "$acked")" -ge $((after + 20)) ]; }
poll_until 30 acked_after && ok "the load commits again (on $new)" || not_ok "the load commits again (on $new)"
on "$new_port" "UPDATE acct SET balance = -balance, note = 'after' WHERE id % 10 = 3;
                DELETE FROM acct WHERE id % 100 = 7;
                INSERT INTO acct SELECT 10000 + g, g, 'after' FROM generate_series(1, 25) g" >/dev/null ||
	not_ok "updates, deletes and inserts on $new"
stop_load
missing=$(acked_missing "$new_port" "$acked")
[ "$missing" = 0 ] && ok "every acknowledged commit ($(grep -c . "$acked")) is on $new" ||
	not_ok "every acknowledged commit is on $new ($missing missing)"
wait_caught_up "$new_port" "the new master's writes reached the targets"

lite_counts() {
	"$sampler_python" -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM \"public.acct\" WHERE note = ?", ("after",)).fetchone()[0],
      db.execute("SELECT count(*) FROM \"public.acct\"").fetchone()[0],
      db.execute("SELECT count(*) FROM \"public.ha_load\"").fetchone()[0])' "$work/app.db" 2>&1
}
want=$(on "$new_port" "SELECT (SELECT count(*) FROM acct WHERE note = 'after') || ' ' || (SELECT count(*) FROM acct)
                       || ' ' || (SELECT count(*) FROM ha_load)")
got=$(lite_counts)
[ "$got" = "$want" ] && ok "SQLite holds the new master's rows (acct 'after', acct, ha_load: $got)" ||
	not_ok "SQLite holds the new master's rows (acct 'after', acct, ha_load: want '$want', got '$got')"
if "$BINARY" verify r1 --data-dir "$work" --source "$(node_uri "$new_port")" >"$work/verify.out" 2>&1; then
	ok "mosta-sidecar verify r1 --source $new: equal"
else
	not_ok "mosta-sidecar verify r1 --source $new: equal"
	cat "$work/verify.out" >&2
fi
sed 's/^/    /' "$work/verify.out"

got=$(on "$new_port" "SELECT string_agg(name || '=' || role, ',' ORDER BY name) FROM mosta.replicas
                      WHERE project = 'app' AND dialect = 'postgres'")
want=$(for n in "${nodes[@]}"; do [ "$n" = "$new" ] && echo "$n=master" || echo "$n=slave"; done | paste -sd,)
[ "$got" = "$want" ] && ok "the catalog on $new names it master ($got)" || not_ok "the catalog on $new names it master (got $got)"

if poll_until 60 node1_streams; then ok "node1 rejoined: a standby streaming from $new"
else not_ok "node1 rejoined: a standby streaming from $new"; agent_log node1 25; kill "$prober"; fi
wait "$prober" 2>/dev/null # it ends as soon as it sees node1 streaming
bg_pids=()
# the probes taken before node1 connected to the new master as a standby (a walsender for it, in any state)
before=$(grep "|" "$routes" | awk -F"|" '$3 == "none"')
probes=$(grep -c . <<<"$before")
bad=$(awk -F'|' '$1 == "node1" || $2 == "true"' <<<"$before" | grep -c .)
if [ "$probes" -gt 0 ] && [ "$bad" = 0 ]; then
	ok "before node1 rejoined, mosta_read_replica('app') on $new never returned it nor showed it within tolerance ($probes probes)"
else
	not_ok "before node1 rejoined, mosta_read_replica('app') on $new never returned it ($bad of $probes probes did)"
fi
echo "# routing answers before the rejoin: $(cut -d'|' -f1 <<<"$before" | sort | uniq -c | awk '{ printf "%s %s; ", $2, $1 }')"
[ "$(etcdctl_ get "$prefix/rules/r1" --print-value-only 2>/dev/null)" = cdc1 ] && kill -0 "${sidecar_pid[cdc1]}" &&
	ok "the sidecar still runs and holds r1" || not_ok "the sidecar still runs and holds r1"
finish
