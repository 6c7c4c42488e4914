#!/usr/bin/env bash
# bidir_crash.sh: kill -9 of mosta-sidecar during bidirectional traffic on both sides (cluster of PGHOST/PGPORT/
# PGUSER, as scripts/pg-cluster run provides). Two bidirectional rules (source-wins): one into a SQLite file, one
# into another database of the cluster. On each side of each rule a writer commits small transactions: an
# increment of a per-row counter (the source on rows 1..20, the other side on rows 21..40: no conflict) and an
# insert into a keyless REPLICA IDENTITY FULL table (a change applied twice shows as a duplicate row there).
# Meanwhile the daemon is killed with SIGKILL at least 5 times, each time once the reverse direction has applied
# more of the other side's rows, and restarted. Once the writers are done and the daemon has caught up: both sides
# equal, every counter equals its side's number of increments (nothing lost), no duplicate log row on either side
# (nothing applied twice), no conflict recorded (an echo of an increment would meet a row that moved on).
# Prints "bidir_crash: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/bidir.sh
source test/integration/lib/bidir.sh
tap_init bidir_crash
require_cluster
require_sidecar
KILLS=${MOSTA_CRASH_KILLS:-5}
ROUNDS=${MOSTA_CRASH_ROUNDS:-600}

use_database mosta_bidir_crash_$$
rule_prefix=bcr
SIDE=postgres # bidir_cleanup drops $tdb
tdb=${db}_t
cleanup_extra() { bidir_cleanup; }

psql_db -c "CREATE EXTENSION mostajs" >/dev/null || fail_setup "CREATE EXTENSION"
createdb "$tdb" || fail_setup "createdb $tdb"
schema() {
	cat <<-SQL
		CREATE TABLE k_$1 (id int PRIMARY KEY, n int NOT NULL);
		ALTER TABLE k_$1 REPLICA IDENTITY FULL;
		CREATE TABLE log_$1 (side text NOT NULL, seq int NOT NULL);
		ALTER TABLE log_$1 REPLICA IDENTITY FULL;
	SQL
}
{ schema lite; schema pg; echo "INSERT INTO k_lite SELECT i, 0 FROM generate_series(1, 40) i;"
	echo "INSERT INTO k_pg SELECT i, 0 FROM generate_series(1, 40) i;"; } | psql_db >/dev/null || fail_setup "source schema"
schema pg | psql -X -q -v ON_ERROR_STOP=1 -d "$tdb" >/dev/null || fail_setup "target schema"
psql_db -o /dev/null -v src="postgresql://$PGUSER@$PGHOST:$PGPORT/$db" -v tgt="postgresql://$PGUSER@$PGHOST:$PGPORT/$tdb" \
	-v file="$work/lite.db" <<'SQL' || fail_setup "catalog"
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'src');
SELECT mosta_add_replica('e_lite', 'lite', 'slave', 'sqlite', :'file');
SELECT mosta_add_replica('e_pg', 'main', 'master', 'postgres', :'tgt');
SELECT mosta_add_rule('bcr_lite', 'app', 'e_lite', 'bidirectional', ARRAY['public.k_lite', 'public.log_lite']);
SELECT mosta_add_rule('bcr_pg', 'app', 'e_pg', 'bidirectional', ARRAY['public.k_pg', 'public.log_pg']);
SQL

# dumps of both tables of side X ("lite" or "pg"), on the source and on the other side
src_rows() { psql -X -At -d "$db" -c "SELECT 'k', id, n FROM k_$1 UNION ALL SELECT 'log', seq, count(*) FROM log_$1 GROUP BY side, seq ORDER BY 1, 2, 3" 2>&1; }
tgt_rows() {
	if [ "$1" = pg ]; then
		psql -X -At -d "$tdb" -c "SELECT 'k', id, n FROM k_pg UNION ALL SELECT 'log', seq, count(*) FROM log_pg GROUP BY side, seq ORDER BY 1, 2, 3" 2>&1
	else
		python3 - "$work/lite.db" <<-'PY'
			import sqlite3, sys
			try:
			    db = sqlite3.connect(sys.argv[1], timeout=30)
			    rows = db.execute('SELECT \'k\', id, n FROM "public.k_lite" UNION ALL SELECT \'log\', seq, count(*) FROM "public.log_lite" GROUP BY side, seq ORDER BY 1, 2, 3')
			    for r in rows:
			        print("%s|%s|%s" % r)
			except Exception as e:
			    print("error", e)
		PY
	fi
}
equal_sides() { local a; a=$(src_rows "$1"); [ -n "$a" ] && [ "$a" = "$(tgt_rows "$1")" ]; }

