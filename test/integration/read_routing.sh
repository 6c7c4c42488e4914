#!/usr/bin/env bash
# read_routing.sh: reads routed per strategy over two PostgreSQL standbys and an SQLite slave with differing lags
# (issue 13, item 7e). On the cluster of PGHOST/PGPORT/PGUSER and MOSTA_CLUSTER_DIR (as scripts/pg-cluster run
# provides), the primary: two streaming standbys (scripts/pg-cluster standby, named standby1 and standby2 after their
# catalog names), an SQLite slave "local" fed by a CDC rule, the daemon (mosta-sidecar --tree FILE) and mosta-monitor
# over its tree. In each phase the lags are made real, and for each strategy (least-lag, round-robin, random):
#   - mosta_read_replica() is called many times in ONE repeatable-read snapshot, in which the eligible slaves are
#     also computed here from the raw tables (mosta.replicas + mosta.replica_status: up, lag_ms <= tolerance,
#     last_seen within mostajs.status_max_age): it returns only those; least-lag the least lagging (then by name),
#     round-robin cycles over exactly them in name order, random covers them all;
#   - the monitor's /route agrees: the same eligible set, least-lag its least lagging (and the same as SQL's),
#     round-robin and random as above.
# Phases: 1. all idle: local, standby1, standby2; 2. standby2's replay paused, writes, then standby1's paused, more
# writes, the rule disabled (local down): standby1 and standby2, standby1 the less lagging; 3. standby1 resumed, the
# rule enabled, standby2 re-added with a 1 s tolerance (its lag past it): local and standby1; 4. the daemon frozen
# (SIGSTOP): standby1's report deleted (unreported) -> local only; every report older than mostajs.status_max_age
# (set to 1s in the session) -> the master; the monitor stale -> /route and its state's routing the master;
# 5. resumed: all three again.
# Every wait polls with a deadline; every server and process it starts is stopped on exit (trap).
# Prints "read_routing: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init read_routing
require_cluster MOSTA_CLUSTER_DIR
require_sidecar
MONITOR=${MOSTA_MONITOR_BIN:-build/monitor/mosta-monitor}
[ -x "$MONITOR" ] || fail_setup "$MONITOR not found: build it with cmake -S . -B build && cmake --build build -j2"
command -v curl >/dev/null || fail_setup "curl is not installed (scripts/install-deps)"

standby1_dir=
standby2_dir=
monitor=
frozen=
cleanup_extra() {
	[ -n "$frozen" ] && kill -CONT "$frozen" 2>/dev/null
	[ -n "$monitor" ] && kill -9 "$monitor" 2>/dev/null && wait "$monitor" 2>/dev/null
	[ -n "$standby1_dir" ] && scripts/pg-cluster stop "$standby1_dir" >/dev/null 2>&1
	[ -n "$standby2_dir" ] && scripts/pg-cluster stop "$standby2_dir" >/dev/null 2>&1
	return 0
}

use_database mosta_read_routing_$$
psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 100) i;
CREATE EXTENSION mostajs;
SQL

start_standby standby1 standby1_dir standby1_port
start_standby standby2 standby2_dir standby2_port
on_port() { psql -X -At -h 127.0.0.1 -p "$1" -d "$db" -c "$2"; }
standby_uri() { echo "host=127.0.0.1 port=$1 dbname=$db user=postgres"; }

psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" \
	-v s1="$(standby_uri "$standby1_port")" -v s2="$(standby_uri "$standby2_port")" -v local="$work/local.db" \
	<<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'standby1', 'slave', 'postgres', :'s1', lag_tolerance_ms => 600000);
SELECT mosta_add_replica('app', 'standby2', 'slave', 'postgres', :'s2', lag_tolerance_ms => 600000);
SELECT mosta_add_replica('app', 'local', 'slave', 'sqlite', :'local', lag_tolerance_ms => 600000);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['t']);
SQL

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms --tree "$work/tree.json" \
	2>"$work/log.daemon" &
