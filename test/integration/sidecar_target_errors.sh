#!/usr/bin/env bash
# sidecar_target_errors.sh: targets that cannot be written are target errors, reported where an operator looks,
# while the others keep flowing (issue 10, items 5 and 8), cluster of PGHOST/PGPORT/PGUSER as scripts/pg-cluster
# run provides. The data directory is $work (MOSTA_DATA_DIR, set by use_database).
#   1. Target-path policy: rule r1 into project app's slaves: "good" (a relative path), "outside" (an absolute
#      path outside the data directory), "escape" (a symlink in the data directory leading out of it) and
#      "foreign" (an SQL dump target on an existing file that is not a dump). --once copies into good and exits
#      1; the three others are in error in mosta_rule_targets() with a message naming the replica and the path,
#      their replicas are in error in mosta_replica_status(), nothing is written outside the data directory and
#      the foreign file is unchanged; verify refuses the same paths and compares the good target.
#   2. A sink failing in the middle of the initial copy: rule r2 copies 12 MB into a SQLite target while the
#      sidecar may write files of at most 2 MB (ulimit -f, with SIGXFSZ ignored: write() then fails with EFBIG,
#      as on a full filesystem, for root too). --once exits 1, the target is in error with SQLite's message in
#      mosta_rule_targets() and mosta.target_status.last_error, its replica is not up, and the status write did
#      not fail on the copy's READ ONLY transaction.
# Prints "sidecar_target_errors: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_target_errors
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work (MOSTA_DATA_DIR), psql_db, scalar and the exit trap
use_database mosta_sidecar_target_errors_$$
outside=$(mktemp -d)
cleanup_extra() { rm -rf "$outside"; }

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 30) i;
CREATE TABLE bulk (id int PRIMARY KEY, pad text);
INSERT INTO bulk SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 20000) i;
CREATE EXTENSION mostajs;
SQL
printf 'listen_addresses = *\n' >"$work/config.sql"
ln -s "$outside" "$work/escape"
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v outside="$outside/out.db" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'good', 'slave', 'sqlite', 'good.db');
SELECT mosta_add_replica('app', 'outside', 'slave', 'sqlite', :'outside');
SELECT mosta_add_replica('app', 'escape', 'slave', 'sqlite', 'escape/in.db');
SELECT mosta_add_replica('app', 'foreign', 'slave', 'sqldump', 'config.sql');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['t']);
SQL

# 1. the target-path policy
if PGDATABASE=$db "$BINARY" --once --status-interval 1s 2>"$work/log.paths"; then
	not_ok "--once exits 1 when targets are refused"
else
	ok "--once exits 1 when targets are refused"
fi
sed 's/^/    /' "$work/log.paths"
good=$(sqlite3 "$work/good.db" 'SELECT count(*) FROM "public.t"' 2>&1)
if [ "$good" = 30 ]; then ok "the good target is copied"; else not_ok "the good target is copied (got '$good')"; fi
target() { scalar "SELECT status || ': ' || coalesce(last_error, '') FROM mosta_rule_targets() WHERE rule = 'r1' AND replica = '$1'"; }
check_refused() {
	local replica=$1 pattern=$2 got
	got=$(target "$replica")
	case $got in
	error:*"replica app.$replica "*$pattern*) ok "$replica refused as a target error: ${got:0:150}" ;;
	*) not_ok "$replica refused as a target error (got '$got')" ;;
	esac
}
check_refused outside "$outside/out.db\"*is not inside the data directory $work"
check_refused escape "\"escape/in.db\"*is not inside the data directory"
check_refused foreign "is not a mostajs SQL dump"
got=$(scalar "SELECT string_agg(replica || ':' || status, ' ' ORDER BY replica) FROM mosta_replica_status('app') WHERE role = 'slave'")
if [ "$got" = "escape:error foreign:error good:down outside:error" ]; then ok "replica status: $got"; else not_ok "replica status (got '$got')"; fi
if [ -z "$(ls -A "$outside")" ]; then ok "nothing written outside the data directory"; else not_ok "nothing written outside the data directory ($(ls "$outside"))"; fi
if [ "$(cat "$work/config.sql")" = "listen_addresses = *" ]; then ok "the foreign file is unchanged"; else not_ok "the foreign file is unchanged"; fi
grep -q "Segmentation\|terminate called\|Aborted" "$work/log.paths" && not_ok "no crash" || ok "no crash"
# verify resolves the paths as the daemon does: good matches, the target outside is refused, not opened
PGDATABASE=$db "$BINARY" verify r1 >"$work/verify.out" 2>&1
status=$?
sed 's/^/    /' "$work/verify.out" | cut -c1-200
if [ "$status" -eq 1 ] && grep -q "replica app.outside (sqlite): path .* is not inside the data directory" "$work/verify.out" &&
	grep -Eq '^  public.t +30 +30 .*match$' "$work/verify.out"; then
	ok "verify resolves target paths as the daemon does"
else
	not_ok "verify resolves target paths as the daemon does (exit $status)"
fi

# 2. a sink failing in the middle of the initial copy
psql_db -o /dev/null <<'SQL' || { not_ok "catalog r2"; finish; }
SELECT mosta_disable_rule('r1');
SELECT mosta_add_replica('bulk', 'big', 'slave', 'sqlite', 'big.db');
SELECT mosta_add_rule('r2', 'app', 'bulk', 'cdc', ARRAY['bulk']);
SQL
# SIGXFSZ ignored (inherited through exec): a write past the limit fails with EFBIG instead of killing
(
	trap '' XFSZ
	ulimit -f 2048
	PGDATABASE=$db exec "$BINARY" --once --status-interval 1s
) 2>"$work/log.copy"
status=$?
sed 's/^/    /' "$work/log.copy" | cut -c1-220
if [ "$status" -eq 1 ]; then ok "--once exits 1 when the copy's sink fails"; else not_ok "--once exits 1 when the copy's sink fails (got $status)"; fi
got=$(scalar "SELECT status || ': ' || coalesce(last_error, '') FROM mosta_rule_targets() WHERE rule = 'r2'")
case $got in
error:*SQLite*) ok "the target is in error with the cause: ${got:0:150}" ;;
*) not_ok "the target is in error with the cause (got '$got')" ;;
esac
got=$(scalar "SELECT last_error IS NOT NULL FROM mosta.target_status WHERE rule = 'r2'")
if [ "$got" = t ]; then ok "mosta.target_status.last_error is set"; else not_ok "mosta.target_status.last_error is set (got '$got')"; fi
got=$(scalar "SELECT status FROM mosta_replica_status('bulk') WHERE replica = 'big'")
if [ "$got" = error ]; then ok "mosta_replica_status() says error, not up"; else not_ok "mosta_replica_status() says error, not up (got '$got')"; fi
got=$(scalar "SELECT status FROM mosta_rules() WHERE name = 'r2'")
if [ "$got" = error ]; then ok "mosta_rules() says error"; else not_ok "mosta_rules() says error (got '$got')"; fi
if grep -q "could not write its status" "$work/log.copy"; then not_ok "the status was written (no read-only transaction in the way)"; else ok "the status was written (no read-only transaction in the way)"; fi

finish
