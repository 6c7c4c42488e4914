-- 91_idmap.sql: id_map (mosta_map_id, mosta_map_ids, mosta_lookup_id, mosta_require_id, mosta_legacy_id),
-- id policies (mosta_set_id_policy) and the uuid generators (mosta.uuid_v7, mosta.uuid_v5,
-- mosta.uuid_from_legacy_id, mosta.uuid_from_objectid): bits, RFC vectors, ordering, determinism, errors,
-- privileges. Expected uuids were computed independently with Python's uuid and hashlib modules.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(82);

\ir support/helpers.psql

-- version_of and variant_of return a uuid's version nibble and its two variant bits.
CREATE FUNCTION pg_temp.version_of(u uuid) RETURNS int LANGUAGE sql AS $$
	SELECT ('x' || substr(u::text, 15, 1))::bit(4)::int
$$;
CREATE FUNCTION pg_temp.variant_of(u uuid) RETURNS int LANGUAGE sql AS $$
	SELECT ('x' || substr(u::text, 20, 1))::bit(4)::int >> 2
$$;
-- unix_ms_of returns the 48-bit time field of a version 7 uuid.
CREATE FUNCTION pg_temp.unix_ms_of(u uuid) RETURNS bigint LANGUAGE sql AS $$
	SELECT ('x' || replace(substr(u::text, 1, 13), '-', ''))::bit(48)::bigint
$$;

-- last_action returns the newest activity row as "action object".
CREATE FUNCTION pg_temp.last_action() RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ', action, object) FROM mosta.activity ORDER BY id DESC LIMIT 1
$$;

CREATE ROLE mosta_idmap_user LOGIN;
CREATE ROLE mosta_idmap_admin LOGIN;
GRANT mosta_admin TO mosta_idmap_admin;

------------------------------------------------------------------------------
-- generators
------------------------------------------------------------------------------
SELECT is(mosta.uuid_v5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'),
          '886313e1-3b8a-5372-9b90-0c9aee199e5d'::uuid, 'uuid_v5 matches the RFC 9562 / Python DNS-namespace vector');
SELECT is(mosta.uuid_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'https://mostajs.dev/id_map'),
          '58874ca3-e567-5807-ad1d-4ba187db26ba'::uuid, 'the documented id_map namespace is v5(URL, https://mostajs.dev/id_map)');
SELECT is(mosta.uuid_from_legacy_id('users', '42'), 'f2183d5e-14d3-5294-b623-15d7cdac0bc0'::uuid,
          'uuid_from_legacy_id is v5(id_map namespace, collection || U+0000 || legacy id)');
SELECT is(mosta.uuid_from_legacy_id('users', '42'),
          mosta.uuid_from_legacy_id('users', '42'), 'uuid_from_legacy_id is deterministic');
SELECT isnt(mosta.uuid_from_legacy_id('users', '42'), mosta.uuid_from_legacy_id('orders', '42'),
            'the same legacy id in two collections gets two uuids');
SELECT isnt(mosta.uuid_from_legacy_id('users', '4'), mosta.uuid_from_legacy_id('users4', ''),
            'the U+0000 separator keeps (users, 4) apart from (users4, empty)');
SELECT is(mosta.uuid_from_objectid('users', '507f1f77bcf86cd799439011'), '013a7092-e8d8-7935-ad87-530be87c3f99'::uuid,
          'uuid_from_objectid matches the independently computed value');
SELECT is(mosta.uuid_from_objectid('users', '507F1F77BCF86CD799439011'),
          mosta.uuid_from_objectid('users', '507f1f77bcf86cd799439011'), 'ObjectId hex is case-insensitive');
SELECT is(to_timestamp(pg_temp.unix_ms_of(mosta.uuid_from_objectid('users', '507f1f77bcf86cd799439011')) / 1000.0),
          '2012-10-17 21:13:27+00'::timestamptz, 'the objectid uuid carries the ObjectId''s time (2012-10-17T21:13:27Z)');
SELECT ok(mosta.uuid_from_objectid('users', '507f1f77bcf86cd799439011')
          < mosta.uuid_from_objectid('users', '507f1f78000000000000000a'),
          'objectid uuids sort by the ObjectIds'' creation time');
SELECT is(pg_temp.version_of(u), v, format('%s makes version %s uuids', what, v))
  FROM (VALUES ('uuid_v7', mosta.uuid_v7(), 7), ('uuid_v5', mosta.uuid_v5(gen_random_uuid(), 'x'), 5),
               ('uuid_from_legacy_id', mosta.uuid_from_legacy_id('c', 'x'), 5),
               ('uuid_from_objectid', mosta.uuid_from_objectid('c', 'ffffffffffffffffffffffff'), 7)) t(what, u, v);
