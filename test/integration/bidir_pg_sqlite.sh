#!/usr/bin/env bash
# bidir_pg_sqlite.sh: bidirectional rules between the PostgreSQL master and a SQLite replica (a file under the data directory, written by python's sqlite3 as an application would)
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
#   4. --once applies what each side holds in both directions, and returns.
#   5. refusals: a bidirectional rule into a jsonl replica, and one on a table without REPLICA IDENTITY FULL, are
#      rule errors naming the replica or the table and the fix.
# Prints "bidir_pg_sqlite: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it restarts its server with track_commit_timestamp = on: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/bidir.sh
source test/integration/lib/bidir.sh
tap_init bidir_pg_sqlite
require_cluster MOSTA_CLUSTER_DIR
require_sidecar

use_database mosta_bidir_sqlite_$$
rule_prefix=bps
cleanup_extra() { bidir_cleanup; }
bidir_setup sqlite sw tw lww err

# the refusals (rules that never run)
psql_db -o /dev/null -v file="$work/archive" <<'SQL' || fail_setup "refused rules"
CREATE TABLE plain (id int PRIMARY KEY, v text);
SELECT mosta_add_replica('e_arch', 'arch', 'slave', 'jsonl', :'file');
SELECT mosta_add_rule('bps_arch', 'app', 'e_arch', 'bidirectional', ARRAY['public.t_sw']);
SELECT mosta_add_replica('e_plain', 'lite', 'slave', 'sqlite', :'file' || '.db');
SELECT mosta_add_rule('bps_plain', 'app', 'e_plain', 'bidirectional', ARRAY['public.plain']);
SQL

# the refusals, checked before the suite's --once run (a rule that cannot start fails a --once run: disabled then)
error_of() { scalar "SELECT last_error FROM mosta_rules() WHERE name = '$1'"; }
before_once() {
	if error_of bps_arch | grep -q 'e_arch.arch" has dialect jsonl, which cannot be a side of a bidirectional rule'; then
		ok "a jsonl replica is refused as a bidirectional side, named with the reason"
	else
		not_ok "a jsonl replica is refused as a bidirectional side ('$(error_of bps_arch)')"
	fi
	if error_of bps_plain | grep -q 'public.plain on the source lack REPLICA IDENTITY FULL.*ALTER TABLE public.plain REPLICA IDENTITY FULL'; then
		ok "a table without REPLICA IDENTITY FULL is refused, with the ALTER TABLE to run"
	else
		not_ok "a table without REPLICA IDENTITY FULL is refused ('$(error_of bps_plain)')"
	fi
	psql_db -o /dev/null -c "SELECT mosta_disable_rule('bps_plain')"
}

run_bidir_suite
finish
