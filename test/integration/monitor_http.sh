#!/usr/bin/env bash
# monitor_http.sh: mosta-monitor over HTTP (cluster of PGHOST/PGPORT/PGUSER, as scripts/pg-cluster run provides),
# checked with curl:
#   1. over a real mosta-sidecar --tree (project app: master + SQLite slave "local", rule r1): the token is required
#      (401 without or with a wrong one, / redirects to /login), login (wrong 401, right 303 + an HttpOnly session
#      cookie that is not the token), the cookie opens / and /api/state, which shows the sidecar's topology;
#      /metrics passes promtool check metrics; /master and /route; failed logins are limited per address (429); once the
#      sidecar stops, the state turns stale after --stale-after and /master says 503;
#   2. over a tree file this script writes itself (atomically, with mv), on a second monitor without a token
#      (loopback): /replica?lag= goes 200 -> 503 -> 200 as the reported lag passes the threshold and comes back,
#      an /events client (curl -N) gets the new state after each change, and an error text holding <script> is
#      delivered JSON-escaped;
#   3. a non-loopback --bind without a token exits 2; the token is in no log line of the monitors.
# Every wait polls with a deadline. Prints "monitor_http: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init monitor_http
require_cluster
require_sidecar
MONITOR=${MOSTA_MONITOR_BIN:-build/monitor/mosta-monitor}
[ -x "$MONITOR" ] || fail_setup "$MONITOR not found: build it with cmake -S . -B build && cmake --build build -j2"
command -v curl >/dev/null || fail_setup "curl is not installed (scripts/install-deps)"
command -v promtool >/dev/null || fail_setup "promtool is not installed (prometheus, scripts/install-deps)"

use_database mosta_monitor_http_$$
monitor=
plain=
events=
catalog=
cleanup_extra() {
	local pid
	for pid in $events $plain $monitor $catalog; do kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
}
token="tok-$$-Zq8sEcReT"

# start_monitor LOG ARG...: starts mosta-monitor on a free port (--port 0), its pid in $started and its base URL
# in $url once it listens.
start_monitor() {
	local log=$1
	shift
	"$MONITOR" --port 0 "$@" 2>"$log" &
	started=$!
	listening() { grep -qs 'listening on http://' "$log"; }
	poll_until 20 listening || fail_setup "mosta-monitor did not start: $(cat "$log")"
	url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -1)
}
# status URL [CURL ARG...]: the HTTP status of a GET.
status() {
	local target=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' "$@" "$target"
}
# json_field FILE EXPR: a Python expression over the JSON document in FILE (as d), printed; errors print nothing.
json_field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 50) i;
CREATE EXTENSION mostajs;
SQL
psql_db -o /dev/null -v uri="postgresql://$PGUSER:pw-not-shown@$PGHOST:$PGPORT/$db" -v local="$work/local.db" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'local', 'slave', 'sqlite', :'local', lag_tolerance_ms => 60000);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms --tree "$work/tree.json" 2>"$work/log.daemon" &
daemon=$!
local_up() { [ "$(json_field "$work/tree.json" '[r["status"]["status"] for r in d["projects"]["app"]["replicas"] if r["name"] == "local"][0]')" = up ]; }
if poll_until 60 local_up; then ok "the sidecar's tree shows the SQLite slave up"; else not_ok "the sidecar's tree shows the SQLite slave up ($(head -c 300 "$work/tree.json" 2>&1))"; fi

# 1. the monitor over the sidecar's tree, with a token
start_monitor "$work/log.monitor" --tree "$work/tree.json" --token "$token" --poll-interval 200ms --stale-after 5s
monitor=$started
base=$url

code=$(status "$base/api/state")
header=$(curl -s -D - -o /dev/null "$base/api/state" | tr -d '\r' | grep -i '^WWW-Authenticate:')
if [ "$code" = 401 ] && [ "$header" = 'WWW-Authenticate: Bearer realm="mosta-monitor"' ]; then ok "no token: 401 with WWW-Authenticate"; else not_ok "no token: 401 with WWW-Authenticate ($code, '$header')"; fi
code=$(status "$base/api/state" -H "Authorization: Bearer wrong-$token")
if [ "$code" = 401 ]; then ok "wrong token: 401"; else not_ok "wrong token: 401 ($code)"; fi
code=$(status "$base/metrics" -H "Authorization: Bearer ${token%?}")
if [ "$code" = 401 ]; then ok "a prefix of the token: 401"; else not_ok "a prefix of the token: 401 ($code)"; fi
location=$(curl -s -D - -o /dev/null "$base/" | tr -d '\r' | sed -n 's/^Location: //ip')
if [ "$location" = /login ]; then ok "GET / without a session: 303 to /login"; else not_ok "GET / without a session: 303 to /login ('$location')"; fi
if grep -q 'name="token"' <<<"$(curl -s "$base/login")"; then ok "GET /login: the login form"; else not_ok "GET /login: the login form"; fi

