-- 92_invariants.sql: mosta_add_sparse_unique, mosta_add_one_per, mosta_add_polymorphic_ref (existing data
-- checked first, violations reported with the offending keys, idempotence, conflicts), mosta_invariants,
-- mosta_check_invariants, the catalog after DROP TABLE, and privileges (a plain role and a non-owner refused).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(66);

\ir support/helpers.psql

-- last_action returns the newest activity row as (action, object, invariant name).
CREATE FUNCTION pg_temp.last_action() RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ', action, object, detail->>'name') FROM mosta.activity ORDER BY id DESC LIMIT 1
$$;

CREATE TABLE public.users (id int PRIMARY KEY, email text, legacy_id text, tenant int);
INSERT INTO public.users VALUES (1, 'a@x', NULL, 1), (2, 'a@x', NULL, 1), (3, NULL, NULL, 1), (4, NULL, NULL, 1),
                                 (5, 'b@x', 'L1', 2), (6, 'b@x', 'L2', 2), (7, 'c@x', NULL, 2);
CREATE TABLE public.addresses (id int PRIMARY KEY, user_id int, is_primary boolean, label text);
INSERT INTO public.addresses VALUES (1, 1, true, 'home'), (2, 1, true, 'work'), (3, 1, false, 'old'),
                                     (4, 2, true, 'home'), (5, 3, false, 'x');
CREATE TABLE public.nokey (email text);
INSERT INTO public.nokey VALUES ('d'), ('d');
CREATE TABLE public.purchase_requests (id uuid PRIMARY KEY);
INSERT INTO public.purchase_requests VALUES ('00000000-0000-0000-0000-000000000001');
CREATE TABLE public.payments (id int PRIMARY KEY, amount int);
INSERT INTO public.payments VALUES (1, 10), (2, 20);
CREATE TABLE public.legacy_payments (id int PRIMARY KEY, pr_ref_kind text, pr_id uuid, pr_external_ref text);
INSERT INTO public.legacy_payments VALUES
	(1, 'entity', NULL, 'tpl'), (2, 'entity', '00000000-0000-0000-0000-000000000009', NULL), (3, NULL, NULL, NULL),
	(4, 'template', NULL, 'tpl-4');
CREATE TABLE public.wrong_types (id int PRIMARY KEY, pr_id int);
CREATE VIEW public.users_v AS SELECT * FROM public.users;

------------------------------------------------------------------------------
-- sparse unique
------------------------------------------------------------------------------
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['email'])$$))[1:2],
          ARRAY['23505', 'table public.users has rows that break invariant "users_email_sparse_key"'],
          'duplicates already there: 23505 naming the invariant');
SELECT matches((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['email'])$$))[3],
               '\{"email": "a@x"\} in 2 rows: \{"id": 1\}, \{"id": 2\};\n\{"email": "b@x"\} in 2 rows: \{"id": 5\}, \{"id": 6\}',
               'DETAIL lists each duplicated value with the primary keys of its rows; NULLs are not duplicates');
SELECT matches((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['email'])$$))[4],
               '^Make the values unique', 'HINT says how to fix it');
SELECT hasnt_index('public', 'users', 'users_email_sparse_key', 'a refused declaration creates no index');
SELECT is((SELECT count(*) FROM mosta.invariants), 0::bigint, 'and records nothing');
UPDATE public.users SET email = NULL WHERE id IN (2, 6);
SELECT is(mosta_add_sparse_unique('users', ARRAY['email']), 'users_email_sparse_key',
          'once fixed, the invariant is declared and its index name returned');
SELECT index_is_unique('public', 'users', 'users_email_sparse_key', 'the index is unique');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'public.users_email_sparse_key'::regclass),
          '(email IS NOT NULL)', 'and partial: WHERE email IS NOT NULL');
SELECT throws_ok($$INSERT INTO public.users VALUES (8, 'a@x')$$, '23505', NULL, 'a duplicate is now refused');
SELECT lives_ok($$INSERT INTO public.users VALUES (9, NULL), (10, NULL)$$, 'rows without the value are not');
SELECT is(pg_temp.last_action(), 'add_invariant public.users users_email_sparse_key', 'the declaration is logged');
SELECT is(mosta_add_sparse_unique('public.users', ARRAY['email']), 'users_email_sparse_key',
          'declaring it again returns the same name');
