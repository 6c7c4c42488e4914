#!/usr/bin/env bash
# dcs_client.sh: the etcd client (sidecar/src/dcs/etcd_client.hpp) and mosta-sidecar dcs-status against a real
# 3-member etcd (scripts/etcd-cluster), through dcs_client_probe (one client call per run, JSON out):
#   - leases: grant, keep-alive, expiry without keep-alives (the key on it disappears; keep-alive then says
#     alive=false, time-to-live null; a put on it is etcd's refusal, exit 4), revoke (its key gone at once);
#   - Create racing: two Creates of one key at once, exactly one true, the key holds the winner's value;
#     CompareAndPut / CompareAndDelete with a wrong and a right expected value; GetPrefix returns exactly the keys
#     under the prefix, in key order;
#   - dcs-status: the leader (with its lease's remaining TTL), members as stored, sync, rules, sidecars;
#   - one member killed (the first endpoint): every call still succeeds, answered by another member;
#   - two members killed (quorum lost): reads, writes and keep-alives fail with DcsUnavailable (exit 3) naming each
#     endpoint, dcs-status exits 1 with that text; each call returns (bounded by `timeout`, never hangs);
#   - members back: calls succeed again and a lease granted before the outage is still alive.
# Needs no PostgreSQL. Runs after the CMake build (MOSTA_DCS_PROBE_BIN overrides the probe's path).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init dcs_client
require_sidecar

PROBE=${MOSTA_DCS_PROBE_BIN:-build/test/cpp/sidecar/dcs_client_probe}
[ -x "$PROBE" ] || fail_setup "$PROBE not found: cmake --build build -j2 --target dcs_client_probe"
command -v etcd >/dev/null || fail_setup "etcd is not installed (scripts/install-deps: etcd-server)"

work=$(mktemp -d)
etcd_dir=$work/etcd
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	scripts/etcd-cluster stop "$etcd_dir" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

eval "$(scripts/etcd-cluster start "$etcd_dir" 3)" || fail_setup "scripts/etcd-cluster start failed"
URL="etcd://$MOSTA_DCS_HOSTS/t"
IFS=, read -r -a members <<<"$ETCD_ENDPOINTS"

# probe ARGS...: one client call (bounded: a hang fails the check that uses it), its JSON in $out, stderr in
# $err, exit status in $rc.
probe() {
	out=$(timeout 30 "$PROBE" "$URL" "$@" 2>"$work/err")
	rc=$?
	err=$(cat "$work/err")
}

# field PATH: the value at PATH (a Python subscript such as ["kv"]["value"]) of $out, as JSON.
field() { python3 -c "import json, sys; print(json.dumps(json.loads(sys.argv[1])$1))" "$out"; }

# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected $2, got $3; stderr: $err)"; fi
}

# --- leases --------------------------------------------------------------------------------------------------------
probe grant 3
check "grant: a lease of 3 s" 3 "$(field '["ttl"]')"
lease=$(field '["lease"]')
probe keepalive "$lease"
check "keep-alive of a live lease: alive" true "$(field '["alive"]')"
probe create /t/leased v "$lease"
check "create on the lease" true "$(field '["ok"]')"
probe get /t/leased
check "the key carries the lease" "$lease" "$(field '["kv"]["lease"]')"
key_gone() { probe get "$1" && [ "$(field '["kv"]')" = null ]; }
if poll_until 30 key_gone /t/leased; then ok "without keep-alives the lease expires: its key is gone"; else
	not_ok "the key of an unrenewed 3 s lease still there after 30 s ($out $err)"; fi
probe keepalive "$lease"
check "keep-alive of the expired lease: alive=false" false "$(field '["alive"]')"
probe ttl "$lease"
check "time-to-live of the expired lease: null" null "$(field '["ttl"]')"
probe put /t/late v "$lease"
if [ "$rc" = 4 ] && grep -q "lease not found" <<<"$err" && grep -q "/t/late" <<<"$err"; then
	ok "a put on the expired lease: etcd's refusal (exit 4) naming the key"
else not_ok "a put on the expired lease: exit $rc, $err"; fi

