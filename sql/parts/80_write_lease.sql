/*
 * sql/parts/80_write_lease.sql
 *	  The in-server write lease of automatic failover (docs/sql-api.md,
 *	  "Write lease"; docs/ha.md; extension/src/ha/write_lease.cpp).
 *
 * With mostajs.write_lease = on and mostajs in shared_preload_libraries, a
 * client transaction that wrote commits only before a deadline on the
 * server's CLOCK_BOOTTIME, which the node agent of the project's leader
 * pushes forward after each successful keep-alive of its leader key in etcd.
 * The deadline lives in shared memory: never granted after a server start,
 * so a restarted node refuses writes until its agent grants it again.
 *
 * Security: whoever can grant the lease can make a fenced node writable, so
 * the three functions are for mosta_admin (the agent connects as a superuser
 * or a member of it), never PUBLIC. They are not SECURITY DEFINER: they read
 * and write nothing but the lease.
 */

CREATE FUNCTION mosta_write_lease_grant(valid_until_boottime_us bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'mostajs_write_lease_grant'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mosta_write_lease_grant(bigint) IS
	'Lets transactions that write commit until the given CLOCK_BOOTTIME microsecond (at most 1 hour ahead); '
	'returns the milliseconds left, negative when already past';

CREATE FUNCTION mosta_write_lease_revoke() RETURNS void
	AS 'MODULE_PATHNAME', 'mostajs_write_lease_revoke'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mosta_write_lease_revoke() IS
	'Refuses the commit of every transaction that writes from now on, until the next grant';

CREATE FUNCTION mosta_write_lease_state(
	OUT enforced boolean, OUT preloaded boolean, OUT granted boolean, OUT remaining_ms bigint,
	OUT now_boottime_us bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'mostajs_write_lease_state'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION mosta_write_lease_state() IS
	'One row: whether the write lease is enforced (mostajs.write_lease on and mostajs preloaded), whether a write '
	'would commit now, the milliseconds left (NULL when never granted) and the server''s CLOCK_BOOTTIME in microseconds';

REVOKE ALL ON FUNCTION
	mosta_write_lease_grant(bigint),
	mosta_write_lease_revoke(),
	mosta_write_lease_state()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	mosta_write_lease_grant(bigint),
	mosta_write_lease_revoke(),
	mosta_write_lease_state()
	TO mosta_admin;
