# shellcheck shell=bash
# ha_dcs.sh: the harness of the automatic failover tests (ha_dcs_*.sh) and of bench/failover.sh's automatic case
# (docs/ha.md; spec: three PostgreSQL 15 nodes, each with its node agent in DCS mode, on a three-member etcd).
# Sourced after lib/tap.sh (poll_until, ok/not_ok) and require_sidecar ($BINARY), from the repository's root.
#
# It sources lib/ha_nodes.sh (as_server_user, on PORT SQL, node_uri, start_load, stop_load, acked_missing).
#
#   ha_dcs_init                 work (a new temporary directory), db, the EXIT trap (ha_dcs_cleanup; INT and TERM
#                               exit 1)
#   ha_dcs_start                etcd (scripts/etcd-cluster, 3 members), node1 the primary (scripts/pg-cluster start)
#                               and node2, node3 its streaming standbys, each with shared_preload_libraries =
#                               'mostajs', mostajs.write_lease = on (once the setup wrote) and cluster_name its
#                               node name (the application_name synchronous_standby_names names); database $db
#                               with mostajs,
#                               tables ha_load (the load) and sampler (the sampler); the catalog: project app,
#                               node1 master, node2 and node3 postgres slaves with lag_tolerance_ms 0. Sets
#                               node_port[N], node_data[N], node_dir[N], dcs_url, rw_dsn; fails the setup when
#                               a piece cannot start
#   start_dcs_agent NAME        the node agent of NAME with --dcs $dcs_url --dcs-ttl $dcs_ttl --synchronous
#                               $dcs_sync --poll-interval $dcs_poll (defaults 4s, on, 200ms; the caller may set
#                               them before), as the servers' OS user, in the background; pid in agent_pid[NAME],
#                               log $work/log.agent-NAME, its own --state-dir
#   start_dcs_agents            the three
#   kill_agent NAME             SIGCONT then SIGKILL to NAME's agent, waited for
#   start_dcs_sidecar NAME [ARG...]  a rule sidecar (the daemon) with --dcs $dcs_url --dcs-ttl $dcs_ttl --name NAME
#                               --data-dir $work --source "$rw_dsn connect_timeout=5" (the multi-host read-write
#                               source: it follows the primary) and ARGs, in the background; pid in
#                               sidecar_pid[NAME], log $work/log.sidecar-NAME
#   bg_pids                     other background processes of the caller (an array): the trap kills them
#   dcs_get KEY                 the value of PREFIX/projects/app/KEY ("" when absent; non-zero when etcd does not
#                               answer); dcs_get_fields KEY: "VALUE CREATE_REVISION LEASE" of it
#   leader_now                  dcs_get leader
#   etcd_raft_leader            which member (1..3) is etcd's raft leader
#   wait_leader SECONDS [NOT]   polls until a leader key exists (and is not NOT); sets leader
#   wait_ready SECONDS          a leader and a synchronous standby: the sync key names a standby that the
#                               leader's pg_stat_replication shows sync; sets sync_node
#   is_primary NAME             NAME's server answers and is not in recovery
#   writable NAME               an INSERT commits on NAME
#   postmaster_of NAME          the pid in NAME's postmaster.pid
#   start_sampler FILE / stop_sampler   lib/write_sampler.py run on the three nodes (every $sampler_interval s,
#                               default 0.1); check_sampler FILE: its check
#   agent_log NAME              tail of the agent's log (on failure)
#
# Everything it starts (sampler, load, sidecars, agents, servers, etcd members) is stopped by the EXIT trap, a
# stopped (SIGSTOP) agent or sidecar included.

# shellcheck source=ha_nodes.sh
source test/integration/lib/ha_nodes.sh # at the top level: its arrays (agent_pid) must be global
dcs_ttl=${dcs_ttl:-4s}
dcs_sync=${dcs_sync:-on}
dcs_poll=${dcs_poll:-200ms}
declare -A node_port node_data node_dir sidecar_pid
bg_pids=()
nodes=(node1 node2 node3)
etcd_dir=
sampler=
sampler_python=/usr/bin/python3 # Debian's, which python3-psycopg2 installs into

ha_dcs_init() {
	db=mosta_ha_dcs
	work=$(mktemp -d)
	chmod 755 "$work"
	trap ha_dcs_cleanup EXIT
	trap 'exit 1' INT TERM
	# a state directory root of its own (bench/failover.sh runs the harness again and again in subshells)
	rmdir "$agent_root" 2>/dev/null
	agent_root=$(mktemp -d)
	chmod 755 "$agent_root"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$agent_root"
	"$sampler_python" -c 'import psycopg2' 2>/dev/null || fail_setup "python3-psycopg2 is not installed (scripts/install-deps)"
	command -v etcd >/dev/null || fail_setup "etcd is not installed (scripts/install-deps: etcd-server)"
	prefix=/mosta-test-$$
}