daemon=$!
"$MONITOR" --port 0 --tree "$work/tree.json" --poll-interval 200ms --stale-after 3s 2>"$work/log.monitor" &
monitor=$!
listening() { grep -qs 'listening on http://' "$work/log.monitor"; }
poll_until 20 listening || fail_setup "mosta-monitor did not start: $(cat "$work/log.monitor")"
base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/log.monitor" | head -1)

# The eligible slaves computed here, from the raw tables (not with the extension's _eligible_slaves), by name;
# and the least lagging of them (then by name).
readonly ELIGIBLE_FROM="FROM mosta.replicas r JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
 WHERE r.project = 'app' AND r.role = 'slave' AND r.dialect IN ('postgres', 'sqlite', 'mongodb')
   AND s.status = 'up' AND s.lag_ms <= r.lag_tolerance_ms
   AND (mosta.status_max_age_ms() = 0 OR s.last_seen > now() - mosta.status_max_age_ms() * interval '1 ms')"
readonly ELIGIBLE_SQL="SELECT coalesce(string_agg(r.name, ',' ORDER BY r.name), '') $ELIGIBLE_FROM"
readonly LEAST_SQL="SELECT coalesce((SELECT r.name $ELIGIBLE_FROM ORDER BY s.lag_ms, r.name LIMIT 1), '')"
eligible_is() { [ "$(scalar "$ELIGIBLE_SQL")" = "$1" ]; }

# verify_choices STRATEGY ELIGIBLE LEAST CHOICE...: why the choices break STRATEGY over ELIGIBLE (comma-separated, by
# name; LEAST its least lagging), printed; nothing when they do not.
verify_choices() {
	local strategy=$1 eligible=$2 least=$3
	shift 3
	local -a names choices=("$@")
	IFS=, read -r -a names <<<"$eligible"
	local k=${#names[@]} n=${#choices[@]} i c start=-1
	[ "$k" -gt 0 ] || { echo "no eligible slave"; return; }
	for c in "${choices[@]}"; do
		[[ ",$eligible," == *",$c,"* ]] || { echo "'$c' is not eligible ($eligible)"; return; }
	done
	case $strategy in
	least-lag)
		for c in "${choices[@]}"; do [ "$c" = "$least" ] || { echo "'$c' is not the least lagging '$least'"; return; }; done
		;;
	round-robin)
		for i in "${!names[@]}"; do [ "${names[$i]}" = "${choices[0]}" ] && start=$i; done
		for ((i = 0; i < n; i++)); do
			[ "${choices[$i]}" = "${names[$(((start + i) % k))]}" ] ||
				{ echo "call $((i + 1)) gave '${choices[$i]}', not '${names[$(((start + i) % k))]}' (${choices[*]})"; return; }
		done
		;;
	random)
		for c in "${names[@]}"; do
			[[ " ${choices[*]} " == *" $c "* ]] || { echo "'$c' never chosen in $n calls"; return; }
		done
		;;
	esac
}

# calls_for STRATEGY K: how many reads to check with K eligible slaves
calls_for() { case $1 in least-lag) echo 10 ;; round-robin) echo $((3 * $2)) ;; *) echo 200 ;; esac; }

