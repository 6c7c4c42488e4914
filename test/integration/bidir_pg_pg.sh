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
#   3. concurrent writers on both sides on the same keys: both sides equal once the traffic stops;
#   4. --once applies what each side holds in both directions, and returns.
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

run_bidir_suite

# the reverse slots live on the target, one per rule, named by the rule
slots=$(psql -X -At -d "$tdb" -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$tdb' AND plugin = 'mostajs'")
[ "$slots" = 4 ] && ok "one reverse slot per rule on the target" || not_ok "one reverse slot per rule on the target ($slots)"
finish