ha_dcs_cleanup() {
	local name pid
	touch "$work/stop-sampler" "$work/stop-load"
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
	[ -n "${load:-}" ] && kill "$load" 2>/dev/null && wait "$load" 2>/dev/null
	for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	for name in "${!sidecar_pid[@]}"; do
		pid=${sidecar_pid[$name]}
		kill -CONT "$pid" 2>/dev/null
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for name in "${!agent_pid[@]}"; do
		pid=${agent_pid[$name]}
		kill -CONT "$pid" 2>/dev/null
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for name in "${nodes[@]}"; do
		[ -n "${node_dir[$name]:-}" ] && scripts/pg-cluster stop "${node_dir[$name]}" >/dev/null 2>&1
	done
	[ -n "$etcd_dir" ] && scripts/etcd-cluster stop "$etcd_dir" >/dev/null 2>&1
	rm -rf "${agent_root:-}" "$work"
	return 0
}

etcdctl_() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --dial-timeout=1s --command-timeout=2s "$@"; }

# the lines of scripts/pg-cluster's output as NAME's
pg_node_env() {
	local name=$1 out=$2
	node_dir[$name]=$(env_value "$out" MOSTA_CLUSTER_DIR)
	node_port[$name]=$(env_value "$out" PGPORT)
	node_data[$name]=${node_dir[$name]}/data
	[ -n "${node_port[$name]}" ] || fail_setup "scripts/pg-cluster did not start $name"
}

ha_dcs_start() {
	local out conf
	etcd_dir=$work/etcd
	out=$(scripts/etcd-cluster start "$etcd_dir" 3) || fail_setup "scripts/etcd-cluster start failed"
	ETCD_ENDPOINTS=$(env_value "$out" ETCD_ENDPOINTS)
	dcs_url="etcd://$ETCD_ENDPOINTS$prefix"

	# the write lease enforced only once the setup's own writes are done (no agent grants it before)
	conf="shared_preload_libraries = 'mostajs'
mostajs.write_lease = off
wal_keep_size = '256MB'"
	out=$(MOSTA_PG_CONF="$conf
cluster_name = 'node1'" scripts/pg-cluster start) || fail_setup "scripts/pg-cluster start failed"
	pg_node_env node1 "$out"
	psql -X -q -h 127.0.0.1 -p "${node_port[node1]}" -U postgres -d postgres -c "CREATE DATABASE $db" ||
		fail_setup "CREATE DATABASE $db"
	on "${node_port[node1]}" "CREATE EXTENSION mostajs;
		CREATE TABLE ha_load (id int PRIMARY KEY);
		CREATE TABLE sampler (node text, round bigint, at timestamptz DEFAULT clock_timestamp())" ||
		fail_setup "CREATE EXTENSION mostajs"
	local name
	for name in node2 node3; do
		out=$(MOSTA_CLUSTER_NAME=$name scripts/pg-cluster standby "${node_dir[node1]}") ||
			fail_setup "scripts/pg-cluster standby ($name) failed"
		pg_node_env "$name" "$out"
	done
	psql -X -q -h 127.0.0.1 -p "${node_port[node1]}" -U postgres -d "$db" -v ON_ERROR_STOP=1 -o /dev/null \
		-v n1="$(node_uri "${node_port[node1]}")" -v n2="$(node_uri "${node_port[node2]}")" \
		-v n3="$(node_uri "${node_port[node3]}")" <<-'SQL' || fail_setup "catalog"
		SELECT mosta_add_replica('app', 'node1', 'master', 'postgres', :'n1');
		SELECT mosta_add_replica('app', 'node2', 'slave', 'postgres', :'n2', lag_tolerance_ms => 0);
		SELECT mosta_add_replica('app', 'node3', 'slave', 'postgres', :'n3', lag_tolerance_ms => 0);
	SQL
	for name in "${nodes[@]}"; do
		echo "mostajs.write_lease = on" | as_server_user tee -a "${node_data[$name]}/postgresql.conf" >/dev/null
		on "${node_port[$name]}" "SELECT pg_reload_conf()" >/dev/null || fail_setup "reload $name"
	done
	enforced() { [ "$(on "${node_port[$1]}" "SELECT enforced FROM mosta_write_lease_state()" 2>/dev/null)" = t ]; }
	for name in "${nodes[@]}"; do
		poll_until 10 enforced "$name" || fail_setup "mostajs.write_lease is not enforced on $name"
	done
	rw_dsn="host=127.0.0.1,127.0.0.1,127.0.0.1 port=${node_port[node1]},${node_port[node2]},${node_port[node3]}"
	rw_dsn+=" dbname=$db user=postgres target_session_attrs=read-write"
}

start_dcs_agent() {
	local name=$1
	as_server_user mkdir -p "$agent_root/$name"
	local user=()
	# setpriv execs the agent (runuser would stay its parent, and on SIGTERM kill its whole process group: ours)
	[ "$(id -u)" -eq 0 ] && user=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env)
	(cd / && exec "${user[@]}" "$BINARY" agent --node "$name" --project app --pgdata "${node_data[$name]}" \
		--state-dir "$agent_root/$name" --pg-bindir "$("${PG_CONFIG:-pg_config}" --bindir)" \
		--source "$(node_uri "${node_port[$name]}")" --poll-interval "$dcs_poll" --catchup-timeout 20s \
		--dcs "$dcs_url" --dcs-ttl "$dcs_ttl" --synchronous "$dcs_sync" 2>>"$work/log.agent-$name") &
	agent_pid[$name]=$!
}

