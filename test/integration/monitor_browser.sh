#!/usr/bin/env bash
# monitor_browser.sh: the dashboard in a real browser (issue 12, item 6; docs/monitor.md, "The dashboard"), cluster
# of PGHOST/PGPORT/PGUSER as scripts/pg-cluster run provides. A project "app" (master, SQLite slave "lite", rule
# r1 cdc on table t), a project "edge" whose slave "ghost" no rule feeds (its status row, written here with psql,
# holds an error text with <script> in it, and so does the stats row of the disabled rule r2), mosta-sidecar
# --tree FILE --status-interval 1s, mosta-monitor --tree FILE --stale-after 5s with a random token (given in
# MOSTA_MONITOR_TOKEN: in no argument list, file or URL). Then Debian's headless chromium, driven through
# chromedriver by monitor_browser.py (python3-selenium):
#   1. GET / without a session lands on /login; a wrong token is refused with one message and no cookie; the right
#      one, typed into the form, opens the dashboard with an HttpOnly session cookie that is not the token;
#   2. the replicas (project, name, role, dialect, status), rules (name, mode, status, rows copied, changes,
#      transactions) and targets (rule, replica, slot) shown are those of mosta_replica_status(), mosta_rules()
#      and mosta_rule_targets(), reads go where mosta_read_replica('app') says; the lag of each replica up is
#      shown (the catalog's lag_ms), its sparkline drawn; with a version 2 topology, the activity feed is the
#      30 latest entries of mosta.activity;
#   3. the <script> error texts show as text and nothing of them runs;
#   4. 25 rows inserted on the source: the rule's changes counter on the page reaches the catalog's, no reload,
#      and its changes/s went above 0 meanwhile;
#   5. screenshots at 1366 px and 375 px (no horizontal scrolling on the phone);
#   6. SIGTERM to the sidecar: the stale banner appears ("sidecar not reporting since ...");
#   7. the browser log holds no SEVERE JavaScript error; the token is in no log.
# Screenshots (PNG) go to $MOSTA_TEST_OUTPUT_DIR/monitor_browser (default build/test-output/monitor_browser).
#
# The monitor is build/monitor/mosta-monitor (or MOSTA_MONITOR_BIN). When it does not exist the test fails, but
# with MOSTA_MONITOR_OPTIONAL=1 it is skipped (exit 0, "SKIP" said). Development aid: MOSTA_MONITOR_STANDIN=1 runs
# test/integration/monitor_standin.py, a stand-in written in Python, in place of the monitor (it served the page
# while the real server was written in parallel).
# Prints "monitor_browser: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init monitor_browser

python=/usr/bin/python3 # Debian's, which python3-selenium installs into
if [ "${MOSTA_MONITOR_STANDIN:-0}" = 1 ]; then
	monitor=("$python" test/integration/monitor_standin.py)
	echo "# against the stand-in test/integration/monitor_standin.py (MOSTA_MONITOR_STANDIN=1), not mosta-monitor"
else
	MONITOR_BINARY=${MOSTA_MONITOR_BIN:-build/monitor/mosta-monitor}
	if [ ! -x "$MONITOR_BINARY" ]; then
		if [ "${MOSTA_MONITOR_OPTIONAL:-0}" = 1 ]; then
			echo "monitor_browser: SKIP: $MONITOR_BINARY not found (MOSTA_MONITOR_OPTIONAL=1)"
			exit 0
		fi
		fail_setup "$MONITOR_BINARY not found: build it with cmake -S . -B build && cmake --build build -j2"
	fi
	monitor=("$MONITOR_BINARY")
fi
for tool in chromium chromedriver; do
	command -v "$tool" >/dev/null ||
		fail_setup "$tool is not installed (scripts/install-deps: chromium chromium-driver)"