SELECT is((SELECT count(*) FROM mosta.invariants), 1::bigint, 'and is a no-op');
SELECT is(mosta_add_sparse_unique('users', ARRAY['legacy_id', 'tenant']), 'users_legacy_id_tenant_sparse_key',
          'several columns: unique together where all are set');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('nokey', ARRAY['email'])$$))[3],
          E'Duplicated values and the keys of their rows (at most 10 shown): \n{"email": "d"} in 2 rows: {"ctid": "(0,1)"}, {"ctid": "(0,2)"}',
          'a table without a primary key: rows are named by ctid');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['nope'])$$))[1:2],
          ARRAY['42703', 'column "nope" of table public.users does not exist'], 'a missing column: 42703');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['nope'])$$))[4],
          'Columns of the table: id, email, legacy_id, tenant.', 'its hint lists the columns');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['email', 'email'])$$))[1:2],
          ARRAY['22023', 'cols must list distinct columns'], 'a repeated column: 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', '{}')$$))[1], '22023', 'no column: 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', NULL)$$))[1:2],
          ARRAY['22004', 'argument "cols" must not be null'], 'NULL cols: 22004');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique(NULL, ARRAY['email'])$$))[1], '22004', 'NULL tbl: 22004');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users_v', ARRAY['email'])$$))[1:2],
          ARRAY['42809', '"public.users_v" is not a user table'], 'a view: 42809');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('mosta.rules', ARRAY['name'])$$))[1], '42809',
          'a table of mostajs: 42809');
CREATE INDEX users_tenant_sparse_key ON public.users (id);
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique('users', ARRAY['tenant'])$$))[1:2],
          ARRAY['42710', 'relation or constraint "users_tenant_sparse_key" already exists'],
          'a name taken by something else: 42710, not a silent reuse');

------------------------------------------------------------------------------
-- one per owner
------------------------------------------------------------------------------
SELECT is((pg_temp.error_of($$SELECT mosta_add_one_per('addresses', 'is_primary', ARRAY['user_id'])$$))[1:3],
          ARRAY['23505', 'table public.addresses has rows that break invariant "addresses_user_id_one_is_primary_key"',
                E'Duplicated values and the keys of their rows (at most 10 shown): \n{"user_id": 1} in 2 rows: {"id": 1}, {"id": 2}'],
          'two primary addresses for user 1: 23505 with the owner and both rows');
UPDATE public.addresses SET is_primary = false WHERE id = 2;
SELECT is(mosta_add_one_per('addresses', 'is_primary', ARRAY['user_id']), 'addresses_user_id_one_is_primary_key',
          'once fixed, one primary address per user is declared');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index
            WHERE indexrelid = 'public.addresses_user_id_one_is_primary_key'::regclass), 'is_primary',
          'a partial unique index on user_id WHERE is_primary');
SELECT throws_ok($$UPDATE public.addresses SET is_primary = true WHERE id = 3$$, '23505', NULL,
                 'a second primary address is refused');
SELECT lives_ok($$INSERT INTO public.addresses VALUES (6, 1, false, 'more')$$, 'more non-primary addresses are not');
SELECT is(mosta_add_one_per('addresses', 'is_primary', ARRAY['user_id']), 'addresses_user_id_one_is_primary_key',
          'declaring it again is a no-op returning the same name');
SELECT is((pg_temp.error_of($$SELECT mosta_add_one_per('addresses', 'label', ARRAY['user_id'])$$))[1:2],
          ARRAY['42804', 'column "label" of table public.addresses is of type text, not boolean'],
          'a flag that is not boolean: 42804');
SELECT is((pg_temp.error_of($$SELECT mosta_add_one_per('addresses', 'is_primary', ARRAY['is_primary'])$$))[1],
          '22023', 'the flag among the owner columns: 22023');