# sql_check STRATEGY EXPECTED LABEL: mosta_read_replica() in one repeatable-read snapshot, against the eligible
# slaves computed in the same snapshot, which must be EXPECTED. Sets sql_least.
sql_check() {
	local strategy=$1 expected=$2 label=$3
	local -a lines
	psql_db -o /dev/null -c "SELECT mosta_set_read_routing('app', '$strategy')" || not_ok "$label: set $strategy"
	poll_until 60 eligible_is "$expected" || true
	local k
	k=$(tr ',' '\n' <<<"$expected" | grep -c .)
	mapfile -t lines < <(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" <<-SQL
		BEGIN ISOLATION LEVEL REPEATABLE READ;
		$ELIGIBLE_SQL;
		$LEAST_SQL;
		SELECT mosta_read_replica('app') FROM generate_series(1, $(calls_for "$strategy" "$k"));
		COMMIT;
	SQL
	)
	sql_least=${lines[1]:-}
	if [ "${lines[0]:-}" != "$expected" ]; then
		not_ok "$label: $strategy: eligible in the snapshot '${lines[0]:-}', expected '$expected'"
		return
	fi
	local why
	why=$(verify_choices "$strategy" "${lines[0]}" "${lines[1]}" "${lines[@]:2}")
	[ -z "$why" ] && ok "$label: mosta_read_replica() $strategy over $expected" ||
		not_ok "$label: mosta_read_replica() $strategy over $expected: $why"
}

# monitor_run STRATEGY EXPECTED N: N requests to /route into $work/route.out (line 1: the eligible of the answers,
# by name, or "differ"; line 2: "ok", or why an answer of least-lag is not the first of its own eligible list (by lag);
# then the replicas); succeeds when the monitor's strategy is STRATEGY and every answer's eligible is EXPECTED.
monitor_run() {
	python3 - "$base/route?project=app" "$3" "$1" "$2" >"$work/route.out" 2>&1 <<-'PY'
		import json, sys, urllib.request
		url, n, strategy, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
		answers = []
		for _ in range(n):
		    with urllib.request.urlopen(url) as r:
		        answers.append(json.load(r))
		sets = [",".join(sorted(a["eligible"])) for a in answers]
		print(sets[0] if len(set(sets)) == 1 else "differ")
		first = [a for a in answers if a["eligible"] and a["replica"] != a["eligible"][0]]
		print("ok" if strategy != "least-lag" or not first else "answered %s, not the least lagging of %s" % (first[0]["replica"], first[0]["eligible"]))
		for a in answers:
		    print(a["replica"])
		sys.exit(0 if all(a["strategy"] == strategy for a in answers) and sets == [expected] * n else 1)
	PY
}

# monitor_check STRATEGY EXPECTED LABEL: the monitor's /route, once its topology shows STRATEGY over EXPECTED
monitor_check() {
	local strategy=$1 expected=$2 label=$3 k
	local -a lines
	k=$(tr ',' '\n' <<<"$expected" | grep -c .)
	if ! poll_until 30 monitor_run "$strategy" "$expected" "$(calls_for "$strategy" "$k")"; then
		not_ok "$label: the monitor's /route $strategy over $expected ($(head -c 300 "$work/route.out"))"
		return
	fi
	mapfile -t lines <"$work/route.out"
	monitor_least=${lines[2]}
	local why=
	[ "${lines[1]}" = ok ] || why=${lines[1]}
	[ -n "$why" ] || why=$(verify_choices "$strategy" "${lines[0]}" "${lines[2]}" "${lines[@]:2}")
	[ -z "$why" ] && ok "$label: the monitor's /route $strategy over $expected" ||
		not_ok "$label: the monitor's /route $strategy over $expected: $why"
}

# check_all EXPECTED LABEL [LEAST]: every strategy in SQL and in the monitor; with LEAST, least-lag's choice must be
# it, in both
check_all() {
	local expected=$1 label=$2 least=${3:-} strategy
	for strategy in least-lag round-robin random; do
		sql_check "$strategy" "$expected" "$label"
		monitor_check "$strategy" "$expected" "$label"
		if [ "$strategy" = least-lag ] && [ -n "$least" ]; then
			[ "$sql_least" = "$least" ] && [ "$monitor_least" = "$least" ] &&
				ok "$label: least-lag chooses $least, in SQL and in the monitor" ||
				not_ok "$label: least-lag chooses $least, in SQL ($sql_least) and in the monitor ($monitor_least)"
		fi
	done
}

