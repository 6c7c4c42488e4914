-- 93_counters_ttl.sql: mosta_next_value (sequence per (scope, key), a rolled-back value handed out again),
-- mosta_seed_counter (raises a counter to a legacy store's highest value, never lowers it),
-- mosta_add_ttl / mosta_remove_ttl (checks, idempotence, conflicts, notices), mosta_ttl_expire (bounded batches,
-- only expired rows, as its caller), the catalog after DROP TABLE and DROP COLUMN, and privileges. Concurrency
-- (parallel sessions, no gaps among committed values) is tested by test/integration/counters_ttl.sh.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(55);

\ir support/helpers.psql

------------------------------------------------------------------------------
-- counters
------------------------------------------------------------------------------
SELECT is(mosta_next_value('derivation', 'wallet-1'), 1::bigint, 'a new counter starts at 1');
SELECT is(mosta_next_value('derivation', 'wallet-1'), 2::bigint, 'then 2');
SELECT is(mosta_next_value('derivation', 'wallet-2'), 1::bigint, 'each key has its own counter');
SELECT is(mosta_next_value('invoice', 'wallet-1'), 1::bigint, 'and each scope');
SAVEPOINT before_rollback;
SELECT is(mosta_next_value('derivation', 'wallet-1'), 3::bigint, 'a value taken in a (sub)transaction ...');
ROLLBACK TO SAVEPOINT before_rollback;
SELECT is(mosta_next_value('derivation', 'wallet-1'), 3::bigint, '... that rolls back is handed out again: no gap');
SELECT is((SELECT value FROM mosta.counters WHERE scope = 'derivation' AND key = 'wallet-1'), 3::bigint,
          'mosta.counters holds the last value');
SELECT is((pg_temp.error_of($$SELECT mosta_next_value(NULL, 'k')$$))[1:2],
          ARRAY['22004', 'argument "scope" must not be null'], 'a NULL scope: 22004');
SELECT is((pg_temp.error_of($$SELECT mosta_next_value('s', NULL)$$))[1:2],
          ARRAY['22004', 'argument "key" must not be null'], 'a NULL key: 22004');
SELECT is(mosta_seed_counter('legacy', 'wallet-9', 41), 41::bigint, 'seeding a new counter sets it to the legacy value');
SELECT is(mosta_next_value('legacy', 'wallet-9'), 42::bigint, 'mosta_next_value goes on from there');
SELECT is(mosta_seed_counter('legacy', 'wallet-9', 10), 42::bigint, 'seeding lower never lowers it: the value stays');
SELECT is(mosta_seed_counter('legacy', 'wallet-9', 42), 42::bigint, 'seeding the same value changes nothing');
SELECT is(mosta_seed_counter('legacy', 'wallet-9', 100), 100::bigint, 'seeding higher raises it');
SELECT is(mosta_next_value('legacy', 'wallet-9'), 101::bigint, 'and the next value follows');
SELECT is(mosta_seed_counter('legacy', 'empty', 0), 0::bigint, 'seeding 0 (nothing handed out) creates nothing ...');
SELECT is(mosta_next_value('legacy', 'empty'), 1::bigint, '... so the counter starts at 1');
SELECT is((pg_temp.error_of($$SELECT mosta_seed_counter('s', 'k', -1)$$))[1:2],
          ARRAY['22023', 'value must not be negative, not -1'], 'a negative value: 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_seed_counter('s', 'k', NULL)$$))[1:2],
          ARRAY['22004', 'argument "value" must not be null'], 'a NULL value: 22004');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action LIKE '%counter%'), 0::bigint,
          'counters are not logged (a hot path)');

------------------------------------------------------------------------------
-- mosta_add_ttl / mosta_remove_ttl
------------------------------------------------------------------------------
CREATE TABLE public.sessions (id int PRIMARY KEY, seen_at timestamptz NOT NULL, day date, note text);
CREATE INDEX sessions_seen_at ON public.sessions (seen_at);
INSERT INTO public.sessions SELECT i, now() - interval '2 days', current_date - 2, 'old' FROM generate_series(1, 25) i;
INSERT INTO public.sessions SELECT i, now() - interval '1 minute', current_date, 'fresh' FROM generate_series(26, 30) i;
CREATE TABLE public.full_ident (seen_at timestamp);
ALTER TABLE public.full_ident REPLICA IDENTITY FULL;
INSERT INTO public.full_ident VALUES (now() - interval '3 days'), (now() - interval '3 days'), (now());
CREATE TABLE public.nokey (seen_at timestamptz);
CREATE VIEW public.sessions_v AS SELECT * FROM public.sessions;

SELECT lives_ok($$SELECT mosta_add_ttl('sessions', 'seen_at', '1 day')$$, 'a TTL is declared');
SELECT is((SELECT concat_ws(' ', tbl::oid = 'public.sessions'::regclass, ts_column, ttl) FROM mosta.ttl), 't seen_at 1 day',
          'mosta.ttl holds the table, column and ttl');
SELECT is((SELECT concat_ws(' ', action, object) FROM mosta.activity ORDER BY id DESC LIMIT 1),
          'add_ttl public.sessions', 'the declaration is logged');
SELECT lives_ok($$SELECT mosta_add_ttl('public.sessions', 'seen_at', '24 hours')$$,
                'declaring the same TTL again is a no-op');
