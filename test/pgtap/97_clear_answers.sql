-- 97_clear_answers.sql: bad arguments of the migration toolkit and capture
-- get a clear message, the proper SQLSTATE and a hint (issue 10, item 14):
-- NULLs in column lists, NULL group_cols, keys too long for a btree index,
-- OIDs that name no relation, and the notes of mosta_add_rule's NOTICE.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(29);

\ir support/helpers.psql

-- state_hint returns {sqlstate, hint} of the error sql raises.
CREATE FUNCTION pg_temp.state_hint(sql text) RETURNS text[] LANGUAGE sql AS $$
	SELECT ARRAY[e[1], e[4]] FROM pg_temp.error_of(sql) e
$$;

CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric, region text);
INSERT INTO public.orders VALUES (1, 10, 'eu'), (2, 5, 'us');

-- mosta_checksum / mosta.row_hashes: a NULL column name is 22004, not 42703 column "<NULL>"
SELECT is((pg_temp.error_of($$SELECT mosta_checksum('public.orders', ARRAY[NULL])$$))[1:2],
          ARRAY['22004', 'cols must not contain NULL'], 'mosta_checksum(t, ARRAY[NULL]) is 22004');
SELECT is((pg_temp.error_of($$SELECT mosta_checksum('public.orders', ARRAY['id', NULL])$$))[3:4],
          ARRAY['Element 2 of 2 is NULL.', 'List column names, or pass NULL instead of the array to use every column.'],
          'it says which element, with a hint');
SELECT is((pg_temp.error_of($$SELECT * FROM mosta.row_hashes('public.orders', ARRAY[NULL])$$))[1], '22004',
          'mosta.row_hashes too');

-- every 22004 of the toolkit has a hint
SELECT is(pg_temp.state_hint($$SELECT mosta_checksum(NULL)$$),
          ARRAY['22004', 'Pass a value for tbl.'], 'mosta_checksum(NULL): 22004 with a hint');
SELECT is(pg_temp.state_hint($$SELECT * FROM mosta_sum_by(NULL, 'amount')$$),
          ARRAY['22004', 'Pass a value for tbl.'], 'mosta_sum_by(NULL tbl): 22004 with a hint');
SELECT is(pg_temp.state_hint($$SELECT * FROM mosta_sum_by('public.orders', NULL)$$),
          ARRAY['22004', 'Pass a value for amount_col.'], 'mosta_sum_by(NULL amount_col): 22004 with a hint');
SELECT is(pg_temp.state_hint($$SELECT * FROM mosta.snapshot_documents(NULL)$$),
          ARRAY['22004', 'Pass a value for tbl.'], 'mosta.snapshot_documents(NULL): 22004 with a hint');

-- mosta_sum_by(group_cols => NULL): refused, '{}' is one total
SELECT is(pg_temp.error_of($$SELECT * FROM mosta_sum_by('public.orders', 'amount', group_cols => NULL)$$),
          ARRAY['22004', 'argument "group_cols" must not be null', '',
                'Pass ''{}'' (the default) for one total over the whole table, or the columns to group by.'],
          'mosta_sum_by(group_cols => NULL) is 22004 with a hint');
SELECT is((SELECT total FROM mosta_sum_by('public.orders', 'amount', group_cols => '{}')), 15::numeric,
          'group_cols => ''{}'' gives one total');

-- keys longer than a btree index holds: 54000 naming the limit, for every text key of the toolkit
SELECT is(pg_temp.error_of(format('SELECT mosta_next_value(%L, %L)', 'orders', repeat('x', 1048576))),
          ARRAY['54000', 'key is too long (1048576 bytes)', 'key is stored in a btree index, which limits it to 1024 bytes.',
                'Use a shorter key, e.g. a digest of it: md5(key).'],
          'a 1 MB mosta_next_value key: 54000 naming the limit');
SELECT is((pg_temp.error_of(format('SELECT mosta_next_value(%L, %L)', repeat('s', 1025), 'k')))[1:2],
          ARRAY['54000', 'scope is too long (1025 bytes)'], 'a long counter scope too');
SELECT is(mosta_next_value(repeat('s', 1024), repeat('k', 1024)), 1::bigint, 'keys of exactly 1024 bytes are fine');
SELECT is((pg_temp.error_of(format('SELECT mosta_map_id(%L, %L)', 'users', repeat('x', 1048576))))[1:2],
          ARRAY['54000', 'legacy_id is too long (1048576 bytes)'], 'a 1 MB legacy id (mosta_map_id)');
