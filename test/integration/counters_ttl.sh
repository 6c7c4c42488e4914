#!/usr/bin/env bash
# counters_ttl.sh: mosta_next_value under concurrency and the sidecar's TTL pass (cluster of PGHOST/PGPORT/PGUSER,
# as scripts/pg-cluster run provides).
#   1. counters: 8 sessions each take 50 values of one counter in transactions of their own, rolling back every
#      fifth on purpose; the committed values are exactly 1..N, no gap and no duplicate, and a second counter
#      taken meanwhile is untouched by the first;
#   2. TTL: a cdc rule copies table events into SQLite; mosta_add_ttl declares that rows expire after an hour; the
#      daemon (--ttl-batch 7, so several batches and passes) deletes the 100 old rows and keeps the 5 fresh ones,
#      and the SQLite target loses the same rows through the change stream.
# The daemon runs as a login role with REPLICATION, pg_read_all_data, mosta_sidecar and DELETE on events only.
# Every wait polls with a deadline. Prints "counters_ttl: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init counters_ttl
require_cluster
require_sidecar

use_database mosta_counters_ttl_$$
role=mosta_counters_ttl_$$
cleanup_extra() {
	psql -X -q -d "$db" -c "DROP OWNED BY $role" >/dev/null 2>&1
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
}

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE EXTENSION mostajs;
CREATE TABLE taken (session int NOT NULL, value bigint NOT NULL);
SQL

# 1. counters
sessions=8
per_session=50
take_values() {
	psql_db <<SQL
DO \$\$
BEGIN
	FOR i IN 1 .. $per_session LOOP
		INSERT INTO taken VALUES ($1, mosta_next_value('derivation', 'wallet-1'));
		IF i % 5 = 0 THEN
			ROLLBACK; -- on purpose: this value must be handed out again
		ELSE
			COMMIT;
		END IF;
		IF i % 10 = 0 THEN
			PERFORM mosta_next_value('derivation', 'wallet-2');
			COMMIT;
		END IF;
	END LOOP;
END
\$\$;
SQL
}
pids=()
for session in $(seq 1 $sessions); do
	take_values "$session" >"$work/session.$session" 2>&1 &
	pids+=($!)
done
all_ran=true
for pid in "${pids[@]}"; do
	wait "$pid" || all_ran=false
done
if $all_ran; then ok "$sessions sessions took values concurrently"; else
	not_ok "$sessions sessions took values concurrently"
	cat "$work"/session.* >&2
fi
committed=$((sessions * per_session * 4 / 5))
summary=$(scalar "SELECT count(*) || ' ' || count(DISTINCT value) || ' ' || min(value) || ' ' || max(value) FROM taken")
if [ "$summary" = "$committed $committed 1 $committed" ]; then
	ok "the $committed committed values are exactly 1..$committed: no gap, no duplicate"
else
	not_ok "the $committed committed values are exactly 1..$committed (count, distinct, min, max: $summary)"
fi
last=$(scalar "SELECT value FROM mosta.counters WHERE scope = 'derivation' AND key = 'wallet-1'")
if [ "$last" = "$committed" ]; then ok "mosta.counters ends at $committed"; else not_ok "mosta.counters ends at $committed ($last)"; fi
other=$(scalar "SELECT value FROM mosta.counters WHERE scope = 'derivation' AND key = 'wallet-2'")
if [ "$other" = $((sessions * per_session / 10)) ]; then ok "another key counts on its own"; else
	not_ok "another key counts on its own ($other)"
fi

# 2. TTL through CDC
psql_db <<'SQL' || { not_ok "events table"; finish; }
CREATE TABLE events (id int PRIMARY KEY, at timestamptz NOT NULL, v text);
CREATE INDEX events_at ON events (at);
INSERT INTO events SELECT i, now() - interval '2 hours', 'old ' || i FROM generate_series(1, 100) i;
INSERT INTO events SELECT i, now(), 'fresh ' || i FROM generate_series(101, 105) i;
SQL
psql_db -c "CREATE ROLE $role LOGIN REPLICATION IN ROLE mosta_sidecar, pg_read_all_data" \
	-c "GRANT DELETE ON events TO $role" || { not_ok "sidecar role"; finish; }
