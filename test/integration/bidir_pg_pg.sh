#!/usr/bin/env bash
# bidir_pg_pg.sh: bidirectional rules between the PostgreSQL master and a PostgreSQL target (another database of the same cluster)
# (cluster of PGHOST/PGPORT/PGUSER, as scripts/pg-cluster run provides; track_commit_timestamp is turned on, the
# cluster restarted, when it is off). One rule per conflict policy, each on its own table (test/integration/lib/bidir.sh):
#   1. the initial copy; writes on both sides on different rows (increments, inserts, deletes) reach the other side
#      once and never come back: counters exact, no conflict recorded;
#   2. same-key conflicts made on both sides while the daemon is stopped (update/update in both orders,
#      delete/update, insert/insert): source-wins, target-wins and last-write-wins converge to the policy's row on
#      both sides, each conflict recorded once from each side with the policy's decision, mosta_rules().conflicts
#      counts them; error stops the target with the conflict in its status, and converges once the policy changes;
#   3. concurrent writers on both sides on the same keys: both sides equal once the traffic stops, also by
#      mosta-sidecar verify (every policy);
#   4. --once applies what each side holds in both directions, and returns;
#   5. a side's table without REPLICA IDENTITY FULL stops that side's reverse direction, its status naming the fix;
#   6. a rule with two sides (the target project's PostgreSQL master and a SQLite replica): what one side writes
#      reaches the source and the other side, without conflict or echo.
# Prints "bidir_pg_pg: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it restarts its server with track_commit_timestamp = on: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/bidir.sh
source test/integration/lib/bidir.sh
tap_init bidir_pg_pg
require_cluster MOSTA_CLUSTER_DIR
require_sidecar

use_database mosta_bidir_pg_$$
rule_prefix=bpp
cleanup_extra() { bidir_cleanup; }
bidir_setup postgres sw tw lww err

# a side whose table lacks REPLICA IDENTITY FULL: its reverse direction refuses to start, naming the fix
psql_db -o /dev/null -v uri="postgresql://$PGUSER@$PGHOST:$PGPORT/$tdb" <<'SQL' || fail_setup "rule bpp_nri"
CREATE TABLE t_nri (id int PRIMARY KEY, v text);
ALTER TABLE t_nri REPLICA IDENTITY FULL;
SELECT mosta_add_replica('e_nri', 'main', 'master', 'postgres', :'uri');
SELECT mosta_add_rule('bpp_nri', 'app', 'e_nri', 'bidirectional', ARRAY['public.t_nri']);
SQL
psql -X -q -v ON_ERROR_STOP=1 -d "$tdb" -c "CREATE TABLE t_nri (id int PRIMARY KEY, v text)" || fail_setup "t_nri"
side_error() { scalar "SELECT last_error FROM mosta_rule_targets('bpp_nri')"; }
# checked before the suite's --once run, which the refusal would fail: disabled then
before_once() {
	if side_error | grep -q "reverse direction: bidirectional rule bpp_nri: table(s) public.t_nri on target e_nri.main lack REPLICA IDENTITY FULL.*ALTER TABLE public.t_nri REPLICA IDENTITY FULL"; then
		ok "a side's table without REPLICA IDENTITY FULL stops its reverse direction, named with the fix"
	else
		not_ok "a side's table without REPLICA IDENTITY FULL stops its reverse direction ('$(side_error)')"
	fi
	psql_db -o /dev/null -c "SELECT mosta_disable_rule('bpp_nri')"
}

# a rule with two sides, the target project's PostgreSQL master and a SQLite replica: what one side writes reaches the
# other through the source (the echo is dropped only for the side it came from)
psql_db -o /dev/null -v file="$work/two.db" <<'SQL' || fail_setup "rule bpp_two"
CREATE TABLE t_two (id int PRIMARY KEY, v text);
ALTER TABLE t_two REPLICA IDENTITY FULL;
SELECT mosta_add_replica('e_two', 'main', 'master', 'postgres', (SELECT uri FROM mosta.replicas WHERE project = 'e_sw'));
SELECT mosta_add_replica('e_two', 'lite', 'slave', 'sqlite', :'file');
SELECT mosta_add_rule('bpp_two', 'app', 'e_two', 'bidirectional', ARRAY['public.t_two']);
SQL
psql -X -q -v ON_ERROR_STOP=1 -d "$tdb" -c "CREATE TABLE t_two (id int PRIMARY KEY, v text); ALTER TABLE t_two REPLICA IDENTITY FULL" ||
	fail_setup "t_two"
three_ways() {
	local s p l
	s=$(scalar "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t_two")
	p=$(psql -X -At -d "$tdb" -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t_two")
	l=$(python3 -c 'import sqlite3, sys
print(",".join("%s:%s" % r for r in sqlite3.connect(sys.argv[1], timeout=30).execute("SELECT id, v FROM \"public.t_two\" ORDER BY id")))' "$work/two.db" 2>/dev/null)
	[ "$s" = "$1" ] && [ "$p" = "$1" ] && [ "$l" = "$1" ]
}

run_bidir_suite

start_bidir_daemon
lite_ready() { [ "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM sqlite_master WHERE name = ?", ("_mosta_changes",)).fetchone()[0])' "$work/two.db" 2>/dev/null)" = 1 ]; }
two_streaming() { [ "$(scalar "SELECT count(*) FROM mosta_rule_targets('bpp_two') WHERE status = 'streaming'")" = 2 ]; }
poll_until 60 lite_ready && poll_until 60 two_streaming || not_ok "rule bpp_two: both sides streaming"
psql -X -q -d "$tdb" -c "INSERT INTO t_two VALUES (1, 'from pg side')"
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30); db.execute("INSERT INTO \"public.t_two\" VALUES (2, ?)", ("from sqlite side",)); db.commit()' "$work/two.db"
if poll_until 60 three_ways "1:from pg side,2:from sqlite side"; then
	ok "two sides: each side's write reaches the source and the other side"
else
	not_ok "two sides: each side's write reaches the source and the other side"
fi
[ "$(scalar "SELECT count(*) FROM mosta_conflicts('bpp_two')")" = 0 ] && ok "two sides: no conflict, no echo" ||
	not_ok "two sides: no conflict ($(scalar "SELECT count(*) FROM mosta_conflicts('bpp_two')"))"
stop_daemon "the daemon stops on SIGTERM (two sides)"

# the reverse slots live on the target, one per running rule, named by the rule (none for the refused side: a slot
# would keep updates with key-only old images that no policy could apply)
slots=$(psql -X -At -d "$tdb" -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$tdb' AND plugin = 'mostajs'")
[ "$slots" = 5 ] && ok "one reverse slot per rule on the target" || not_ok "one reverse slot per rule on the target ($slots)"
finish