------------------------------------------------------------------------------
-- polymorphic reference (the seeds' Payment.purchaseRequestId)
------------------------------------------------------------------------------
SELECT is(mosta_add_polymorphic_ref('payments', 'purchase_request', 'purchase_requests'),
          'payments_purchase_request_ref_check', 'the reference is added to a table with rows');
SELECT columns_are('public', 'payments',
                   ARRAY['id', 'amount', 'purchase_request_ref_kind', 'purchase_request_id', 'purchase_request_external_ref'],
                   'three columns are added');
SELECT col_type_is('public', 'payments', 'purchase_request_id', 'uuid', '<ref>_id has the target''s key type');
SELECT fk_ok('public', 'payments', 'purchase_request_id', 'public', 'purchase_requests', 'id',
             '<ref>_id references the target');
SELECT lives_ok($$INSERT INTO public.payments VALUES (3, 1, 'entity', '00000000-0000-0000-0000-000000000001', NULL),
                                                     (4, 1, 'template', NULL, 'tpl-4'), (5, 1, NULL, NULL, NULL)$$,
                'an entity reference, a template reference and no reference are accepted');
SELECT throws_ok($$INSERT INTO public.payments VALUES (6, 1, 'entity', NULL, 'tpl')$$, '23514', NULL,
                 'an entity with the template column set is refused');
SELECT throws_ok($$INSERT INTO public.payments VALUES (6, 1, NULL, '00000000-0000-0000-0000-000000000001', NULL)$$,
                 '23514', NULL, 'an id without a kind is refused');
SELECT throws_ok($$INSERT INTO public.payments VALUES (6, 1, 'other', NULL, NULL)$$, '23514', NULL,
                 'a kind other than entity or template is refused');
SELECT throws_ok($$INSERT INTO public.payments VALUES (6, 1, 'entity', '00000000-0000-0000-0000-000000000002', NULL)$$,
                 '23503', NULL, 'an entity that does not exist is refused');
SELECT is(mosta_add_polymorphic_ref('payments', 'purchase_request', 'purchase_requests'),
          'payments_purchase_request_ref_check', 'declaring it again is a no-op');
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('payments', 'purchase_request', 'users')$$))[1:2],
          ARRAY['42710', 'reference "purchase_request" of table public.payments already points at public.purchase_requests'],
          'the same reference to another table: 42710');
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('legacy_payments', 'pr', 'purchase_requests')$$))[1:3],
          ARRAY['23514', 'table public.legacy_payments has rows that break invariant "legacy_payments_pr_ref_check"',
                '1 rows do not set exactly the column their pr_ref_kind names; their keys (at most 10 shown): {"id": 1}'],
          'existing columns with rows that break the rule: 23514 with their keys');
UPDATE public.legacy_payments SET pr_ref_kind = 'template' WHERE id = 1;
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('legacy_payments', 'pr', 'purchase_requests')$$))[1:3],
          ARRAY['23503', 'table public.legacy_payments has rows whose pr_id is not in public.purchase_requests',
                '1 rows have a pr_id that is missing from public.purchase_requests; their keys (at most 10 shown): {"id": 2}'],
          'ids missing from the target: 23503 with their keys');
UPDATE public.legacy_payments SET pr_id = '00000000-0000-0000-0000-000000000001' WHERE id = 2;
SELECT is(mosta_add_polymorphic_ref('legacy_payments', 'pr', 'purchase_requests'), 'legacy_payments_pr_ref_check',
          'once fixed, existing columns are adopted');
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('wrong_types', 'pr', 'purchase_requests')$$))[1:2],
          ARRAY['42804', 'column "pr_id" of table public.wrong_types is of type integer, not uuid'],
          'an existing column of another type: 42804');
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('payments', 'Bad Ref', 'purchase_requests')$$))[1],
          '22023', 'a ref that is not a plain lowercase name: 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('payments', 'x', 'nokey')$$))[1:2],
          ARRAY['42830', 'table public.nokey has no single-column primary key'], 'a target without a key: 42830');

