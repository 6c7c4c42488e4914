#!/usr/bin/env bash
# ha_dcs_slow_etcd.sh: a rule sidecar with --dcs whose etcd answers, but slowly (issue 17; docs/sidecar.md "Several
# sidecars: --dcs"), cluster of PGHOST/PGPORT/PGUSER as scripts/pg-cluster run provides. One etcd member
# (scripts/etcd-cluster) reached through lib/delay_proxy.py, which delays every request by 250 ms; one cdc rule into a
# SQLite target; two sidecars run with --dcs-ttl 3s (the fence window: 1 s after each keep-alive sent) and
# --poll-interval 200ms. A poll makes several etcd calls (the lease, its key, the rules' keys, the leadership): when
# the keep-alive was sent once per poll, such a poll outlasted the fence window, the fence closed at every poll and
# the rule never ran long enough to commit anything. Checks:
#   1. a sidecar takes r1 and its initial copy reaches the SQLite target;
#   2. a row committed afterwards reaches the target (committed while streaming, not at the stop);
#   3. kill -9 of the holder and a row committed at once: the other takes r1 and the row reaches the target;
#   4. SIGTERM: the other exits 0.
# The number of fence deadlines missed is printed, not asserted (it depends on the machine's load).
# Prints "ha_dcs_slow_etcd: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it runs an etcd member and a proxy: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_slow_etcd
require_cluster
require_sidecar
command -v etcd >/dev/null && command -v etcdctl >/dev/null || fail_setup "etcd and etcdctl are needed: make deps (etcd-server, etcd-client)"

# lib/tap.sh: $db (created), $work, psql_db, scalar, $daemon and the exit trap, which runs cleanup_extra
use_database mosta_ha_dcs_slow_etcd_$$
proxy=
pid_a=
pid_b=
cleanup_extra() {
	for pid in $pid_a $pid_b; do kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	[ -n "$proxy" ] && kill "$proxy" 2>/dev/null && wait "$proxy" 2>/dev/null
	scripts/etcd-cluster stop "$work/etcd" >/dev/null 2>&1
}

if ! scripts/etcd-cluster start "$work/etcd" 1 >"$work/etcd.env" 2>"$work/etcd.err"; then
	not_ok "etcd starts"
	cat "$work/etcd.err" >&2
	finish
fi
# shellcheck disable=SC1091
source "$work/etcd.env"
python3 test/integration/lib/delay_proxy.py "$work/proxy.port" "$ETCD_ENDPOINTS" 0.25 2>"$work/proxy.err" &
proxy=$!
proxy_up() { [ -s "$work/proxy.port" ]; }
poll_until 10 proxy_up || fail_setup "the delaying proxy does not listen: $(cat "$work/proxy.err")"

psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" -v lite="$work/app.db" <<'SQL' || { not_ok "catalog"; finish; }
SET client_min_messages = warning;
CREATE EXTENSION mostajs;
CREATE TABLE items (id int PRIMARY KEY, note text);
INSERT INTO items VALUES (0, 'before');
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['items']);
SQL

# start_sidecar NAME: a daemon with --dcs through the proxy, its log in $work/log.NAME; sets started_pid.
start_sidecar() {
	PGDATABASE=$db "$BINARY" --dcs "etcd://127.0.0.1:$(cat "$work/proxy.port")/mosta_test_$$" --dcs-ttl 3s \
		--poll-interval 200ms --name "$1" 2>"$work/log.$1" &
	started_pid=$!
}
start_sidecar side-a
pid_a=$started_pid
start_sidecar side-b
pid_b=$started_pid
in_target() { [ "$(sqlite3 -readonly "$work/app.db" "SELECT count(*) FROM \"public.items\" WHERE id = $1" 2>/dev/null)" = 1 ]; }
holder() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=2s get --print-value-only "/mosta_test_$$/rules/r1" 2>/dev/null; }

if poll_until 60 in_target 0; then
	ok "through a slow etcd, a sidecar takes r1 and copies it into the SQLite target"
else
	not_ok "through a slow etcd, a sidecar takes r1 and copies it into the SQLite target"
	tail -n 5 "$work"/log.side-* >&2
fi
psql_db -c "INSERT INTO items VALUES (1, 'streamed')" >/dev/null
if poll_until 30 in_target 1; then
	ok "a row committed afterwards reaches the SQLite target while the holder streams"
else
	not_ok "a row committed afterwards reaches the SQLite target while the holder streams"
	tail -n 5 "$work"/log.side-* >&2
fi
# kill -9 of the holder, a row committed at once (bench/failover.sh's takeover case): the other takes r1 over
# through the slow etcd and commits the row while streaming
first=$(holder)
case $first in
side-a) victim=$pid_a other=side-b daemon=$pid_b pid_a='' pid_b='' ;;
side-b) victim=$pid_b other=side-a daemon=$pid_a pid_a='' pid_b='' ;;
*) victim='' other='' ;;
esac
if [ -n "$victim" ]; then
	kill -9 "$victim"
	wait "$victim" 2>/dev/null
	psql_db -c "INSERT INTO items VALUES (2, 'after the kill')" >/dev/null
	if poll_until 60 in_target 2; then
		ok "after kill -9 of $first, $other takes r1 and commits the row committed after the kill"
	else
		not_ok "after kill -9 of $first, $other takes r1 and commits the row committed after the kill (holder '$(holder)')"
		tail -n 10 "$work/log.$other" >&2
	fi
else
	not_ok "a sidecar holds P/rules/r1 ('$first')"
	daemon=$pid_a
	pid_a=
fi
echo "    fence deadlines missed: $(cat "$work"/log.side-* | grep -c "not renewed by its fence deadline")"
cp "$work/log.$other" "$work/log.daemon" 2>/dev/null
stop_daemon "$other exits 0 on SIGTERM"
finish