PGDATABASE=$db "$BINARY" --status-interval 300ms --poll-interval 100ms 2>>"$work/log.daemon" &
daemon=$!
if poll_until 60 equal_sides lite && poll_until 60 equal_sides pg; then
	ok "initial copies done"
else
	not_ok "initial copies done"
	tail -5 "$work/log.daemon" >&2
fi

# the writers: ROUNDS transactions on each side of each rule (paced: they run while the daemon is killed)
writers=
(for i in $(seq 1 "$ROUNDS"); do
	echo "BEGIN; UPDATE k_lite SET n = n + 1 WHERE id = $((i % 20 + 1)); INSERT INTO log_lite VALUES ('s', $i);"
	echo "UPDATE k_pg SET n = n + 1 WHERE id = $((i % 20 + 1)); INSERT INTO log_pg VALUES ('s', $i); COMMIT;"
	echo "SELECT pg_sleep(0.01);" # --allow-sleep: pacing of the workload, not a wait for a result
done) | psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$work/writer.src" &
writers="$writers $!"
(for i in $(seq 1 "$ROUNDS"); do
	echo "BEGIN; UPDATE k_pg SET n = n + 1 WHERE id = $((i % 20 + 21)); INSERT INTO log_pg VALUES ('t', $i); COMMIT;"
	echo "SELECT pg_sleep(0.01);" # --allow-sleep: pacing of the workload
done) | psql -X -q -v ON_ERROR_STOP=1 -d "$tdb" >/dev/null 2>"$work/writer.pg" &
writers="$writers $!"
python3 - "$work/lite.db" "$ROUNDS" >/dev/null 2>"$work/writer.lite" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
for i in range(1, int(sys.argv[2]) + 1):
    db.execute("BEGIN IMMEDIATE")
    db.execute('UPDATE "public.k_lite" SET n = n + 1 WHERE id = ?', (i % 20 + 21,))
    db.execute('INSERT INTO "public.log_lite" VALUES (\'t\', ?)', (i,))
    db.execute("COMMIT")
    time.sleep(0.01)  # --allow-sleep: pacing of the workload
PY
writers="$writers $!"

# the kills: each once the reverse directions applied more of the other sides' rows since the last restart
from_target() { scalar "SELECT (SELECT count(*) FROM log_lite WHERE side = 't') + (SELECT count(*) FROM log_pg WHERE side = 't')"; }
past() { [ "$(from_target)" -gt "$1" ]; }
kills=0
while [ "$kills" -lt "$KILLS" ]; do
	before=$(from_target)
	poll_until 60 past "$((before + 30))" || break
	kill -9 "$daemon"
	wait "$daemon" 2>/dev/null
	kills=$((kills + 1))
	echo "# kill $kills at $(from_target) rows from the other sides" >>"$work/log.daemon"
	PGDATABASE=$db "$BINARY" --status-interval 300ms --poll-interval 100ms 2>>"$work/log.daemon" &
	daemon=$!
done
[ "$kills" -ge "$KILLS" ] && ok "the daemon was killed with SIGKILL $kills times during the traffic" ||
	not_ok "the daemon was killed $kills times (wanted $KILLS): the reverse directions stopped applying"
wait $writers
writer_status=$?
writers=
[ "$writer_status" = 0 ] && ok "the writers finished" || not_ok "the writers finished ($(cat "$work"/writer.*))"

for side in lite pg; do
	if poll_until 90 equal_sides "$side"; then
		ok "$side: both sides equal after the crashes"
	else
		not_ok "$side: both sides equal after the crashes"
		diff <(src_rows "$side") <(tgt_rows "$side") | head -10 | sed 's/^/    /' >&2
	fi
	counts=$(scalar "SELECT (SELECT sum(n) FROM k_$side WHERE id <= 20) || ' ' || (SELECT sum(n) FROM k_$side WHERE id > 20) || ' ' || (SELECT count(*) FROM log_$side) || ' ' || (SELECT count(*) FROM (SELECT side, seq FROM log_$side GROUP BY 1, 2 HAVING count(*) > 1) d)")
	if [ "$counts" = "$ROUNDS $ROUNDS $((2 * ROUNDS)) 0" ]; then
		ok "$side: every increment and insert of both sides once, nothing lost, no duplicate ($counts)"
	else
		not_ok "$side: every change once (source's increments, the other side's, log rows, duplicates: '$counts', want '$ROUNDS $ROUNDS $((2 * ROUNDS)) 0')"
	fi
	c=$(scalar "SELECT count(*) FROM mosta_conflicts('bcr_$side')")
	[ "$c" = 0 ] && ok "$side: no conflict recorded: nothing came back" || not_ok "$side: no conflict recorded ($c)"
done
stop_daemon "the daemon stops on SIGTERM"
finish
