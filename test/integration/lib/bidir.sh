# shellcheck shell=bash
# bidir.sh: what bidir_pg_sqlite.sh, bidir_pg_pg.sh and bidir_crash.sh share, sourced after lib/tap.sh and
# use_database. One bidirectional rule per conflict policy, each on its own table t_<P> and target project e_<P>:
#   P = sw (source-wins), tw (target-wins), lww (last-write-wins), err (error).
# The other side ($SIDE) is a SQLite file $work/<P>.db, or the PostgreSQL database $tdb of the same cluster.
#
#   bidir_setup SIDE POLICIES...  the source schema (REPLICA IDENTITY FULL, rows 1..40), track_commit_timestamp
#                                 on (the cluster restarted when it was off), the replicas and rules
#   start_bidir_daemon            the daemon in the background ($daemon), log $work/log.daemon
#   src_dump P / tgt_dump P       "id|v|n" lines of t_<P>, ordered by id, on each side
#   sides_equal P                 both sides hold the same rows (and some)
#   on_target P SQL               runs SQL on the other side, @T standing for t_<P>'s name there
#   on_source SQL                 runs SQL on the source
#   conflicts P [WHERE]           count of mosta_conflicts('<rule>') rows (WHERE: a condition on them)

# as_server_user CMD...: CMD as the user the cluster runs as (postgres when we are root).
as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# policy_name P: the catalog's spelling of P.
policy_name() {
	case $1 in
	sw) echo source-wins ;; tw) echo target-wins ;; lww) echo last-write-wins ;; err) echo error ;;
	esac
}

rule_of() { echo "${rule_prefix}_$1"; }

