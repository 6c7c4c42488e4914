# shellcheck shell=bash
# ha_nodes.sh: what the node agent tests (ha_switchover.sh, ha_fencing.sh) and bench/switchover.sh share, sourced
# after lib/tap.sh and use_database (it uses $db, $work, $BINARY).
#
#   as_server_user CMD...     CMD as the servers' OS user (postgres when root, as scripts/pg-cluster runs them)
#   node_uri PORT             the keyword/value URI of $db on 127.0.0.1:PORT as user postgres
#   on PORT SQL               one value from the node on PORT, errors on stderr
#   start_agent NAME DATA PORT  mosta-sidecar agent for node NAME (data directory DATA, its server on PORT) in the
#                             background, as the servers' user; its pid in agent_pid[NAME], its log
#                             $work/log.agent-NAME, its state directory $agent_root/NAME
#   agent_ready NAME          the agent has read its server and the catalog once (its peer cache exists)
#   stop_agents               SIGTERM to every agent, waits for them (up to 30 s each, then SIGKILL)
#   start_load FILE           a bounded write load in the background (pid in $load): single-row INSERT commits into
#                             table ha_load through $rw_dsn (the read-write node among all), each id appended to FILE
#                             only after psql returned success; it ends when $work/stop-load exists (or 20000 rows)
#   stop_load                 ends the load and waits for it
#   acked_missing PORT FILE   how many ids of FILE are not in ha_load on the node on PORT

declare -A agent_pid
agent_root=$(mktemp -d)
chmod 755 "$agent_root"
[ "$(id -u)" -eq 0 ] && chown postgres: "$agent_root"
load=

as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

node_uri() { echo "host=127.0.0.1 port=$1 dbname=$db user=postgres"; }
on() { psql -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d "$db" -c "$2"; }

start_agent() {
	local name=$1 data=$2 port=$3
	as_server_user mkdir -p "$agent_root/$name"
	local user=()
	# setpriv execs the agent (runuser would stay its parent, and on SIGTERM kill its whole process group: ours)
	[ "$(id -u)" -eq 0 ] && user=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env)
	# exec: $! is the agent itself, not a subshell around it
	(cd / && exec "${user[@]}" "$BINARY" agent --node "$name" --project app --pgdata "$data" \
		--state-dir "$agent_root/$name" --pg-bindir "$("${PG_CONFIG:-pg_config}" --bindir)" \
		--source "$(node_uri "$port")" --poll-interval 200ms --catchup-timeout 20s 2>>"$work/log.agent-$name") &
	agent_pid[$name]=$!
}

agent_ready() { [ -s "$agent_root/$1/app.$1.peers" ]; }

agent_gone() { ! kill -0 "$1" 2>/dev/null; }

stop_agents() {
	local name pid
	for name in "${!agent_pid[@]}"; do
		pid=${agent_pid[$name]}
		kill -TERM "$pid" 2>/dev/null
		poll_until 30 agent_gone "$pid" || kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset "agent_pid[$name]"
	done
}

start_load() {
	local file=$1
	rm -f "$work/stop-load"
	(
		# after the ids already in the table (an earlier load's), so that every attempt can commit
		i=$(($(psql -X -At -d "$rw_dsn connect_timeout=5" -c "SELECT coalesce(max(id), 0) FROM ha_load" 2>/dev/null) + 0))
		end=$((i + 20000))
		while [ ! -e "$work/stop-load" ] && [ "$i" -lt "$end" ]; do
			i=$((i + 1))
			psql -X -q -d "$rw_dsn connect_timeout=2" -c "INSERT INTO ha_load (id) VALUES ($i)" >/dev/null 2>&1 &&
				echo "$i" >>"$file"
		done
	) &
	load=$!
}

stop_load() {
	touch "$work/stop-load"
	[ -n "$load" ] && wait "$load" 2>/dev/null
	load=
}

acked_missing() {
	local port=$1 file=$2
	on "$port" "SELECT id FROM ha_load ORDER BY id" >"$work/present" || { echo unknown; return; }
	sort "$file" | comm -23 - <(sort "$work/present") | grep -c .
}
