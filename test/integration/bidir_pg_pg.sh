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
#   5. a side's table without REPLICA IDENTITY FULL stops that side's reverse direction, its status naming the fix.
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

run_bidir_suite

# the reverse slots live on the target, one per running rule, named by the rule (none for the refused side: a slot
# would keep updates with key-only old images that no policy could apply)
slots=$(psql -X -At -d "$tdb" -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$tdb' AND plugin = 'mostajs'")
[ "$slots" = 4 ] && ok "one reverse slot per rule on the target" || not_ok "one reverse slot per rule on the target ($slots)"
finish
