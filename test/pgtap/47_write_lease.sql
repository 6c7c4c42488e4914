-- 47_write_lease.sql: the in-server write lease (sql/parts/80_write_lease.sql; docs/sql-api.md, "Write lease")
-- as the ordinary test cluster can check it: the functions, the setting, who may call them, and what they say
-- when mostajs is not in shared_preload_libraries (this cluster does not preload it). The lease itself (commits
-- refused and allowed, expiry, restart, standby) needs a preloaded server: test/integration/write_lease.sh.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(28);

\ir support/helpers.psql

CREATE ROLE mosta_test_wl_user LOGIN;
CREATE ROLE mosta_test_wl_admin LOGIN;
GRANT mosta_admin TO mosta_test_wl_admin;

------------------------------------------------------------------------------
-- the functions and the setting
------------------------------------------------------------------------------
SELECT has_function('public', 'mosta_write_lease_grant', ARRAY['bigint'], 'mosta_write_lease_grant(bigint) exists');
SELECT function_returns('public', 'mosta_write_lease_grant', ARRAY['bigint'], 'bigint',
                        'mosta_write_lease_grant returns bigint');
SELECT has_function('public', 'mosta_write_lease_revoke', ARRAY[]::text[], 'mosta_write_lease_revoke() exists');
SELECT function_returns('public', 'mosta_write_lease_revoke', ARRAY[]::text[], 'void',
                        'mosta_write_lease_revoke returns void');
SELECT has_function('public', 'mosta_write_lease_state', ARRAY[]::text[], 'mosta_write_lease_state() exists');
SELECT is((SELECT array_agg(a.name || ' ' || format_type(a.type, NULL) ORDER BY a.n)
             FROM pg_proc p, unnest(p.proargnames, p.proallargtypes) WITH ORDINALITY a(name, type, n)
            WHERE p.oid = 'mosta_write_lease_state()'::regprocedure),
          ARRAY['enforced boolean', 'preloaded boolean', 'granted boolean', 'remaining_ms bigint',
                'now_boottime_us bigint'],
          'mosta_write_lease_state returns (enforced, preloaded, granted, remaining_ms, now_boottime_us)');
SELECT isnt_definer('public', fn, args, format('%s is not SECURITY DEFINER', fn))
  FROM (VALUES ('mosta_write_lease_grant', ARRAY['bigint']), ('mosta_write_lease_revoke', ARRAY[]::text[]),
               ('mosta_write_lease_state', ARRAY[]::text[])) f(fn, args);

------------------------------------------------------------------------------
-- who may call them: never PUBLIC, mosta_admin yes
------------------------------------------------------------------------------
SELECT ok(NOT has_function_privilege('public', fn, 'EXECUTE'), format('PUBLIC cannot execute %s', fn))
  FROM unnest(ARRAY['mosta_write_lease_grant(bigint)', 'mosta_write_lease_revoke()',
                    'mosta_write_lease_state()']) fn;
SELECT ok(has_function_privilege('mosta_admin', fn, 'EXECUTE'), format('mosta_admin can execute %s', fn))
  FROM unnest(ARRAY['mosta_write_lease_grant(bigint)', 'mosta_write_lease_revoke()',
                    'mosta_write_lease_state()']) fn;
SELECT is(pg_temp.sqlstate_as('mosta_test_wl_user', sql), '42501', format('a plain role is refused %s', sql))
  FROM unnest(ARRAY['SELECT mosta_write_lease_grant(1000000)', 'SELECT mosta_write_lease_revoke()',
                    'SELECT * FROM mosta_write_lease_state()']) sql;
SELECT is(pg_temp.sqlstate_as('mosta_test_wl_admin', 'SELECT * FROM mosta_write_lease_state()'), '00000',
          'a member of mosta_admin reads the state');
SELECT is(pg_temp.sqlstate_as('mosta_test_wl_admin', 'SELECT mosta_write_lease_revoke()'), '55000',
          'a member of mosta_admin reaches mosta_write_lease_revoke (and its own error, not 42501)');

------------------------------------------------------------------------------
-- without shared_preload_libraries
------------------------------------------------------------------------------
SELECT results_eq($$SELECT enforced, preloaded, granted, remaining_ms FROM mosta_write_lease_state()$$,
                  $$VALUES (false, false, false, NULL::bigint)$$,
                  'state: not preloaded, not enforced, not granted, no remaining time');
SELECT cmp_ok((SELECT now_boottime_us FROM mosta_write_lease_state()), '>', 0::bigint,
              'state gives the server''s CLOCK_BOOTTIME in microseconds');
SELECT throws_ok($$SELECT mosta_write_lease_grant(1000000)$$, '55000', 'mostajs is not in shared_preload_libraries',
                 'grant raises 55000 without preloading');
SELECT throws_ok($$SELECT mosta_write_lease_revoke()$$, '55000', 'mostajs is not in shared_preload_libraries',
                 'revoke raises 55000 without preloading');
SELECT is((pg_temp.error_of($$SELECT mosta_write_lease_grant(1000000)$$))[4],
          'Set shared_preload_libraries = ''mostajs'' and mostajs.write_lease = on in postgresql.conf, then restart '
          'the server.', 'the error hints at the two settings');
SELECT isnt((pg_temp.error_of($$SELECT mosta_write_lease_revoke()$$))[3], NULL, 'the error says why (detail)');

-- the library is loaded by the calls above (the extension may have been created by an earlier file); its setting is reload-only and off unless configured
SELECT is((SELECT vartype || ' ' || context || ' ' || boot_val FROM pg_settings WHERE name = 'mostajs.write_lease'),
          'bool sighup off', 'mostajs.write_lease is a boolean set in postgresql.conf (reload), off by default');
SELECT is(current_setting('mostajs.write_lease'), 'off', 'mostajs.write_lease is off in the test cluster');

SELECT * FROM finish();
ROLLBACK;