------------------------------------------------------------------------------
-- listing and checking
------------------------------------------------------------------------------
SELECT results_eq($$SELECT "table"::text, name, kind, present FROM mosta_invariants() ORDER BY 1, 2$$,
                  $$VALUES ('addresses', 'addresses_user_id_one_is_primary_key', 'one_per', true),
                           ('legacy_payments', 'legacy_payments_pr_ref_check', 'polymorphic_ref', true),
                           ('payments', 'payments_purchase_request_ref_check', 'polymorphic_ref', true),
                           ('users', 'users_email_sparse_key', 'sparse_unique', true),
                           ('users', 'users_legacy_id_tenant_sparse_key', 'sparse_unique', true)$$,
                  'mosta_invariants() lists every declared invariant');
SELECT is((SELECT count(*) FROM mosta_invariants('users')), 2::bigint, 'mosta_invariants(tbl) lists those of tbl');
SELECT is_empty($$SELECT * FROM mosta_check_invariants()$$, 'no violation while the indexes and constraints hold');
DROP INDEX public.addresses_user_id_one_is_primary_key;
UPDATE public.addresses SET is_primary = true WHERE id = 3;
SELECT results_eq($$SELECT invariant, violation, row_key FROM mosta_check_invariants('addresses') ORDER BY 3 NULLS FIRST$$,
                  $$VALUES ('addresses_user_id_one_is_primary_key',
                            'index "addresses_user_id_one_is_primary_key" is missing: declare the invariant again to recreate it',
                            NULL::jsonb),
                           ('addresses_user_id_one_is_primary_key', '{"user_id": 1} in 2 rows', '{"id": 1}'),
                           ('addresses_user_id_one_is_primary_key', '{"user_id": 1} in 2 rows', '{"id": 3}')$$,
                  'a dropped index and the rows that break the invariant are reported, with their keys');
SELECT is((SELECT present FROM mosta_invariants('addresses')), false, 'mosta_invariants says the index is missing');
UPDATE public.addresses SET is_primary = false WHERE id = 3;
SELECT is(mosta_add_one_per('addresses', 'is_primary', ARRAY['user_id']), 'addresses_user_id_one_is_primary_key',
          'declaring it again recreates the index');
SELECT has_index('public', 'addresses', 'addresses_user_id_one_is_primary_key', 'the index is back');
DROP TABLE public.addresses;
SELECT is((SELECT count(*) FROM mosta.invariants i WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = i.tbl)),
          0::bigint, 'DROP TABLE removes the table''s invariants from the catalog');
SELECT is((SELECT count(*) FROM mosta.invariants), 4::bigint, 'and only those');
SELECT lives_ok($$SELECT * FROM mosta_invariants()$$, 'and mosta_invariants() still works');
SELECT is(pg_temp.last_action(), 'remove_invariant public.addresses addresses_user_id_one_is_primary_key',
          'and logs the removal under the table''s name');
SELECT is((pg_temp.error_of($$SELECT mosta._log_catalog('add_invariant', 'users', '{"name": "forged"}')$$))[1:2],
          ARRAY['22023', 'activity "add_invariant" on public.users does not match the catalog'],
          'the activity log accepts only lines that agree with the catalog');

------------------------------------------------------------------------------
-- privileges
------------------------------------------------------------------------------
CREATE ROLE mosta_test_plain;
CREATE ROLE mosta_test_admin2;
GRANT mosta_admin TO mosta_test_admin2;
GRANT USAGE, CREATE ON SCHEMA public TO mosta_test_admin2;
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT mosta_add_sparse_unique('users', ARRAY['tenant'])$$),
          '42501', 'a plain role cannot call mosta_add_sparse_unique');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT * FROM mosta_check_invariants()$$), '42501',
          'nor mosta_check_invariants');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin2', $$SELECT mosta_add_sparse_unique('users', ARRAY['tenant'])$$),
          '42501', 'a member of mosta_admin cannot declare an invariant on a table it does not own');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin2',
                              $$INSERT INTO mosta.invariants (tbl, name, kind, columns, definition)
                                VALUES ('users', 'x', 'sparse_unique', '{id}', 'x')$$),
          '42501', 'nor write such a row into the catalog directly (row level security)');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin2',
                              $$CREATE TABLE public.own (id int PRIMARY KEY, code text);
                                SELECT mosta_add_sparse_unique('own', ARRAY['code'])$$),
          '00000', 'but can on a table it owns');

SELECT * FROM finish();
ROLLBACK;
