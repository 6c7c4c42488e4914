#!/usr/bin/env bash
# mongo-follow-lag.sh: the catch-up lag of `mosta-migrate follow` (docs/migration.md, "Catch-up and cutover") under a
# steady write rate to MongoDB (mosta-test-mongod): the shop data set (test/integration/migrate/shop_data.py, scale
# BENCH_SCALE, default 1) is backfilled, a follower started, then shop_data.py --writer writes at each rate of
# BENCH_RATES (operations/s, default "100 300") for BENCH_SECONDS (default 15). Sampled every 0.2 s meanwhile: the
# lag, now − the last committed event's wall time (mosta_migration.stream.last_event_at). Prints per rate the writes
# made, the events the follower applied in the window, and the lag's median, p90 and max. No anchor runs side by
# side: the figure to read is whether applied keeps up with written and the lag stays flat (it does not grow with
# the run's length). A benchmark: never passes or fails on a number.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

# shellcheck source=../test/integration/lib/tap.sh
source test/integration/lib/tap.sh
tap_init mongo-follow-lag
if [ -z "${MOSTA_MIGRATE_BIN:-}" ] && [ -x build/release/migrate/mosta-migrate ]; then
	export MOSTA_MIGRATE_BIN=build/release/migrate/mosta-migrate
fi
use_database bench_follow_lag
# shellcheck source=../test/integration/lib/migrate.sh
source test/integration/lib/migrate.sh
require_migrate
follower=
cleanup_extra() {
	[ -n "$follower" ] && kill -9 "$follower" 2>/dev/null && wait "$follower" 2>/dev/null
	migrate_cleanup
}

start_shop_mongo
load_shop --scale "${BENCH_SCALE:-1}"
psql_db -c "CREATE EXTENSION mostajs" >/dev/null || fail_setup "CREATE EXTENSION mostajs"
migrate schema --apply >/dev/null || fail_setup "schema --apply: $(cat "$work/migrate.schema.err")"
migrate backfill >/dev/null || fail_setup "backfill: $(tail -3 "$work/migrate.backfill.err")"
"$MIGRATE_BINARY" follow "$mapping" --source "$mongo_uri" --target "dbname=$db" 2>"$work/follow.err" &
follower=$!
applied() { scalar "SELECT applied FROM mosta_migration.stream WHERE mapping = 'shop'"; }
caught_up() { grep -q "following database" "$work/follow.err"; }
poll_until 30 caught_up || fail_setup "the follower did not start: $(cat "$work/follow.err")"

seconds=${BENCH_SECONDS:-15}
for rate in ${BENCH_RATES:-100 300}; do
	before=$(applied)
	start_shop_writer "$seconds" --rate "$rate" --seed "$rate"
	samples=()
	while kill -0 "$writer_pid" 2>/dev/null; do
		samples+=("$(scalar "SELECT round(extract(epoch FROM clock_timestamp() - last_event_at) * 1000)
		                     FROM mosta_migration.stream WHERE mapping = 'shop'")")
		sleep 0.2 # --allow-sleep: the sampling interval, not synchronisation
	done
	wait_shop_writer || fail_setup "the writer failed at $rate/s"
	during=$(($(applied) - before))
	printf '%s\n' "${samples[@]}" | sort -n | awk -v rate="$rate" -v ops="$(writer_value 's["operations"]')" \
		-v s="$(writer_value 's["seconds"]')" -v applied="$during" '
		{ a[NR] = $1 }
		END { p90 = int(NR * 0.9) + 1; if (p90 > NR) p90 = NR
		      printf "rate %s/s: %s writes in %s s, %s events applied meanwhile; lag ms median %s, p90 %s, max %s (%d samples)\n",
		      rate, ops, s, applied, a[int(NR / 2) + 1], a[p90], a[NR], NR }'
done