done
"$python" -c 'import selenium' 2>/dev/null || fail_setup "python3-selenium is not installed (scripts/install-deps)"
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work (MOSTA_DATA_DIR), $daemon (the sidecar), psql_db, scalar and the exit trap
use_database mosta_monitor_browser_$$
server=
cleanup_extra() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
}
out=${MOSTA_TEST_OUTPUT_DIR:-build/test-output}/monitor_browser
mkdir -p "$out" && rm -f "$out"/*.png
out=$(cd "$out" && pwd)
echo "# screenshots in $out"

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 40) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
xss='<script>window.__mostaXss = 1</script><img src=x onerror="window.__mostaXss = 2">'
psql_db -o /dev/null -v uri="$uri" -v xss="$xss" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'lite.db');
SELECT mosta_add_replica('edge', 'ghost', 'slave', 'sqlite', 'ghost.db');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['t']);
SELECT mosta_add_rule('r2', 'app', 'edge', 'cdc', ARRAY['t'], enabled => false);
-- no rule the sidecar runs feeds ghost or r2: these rows stay as written
INSERT INTO mosta.replica_status (project, replica, status, last_error)
	VALUES ('edge', 'ghost', 'error', 'ghost: ' || :'xss');
INSERT INTO mosta.rule_stats (rule, status, last_error) VALUES ('r2', 'error', 'r2: ' || :'xss');
SQL

tree=$work/tree.json
PGDATABASE=$db "$BINARY" --status-interval 1s --poll-interval 200ms --tree "$tree" 2>>"$work/log.daemon" &
daemon=$!
lite_up() {
	[ "$(scalar "SELECT status FROM mosta_replica_status('app') WHERE replica = 'lite'")" = up ] && [ -s "$tree" ]
}
if poll_until 60 lite_up; then ok "the sidecar runs r1: lite up, the tree file written"; else
	not_ok "the sidecar runs r1: lite up, the tree file written"
	tail -20 "$work/log.daemon" >&2
	finish
fi

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOSTA_MONITOR_TOKEN=$("$python" -c 'import secrets; print(secrets.token_hex(16))')
export MOSTA_MONITOR_TOKEN # to the monitor and to the browser driver, which types it into the login form
"${monitor[@]}" --tree "$tree" --port "$port" --poll-interval 1s --stale-after 5s >"$work/log.monitor" 2>&1 &
server=$!
listening() { kill -0 "$server" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
if poll_until 30 listening; then ok "the monitor listens on 127.0.0.1:$port"; else
	not_ok "the monitor listens on 127.0.0.1:$port"
	cat "$work/log.monitor" >&2
	finish
fi

# the browser steps: one TAP line each, counted here
"$python" test/integration/monitor_browser.py --url "http://127.0.0.1:$port" --db "$db" --out "$out" \
	--tree "$tree" --sidecar-pid "$daemon" --project app --rule r1 --table t --lag-replica lite \
	--xss-replica ghost --xss-rule r2 >"$work/browser.tap" 2>"$work/browser.err"
status=$?
cat "$work/browser.tap"
passed=$((passed + $(grep -c '^ok - ' "$work/browser.tap")))
failed=$((failed + $(grep -c '^not ok - ' "$work/browser.tap")))
if [ $status -ne 0 ] || ! grep -q '^# browser: ' "$work/browser.tap"; then
	not_ok "monitor_browser.py ran to the end (exit status $status)"
	cat "$work/browser.err" >&2
fi

# the driver sent SIGTERM to the sidecar (step 6): a clean stop; if it did not get that far, stop it here
if ! grep -q '^# sidecar: SIGTERM sent' "$work/browser.tap"; then
	stop_daemon "the sidecar exits 0 on SIGTERM"
elif poll_until 30 daemon_gone; then
	if wait "$daemon"; then ok "the sidecar exited 0 after SIGTERM"; else
		not_ok "the sidecar exited 0 after SIGTERM"
		tail -20 "$work/log.daemon" >&2
	fi
	daemon=
else
	not_ok "the sidecar exited after SIGTERM (still running after 30 s)"
fi
if kill -0 "$server" 2>/dev/null; then ok "the monitor is still running"; else not_ok "the monitor is still running"; fi
if grep -qF "$MOSTA_MONITOR_TOKEN" "$work/log.monitor" "$work/log.daemon" "$work/browser.tap" "$work/browser.err" \
	"$tree"; then
	not_ok "the token is in no log"
else
	ok "the token is in no log"
fi
finish