SELECT is((SELECT count(DISTINCT pg_temp.variant_of(u)) || ':' || min(pg_temp.variant_of(u))
             FROM (SELECT mosta.uuid_v7() u FROM generate_series(1, 200)
                   UNION ALL SELECT mosta.uuid_from_legacy_id('c', g::text) FROM generate_series(1, 200) g
                   UNION ALL SELECT mosta.uuid_from_objectid('c', lpad(to_hex(g), 24, '0')) FROM generate_series(1, 200) g) s),
          '1:2', 'every generated uuid has the RFC 9562 variant 0b10');
SELECT is((SELECT count(*) FROM (SELECT u, lag(u) OVER (ORDER BY n) AS prev
                                   FROM (SELECT n, mosta.uuid_v7() u FROM generate_series(1, 20000) n) s) t
            WHERE u <= prev), 0::bigint, '20,000 uuid_v7 calls in one session increase strictly');
SELECT cmp_ok(abs(pg_temp.unix_ms_of(mosta.uuid_v7()) - (extract(epoch FROM clock_timestamp()) * 1000)::bigint),
              '<', 2000::bigint, 'uuid_v7 carries the current unix time in milliseconds');
SELECT is(mosta.uuid_v5(NULL, 'x'), NULL, 'uuid_v5 is strict');
SELECT is((pg_temp.error_of($$SELECT mosta.uuid_from_objectid('users', '507f1f77bcf86cd79943901')$$))[1:2],
          ARRAY['22023', 'legacy id "507f1f77bcf86cd79943901" of collection "users" is not an ObjectId'],
          'uuid_from_objectid refuses 23 hex digits with 22023 naming the collection and the id');
SELECT ok((pg_temp.error_of($$SELECT mosta.uuid_from_objectid('users', '507f1f77bcf86cd79943901g')$$))[4] LIKE 'Map ids%',
          'and a non-hex digit, with a hint');
SELECT is(mosta.uuid_v7() IS NOT NULL, true, 'the session still works after a C++ error');

------------------------------------------------------------------------------
-- mapping: random policy by default
------------------------------------------------------------------------------
SELECT ok(mosta_map_id('users', 'u1') IS NOT NULL, 'mosta_map_id allocates a uuid');
SELECT is(mosta_map_id('users', 'u1'), (SELECT new_id FROM mosta.id_map WHERE collection = 'users' AND legacy_id = 'u1'),
          'and returns the same uuid again');
SELECT is(pg_temp.version_of(mosta_map_id('users', 'u1')), 4, 'a collection without a policy row gets random (v4) uuids');
SELECT is((SELECT count(*) FROM mosta.id_map WHERE collection = 'users'), 1::bigint, 'one row per legacy id');
SELECT isnt(mosta_map_id('orders', 'u1'), mosta_map_id('users', 'u1'), 'the same legacy id in another collection is another uuid');
CREATE TEMP TABLE bulk_result AS SELECT mosta_map_ids('users', ARRAY['u2', 'u1', 'u3', 'u2']) AS ids;
SELECT is((SELECT ids FROM bulk_result),
          ARRAY[mosta_lookup_id('users', 'u2'), mosta_lookup_id('users', 'u1'), mosta_lookup_id('users', 'u3'),
                mosta_lookup_id('users', 'u2')],
          'mosta_map_ids keeps the input order, duplicates included');
SELECT is((SELECT count(*) FROM mosta.id_map WHERE collection = 'users'), 3::bigint, 'duplicates are mapped once');
SELECT is(mosta_map_ids('users', ARRAY['u3', 'u1']), ARRAY[mosta_map_id('users', 'u3'), mosta_map_id('users', 'u1')],
          'mosta_map_ids agrees with mosta_map_id');
SELECT is(mosta_map_ids('users', '{}'), '{}'::uuid[], 'an empty array maps to an empty array');
SELECT is(cardinality(mosta_map_ids('bulk', ARRAY(SELECT 'b' || g FROM generate_series(1, 5000) g))), 5000,
          'mosta_map_ids maps 5,000 ids in one call');
SELECT is(mosta_map_ids('bulk', ARRAY['b17', 'b4999']), ARRAY[mosta_lookup_id('bulk', 'b17'), mosta_lookup_id('bulk', 'b4999')],
          'and they are found again');
SELECT is(mosta_lookup_id('users', 'nope'), NULL, 'mosta_lookup_id is NULL for an unmapped id');
SELECT is((SELECT count(*) FROM mosta.id_map WHERE legacy_id = 'nope'), 0::bigint, 'and allocates nothing');
SELECT is(mosta_require_id('users', 'u1'), mosta_lookup_id('users', 'u1'), 'mosta_require_id returns a mapped uuid');
SELECT is(mosta_legacy_id('users', mosta_lookup_id('users', 'u2')), 'u2', 'mosta_legacy_id reverses the mapping');
SELECT is(mosta_legacy_id('orders', mosta_lookup_id('users', 'u2')), NULL,
          'mosta_legacy_id is NULL for a uuid of another collection');