code=$(status "$base/login" --data-urlencode "token=wrong")
if [ "$code" = 401 ]; then ok "login with a wrong token: 401"; else not_ok "login with a wrong token: 401 ($code)"; fi
curl -s -D "$work/login.headers" -o /dev/null --data-urlencode "token=$token" "$base/login"
tr -d '\r' <"$work/login.headers" >"$work/login.h"
cookie=$(sed -n 's/^Set-Cookie: \(mosta_monitor_session=[0-9a-f]\{64\}\);.*/\1/ip' "$work/login.h")
if head -1 "$work/login.h" | grep -q ' 303' && grep -qi '^Location: /$' "$work/login.h" &&
	grep -i '^Set-Cookie:' "$work/login.h" | grep -q 'HttpOnly; SameSite=Strict; Path=/' && [ -n "$cookie" ] &&
	! grep -qF "$token" "$work/login.h"; then
	ok "login with the token: 303 to / and an HttpOnly session cookie (not the token)"
else
	not_ok "login with the token: 303 to / and an HttpOnly session cookie ($(cat "$work/login.h"))"
fi

curl -s -D "$work/page.h" -o "$work/page.html" -H "Cookie: $cookie" "$base/"
if head -1 "$work/page.h" | grep -q ' 200' && grep -qi "^Content-Security-Policy: default-src 'self'" "$work/page.h" &&
	grep -qi '^Content-Type: text/html; charset=utf-8' "$work/page.h" && grep -qi '<html' "$work/page.html"; then
	ok "the cookie opens / (the dashboard, with its CSP)"
else
	not_ok "the cookie opens / ($(head -5 "$work/page.h"))"
fi
state_shows_sidecar() {
	curl -s -H "Cookie: $cookie" "$base/api/state" >"$work/state.json" &&
		[ "$(json_field "$work/state.json" '(d["monitor"]["source"], d["monitor"]["stale"], [r["name"] for r in d["topology"]["rules"]], [r["status"]["status"] for r in d["topology"]["projects"]["app"]["replicas"] if r["name"] == "local"][0])')" = "('tree', False, ['r1'], 'up')" ]
}
if poll_until 20 state_shows_sidecar; then ok "the cookie gives /api/state: the sidecar's topology, not stale"; else not_ok "the cookie gives /api/state ($(head -c 400 "$work/state.json"))"; fi
if ! grep -q 'pw-not-shown' "$work/state.json"; then ok "/api/state holds no password"; else not_ok "/api/state holds no password"; fi

curl -s -H "Authorization: Bearer $token" "$base/metrics" >"$work/metrics.txt"
if promtool check metrics <"$work/metrics.txt" >"$work/promtool.out" 2>&1; then ok "/metrics passes promtool check metrics"; else not_ok "/metrics passes promtool check metrics: $(cat "$work/promtool.out")"; fi
if grep -q '^mosta_replica_up{project="app",replica="local",role="slave",dialect="sqlite"} 1$' "$work/metrics.txt" &&
	grep -q '^mosta_rule_changes_applied_total{rule="r1"} ' "$work/metrics.txt" && grep -q '^mosta_topology_stale 0$' "$work/metrics.txt"; then
	ok "/metrics: the slave up, r1's counter, not stale"
else
	not_ok "/metrics: the slave up, r1's counter, not stale ($(grep -E '^mosta_(replica_up|topology_stale|rule_changes)' "$work/metrics.txt"))"
fi

code=$(status "$base/master?project=app" -H "Authorization: Bearer $token")
if [ "$code" = 200 ]; then ok "/master?project=app: 200"; else not_ok "/master?project=app: 200 ($code)"; fi
code=$(status "$base/master?project=nope" -H "Authorization: Bearer $token")
if [ "$code" = 404 ]; then ok "/master of an unknown project: 404"; else not_ok "/master of an unknown project: 404 ($code)"; fi
route=$(curl -s -H "Authorization: Bearer $token" "$base/route?project=app")
case $route in
'{"project":"app","strategy":"least-lag","replica":"local","role":"slave","eligible":["local"]}') ok "/route?project=app: the SQLite slave" ;;
*) not_ok "/route?project=app: the SQLite slave ($route)" ;;
esac