probe grant 60
revoked=$(field '["lease"]')
probe put /t/revoked v "$revoked"
probe revoke "$revoked"
check "revoke answers" 0 "$rc"
probe get /t/revoked
check "revoke deletes the lease's key at once" null "$(field '["kv"]')"
probe revoke "$revoked"
check "revoking a lease already gone is not an error" 0 "$rc"

# --- compare-and-swap ----------------------------------------------------------------------------------------------
"$PROBE" "$URL" create /t/race a >"$work/race.a" 2>&1 &
racer_a=$!
"$PROBE" "$URL" create /t/race b >"$work/race.b" 2>&1 &
racer_b=$!
wait "$racer_a" "$racer_b"
winners=$(cat "$work/race.a" "$work/race.b" | grep -c '"ok":true')
losers=$(cat "$work/race.a" "$work/race.b" | grep -c '"ok":false')
check "two Creates racing: exactly one wins" "1 1" "$winners $losers"
winner=a
grep -q '"ok":true' "$work/race.b" && winner=b
probe get /t/race
check "the key holds the winner's value" "\"$winner\"" "$(field '["kv"]["value"]')"

probe put /t/cas "n1"
probe cas /t/cas n2 n3
check "CompareAndPut with a wrong expected value: false" false "$(field '["ok"]')"
probe get /t/cas
check "... and the value is unchanged" '"n1"' "$(field '["kv"]["value"]')"
probe cas /t/cas n1 n3
check "CompareAndPut with the right expected value: true" true "$(field '["ok"]')"
probe get /t/cas
check "... and the value is the new one" '"n3"' "$(field '["kv"]["value"]')"
probe cad /t/cas n1
check "CompareAndDelete with a wrong expected value: false" false "$(field '["ok"]')"
probe cad /t/cas n3
check "CompareAndDelete with the right expected value: true" true "$(field '["ok"]')"
probe get /t/cas
check "... and the key is gone" null "$(field '["kv"]')"
probe cad /t/cas n3
check "CompareAndDelete of an absent key: false" false "$(field '["ok"]')"

probe put /t/p/b 2
probe put /t/p/a 1
probe put /t/p/c/d 3
probe put /t/q x
probe put /t/p x
probe prefix /t/p/
check "GetPrefix: exactly the keys under the prefix, in key order" '["/t/p/a", "/t/p/b", "/t/p/c/d"]' \
	"$(field '["kvs"]' | python3 -c 'import json, sys; print(json.dumps([kv["key"] for kv in json.load(sys.stdin)]))')"

# --- dcs-status ----------------------------------------------------------------------------------------------------
probe grant 60
agent_lease=$(field '["lease"]')
probe create /t/projects/shop/leader n1 "$agent_lease"
probe put /t/projects/shop/members/n1 '{"node":"n1","role":"primary","timeline":1}' "$agent_lease"
probe put /t/projects/shop/sync '{"leader":"n1","sync_standby":null,"mode":"on"}'
probe put /t/rules/orders sc-a "$agent_lease"
probe put /t/sidecars/sc-a '{"name":"sc-a","pid":1}' "$agent_lease"
status=$("$BINARY" dcs-status --dcs "$URL" 2>"$work/err")
rc=$?
err=$(cat "$work/err")
check "dcs-status exits 0" 0 "$rc"
out=$status
check "dcs-status: the leader" '"n1"' "$(field '["projects"]["shop"]["leader"]["node"]')"
check "dcs-status: the leader's lease" "$agent_lease" "$(field '["projects"]["shop"]["leader"]["lease"]')"
remaining=$(field '["projects"]["shop"]["leader"]["ttl_remaining_s"]')
if [ "$remaining" -gt 0 ] 2>/dev/null && [ "$remaining" -le 60 ]; then ok "dcs-status: the leader lease's remaining TTL ($remaining s of 60)"; else
	not_ok "dcs-status: ttl_remaining_s $remaining"; fi
check "dcs-status: the member as stored" '{"node": "n1", "role": "primary", "timeline": 1}' \
	"$(field '["projects"]["shop"]["members"]["n1"]')"