SELECT is((SELECT count(*) FROM mosta.ttl), 1::bigint, 'still one TTL');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('sessions', 'seen_at', '2 days')$$))[1:2],
          ARRAY['42710', 'table public.sessions already has a TTL: rows expire 1 day after seen_at'],
          'another TTL on the same table: 42710');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('sessions', 'seen_at', '2 days')$$))[4],
          'Run SELECT mosta_remove_ttl(''public.sessions'') first to change it.', 'its hint says how');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('sessions', 'note', '1 day')$$))[1:2],
          ARRAY['42804', 'column "note" of table public.sessions is of type text, not a timestamp'],
          'a column that is not a timestamp: 42804');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('sessions', 'nope', '1 day')$$))[1], '42703', 'a missing column: 42703');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('nokey', 'seen_at', '1 day')$$))[1:2],
          ARRAY['55000', 'table public.nokey has no primary key'], 'a table without a key: 55000');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('full_ident', 'seen_at', '0')$$))[1:2],
          ARRAY['22023', 'ttl must be positive, not 00:00:00'], 'a TTL that is not positive: 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('sessions_v', 'seen_at', '1 day')$$))[1], '42809', 'a view: 42809');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl('sessions', 'seen_at', NULL)$$))[1], '22004', 'a NULL ttl: 22004');
SELECT lives_ok($$SELECT mosta_add_ttl('full_ident', 'seen_at', '1 day')$$,
                'a table with REPLICA IDENTITY FULL and a timestamp column is accepted');

------------------------------------------------------------------------------
-- mosta_ttl_expire
------------------------------------------------------------------------------
SELECT is(mosta_ttl_expire('sessions', 10), 10::bigint, 'a batch deletes at most max_rows expired rows');
SELECT is(mosta_ttl_expire('sessions', 10), 10::bigint, 'the next batch as many');
SELECT is(mosta_ttl_expire('sessions', 10), 5::bigint, 'the last one what is left');
SELECT is(mosta_ttl_expire('sessions', 10), 0::bigint, 'then nothing');
SELECT is((SELECT array_agg(DISTINCT note) FROM public.sessions), ARRAY['fresh'], 'rows that have not expired stay');
SELECT is(mosta_ttl_expire('full_ident'), 2::bigint, 'a table without a primary key is expired by ctid');
SELECT is((pg_temp.error_of($$SELECT mosta_ttl_expire('nokey')$$))[1:2],
          ARRAY['42704', 'table public.nokey has no TTL'], 'a table without a TTL: 42704');
SELECT is((pg_temp.error_of($$SELECT mosta_ttl_expire('sessions', 0)$$))[1], '22023', 'max_rows 0: 22023');

------------------------------------------------------------------------------
-- removal, DROP TABLE, DROP COLUMN
------------------------------------------------------------------------------
SELECT is(mosta_remove_ttl('full_ident'), true, 'mosta_remove_ttl removes a TTL');
SELECT is(mosta_remove_ttl('full_ident', if_exists => true), false, 'and returns false for none with if_exists');
SELECT is((pg_temp.error_of($$SELECT mosta_remove_ttl('full_ident')$$))[1:2],
          ARRAY['42704', 'table public.full_ident has no TTL'], 'or raises 42704 without it');
SELECT lives_ok($$SELECT mosta_add_ttl('full_ident', 'seen_at', '1 day')$$, 'a TTL is declared again');
ALTER TABLE public.full_ident DROP COLUMN seen_at;
SELECT is((SELECT count(*) FROM mosta.ttl WHERE tbl = 'public.full_ident'::regclass), 0::bigint,
          'dropping its timestamp column removes the TTL');
DROP TABLE public.sessions CASCADE;
SELECT is((SELECT count(*) FROM mosta.ttl), 0::bigint, 'dropping the table removes its TTL');

------------------------------------------------------------------------------
-- privileges
------------------------------------------------------------------------------
CREATE ROLE mosta_test_plain;
CREATE ROLE mosta_test_admin3;
GRANT mosta_admin TO mosta_test_admin3;
CREATE ROLE mosta_test_sidecar3;
GRANT mosta_sidecar TO mosta_test_sidecar3;
CREATE TABLE public.events (id int PRIMARY KEY, at timestamptz);
INSERT INTO public.events VALUES (1, now() - interval '2 days'), (2, now());
SELECT mosta_add_ttl('events', 'at', '1 day');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT mosta_next_value('s', 'k')$$), '42501',
          'a plain role cannot call mosta_next_value (it is granted to applications explicitly)');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT mosta_seed_counter('s', 'k', 5)$$), '42501',
          'nor mosta_seed_counter');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin3', $$SELECT mosta_seed_counter('s', 'k', 5)$$), '00000',
          'a member of mosta_admin seeds counters (mosta-migrate backfill)');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT mosta_add_ttl('events', 'at', '1 day')$$), '42501',
          'nor mosta_add_ttl');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin3', $$SELECT mosta_remove_ttl('events')$$), '42501',
          'a member of mosta_admin cannot remove the TTL of a table it does not own');
SELECT is(pg_temp.sqlstate_as('mosta_test_sidecar3', $$SELECT mosta_ttl_expire('events')$$), '42501',
          'the sidecar role cannot expire rows of a table that did not grant it DELETE');
GRANT SELECT, DELETE ON public.events TO mosta_sidecar;
SELECT is(pg_temp.value_as('mosta_test_sidecar3', $$SELECT mosta_ttl_expire('events')$$), '1',
          'once granted SELECT and DELETE, it deletes the expired row');

SELECT * FROM finish();
ROLLBACK;