# failed logins from one address (127.0.0.2, a fresh one): five are answered 401, then even the right token gets
# 429 from there, while another address (127.0.0.1) still logs in
codes=
for _ in 1 2 3 4 5; do codes="$codes$(status "$base/login" --interface 127.0.0.2 --data-urlencode "token=wrong") "; done
code=$(status "$base/login" --interface 127.0.0.2 --data-urlencode "token=$token")
if [ "$codes" = "401 401 401 401 401 " ] && [ "$code" = 429 ]; then ok "more than 5 failed logins in a minute: 429"; else not_ok "more than 5 failed logins in a minute: 429 ($codes-> $code)"; fi
code=$(status "$base/login" --data-urlencode "token=$token")
if [ "$code" = 303 ]; then ok "the limit is per address: another one logs in"; else not_ok "the limit is per address: another one logs in ($code)"; fi
code=$(status "$base/api/state" -H "Cookie: $cookie")
if [ "$code" = 200 ]; then ok "the session still works meanwhile"; else not_ok "the session still works meanwhile ($code)"; fi
curl -s -o /dev/null -X POST -H "Cookie: $cookie" "$base/logout"
code=$(status "$base/api/state" -H "Cookie: $cookie")
if [ "$code" = 401 ]; then ok "after POST /logout the cookie is refused"; else not_ok "after POST /logout the cookie is refused ($code)"; fi

stop_daemon "the sidecar stops"
stale() {
	curl -s -H "Authorization: Bearer $token" "$base/api/state" >"$work/stale.json" &&
		[ "$(json_field "$work/stale.json" 'd["monitor"]["stale"]')" = True ]
}
if poll_until 30 stale; then
	reason=$(json_field "$work/stale.json" 'd["monitor"]["staleReason"]')
	case $reason in
	"sidecar not reporting since "*) ok "sidecar stopped: stale after --stale-after ($reason)" ;;
	*) not_ok "sidecar stopped: stale, saying since when ($reason)" ;;
	esac
else
	not_ok "sidecar stopped: stale after --stale-after ($(head -c 300 "$work/stale.json"))"
fi
code=$(status "$base/master?project=app" -H "Authorization: Bearer $token")
if [ "$code" = 503 ]; then ok "stale: /master answers 503"; else not_ok "stale: /master answers 503 ($code)"; fi

# 2. a tree file written here, read by a second monitor without a token (loopback) and a long --stale-after
# write_tree LAG_MS ERROR: replaces crafted.json atomically; generatedAt is now, so each write is a new state
write_tree() {
	python3 - "$work/crafted.json" "$1" "$2" <<'PY'
import datetime, json, os, sys
path, lag, error = sys.argv[1], int(sys.argv[2]), sys.argv[3]
status = lambda s, lag_ms, within, err=None: {"status": s, "lagMs": lag_ms, "lagBytes": None if lag_ms is None else lag_ms * 8,
    "appliedLsn": None, "tables": 1, "lastSeen": None, "withinTolerance": within, "lastError": err}
tree = {"version": 1, "generatedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "projects": {"shop": {"readRouting": "least-lag", "replicas": [
            {"name": "primary", "role": "master", "dialect": "postgres", "uri": "postgresql://app:***@db1/shop",
             "lagTolerance": 5000, "pool": {"min": 1, "max": 10}, "status": status("unknown", None, False)},
            {"name": "local", "role": "slave", "dialect": "sqlite", "uri": "/var/lib/mosta/shop.db",
             "lagTolerance": 2000, "pool": {"min": 1, "max": 10}, "status": status("up", lag, lag <= 2000, error or None)}]}},
        "rules": []}
with open(path + ".tmp", "w") as f:
    json.dump(tree, f, indent=4)
os.rename(path + ".tmp", path)
PY
}
write_tree 100 ""
start_monitor "$work/log.plain" --tree "$work/crafted.json" --poll-interval 1s --stale-after 1h
plain=$started
replica="$url/replica?project=shop&replica=local&lag=1s"
replica_is() { [ "$(status "$replica")" = "$1" ]; }
if poll_until 20 replica_is 200; then ok "no token on loopback: requests allowed; /replica lag 100 ms <= 1s: 200"; else not_ok "/replica lag 100 ms <= 1s: 200 ($(curl -s "$replica"))"; fi

curl -s -N "$url/events" >"$work/events.txt" &
events=$!
first_event() { grep -q '^event: state$' "$work/events.txt" && grep -q '^data: {"monitor"' "$work/events.txt"; }
if poll_until 20 first_event; then ok "/events: a state event at once"; else not_ok "/events: a state event at once ($(head -c 200 "$work/events.txt"))"; fi

