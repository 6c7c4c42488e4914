#!/usr/bin/env bash
# idmap_concurrency.sh: 8 sessions map overlapping legacy ids at the same time
# (issue: "safe under concurrent callers"). Session i maps ids i*500 .. i*500+1999
# of a collection: even sessions with mosta_map_ids in shuffled batches of 250,
# odd ones with one mosta_map_id call (and transaction) per id, shuffled. For a
# random collection and an objectid one, every session must succeed, every
# legacy id must get exactly one uuid, and all sessions must agree with id_map.
# Run under scripts/pg-cluster run, after make install.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/tap.sh
. test/integration/lib/tap.sh

tap_init idmap_concurrency
require_cluster
use_database mosta_idmap_concurrency

readonly sessions=8 per_session=2000 stride=500 batch=250
readonly distinct=$(((sessions - 1) * stride + per_session))

psql_db -c "CREATE EXTENSION mostajs" -c "SELECT mosta_set_id_policy('orders', 'objectid')" >/dev/null

# legacy_id COLLECTION N: the legacy id number N of a collection.
legacy_id() {
	if [ "$1" = orders ]; then printf '5f%06x%016x\n' "$2" "$2"; else echo "user-$2"; fi
}

# session_sql COLLECTION I: the SQL of session I, printing "legacy_id uuid" lines.
session_sql() {
	local collection=$1 i=$2 ids
	ids=$(for n in $(seq $((i * stride)) $((i * stride + per_session - 1)) | shuf); do legacy_id "$collection" "$n"; done)
	if [ $((i % 2)) -eq 0 ]; then
		# shellcheck disable=SC2016
		xargs -n "$batch" <<<"$ids" | while read -r line; do
			printf "SELECT l || ' ' || u FROM unnest(ARRAY['%s'], mosta_map_ids('%s', ARRAY['%s'])) AS t(l, u);\n" \
				"${line// /\',\'}" "$collection" "${line// /\',\'}"
		done
	else
		while read -r id; do
			printf "SELECT '%s ' || mosta_map_id('%s', '%s');\n" "$id" "$collection" "$id"
		done <<<"$ids"
	fi
}

for collection in users orders; do
	for i in $(seq 0 $((sessions - 1))); do session_sql "$collection" "$i" >"$work/$collection.$i.sql"; done
	pids=()
	for i in $(seq 0 $((sessions - 1))); do
		psql -X -At -v ON_ERROR_STOP=1 -d "$db" -f "$work/$collection.$i.sql" >"$work/$collection.$i.out" \
			2>"$work/$collection.$i.err" &
		pids+=($!)
	done
	failures=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { failures=$((failures + 1)); sed 's/^/    /' "$work/$collection.$i.err" >&2; }
	done
	if [ "$failures" -eq 0 ] && ! grep -q . "$work"/"$collection".*.err; then
		ok "$collection: $sessions concurrent sessions map $per_session overlapping ids each without an error"
	else
		not_ok "$collection: $failures of $sessions sessions failed"
	fi

	lines=$(cat "$work"/"$collection".*.out | wc -l)
	[ "$lines" -eq $((sessions * per_session)) ] && ok "$collection: every session got a uuid for each of its ids" ||
		not_ok "$collection: $lines uuids returned, $((sessions * per_session)) expected"

	pairs=$(cat "$work"/"$collection".*.out | sort -u | wc -l)
	ids=$(cat "$work"/"$collection".*.out | cut -d' ' -f1 | sort -u | wc -l)
	[ "$pairs" -eq "$distinct" ] && [ "$ids" -eq "$distinct" ] &&
		ok "$collection: exactly one uuid per legacy id across all sessions ($distinct ids)" ||
		not_ok "$collection: $pairs distinct (id, uuid) pairs for $ids ids, $distinct expected"

	rows=$(scalar "SELECT count(*) || ' ' || count(DISTINCT new_id) FROM mosta.id_map WHERE collection = '$collection'")
	[ "$rows" = "$distinct $distinct" ] && ok "$collection: id_map holds $distinct rows with distinct uuids" ||
		not_ok "$collection: id_map holds $rows (rows, distinct uuids), $distinct expected"

	psql -X -At -d "$db" -c "SELECT legacy_id || ' ' || new_id FROM mosta.id_map WHERE collection = '$collection'" |
		sort >"$work/$collection.table"
	cat "$work"/"$collection".*.out | sort -u | cmp -s - "$work/$collection.table" &&
		ok "$collection: all sessions agree with mosta.id_map" ||
		not_ok "$collection: the sessions' uuids differ from mosta.id_map"
done

expected=$(scalar "SELECT count(*) FROM mosta.id_map WHERE collection = 'orders'
                     AND new_id = mosta.uuid_from_objectid('orders', legacy_id)")
[ "$expected" = "$distinct" ] && ok "orders: every uuid is the objectid policy's uuid of its legacy id" ||
	not_ok "orders: $expected of $distinct uuids follow the objectid policy"

finish
