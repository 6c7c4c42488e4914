-- 94_verify.sql: mosta_checksum, mosta.row_hashes, mosta.canonical_text and mosta_sum_by (docs/verification.md).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(22);
\ir support/helpers.psql

CREATE TABLE public.v1 (id int PRIMARY KEY, n numeric, f float8, s text, b boolean);
CREATE TABLE public.v2 (LIKE public.v1 INCLUDING ALL);
INSERT INTO public.v1 SELECT i, i * 1.5, i / 4.0, 'row ' || i, i % 2 = 0 FROM generate_series(1, 200) i;
INSERT INTO public.v2 SELECT * FROM public.v1 ORDER BY id DESC;

-- order independence
SELECT is((SELECT checksum FROM mosta_checksum('public.v1')), (SELECT checksum FROM mosta_checksum('public.v2')),
          'the same rows inserted in another order have the same checksum');
SELECT is((SELECT row_count FROM mosta_checksum('public.v1')), 200::bigint, 'mosta_checksum counts the rows');
UPDATE public.v2 SET s = s WHERE id % 3 = 0;
SELECT is((SELECT checksum FROM mosta_checksum('public.v1')), (SELECT checksum FROM mosta_checksum('public.v2')),
          'rows moved by an UPDATE keep the checksum');
SELECT is((SELECT array_agg(row_hash ORDER BY key) FROM mosta.row_hashes('public.v1')),
          (SELECT array_agg(row_hash ORDER BY key) FROM mosta.row_hashes('public.v2')),
          'row hashes match row by row');
UPDATE public.v2 SET s = 'changed' WHERE id = 7;
SELECT isnt((SELECT checksum FROM mosta_checksum('public.v1')), (SELECT checksum FROM mosta_checksum('public.v2')),
            'one changed value changes the checksum');
SELECT is((SELECT array_agg(a.key) FROM mosta.row_hashes('public.v1') a JOIN mosta.row_hashes('public.v2') b USING (key)
            WHERE a.row_hash <> b.row_hash), ARRAY['7'], 'row hashes name the changed key');
SELECT is((SELECT checksum FROM mosta_checksum('public.v1', '{id,n}')),
          (SELECT checksum FROM mosta_checksum('public.v2', '{n,id}')), 'a column subset ignores the other columns');

-- values: NULL vs empty, numeric scale, float spelling
CREATE TABLE public.v3 (id int, s text, n numeric, f float8);
SELECT isnt((SELECT mosta.canonical_row_hash(r) FROM (SELECT 1 AS id, NULL::text AS s) r),
            (SELECT mosta.canonical_row_hash(r) FROM (SELECT 1 AS id, ''::text AS s) r), 'NULL and '''' differ');
SELECT isnt((SELECT mosta.canonical_row_hash(r) FROM (SELECT 1.0::numeric AS n) r),
            (SELECT mosta.canonical_row_hash(r) FROM (SELECT 1.00::numeric AS n) r), 'numeric 1.0 and 1.00 differ');
SELECT is((SELECT mosta.canonical_row_hash(r) FROM (SELECT 1.0::float8 AS f) r),
          (SELECT mosta.canonical_row_hash(r) FROM (SELECT 1.00::float8 AS f) r), 'float8 1.0 and 1.00 are equal');
SELECT is((SELECT mosta.canonical_row_hash(r) FROM (SELECT 1 AS id, 'a'::text AS name) r),
          'bc0d59ef10bf443ade6ff6b25bdf13b7', 'the row hash matches the C++ test vector');
SELECT is(ARRAY[mosta.canonical_text(1e20::float8), mosta.canonical_text(1.50::numeric), mosta.canonical_text(true),
                mosta.canonical_text('\x0aff'::bytea), mosta.canonical_text('a"b'::text),
                mosta.canonical_text('{"k": "v"}'::jsonb), mosta.canonical_text('2024-05-01 12:00+02'::timestamptz)],
          ARRAY['1e+20', '1.50', 'true', '\x0aff', 'a"b', '{"k": "v"}', '2024-05-01T10:00:00+00:00'],
          'canonical texts are the plugin''s values');
SELECT is((SELECT checksum FROM mosta_checksum('public.v3')), repeat('0', 64), 'an empty table has the zero checksum');
SET LOCAL DateStyle = 'SQL, DMY';
SET LOCAL TimeZone = 'Asia/Tokyo';
SET LOCAL extra_float_digits = 0;
SELECT is(mosta.canonical_text('2024-05-01 12:00+02'::timestamptz), '2024-05-01T10:00:00+00:00',
          'canonical text does not depend on session settings');
RESET DateStyle; RESET TimeZone; RESET extra_float_digits;

-- errors
SELECT is((pg_temp.error_of($$SELECT mosta_checksum('public.v1', '{id,nope}')$$))[1:2],
          ARRAY['42703', 'column "nope" of "public.v1" does not exist'], 'an unknown column is 42703');
SELECT ok((pg_temp.error_of($$SELECT mosta_checksum('public.v1', '{id,nope}')$$))[4] LIKE '%id, n, f, s, b%',
          'the hint lists the columns');
SELECT is((pg_temp.error_of($$SELECT mosta_checksum('public.v1', '{}')$$))[1], '22023', 'an empty column list is 22023');
SELECT is((pg_temp.error_of($$SELECT mosta.row_hashes('public.v3')$$))[1], '55000',
          'row hashes need a primary key');

-- mosta_sum_by
CREATE TABLE public.v4 (id int, region text, amount numeric(12,2), ratio float8);
INSERT INTO public.v4 VALUES (1, 'eu', 0.10, 0.1), (2, 'eu', 0.20, 0.2), (3, 'us', 100.05, 1), (4, 'us', NULL, 1);
SELECT results_eq($$SELECT group_key, row_count, total FROM mosta_sum_by('public.v4', 'amount', '{region}')$$,
                  $$VALUES ('{"region": "eu"}'::jsonb, 2::bigint, 0.30::numeric), ('{"region": "us"}', 2, 100.05)$$,
                  'mosta_sum_by sums exactly per group');
SELECT results_eq($$SELECT group_key, row_count, total FROM mosta_sum_by('public.v4', 'amount')$$,
                  $$VALUES ('{}'::jsonb, 4::bigint, 100.35::numeric)$$, 'no group columns: one total');
SELECT is((pg_temp.error_of($$SELECT mosta_sum_by('public.v4', 'ratio')$$))[1:2],
          ARRAY['42804', 'column "ratio" of "public.v4" is of type double precision, which is not exact'],
          'a float amount is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_sum_by('public.v4', 'region')$$))[1], '42804', 'a text amount is refused');

SELECT * FROM finish();
ROLLBACK;