write_tree 5000 "syntax error near <script>alert(1)</script>"
if poll_until 20 replica_is 503; then ok "lag 5000 ms > 1s: /replica 503"; else not_ok "lag 5000 ms > 1s: /replica 503 ($(curl -s "$replica"))"; fi
if [ "$(status "$url/replica?project=shop&replica=local&lag=10s")" = 200 ]; then ok "the same lag within lag=10s: 200"; else not_ok "the same lag within lag=10s: 200"; fi
if [ "$(status "$url/replica?project=shop&replica=local")" = 503 ]; then ok "without lag=: its lag tolerance decides (503)"; else not_ok "without lag=: its lag tolerance decides (503)"; fi
if [ "$(status "$url/replica?project=shop&replica=ghost")" = 404 ]; then ok "/replica of an unknown replica: 404"; else not_ok "/replica of an unknown replica: 404"; fi
event_with() { grep -q "^data: .*\"lagMs\":$1[,}]" "$work/events.txt"; }
if poll_until 20 event_with 5000; then ok "/events: a new state event after the file changed"; else not_ok "/events: a new state event after the file changed"; fi
curl -s "$url/api/state" >"$work/script.json"
if grep -qF 'near \u003cscript\u003ealert(1)\u003c/script\u003e' "$work/script.json" && ! grep -qF '<script>' "$work/script.json"; then
	ok "an error text holding <script> is delivered JSON-escaped in /api/state"
else
	not_ok "an error text holding <script> is JSON-escaped ($(grep -o '"lastError":"[^"]*"' "$work/script.json"))"
fi
if ! grep -qF '<script>' "$work/events.txt"; then ok "and in the /events stream"; else not_ok "and in the /events stream"; fi

write_tree 150 ""
if poll_until 20 replica_is 200; then ok "lag back to 150 ms: /replica 200"; else not_ok "lag back to 150 ms: /replica 200 ($(curl -s "$replica"))"; fi
if poll_until 20 event_with 150; then ok "/events: the next change too"; else not_ok "/events: the next change too"; fi
route=$(curl -s "$url/route?project=shop")
case $route in
*'"replica":"local"'*) ok "/route?project=shop: the slave within tolerance" ;;
*) not_ok "/route?project=shop: the slave within tolerance ($route)" ;;
esac
kill "$events" 2>/dev/null
wait "$events" 2>/dev/null
events=

rm "$work/crafted.json"
missing() { curl -s "$url/api/state" | grep -q '"staleReason":"no topology file at '; }
if poll_until 20 missing; then ok "the file removed: stale, \"no topology file at ...\""; else not_ok "the file removed: stale ($(curl -s "$url/api/state" | head -c 300))"; fi

# --source: the same topology read from the catalog (no file)
start_monitor "$work/log.catalog" --source "dbname=$db" --poll-interval 200ms --token "$token"
catalog=$started
from_catalog() {
	curl -s -H "Authorization: Bearer $token" "$url/api/state" >"$work/catalog.json" &&
		[ "$(json_field "$work/catalog.json" '(d["monitor"]["source"], d["monitor"]["stale"], [r["name"] for r in d["topology"]["rules"]])')" = "('catalog', False, ['r1'])" ]
}
if poll_until 20 from_catalog; then ok "--source DSN: the topology read from the catalog"; else not_ok "--source DSN: the topology read from the catalog ($(head -c 300 "$work/catalog.json"))"; fi
kill -TERM "$catalog"
wait "$catalog"
catalog=

# 3. refusals and logs
"$MONITOR" --tree "$work/tree.json" --bind 0.0.0.0 --port 0 2>"$work/log.refused" &
refused=$!
wait "$refused"
code=$?
if [ "$code" = 2 ] && grep -q 'is not a loopback address: give a token' "$work/log.refused"; then
	ok "a non-loopback --bind without a token: exit 2 with a clear message"
else
	not_ok "a non-loopback --bind without a token: exit 2 ($code: $(cat "$work/log.refused"))"
fi

for pid in $monitor $plain; do kill -TERM "$pid"; done
monitors_gone() { ! kill -0 "$monitor" 2>/dev/null && ! kill -0 "$plain" 2>/dev/null; }
if poll_until 30 monitors_gone; then
	wait "$monitor"
	first=$?
	wait "$plain"
	second=$?
	if [ "$first" = 0 ] && [ "$second" = 0 ]; then ok "SIGTERM: both monitors exit 0"; else not_ok "SIGTERM: both monitors exit 0 ($first, $second)"; fi
else
	not_ok "SIGTERM: both monitors exit"
fi
monitor=
plain=
if ! grep -qF "$token" "$work"/log.*; then ok "the token is in no log"; else not_ok "the token is in no log: $(grep -lF "$token" "$work"/log.*)"; fi
sed 's/^/    /' "$work/log.monitor"

finish