lag_of() { scalar "SELECT lag_ms FROM mosta.replica_status WHERE replica = '$1'"; }
status_row() { scalar "SELECT concat_ws('|', replica, status, lag_ms) FROM mosta.replica_status ORDER BY replica" | tr '\n' ' '; }

# 1. all idle and up (lags about 0: least-lag is checked against each snapshot's own least lagging)
if poll_until 60 eligible_is "local,standby1,standby2"; then ok "1: local, standby1 and standby2 up and eligible"
else not_ok "1: local, standby1 and standby2 up and eligible ($(status_row))"; fi
check_all "local,standby1,standby2" "1 (idle)"
# the catalog is physically replicated: an application connected to a standby asks it there
got=$(on_port "$standby1_port" "SELECT mosta_read_replica('app') FROM generate_series(1, 6)" 2>&1 | sort -u | paste -sd,)
[[ "$got" =~ ^(local|standby1|standby2)(,(local|standby1|standby2))*$ ]] &&
	ok "1: mosta_read_replica() on a standby answers from its copy of the catalog ($got)" ||
	not_ok "1: mosta_read_replica() on a standby answers from its copy of the catalog ($got)"

# 2. standby2's replay paused first, standby1's later, writes after each: standby2 lags more than standby1; the rule
# disabled: local down
on_port "$standby2_port" "SELECT pg_wal_replay_pause()" >/dev/null || not_ok "2: pause standby2's replay"
psql_db -c "INSERT INTO t SELECT i, 'phase 2 ' || i FROM generate_series(101, 1100) i" || not_ok "2: writes"
standby2_behind() { [ "$(scalar "SELECT lag_ms > 1000 AND lag_bytes > 0 FROM mosta.replica_status WHERE replica = 'standby2'")" = t ]; }
poll_until 60 standby2_behind && ok "2: standby2 paused: lag_ms > 1 s, lag_bytes > 0" ||
	not_ok "2: standby2 paused: lag_ms > 1 s, lag_bytes > 0 ($(status_row))"
local_has() { [ "$(sqlite3 "$work/local.db" 'SELECT count(*) FROM "public.t"' 2>/dev/null)" = "$1" ]; }
poll_until 60 local_has 1100 && ok "2: the SQLite slave applied the writes" ||
	not_ok "2: the SQLite slave applied the writes"
on_port "$standby1_port" "SELECT pg_wal_replay_pause()" >/dev/null || not_ok "2: pause standby1's replay"
psql_db -c "INSERT INTO t SELECT i, 'phase 2b ' || i FROM generate_series(1101, 1200) i" || not_ok "2: more writes"
psql_db -o /dev/null -c "SELECT mosta_disable_rule('r1')" || not_ok "2: disable r1"
ordered() {
	[ "$(scalar "SELECT s1.lag_ms > 0 AND s2.lag_ms > s1.lag_ms FROM mosta.replica_status s1, mosta.replica_status s2
	              WHERE s1.replica = 'standby1' AND s2.replica = 'standby2'")" = t ]
}
poll_until 60 ordered && ok "2: both paused, standby2 lags more than standby1 ($(lag_of standby2) > $(lag_of standby1) ms)" ||
	not_ok "2: both paused, standby2 lags more than standby1 ($(status_row))"
local_down() { [ "$(scalar "SELECT status FROM mosta.replica_status WHERE replica = 'local'")" = down ]; }
poll_until 60 local_down && ok "2: the rule disabled: local down" || not_ok "2: the rule disabled: local down ($(status_row))"
check_all "standby1,standby2" "2 (paused)" standby1