check "dcs-status: the sync key" '"on"' "$(field '["projects"]["shop"]["sync"]["mode"]')"
check "dcs-status: the status key absent is null" null "$(field '["projects"]["shop"]["status"]')"
check "dcs-status: the rule's owner" '{"owner": "sc-a", "lease": '"$agent_lease"'}' "$(field '["rules"]["orders"]')"
check "dcs-status: the sidecar" '{"name": "sc-a", "pid": 1}' "$(field '["sidecars"]["sc-a"]')"
check "dcs-status: the endpoint that answered" '"'"${members[0]}"'"' "$(field '["endpoint"]')"

# --- one member lost -----------------------------------------------------------------------------------------------
scripts/etcd-cluster stop-member "$etcd_dir" 1
probe get /t/race
check "one member killed: a read succeeds" "0 \"$winner\"" "$rc $(field '["kv"]["value"]' 2>/dev/null)"
answered=$(field '["endpoint"]')
if [ "$answered" != "\"${members[0]}\"" ]; then ok "... answered by another member ($answered)"; else
	not_ok "... answered by the killed member?"; fi
probe create /t/one-down v
check "one member killed: a Create succeeds" "0 true" "$rc $(field '["ok"]' 2>/dev/null)"
probe keepalive "$agent_lease"
check "one member killed: a keep-alive succeeds" "0 true" "$rc $(field '["alive"]' 2>/dev/null)"
"$BINARY" dcs-status --dcs "$URL" >/dev/null 2>"$work/err"
rc=$?
err=$(cat "$work/err")
check "one member killed: dcs-status exits 0" 0 "$rc"

# --- quorum lost ---------------------------------------------------------------------------------------------------
probe grant 60
survivor=$(field '["lease"]')
scripts/etcd-cluster stop-member "$etcd_dir" 2
all_named() {
	local endpoint
	for endpoint in "${members[@]}"; do grep -q "$endpoint" <<<"$err" || return 1; done
}
probe get /t/race
if [ "$rc" = 3 ] && all_named; then ok "quorum lost: a read fails with DcsUnavailable naming each endpoint"; else
	not_ok "quorum lost: read exit $rc, $err"; fi
echo "# $err"
probe put /t/no-quorum v
if [ "$rc" = 3 ] && all_named; then ok "quorum lost: a put fails with DcsUnavailable"; else
	not_ok "quorum lost: put exit $rc, $err"; fi
probe keepalive "$agent_lease"
if [ "$rc" = 3 ] && all_named; then ok "quorum lost: a keep-alive fails with DcsUnavailable"; else
	not_ok "quorum lost: keep-alive exit $rc, $err"; fi
probe create /t/projects/shop/leader n2
if [ "$rc" = 3 ]; then ok "quorum lost: a Create fails with DcsUnavailable"; else
	not_ok "quorum lost: create exit $rc, $out $err"; fi
"$BINARY" dcs-status --dcs "$URL" >"$work/status.out" 2>"$work/err"
rc=$?
err=$(cat "$work/err")
if [ "$rc" = 1 ] && grep -q "no etcd endpoint of $URL answered" <<<"$err" && all_named && [ ! -s "$work/status.out" ]; then
	ok "quorum lost: dcs-status exits 1, the endpoints' errors on stderr, nothing on stdout"
else not_ok "quorum lost: dcs-status exit $rc, $err"; fi

# --- members back --------------------------------------------------------------------------------------------------
scripts/etcd-cluster start-member "$etcd_dir" 1
scripts/etcd-cluster start-member "$etcd_dir" 2
answers() { probe put /t/back v && [ "$rc" = 0 ]; }
if poll_until 30 answers; then ok "members back: a put succeeds again"; else not_ok "members back: put exit $rc, $err"; fi
probe get /t/projects/shop/leader
check "members back: the leader key unchanged by the failed Create" '"n1"' "$(field '["kv"]["value"]')"
probe keepalive "$survivor"
check "members back: a lease granted before the outage is alive" true "$(field '["alive"]')"
probe cas /t/projects/shop/leader n1 n1 "$agent_lease"
check "members back: CompareAndPut succeeds" true "$(field '["ok"]')"

finish