SELECT is(mosta_legacy_id('users', gen_random_uuid()), NULL, 'mosta_legacy_id is NULL for an unknown uuid');

------------------------------------------------------------------------------
-- policies
------------------------------------------------------------------------------
SELECT lives_ok($$SELECT mosta_set_id_policy('events', 'time-ordered')$$, 'policy time-ordered is set');
SELECT is(pg_temp.version_of(mosta_map_id('events', 'e1')), 7, 'time-ordered ids are version 7');
SELECT ok((SELECT bool_and(a < b) FROM (SELECT u AS a, lead(u) OVER (ORDER BY n) AS b
                                           FROM unnest(mosta_map_ids('events', ARRAY(SELECT 'e' || lpad(g::text, 4, '0') FROM generate_series(2, 1001) g)))
                                                WITH ORDINALITY x(u, n)) s WHERE b IS NOT NULL),
          'time-ordered ids of one bulk call increase with the (sorted) legacy ids');
SELECT lives_ok($$SELECT mosta_set_id_policy('people', 'deterministic')$$, 'policy deterministic is set');
SELECT is(mosta_map_id('people', 'p1'), mosta.uuid_from_legacy_id('people', 'p1'),
          'deterministic ids are uuid_from_legacy_id(collection, legacy id)');
SELECT is(mosta_map_ids('people', ARRAY['p2', 'p1']), ARRAY[mosta.uuid_from_legacy_id('people', 'p2'),
                                                          mosta.uuid_from_legacy_id('people', 'p1')],
          'and so are those of mosta_map_ids');
SELECT isnt(mosta_map_id('people', 'P1'), mosta_map_id('people', 'p1'), 'deterministic legacy ids are case-sensitive');
SELECT lives_ok($$SELECT mosta_set_id_policy('users2', 'objectid')$$, 'policy objectid is set');
SELECT is(mosta_map_id('users2', '507F1F77BCF86CD799439011'), mosta.uuid_from_objectid('users2', '507f1f77bcf86cd799439011'),
          'objectid ids are uuid_from_objectid(collection, legacy id)');
SELECT is(mosta_map_ids('users2', ARRAY['507f1f77bcf86cd799439011', '507F1F77BCF86CD799439011']),
          ARRAY[mosta_lookup_id('users2', '507f1f77bcf86cd799439011'), mosta_lookup_id('users2', '507f1f77bcf86cd799439011')],
          'an ObjectId in either case is one legacy id');
SELECT is((SELECT array_agg(legacy_id) FROM mosta.id_map WHERE collection = 'users2'), ARRAY['507f1f77bcf86cd799439011'],
          'ObjectIds are stored lowercase');
SELECT is(mosta_lookup_id('users2', '507F1F77BCF86CD799439011'), mosta_lookup_id('users2', '507f1f77bcf86cd799439011'),
          'and looked up in either case');
SELECT lives_ok($$SELECT mosta_set_id_policy('shops', 'random', require_objectid => true)$$,
                'random with require_objectid is set');
SELECT is(pg_temp.version_of(mosta_map_id('shops', '5f0000000000000000000001')), 4, 'it maps ObjectIds to v4 uuids');
SELECT row_eq($$SELECT policy, require_objectid FROM mosta.id_policies WHERE collection = 'shops'$$,
              ROW('random'::text, true), 'the policy row is stored');
SELECT is(pg_temp.last_action(), 'set_id_policy shops', 'setting a policy is logged');
SELECT lives_ok($$SELECT mosta_set_id_policy('shops', 'random', true)$$,
                'setting the same policy again is accepted once the collection has ids');

------------------------------------------------------------------------------
-- errors
------------------------------------------------------------------------------
SELECT is(pg_temp.error_of($$SELECT mosta_require_id('users', 'ghost')$$),
          ARRAY['23503', 'legacy id "ghost" of collection "users" is not mapped',
                'A row that refers to users "ghost" cannot be migrated before it.',
                'Backfill collection "users" first (parents before children), then retry.'],
          'mosta_require_id raises 23503 naming the collection and the missing id, with a hint');
SELECT is((pg_temp.error_of($$SELECT mosta_map_id('users2', 'not-an-objectid')$$))[1:2],
          ARRAY['22023', 'legacy id "not-an-objectid" of collection "users2" is not an ObjectId'],
          'policy objectid refuses a legacy id that is not an ObjectId');
SELECT is((pg_temp.error_of($$SELECT mosta_map_ids('shops', ARRAY['5f0000000000000000000002', 'x'])$$))[1:2],
          ARRAY['22023', 'legacy id "x" of collection "shops" is not an ObjectId'],
          'require_objectid refuses it in bulk, naming the id');