SELECT is((pg_temp.error_of(format('SELECT mosta_map_ids(%L, ARRAY[%L, %L])', 'users', 'a', repeat('x', 2000))))[1:2],
          ARRAY['54000', 'legacy_id is too long (2000 bytes)'], 'a long legacy id among others (mosta_map_ids)');
SELECT is((pg_temp.error_of(format('SELECT mosta_map_id(%L, %L)', repeat('c', 1048576), 'a')))[1:2],
          ARRAY['54000', 'collection is too long (1048576 bytes)'], 'a 1 MB collection name (mosta_map_id)');
SELECT is((pg_temp.error_of(format('SELECT mosta_set_id_policy(%L, %L)', repeat('c', 5000), 'random')))[1],
          '54000', 'and in mosta_set_id_policy');
SELECT is((pg_temp.error_of(format('SELECT mosta_lookup_id(%L, %L)', repeat('c', 5000), 'a')))[1],
          '54000', 'and in mosta_lookup_id');

-- OIDs that name no relation: 42P01 with the OID, not relation "-"
SELECT is(pg_temp.error_of($$SELECT mosta_capture_table(0)$$),
          ARRAY['42P01', 'relation with OID 0 does not exist', '',
                'Pass an existing table as tbl, e.g. ''public.orders''::regclass.'],
          'mosta_capture_table(0): 42P01 with a hint');
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table(4294967295::oid::regclass)$$))[1:2],
          ARRAY['42P01', 'relation with OID 4294967295 does not exist'], 'any other OID of no relation');
SELECT is((pg_temp.error_of($$SELECT mosta_uncapture_table(0, true)$$))[1:2],
          ARRAY['42P01', 'relation with OID 0 does not exist'], 'mosta_uncapture_table(0), even with if_exists');
SELECT is((pg_temp.error_of($$SELECT mosta_checksum(0)$$))[1:2],
          ARRAY['42P01', 'relation with OID 0 does not exist'], 'mosta_checksum(0)');
SELECT is((pg_temp.error_of($$SELECT * FROM mosta_sum_by(0, 'amount')$$))[1], '42P01', 'mosta_sum_by(0)');
SELECT is((pg_temp.error_of($$SELECT * FROM mosta.snapshot_documents(0)$$))[1:2],
          ARRAY['42P01', 'relation with OID 0 does not exist'], 'mosta.snapshot_documents(0)');
SELECT is((pg_temp.error_of($$SELECT mosta_add_sparse_unique(0, ARRAY['a'])$$))[1:2],
          ARRAY['42P01', 'relation with OID 0 does not exist'], 'mosta_add_sparse_unique(0)');
SELECT is((pg_temp.error_of($$SELECT mosta_add_polymorphic_ref('public.orders', 'ref', 0)$$))[1:2],
          ARRAY['42P01', 'relation with OID 0 does not exist'], 'mosta_add_polymorphic_ref(target_tbl => 0)');
SELECT is((pg_temp.error_of($$SELECT mosta_add_ttl(0, 'at', '1 day')$$))[1], '42P01', 'mosta_add_ttl(0)');
SELECT is((pg_temp.error_of($$SELECT mosta_ttl_expire(0)$$))[1], '42P01', 'mosta_ttl_expire(0)');

-- mosta_add_rule's NOTICE: info rows are notes, not issues
SELECT mosta_add_replica('src', 'primary', 'master', 'postgres', 'postgresql://db1/src');
SELECT mosta_add_replica('dst', 'lite', 'slave', 'sqlite', 'dst.db');
CREATE TABLE public.notes_only (id int PRIMARY KEY, at timestamptz);
SELECT is((SELECT count(*) FILTER (WHERE severity <> 'info') || ' ' || sign(count(*))
             FROM mosta._validation_issues('src', 'dst', ARRAY['public.notes_only'])),
          '0 1', 'a timestamptz column in SQLite gives info rows only');
SELECT mosta_add_rule('notes', 'src', 'dst', 'cdc', ARRAY['public.notes_only']);
SELECT is(mosta._validation_summary('notes'),
          format('rule "notes": no compatibility issues, %s note%s',
                 (SELECT count(*) FROM mosta_validate_rule('notes')),
                 CASE WHEN (SELECT count(*) FROM mosta_validate_rule('notes')) = 1 THEN '' ELSE 's' END),
          'all-info report: "no compatibility issues, N notes"');

SELECT * FROM finish();
ROLLBACK;