bidir_setup() {
	SIDE=$1
	shift
	POLICIES=("$@")
	rule_prefix=${rule_prefix:-bd}
	tdb=${db}_t
	if [ "$(scalar "SHOW track_commit_timestamp")" != on ]; then
		local bindir
		bindir=$("${PG_CONFIG:-pg_config}" --bindir)
		psql -X -q -d postgres -c "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null || fail_setup "ALTER SYSTEM"
		as_server_user "$bindir/pg_ctl" -D "$MOSTA_CLUSTER_DIR/data" -l "$MOSTA_CLUSTER_DIR/postgres.log" -w -t 60 \
			-m fast restart >/dev/null || fail_setup "restarting the cluster with track_commit_timestamp = on"
		restarted_for_commit_ts=1
	fi
	[ "$(scalar "SHOW track_commit_timestamp")" = on ] || fail_setup "track_commit_timestamp is not on"
	psql_db -c "CREATE EXTENSION mostajs" >/dev/null || fail_setup "CREATE EXTENSION"
	local p
	if [ "$SIDE" = postgres ]; then
		createdb "$tdb" || fail_setup "createdb $tdb"
	fi
	psql_db -o /dev/null -v uri="postgresql://$PGUSER@$PGHOST:$PGPORT/$db" \
		<<<"SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri')" || fail_setup "source replica"
	for p in "${POLICIES[@]}"; do
		psql_db <<-SQL >/dev/null || fail_setup "source table t_$p"
			CREATE TABLE t_$p (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
			ALTER TABLE t_$p REPLICA IDENTITY FULL;
			INSERT INTO t_$p SELECT i, 'seed ' || i, 0 FROM generate_series(1, 40) i;
		SQL
		local uri
		if [ "$SIDE" = postgres ]; then
			psql -X -q -v ON_ERROR_STOP=1 -d "$tdb" <<-SQL >/dev/null || fail_setup "target table t_$p"
				CREATE TABLE t_$p (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
				ALTER TABLE t_$p REPLICA IDENTITY FULL;
			SQL
			uri="postgresql://$PGUSER@$PGHOST:$PGPORT/$tdb"
			psql_db -o /dev/null -v uri="$uri" -v project="e_$p" \
				<<<"SELECT mosta_add_replica(:'project', 'main', 'master', 'postgres', :'uri')" ||
				fail_setup "replica e_$p"
		else
			uri="$work/$p.db"
			psql_db -o /dev/null -v uri="$uri" -v project="e_$p" \
				<<<"SELECT mosta_add_replica(:'project', 'lite', 'slave', 'sqlite', :'uri')" ||
				fail_setup "replica e_$p"
		fi
		psql_db -o /dev/null -v rule="$(rule_of "$p")" -v project="e_$p" -v policy="$(policy_name "$p")" \
			<<<"SELECT mosta_add_rule(:'rule', 'app', :'project', 'bidirectional', ARRAY['public.t_$p'], :'policy')" ||
			fail_setup "rule for t_$p"
	done
}

bidir_cleanup() {
	# MOSTA_TEST_KEEP_LOG=FILE keeps the daemon's log for a look after the run
	[ -n "${MOSTA_TEST_KEEP_LOG:-}" ] && cp "$work/log.daemon" "$MOSTA_TEST_KEEP_LOG" 2>/dev/null
	[ -n "${writers:-}" ] && kill $writers 2>/dev/null
	if [ "${SIDE:-}" = postgres ]; then
		psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$tdb' AND pid <> pg_backend_pid()" >/dev/null 2>&1
		psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$tdb' AND NOT active" >/dev/null 2>&1
		dropdb --if-exists "$tdb" >/dev/null 2>&1
	fi
	psql -X -q -d postgres -c "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE 'mosta\_${rule_prefix}\_%'" >/dev/null 2>&1
	[ -n "${restarted_for_commit_ts:-}" ] &&
		psql -X -q -d postgres -c "ALTER SYSTEM RESET track_commit_timestamp" >/dev/null 2>&1
}

start_bidir_daemon() {
	PGDATABASE=$db "$BINARY" --status-interval 300ms --poll-interval 100ms "$@" 2>>"$work/log.daemon" &
	daemon=$!
}

on_source() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "$1" >/dev/null; }

src_dump() { psql -X -At -d "$db" -c "SELECT id || '|' || coalesce(v, '~') || '|' || n FROM t_$1 ORDER BY id" 2>&1; }

tgt_dump() {
	if [ "$SIDE" = postgres ]; then
		psql -X -At -d "$tdb" -c "SELECT id || '|' || coalesce(v, '~') || '|' || n FROM t_$1 ORDER BY id" 2>&1
	else
		python3 - "$work/$1.db" "public.t_$1" <<-'PY'
			import sqlite3, sys
			try:
			    db = sqlite3.connect(sys.argv[1], timeout=30)
			    for row in db.execute('SELECT id, v, n FROM "%s" ORDER BY id' % sys.argv[2]):
			        print("%s|%s|%s" % (row[0], "~" if row[1] is None else row[1], row[2]))
			except Exception as e:
			    print("error", e)
		PY
	fi
}

on_target() {
	local p=$1 sql=$2
	if [ "$SIDE" = postgres ]; then
		psql -X -q -v ON_ERROR_STOP=1 -d "$tdb" -c "${sql//@T/t_$p}" >/dev/null
	else
		python3 - "$work/$p.db" "${sql//@T/\"public.t_$p\"}" <<-'PY'
			import sqlite3, sys
			db = sqlite3.connect(sys.argv[1], timeout=30)
			db.executescript(sys.argv[2])
			db.commit()
		PY
	fi
}

sides_equal() {
	local a b
	a=$(src_dump "$1")
	b=$(tgt_dump "$1")
	[ -n "$a" ] && [ "$a" = "$b" ]
}

conflicts() {
	scalar "SELECT count(*) FROM mosta_conflicts('$(rule_of "$1")') WHERE ${2:-true}"
}

# lww_detail: the last-write-wins rule's conflicts, one line (for a failure's diagnostics).
lww_detail() {
	scalar "SELECT string_agg(concat_ws(' ', kind, incoming_side, decision, local_time, incoming_time), '; ') FROM mosta_conflicts('$(rule_of lww)')"
}

# show_difference P: the lines that differ between the two sides (for a failure's diagnostics).
show_difference() {
	diff <(src_dump "$1") <(tgt_dump "$1") | head -10 | sed 's/^/    /' >&2
}

# run_bidir_suite: the scenario of bidir_pg_sqlite.sh and bidir_pg_pg.sh on the rules bidir_setup made for sw, tw,
# lww and err (see those scripts' headers).
run_bidir_suite() {
	local p all=(sw tw lww err)
	start_bidir_daemon
	for p in "${all[@]}"; do
		if poll_until 60 sides_equal "$p"; then
			ok "$p: the initial copy reaches the other side"
		else
			not_ok "$p: the initial copy reaches the other side"
			show_difference "$p"
			tail -5 "$work/log.daemon" >&2
		fi
	done

	# 1. writes on both sides, no conflict: each reaches the other once and never comes back (an echo of an earlier
	# increment would meet a row that moved on: a conflict)
	local round
	for round in 1 2 3; do
		for p in "${all[@]}"; do
			on_source "UPDATE t_$p SET n = n + 1 WHERE id <= 10; INSERT INTO t_$p VALUES (100 + $round, 'src $round', 0)"
			on_target "$p" "UPDATE @T SET n = n + 1 WHERE id BETWEEN 11 AND 20; INSERT INTO @T VALUES (200 + $round, 'tgt $round', 0)"
		done
	done
	for p in "${all[@]}"; do
		on_source "DELETE FROM t_$p WHERE id = 39"
		on_target "$p" "DELETE FROM @T WHERE id = 40"
	done
	for p in "${all[@]}"; do
		if poll_until 60 sides_equal "$p"; then
			ok "$p: writes on both sides reach the other side"
		else
			not_ok "$p: writes on both sides reach the other side"
			show_difference "$p"
		fi
		local counts
		counts=$(scalar "SELECT count(*) FILTER (WHERE n = 3) || ' ' || count(*) FILTER (WHERE n <> 0) || ' ' || count(*) FROM t_$p")
		if [ "$counts" = "20 20 44" ]; then
			ok "$p: every increment applied once on the other side, no echo (rows with n = 3, n <> 0, all: $counts)"
		else
			not_ok "$p: every increment applied once, no echo (rows with n = 3, n <> 0, all: '$counts', want '20 20 44')"
		fi
		if [ "$(conflicts "$p")" = 0 ]; then
			ok "$p: no conflict recorded for writes on different rows"
		else
			not_ok "$p: no conflict recorded for writes on different rows ($(conflicts "$p"))"
		fi
	done

	# 2. deliberate conflicts, made while the daemon is stopped so that each side's change meets the other's:
	# 21, 22 updated on the source then on the target; 23, 24 the other way round; 25 deleted on the source and
	# updated on the target; 300 inserted on both sides (the source first)
	stop_daemon "the daemon stops on SIGTERM"
	for p in "${all[@]}"; do
		on_source "UPDATE t_$p SET v = 'src' WHERE id IN (21, 22)"
		on_target "$p" "UPDATE @T SET v = 'tgt' WHERE id IN (21, 22)"
		on_target "$p" "UPDATE @T SET v = 'tgt' WHERE id IN (23, 24)"
		on_source "UPDATE t_$p SET v = 'src' WHERE id IN (23, 24)"
		on_source "DELETE FROM t_$p WHERE id = 25"
		on_target "$p" "UPDATE @T SET v = 'tgt' WHERE id = 25"
		on_source "INSERT INTO t_$p VALUES (300, 'src', 0)"
		on_target "$p" "INSERT INTO @T VALUES (300, 'tgt', 0)"
	done
	start_bidir_daemon
	declare -A want=(
		[sw]="21:src,22:src,23:src,24:src,300:src"
		[tw]="21:tgt,22:tgt,23:tgt,24:tgt,25:tgt,300:tgt"
		[lww]="21:tgt,22:tgt,23:src,24:src,300:tgt"
	)
	local decided
	decided() { [ "$(scalar "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t_$1 WHERE id IN (21, 22, 23, 24, 25, 300)")" = "${want[$1]}" ]; }
	for p in sw tw lww; do
		if poll_until 60 sides_equal "$p" && poll_until 10 decided "$p" && poll_until 10 sides_equal "$p"; then
			ok "$p: same-key conflicts converge to the policy's choice on both sides (${want[$p]})"
		else
			not_ok "$p: same-key conflicts converge to ${want[$p]} (source: $(scalar "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t_$p WHERE id IN (21, 22, 23, 24, 25, 300)"))"
			show_difference "$p"
		fi
		local kinds
		kinds=$(scalar "SELECT string_agg(incoming_side || ' ' || kind || ' ' || c, ', ' ORDER BY incoming_side, kind) FROM (SELECT incoming_side, kind, count(*) c FROM mosta_conflicts('$(rule_of "$p")') GROUP BY 1, 2) x")
		local want_kinds="source delete_differs 1, source insert_exists 1, source update_differs 4, target insert_exists 1, target update_differs 4, target update_missing 1"
		if [ "$kinds" = "$want_kinds" ]; then
			ok "$p: every conflict recorded once, from each side ($kinds)"
		else
			not_ok "$p: every conflict recorded once ('$kinds', want '$want_kinds')"
		fi
	done
	# the decisions as the policy makes them
	local bad
	bad=$(conflicts sw "(incoming_side = 'source') <> (decision = 'applied')")
	[ "$bad" = 0 ] && ok "source-wins: the source's changes applied, the target's kept out" ||
		not_ok "source-wins decisions ($bad wrong)"
	bad=$(conflicts tw "(incoming_side = 'target') <> (decision = 'applied')")
	[ "$bad" = 0 ] && ok "target-wins: the target's changes applied, the source's kept out" ||
		not_ok "target-wins decisions ($bad wrong)"
	bad=$(conflicts lww "decision <> CASE WHEN kind IN ('update_missing', 'delete_differs') THEN CASE incoming_side WHEN 'source' THEN 'applied' ELSE 'kept' END WHEN incoming_time > local_time THEN 'applied' WHEN incoming_time = local_time THEN CASE incoming_side WHEN 'source' THEN 'applied' ELSE 'kept' END ELSE 'kept' END")
	[ "$bad" = 0 ] && ok "last-write-wins: the later commit applied, delete/update pairs to the source" ||
		not_ok "last-write-wins decisions ($bad wrong: $(lww_detail))"
	local counted
	counted=$(scalar "SELECT string_agg(r.name || '=' || r.conflicts, ',' ORDER BY r.name) FROM mosta_rules() r WHERE r.conflicts <> (SELECT count(*) FROM mosta_conflicts(r.name))")
	[ -z "$counted" ] && ok "mosta_rules().conflicts counts the recorded conflicts of each rule" ||
		not_ok "mosta_rules().conflicts counts the recorded conflicts ($counted)"

	# policy error: the target stops on the conflict, named in its status; with another policy it converges
	target_in_error() { scalar "SELECT last_error FROM mosta_rule_targets('$(rule_of err)')" | grep -q "conflict"; }
	if poll_until 60 target_in_error; then
		ok "error: the conflict stops the rule's target, its status names it ($(scalar "SELECT left(last_error, 120) FROM mosta_rule_targets('$(rule_of err)')"))"
	else
		not_ok "error: the conflict stops the rule's target (last_error '$(scalar "SELECT last_error FROM mosta_rule_targets('$(rule_of err)')")')"
	fi
	[ "$(conflicts err "decision = 'error'")" -gt 0 ] && ok "error: the conflict is recorded with decision error" ||
		not_ok "error: the conflict is recorded with decision error"
	sides_equal err && not_ok "error: the sides stay apart while the rule is stopped" ||
		ok "error: the sides stay apart while the rule is stopped"
	on_source "UPDATE mosta.rules SET conflict_resolution = 'source-wins' WHERE name = '$(rule_of err)'"
	want[err]=${want[sw]}
	if poll_until 90 decided err && poll_until 30 sides_equal err; then
		ok "error: switched to source-wins, the rule resumes and the sides converge"
	else
		not_ok "error: switched to source-wins, the sides converge"
		show_difference err
	fi

	# 3. concurrent writers on both sides on the same keys: after the traffic stops both sides are equal
	writers=
	for p in sw tw lww; do
		(for i in $(seq 1 40); do on_source "UPDATE t_$p SET v = 'cs $i', n = n + 1 WHERE id = $((i % 12 + 1))"; done) &
		writers="$writers $!"
		(for i in $(seq 1 40); do on_target "$p" "UPDATE @T SET v = 'ct $i', n = n + 1 WHERE id = $((i % 12 + 1))"; done) &
		writers="$writers $!"
	done
	wait $writers
	writers=
	for p in sw tw lww; do
		if poll_until 90 sides_equal "$p"; then
			ok "$p: concurrent writers on both sides on the same keys: both sides equal after the traffic"
		else
			not_ok "$p: concurrent writers: both sides equal after the traffic"
			show_difference "$p"
		fi
	done
	for p in sw tw lww err; do
		if PGDATABASE=$db "$BINARY" verify "$(rule_of "$p")" >"$work/verify.$p" 2>&1; then
			ok "$p: mosta-sidecar verify finds both sides equal"
		else
			not_ok "$p: mosta-sidecar verify finds both sides equal"
			sed 's/^/    /' "$work/verify.$p" | head -10 >&2
		fi
	done
	bad=$(( $(conflicts sw "(incoming_side = 'source') <> (decision = 'applied')") + $(conflicts tw "(incoming_side = 'target') <> (decision = 'applied')") ))
	[ "$bad" = 0 ] && ok "concurrent conflicts decided by the policy (source-wins, target-wins)" ||
		not_ok "concurrent conflicts decided by the policy ($bad wrong)"
	stop_daemon "the daemon stops on SIGTERM after the traffic"

	# the calling script's checks of the running daemon's work, before --once (it may disable rules)
	if declare -F before_once >/dev/null; then before_once; fi

	# 4. --once runs the reverse directions too: a row written on each side while no daemon runs crosses over
	on_source "INSERT INTO t_sw VALUES (500, 'once src', 0)"
	on_target sw "INSERT INTO @T VALUES (501, 'once tgt', 0)"
	run_once once
	if sides_equal sw && [ "$(scalar "SELECT count(*) FROM t_sw WHERE id IN (500, 501)")" = 2 ]; then
		ok "--once: the forward and the reverse direction both apply what is there, and return"
	else
		not_ok "--once: both directions apply what is there"
		show_difference sw
	fi
}