SELECT is((SELECT count(*) FROM mosta.id_map WHERE collection = 'shops'), 1::bigint, 'a refused bulk call maps nothing');
SELECT is(pg_temp.error_of($$SELECT mosta_map_ids('users', ARRAY['u1', NULL])$$),
          ARRAY['22004', 'legacy_ids must not contain NULL', 'Element 2 of 2 is NULL.',
                'Leave missing references out: a NULL legacy id has no uuid.'],
          'a NULL element is refused with its position');
SELECT is((pg_temp.error_of(sql))[1], state, format('%s raises %s', what, state))
  FROM (VALUES ('mosta_map_id(NULL collection)', $$SELECT mosta_map_id(NULL, 'x')$$, '22004'),
               ('mosta_map_id(NULL legacy_id)', $$SELECT mosta_map_id('users', NULL)$$, '22004'),
               ('mosta_map_id(empty collection)', $$SELECT mosta_map_id('', 'x')$$, '22023'),
               ('mosta_map_id(empty legacy_id)', $$SELECT mosta_map_id('users', '')$$, '22023'),
               ('mosta_map_ids(NULL array)', $$SELECT mosta_map_ids('users', NULL)$$, '22004'),
               ('mosta_lookup_id(NULL)', $$SELECT mosta_lookup_id('users', NULL)$$, '22004'),
               ('mosta_legacy_id(NULL)', $$SELECT mosta_legacy_id('users', NULL)$$, '22004'),
               ('an unknown policy', $$SELECT mosta_set_id_policy('x', 'v4')$$, '22023')) t(what, sql, state);
SELECT is(pg_temp.error_of($$SELECT mosta_set_id_policy('users2', 'deterministic')$$),
          ARRAY['55000', 'collection "users2" already maps legacy ids under id policy "objectid"',
                'Its policy is objectid with require_objectid false. A policy holds from a collection''s first id on, '
                'so that every id of it follows one rule.',
                'Set the policy before the collection''s first mosta_map_id or mosta_map_ids call.'],
          'changing the policy of a collection that has ids is refused with 55000');
-- a forged row holding the uuid people/p9 would get: the collision is reported, naming both ids
INSERT INTO mosta.id_map (collection, legacy_id, new_id) VALUES ('people', 'forged', mosta.uuid_from_legacy_id('people', 'p9'));
SELECT is((pg_temp.error_of($$SELECT mosta_map_id('people', 'p9')$$))[1:3],
          ARRAY['23505', 'uuid collision mapping legacy id "p9" of collection "people"',
                format('Its uuid %s already maps legacy id "forged" of collection "people".',
                       mosta.uuid_from_legacy_id('people', 'p9'))],
          'a uuid collision is reported as 23505 naming both legacy ids');
SELECT is((pg_temp.error_of($$SELECT mosta_map_ids('people', ARRAY['p1', 'p9'])$$))[2],
          'uuid collision mapping legacy id "p9" of collection "people"', 'and in bulk');

------------------------------------------------------------------------------
-- privileges
------------------------------------------------------------------------------
SELECT is(pg_temp.sqlstate_as('mosta_idmap_user', sql), '42501', format('a plain role is refused %s', what))
  FROM (VALUES ('mosta_map_id', $$SELECT mosta_map_id('users', 'x')$$),
               ('mosta_map_ids', $$SELECT mosta_map_ids('users', ARRAY['x'])$$),
               ('mosta_lookup_id', $$SELECT mosta_lookup_id('users', 'u1')$$),
               ('mosta_require_id', $$SELECT mosta_require_id('users', 'u1')$$),
               ('mosta_legacy_id', $$SELECT mosta_legacy_id('users', gen_random_uuid())$$),
               ('mosta_set_id_policy', $$SELECT mosta_set_id_policy('x', 'random')$$),
               ('SELECT on mosta.id_map', $$SELECT * FROM mosta.id_map$$)) t(what, sql);
SELECT is(pg_temp.value_as('mosta_idmap_user', $$SELECT mosta.uuid_v7() IS NOT NULL$$), 'true',
          'a plain role may call the uuid generators');
SELECT is(pg_temp.value_as('mosta_idmap_admin', $$SELECT mosta_map_id('users', 'u1')::text$$),
          mosta_lookup_id('users', 'u1')::text, 'a member of mosta_admin maps ids');
SELECT is(pg_temp.sqlstate_as('mosta_idmap_admin', $$INSERT INTO mosta.id_map VALUES ('users', 'z', gen_random_uuid())$$),
          '42501', 'but cannot write mosta.id_map directly');
SELECT is((SELECT count(*) FROM pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'mostajs' AND c IN ('mosta.id_map'::regclass, 'mosta.id_policies'::regclass)),
          2::bigint, 'mosta.id_map and mosta.id_policies are dumped by pg_dump');

SELECT * FROM finish();
ROLLBACK;