start_dcs_agents() {
	local name
	for name in "${nodes[@]}"; do start_dcs_agent "$name"; done
}

kill_agent() {
	local pid=${agent_pid[$1]}
	kill -CONT "$pid" 2>/dev/null
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "agent_pid[$1]"
}

start_dcs_sidecar() {
	local name=$1
	shift
	"$BINARY" --dcs "$dcs_url" --dcs-ttl "$dcs_ttl" --name "$name" --data-dir "$work" \
		--source "$rw_dsn connect_timeout=5" "$@" 2>>"$work/log.sidecar-$name" &
	sidecar_pid[$name]=$!
}

dcs_get() { etcdctl_ get "$prefix/projects/app/$1" --print-value-only; }
dcs_get_fields() {
	etcdctl_ get "$prefix/projects/app/$1" -w fields |
		awk -F' : ' '/^"Value"/ { v = $2 } /^"CreateRevision"/ { c = $2 } /^"Lease"/ { l = $2 }
			END { gsub(/"/, "", v); if (c != "") print v, c, l }'
}
leader_now() { dcs_get leader 2>/dev/null; }

# etcd_raft_leader: the number (1-based, as scripts/etcd-cluster counts) of the member etcd's raft leader is
etcd_raft_leader() {
	etcdctl_ endpoint status -w json 2>/dev/null | "$sampler_python" -c 'import json, sys
for i, e in enumerate(json.load(sys.stdin), 1):
    if e["Status"]["header"]["member_id"] == e["Status"]["leader"]:
        print(i)'
}

leader=
has_leader() {
	leader=$(leader_now)
	[ -n "$leader" ] && [ "$leader" != "${1:-}" ]
}
wait_leader() { poll_until "$1" has_leader "${2:-}"; }

sync_node=
sync_ready() {
	has_leader || return 1
	sync_node=$(dcs_get sync 2>/dev/null | "$sampler_python" -c 'import json, sys
print(json.load(sys.stdin).get("sync_standby") or "")' 2>/dev/null)
	[ -n "$sync_node" ] &&
		[ "$(on "${node_port[$leader]}" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$sync_node'" 2>/dev/null)" = sync ]
}
wait_ready() { poll_until "$1" sync_ready; }

is_primary() { [ "$(on "${node_port[$1]}" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; }
in_recovery() { [ "$(on "${node_port[$1]}" "SELECT pg_is_in_recovery()" 2>/dev/null)" = t ]; }
writable() {
	psql -X -q -h 127.0.0.1 -p "${node_port[$1]}" -U postgres -d "$db" -c "INSERT INTO sampler VALUES ('$1', -1)" \
		>/dev/null 2>&1
}
postmaster_of() { head -1 "${node_data[$1]}/postmaster.pid"; }

start_sampler() {
	local file=$1 name specs=()
	rm -f "$work/stop-sampler"
	: >"$file"
	for name in "${nodes[@]}"; do specs+=("$name=$(node_uri "${node_port[$name]}")"); done
	"$sampler_python" test/integration/lib/write_sampler.py --interval "${sampler_interval:-0.1}" run "$file" "$work/stop-sampler" "${specs[@]}" &
	sampler=$!
}

stop_sampler() {
	touch "$work/stop-sampler"
	[ -n "$sampler" ] && wait "$sampler" 2>/dev/null
	sampler=
}

check_sampler() { "$sampler_python" test/integration/lib/write_sampler.py check "$1"; }

# sampler_verdict: stops the sampler of $work/samples, asserts that it never found two writable masters, prints its
# summary (one line per node: name, writes taken, first and last taken, writes the lease refused) for sampler_field.
sampler_verdict() {
	stop_sampler
	if check_sampler "$work/samples" >"$work/sampler.summary"; then
		ok "the sampler never found two writable masters"
	else
		not_ok "the sampler never found two writable masters"
	fi
	sed 's/^/# sampler: /' "$work/sampler.summary"
}

# sampler_field NODE N: field N of NODE's line in the summary (2: writes taken, 5: writes the lease refused).
sampler_field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$work/sampler.summary"; }

agent_log() { tail -"${2:-15}" "$work/log.agent-$1" | sed "s/^/    $1: /" >&2; }