# 3. standby1 resumed, the rule enabled; standby2 re-added with a 1 s tolerance, which its lag passes
on_port "$standby1_port" "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "3: resume standby1's replay"
psql_db -o /dev/null -c "SELECT mosta_enable_rule('r1')" || not_ok "3: enable r1"
psql_db -o /dev/null -v s2="$(standby_uri "$standby2_port")" <<'SQL' || not_ok "3: standby2 with a 1 s tolerance"
SELECT mosta_remove_replica('app', 'standby2');
SELECT mosta_add_replica('app', 'standby2', 'slave', 'postgres', :'s2', lag_tolerance_ms => 1000);
SQL
beyond() {
	[ "$(scalar "SELECT s.lag_ms > r.lag_tolerance_ms AND s.status = 'catching-up'
	              FROM mosta.replica_status s JOIN mosta.replicas r ON r.project = s.project AND r.name = s.replica
	             WHERE s.replica = 'standby2'")" = t ]
}
poll_until 60 beyond && ok "3: standby2 reported beyond its 1 s tolerance (catching-up)" ||
	not_ok "3: standby2 reported beyond its 1 s tolerance ($(status_row))"
check_all "local,standby1" "3 (standby2 beyond tolerance)"

# 4. the daemon frozen: an unreported slave, then every report stale
kill -STOP "$daemon" && frozen=$daemon
# (the frozen daemon holds no lock: its status writes are single statements, finished by the server)
psql_db -c "SET lock_timeout = '10s'" -c "DELETE FROM mosta.replica_status WHERE replica = 'standby1'" ||
	not_ok "4: delete standby1's report"
psql_db -o /dev/null -c "SELECT mosta_set_read_routing('app', 'round-robin')" || not_ok "4: set round-robin"
got=$(scalar "SELECT string_agg(mosta_read_replica('app'), ',') FROM generate_series(1, 6)")
[ "$got" = "local,local,local,local,local,local" ] && ok "4: standby1 unreported: never chosen, local only" ||
	not_ok "4: standby1 unreported: never chosen, local only (got '$got')"
all_stale() {
	[ "$(PGOPTIONS='-c mostajs.status_max_age=1s' scalar "SELECT string_agg(mosta_read_replica('app'), ',')
	       FROM generate_series(1, 6)")" = "master,master,master,master,master,master" ]
}
poll_until 30 all_stale && ok "4: every report older than mostajs.status_max_age: the master" ||
	not_ok "4: every report older than mostajs.status_max_age: the master"
route_master() {
	curl -s "$base/route?project=app" >"$work/route.json"
	[ "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["replica"], d["role"], d["eligible"], "stale" in d)' "$work/route.json" 2>/dev/null)" = "master master [] True" ]
}
poll_until 30 route_master && ok "4: the monitor stale: /route answers the master" ||
	not_ok "4: the monitor stale: /route answers the master ($(cat "$work/route.json"))"
curl -s "$base/api/state" >"$work/state.json"
got=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["monitor"]["stale"], d["routing"]["app"]["readsGoTo"], d["routing"]["app"]["eligible"])' "$work/state.json" 2>&1)
[ "$got" = "True master []" ] &&
	ok "4: the monitor stale: its state's routing says the master, no slave eligible" ||
	not_ok "4: the monitor stale: its state's routing says the master, no slave eligible ($got)"

# 5. the daemon resumed, standby2's replay resumed: all three eligible again
kill -CONT "$daemon" && frozen=
on_port "$standby2_port" "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "5: resume standby2's replay"
if poll_until 60 eligible_is "local,standby1,standby2"; then ok "5: all three eligible again"
else not_ok "5: all three eligible again ($(status_row))"; fi
sql_check round-robin "local,standby1,standby2" "5 (resumed)"
monitor_check round-robin "local,standby1,standby2" "5 (resumed)"
poll_until 60 local_has 1200 && ok "5: the SQLite slave holds every write" || not_ok "5: the SQLite slave holds every write"
[ "$(on_port "$standby2_port" "SELECT count(*) FROM t")" = 1200 ] && ok "5: standby2 holds every write" ||
	not_ok "5: standby2 holds every write"

stop_daemon "SIGTERM: the daemon exits 0"
finish