uri="postgresql://$PGUSER@$PGHOST:$PGPORT/$db"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/lite.db" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['events']);
SQL

# target_rows: "<count> <sum of id>" of the SQLite copy of events, or an error text.
target_rows() {
	python3 -c 'import sqlite3, sys
try:
    print(*sqlite3.connect(sys.argv[1]).execute("SELECT count(*), coalesce(sum(id), 0) FROM \"public.events\"").fetchone())
except Exception as e:
    print("error", e)' "$work/lite.db"
}
source_rows() { scalar "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM events"; }
target_is() { [ "$(target_rows)" = "$1" ]; }
source_is() { [ "$(source_rows)" = "$1" ]; }

PGDATABASE=$db PGUSER=$role "$BINARY" --status-interval 200ms --poll-interval 100ms --ttl-batch 7 \
	2>"$work/log.daemon" &
daemon=$!
all="105 5565"
fresh="5 515"
if poll_until 60 target_is "$all"; then ok "initial copy of events into SQLite"; else
	not_ok "initial copy of events into SQLite ('$(target_rows)')"
fi
if poll_until 3 source_is "$fresh"; then not_ok "no row expires before mosta_add_ttl"; else ok "no row expires before mosta_add_ttl"; fi

psql_db -c "SELECT mosta_add_ttl('events', 'at', '1 hour')" >/dev/null 2>&1 || not_ok "mosta_add_ttl"
if poll_until 60 source_is "$fresh"; then ok "the daemon deletes the 100 expired rows, keeps the 5 fresh ones"; else
	not_ok "the daemon deletes the 100 expired rows ('$(source_rows)')"
fi
if poll_until 60 target_is "$fresh"; then ok "the SQLite target loses them too, through CDC"; else
	not_ok "the SQLite target loses them too ('$(target_rows)')"
fi
logged=$(grep -o 'ttl: public.events: deleted [0-9]*' "$work/log.daemon" | awk '{ sum += $4; n++ } END { print n + 0, sum + 0 }')
if [ "${logged%% *}" -ge 2 ] && [ "${logged##* }" = 100 ]; then
	ok "deleted in bounded passes (7 rows a batch, 10 batches a pass), one log line each: $logged"
else
	not_ok "deleted in bounded passes, one log line each (passes, rows: $logged)"
	tail -20 "$work/log.daemon" >&2
fi
changes=$(scalar "SELECT changes_applied FROM mosta_rule_targets('r1')")
if [ "${changes:-0}" -ge 100 ]; then ok "the deletes are counted as applied changes ($changes)"; else
	not_ok "the deletes are counted as applied changes ($changes)"
fi

psql_db -c "INSERT INTO events VALUES (200, now() - interval '3 hours', 'late')" || not_ok "late insert"
if poll_until 60 source_is "$fresh" && poll_until 60 target_is "$fresh"; then
	ok "a row inserted already expired goes at a later pass, from both sides"
else
	not_ok "a row inserted already expired goes ('$(source_rows)', '$(target_rows)')"
fi
psql_db -o /dev/null -c "SELECT mosta_remove_ttl('events')" -c "INSERT INTO events VALUES (201, now() - interval '3 hours', 'kept')"
# a negative check: ten passes (200 ms each) go by without the row being deleted
if poll_until 2 source_is "$fresh"; then not_ok "after mosta_remove_ttl, expired rows stay"; else
	ok "after mosta_remove_ttl, expired rows stay ($(source_rows))"
fi
stop_daemon "the daemon stops cleanly on SIGTERM"

finish
