
/*
 * sql/parts/20_idmap.sql
 *	  id_map: legacy ids (MongoDB ObjectIds or any text) mapped once and for
 *	  ever to uuids, per collection, under a per-collection id policy
 *	  (docs/sql-api.md, section 14.1).
 *
 * Policies: random (v4, gen_random_uuid), time-ordered (v7, mosta.uuid_v7),
 * deterministic (v5 of collection || U+0000 || legacy id in the mostajs
 * namespace, mosta.uuid_from_legacy_id) and objectid (v7 whose time is the
 * ObjectId's and whose other 74 bits come from SHA-256 of collection ||
 * 0x00 || lowercase legacy id, mosta.uuid_from_objectid). The generators
 * are C++ (extension/src/migration/uuid_functions.cpp).
 *
 * Concurrency: allocating is serialized. A transaction that must allocate
 * a uuid (its legacy id is not mapped yet) first takes the allocation lock
 * (mosta._lock_allocation: a transaction-level advisory lock, one per
 * database), then reads again in a new statement and inserts with INSERT ...
 * ON CONFLICT DO NOTHING. Row-level waits made deadlocks: two transactions
 * inserting overlapping ids in different orders (one statement of
 * mosta_map_id calls over shuffled ids is enough) each waited for a row the
 * other had inserted. Now an allocator only ever waits for that one lock,
 * and only before its first insert, when it holds nothing another
 * allocator waits for: no cycle among mappers, whatever the order and the
 * size of their transactions. A caller that finds the lock taken waits for
 * the allocating transaction to end without taking the lock, then reads
 * again: what it finds mapped it returns without ever locking. Reading ids
 * already mapped takes no lock.
 * The price: allocating transactions of one database run one at a time
 * (docs/sql-api.md 14.1). The conflict has no target, so a clash on new_id (a
 * hash collision) is not an error of the INSERT: the read then finds no row
 * for the legacy id and the collision is reported.
 *
 * Privileges: every function is for mosta_admin (legacy ids are business
 * data); the writing ones and the lookups are SECURITY DEFINER with a pinned
 * search_path. The uuid generators are executable by PUBLIC.
 */

------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------

CREATE TABLE mosta.id_policies (
	collection        text PRIMARY KEY CHECK (collection <> ''),
	policy            text NOT NULL DEFAULT 'random'
		CHECK (policy IN ('random', 'time-ordered', 'deterministic', 'objectid')),
	require_objectid  boolean NOT NULL DEFAULT false,
	updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mosta.id_policies IS
	'Id policy per collection; a collection without a row uses policy random without ObjectId check';

CREATE TABLE mosta.id_map (
	collection  text NOT NULL CHECK (collection <> ''),
	legacy_id   text NOT NULL CHECK (legacy_id <> ''),
	new_id      uuid NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT id_map_pkey PRIMARY KEY (collection, legacy_id),
	CONSTRAINT id_map_new_id_key UNIQUE (new_id)
);
COMMENT ON TABLE mosta.id_map IS
	'Legacy id -> uuid, allocated once per (collection, legacy_id); ObjectIds are stored lowercase';

-- id_map is migration data: it travels with pg_dump, as does the policy of each collection.
SELECT pg_catalog.pg_extension_config_dump('mosta.id_policies', '');
SELECT pg_catalog.pg_extension_config_dump('mosta.id_map', '');

------------------------------------------------------------------------------
-- uuid generators (C++)
------------------------------------------------------------------------------

CREATE FUNCTION mosta.uuid_v7() RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_v7'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mosta.uuid_v7() IS
	'Returns a new time-ordered uuid (RFC 9562 version 7), strictly increasing within a session';

CREATE FUNCTION mosta.uuid_v5(namespace uuid, name text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_v5'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.uuid_v5(uuid, text) IS
	'Returns the name-based uuid (RFC 9562 version 5, SHA-1) of name in namespace';

CREATE FUNCTION mosta.uuid_from_legacy_id(collection text, legacy_id text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_from_legacy_id'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.uuid_from_legacy_id(text, text) IS
	'Returns the deterministic-policy uuid: version 5 of collection || U+0000 || legacy_id in namespace '
	'58874ca3-e567-5807-ad1d-4ba187db26ba';

CREATE FUNCTION mosta.uuid_from_objectid(collection text, legacy_id text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_from_objectid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.uuid_from_objectid(text, text) IS
	'Returns the objectid-policy uuid: version 7 with the ObjectId''s time, 74 bits of '
	'SHA-256(collection || 0x00 || lowercase legacy_id); raises 22023 when legacy_id is not 24 hex digits';

------------------------------------------------------------------------------
-- Internal helpers
------------------------------------------------------------------------------

-- _id_policy returns the policy of a collection and whether its legacy ids must be ObjectIds
-- (policy objectid, or require_objectid); a collection without a row is (random, false).
-- (PL/pgSQL, not SQL: a SQL function with SET is planned again at every call, ten times the cost of the lookup)
CREATE FUNCTION mosta._id_policy(collection text, OUT policy text, OUT objectids boolean)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	SELECT coalesce(max(p.policy), 'random'), coalesce(bool_or(p.policy = 'objectid' OR p.require_objectid), false)
	  INTO policy, objectids
	  FROM mosta.id_policies p WHERE p.collection = _id_policy.collection;
END
$$;

-- _check_legacy_id raises 22023 when a legacy id is empty, or is not an ObjectId where one is required.
CREATE FUNCTION mosta._check_legacy_id(collection text, legacy_id text, objectids boolean) RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF legacy_id = '' THEN
		RAISE EXCEPTION 'legacy id of collection "%" must not be empty', collection
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass the legacy id as text, e.g. an ObjectId''s 24 hex digits.';
	END IF;
	PERFORM mosta._check_key_length(legacy_id, 'legacy_id');
	IF objectids AND legacy_id !~ '^[0-9A-Fa-f]{24}$' THEN
		RAISE EXCEPTION 'legacy id "%" of collection "%" is not an ObjectId', legacy_id, collection
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = format('Collection "%s" requires ObjectIds (policy objectid or require_objectid): '
			                      '24 hexadecimal digits.', collection),
			      HINT = 'Check the source data, or give the collection another id policy before it maps '
			             'its first id (mosta_set_id_policy).';
	END IF;
END
$$;

-- _check_collection raises 22004 or 22023 when a collection name is NULL or empty.
CREATE FUNCTION mosta._check_collection(collection text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require(collection, 'collection');
	IF collection = '' THEN
		RAISE EXCEPTION 'collection must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Name the legacy collection, e.g. ''users''.';
	END IF;
	RETURN mosta._check_key_length(collection, 'collection');
END
$$;

-- _new_id returns a new uuid for a legacy id under policy.
CREATE FUNCTION mosta._new_id(policy text, collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN CASE policy
	       WHEN 'time-ordered' THEN mosta.uuid_v7()
	       WHEN 'deterministic' THEN mosta.uuid_from_legacy_id(collection, legacy_id)
	       WHEN 'objectid' THEN mosta.uuid_from_objectid(collection, legacy_id)
	       ELSE gen_random_uuid() END;
END
$$;

-- _lock_allocation takes the allocation lock (see the header) for the rest of
-- the transaction and returns true, at once when this transaction holds it
-- already or nobody does. Otherwise it waits until the allocating
-- transaction ends, without taking the lock, and returns false: the caller
-- reads again (that transaction may have mapped its ids) and calls it again
-- for what is still missing. Waiting can only deadlock with a cycle the
-- application made (this transaction holds a lock the allocating one waits
-- for): the error then says how to order the work.
CREATE FUNCTION mosta._lock_allocation() RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- one key per database (advisory locks are per database): the OID of mosta.id_map
	allocation_key CONSTANT bigint := 'mosta.id_map'::regclass::oid::bigint;
BEGIN
	IF pg_try_advisory_xact_lock(allocation_key) THEN
		RETURN true;
	END IF;
	BEGIN
		-- a session-level shared lock, released at once: a wait for the holder's end that holds nothing after
		PERFORM pg_advisory_lock_shared(allocation_key);
		PERFORM pg_advisory_unlock_shared(allocation_key);
	EXCEPTION WHEN deadlock_detected THEN
		RAISE EXCEPTION 'deadlock waiting to allocate uuids in mosta.id_map'
			USING ERRCODE = 'deadlock_detected',
			      DETAIL = 'Allocating transactions run one at a time; this one held a lock (a row, a table) '
			               'that the allocating transaction waits for.',
			      HINT = 'Map the ids a transaction needs before it locks or writes other rows (one '
			             'mosta_map_ids call first), or map them in transactions of their own; then retry.';
	END;
	RETURN false;
END
$$;

-- _raise_collision reports that the uuid derived for a legacy id already belongs to another one.
CREATE FUNCTION mosta._raise_collision(policy text, collection text, legacy_id text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	candidate uuid;
	holder record;
BEGIN
	IF policy IN ('deterministic', 'objectid') THEN
		candidate := mosta._new_id(policy, collection, legacy_id);
		SELECT m.collection, m.legacy_id INTO holder FROM mosta.id_map m WHERE m.new_id = candidate;
	END IF;
	RAISE EXCEPTION 'uuid collision mapping legacy id "%" of collection "%"', legacy_id, collection
		USING ERRCODE = 'unique_violation',
		      DETAIL = CASE WHEN holder.legacy_id IS NOT NULL
		                    THEN format('Its uuid %s already maps legacy id "%s" of collection "%s".',
		                                candidate, holder.legacy_id, holder.collection)
		                    ELSE 'Its new uuid is already in mosta.id_map.' END,
		      HINT = 'Two legacy ids derived the same uuid, which only a hash collision explains: report it, '
		             'and map the collection under another id policy.';
END
$$;

------------------------------------------------------------------------------
-- API
------------------------------------------------------------------------------

CREATE FUNCTION mosta_set_id_policy(collection text, policy text, require_objectid boolean DEFAULT false)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	old_policy text;
	old_require boolean;
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._check_choice(policy, 'policy', ARRAY['random', 'time-ordered', 'deterministic', 'objectid']);
	PERFORM mosta._require(require_objectid, 'require_objectid');
	-- waits for mappings in flight, so the check below sees every committed id of the collection
	LOCK TABLE mosta.id_map IN SHARE MODE;
	SELECT coalesce(max(p.policy), 'random'), coalesce(bool_or(p.require_objectid), false)
	  INTO old_policy, old_require
	  FROM mosta.id_policies p WHERE p.collection = mosta_set_id_policy.collection;
	IF (old_policy, old_require) IS DISTINCT FROM (policy, require_objectid)
	   AND EXISTS (SELECT 1 FROM mosta.id_map m WHERE m.collection = mosta_set_id_policy.collection) THEN
		RAISE EXCEPTION 'collection "%" already maps legacy ids under id policy "%"', collection, old_policy
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('Its policy is %s with require_objectid %s. A policy holds from a collection''s '
			                      'first id on, so that every id of it follows one rule.', old_policy, old_require::text),
			      HINT = 'Set the policy before the collection''s first mosta_map_id or mosta_map_ids call.';
	END IF;
	INSERT INTO mosta.id_policies AS p (collection, policy, require_objectid)
	VALUES (collection, policy, require_objectid)
	ON CONFLICT ON CONSTRAINT id_policies_pkey DO UPDATE
		SET policy = excluded.policy, require_objectid = excluded.require_objectid, updated_at = now();
	PERFORM mosta._log('set_id_policy', NULL, collection,
		jsonb_build_object('policy', policy, 'require_objectid', require_objectid));
END
$$;
COMMENT ON FUNCTION mosta_set_id_policy(text, text, boolean) IS
	'Sets how a collection''s legacy ids get their uuids: random, time-ordered, deterministic or objectid';

CREATE FUNCTION mosta_map_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- scalars, not a record: a record variable makes PL/pgSQL plan its statements again at every call
	id_policy text;
	objectids boolean;
	canonical text;
	mapped uuid;
BEGIN
	-- the common case first: an id already mapped, written as stored (only valid ids are ever stored)
	SELECT m.new_id INTO mapped FROM mosta.id_map m
	 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = mosta_map_id.legacy_id;
	IF FOUND THEN
		RETURN mapped;
	END IF;
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_id, 'legacy_id');
	SELECT p.policy, p.objectids INTO id_policy, objectids FROM mosta._id_policy(collection) p;
	PERFORM mosta._check_legacy_id(collection, legacy_id, objectids);
	canonical := CASE WHEN objectids THEN lower(legacy_id) ELSE legacy_id END;

	-- each read is a new statement: it sees what the allocator waited for committed
	LOOP
		SELECT m.new_id INTO mapped FROM mosta.id_map m
		 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
		IF FOUND THEN
			RETURN mapped;
		END IF;
		EXIT WHEN mosta._lock_allocation();
	END LOOP;
	-- the lock may have been free only after another allocator mapped it
	SELECT m.new_id INTO mapped FROM mosta.id_map m
	 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
	IF FOUND THEN
		RETURN mapped;
	END IF;
	INSERT INTO mosta.id_map AS m (collection, legacy_id, new_id)
	VALUES (collection, canonical, mosta._new_id(id_policy, collection, canonical))
	ON CONFLICT DO NOTHING
	RETURNING m.new_id INTO mapped;
	IF mapped IS NULL THEN
		-- the new uuid collided (under the lock, no concurrent caller can have mapped it)
		SELECT m.new_id INTO mapped FROM mosta.id_map m
		 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
		IF mapped IS NULL THEN
			PERFORM mosta._raise_collision(id_policy, collection, canonical);
		END IF;
	END IF;
	RETURN mapped;
END
$$;
COMMENT ON FUNCTION mosta_map_id(text, text) IS
	'Returns the uuid of a legacy id, allocating it under the collection''s id policy on first use';

CREATE FUNCTION mosta_map_ids(collection text, legacy_ids text[]) RETURNS uuid[]
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- scalars, not a record: a record variable makes PL/pgSQL plan its statements again at every call
	id_policy text;
	objectids boolean;
	null_at integer;
	bad text;
	canonical text[];
	mapped uuid[];
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_ids, 'legacy_ids');
	null_at := array_position(legacy_ids, NULL);
	IF null_at IS NOT NULL THEN
		RAISE EXCEPTION 'legacy_ids must not contain NULL'
			USING ERRCODE = 'null_value_not_allowed',
			      DETAIL = format('Element %s of %s is NULL.', null_at, cardinality(legacy_ids)),
			      HINT = 'Leave missing references out: a NULL legacy id has no uuid.';
	END IF;
	SELECT p.policy, p.objectids INTO id_policy, objectids FROM mosta._id_policy(collection) p;
	SELECT u INTO bad FROM unnest(legacy_ids) u
	 WHERE u = '' OR octet_length(u) > 1024 OR (objectids AND u !~ '^[0-9A-Fa-f]{24}$') LIMIT 1;
	IF FOUND THEN
		PERFORM mosta._check_legacy_id(collection, bad, objectids);
	END IF;

	-- only a call that allocates takes the lock. A backfill's batch is new: its first id, unmapped, settles it
	-- at the cost of one lookup; otherwise all are counted (= ANY: one index scan whatever the row estimates).
	canonical := CASE WHEN objectids THEN (SELECT array_agg(lower(u)) FROM unnest(legacy_ids) u)
	                  ELSE legacy_ids END;
	WHILE cardinality(canonical) > 0
	      AND (NOT EXISTS (SELECT 1 FROM mosta.id_map m
	                        WHERE m.collection = mosta_map_ids.collection AND m.legacy_id = canonical[1])
	           OR (SELECT count(*) FROM mosta.id_map m
	                WHERE m.collection = mosta_map_ids.collection AND m.legacy_id = ANY (canonical))
	              < (SELECT count(DISTINCT u) FROM unnest(canonical) u))
	LOOP
		EXIT WHEN mosta._lock_allocation();
	END LOOP;
	-- one statement: the ids already mapped, plus the missing ones inserted (sorted: time-ordered uuids follow them)
	WITH input AS (
		SELECT u.ord, CASE WHEN objectids THEN lower(u.lid) ELSE u.lid END AS lid
		  FROM unnest(legacy_ids) WITH ORDINALITY AS u(lid, ord)
	), known AS (
		SELECT i.ord, i.lid, m.new_id
		  FROM input i
		  LEFT JOIN mosta.id_map m ON m.collection = mosta_map_ids.collection AND m.legacy_id = i.lid
	), added AS (
		INSERT INTO mosta.id_map AS m (collection, legacy_id, new_id)
		SELECT mosta_map_ids.collection, d.lid,
		       CASE id_policy
		       WHEN 'time-ordered' THEN mosta.uuid_v7()
		       WHEN 'deterministic' THEN mosta.uuid_from_legacy_id(mosta_map_ids.collection, d.lid)
		       WHEN 'objectid' THEN mosta.uuid_from_objectid(mosta_map_ids.collection, d.lid)
		       ELSE gen_random_uuid() END
		  FROM (SELECT DISTINCT k.lid FROM known k WHERE k.new_id IS NULL) d
		 ORDER BY d.lid COLLATE "C"
		ON CONFLICT DO NOTHING
		RETURNING m.legacy_id, m.new_id
	)
	SELECT array_agg(coalesce(k.new_id, a.new_id) ORDER BY k.ord) INTO mapped
	  FROM known k LEFT JOIN added a ON a.legacy_id = k.lid;

	IF array_position(mapped, NULL) IS NOT NULL THEN
		-- a uuid collided (or, without the lock, an id was mapped meanwhile): read them all again
		SELECT array_agg(m.new_id ORDER BY u.ord) INTO mapped
		  FROM unnest(legacy_ids) WITH ORDINALITY AS u(lid, ord)
		  LEFT JOIN mosta.id_map m ON m.collection = mosta_map_ids.collection
		       AND m.legacy_id = CASE WHEN objectids THEN lower(u.lid) ELSE u.lid END;
		null_at := array_position(mapped, NULL);
		IF null_at IS NOT NULL THEN
			PERFORM mosta._raise_collision(id_policy, collection,
				CASE WHEN objectids THEN lower(legacy_ids[null_at]) ELSE legacy_ids[null_at] END);
		END IF;
	END IF;
	RETURN coalesce(mapped, '{}');
END
$$;
COMMENT ON FUNCTION mosta_map_ids(text, text[]) IS
	'Returns the uuids of legacy ids in input order, allocating the missing ones in one statement';

CREATE FUNCTION mosta_lookup_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_id, 'legacy_id');
	RETURN (SELECT m.new_id FROM mosta.id_map m
	         WHERE m.collection = mosta_lookup_id.collection
	           AND m.legacy_id = CASE WHEN (mosta._id_policy(mosta_lookup_id.collection)).objectids
	                                  THEN lower(mosta_lookup_id.legacy_id) ELSE mosta_lookup_id.legacy_id END);
END
$$;
COMMENT ON FUNCTION mosta_lookup_id(text, text) IS 'Returns the uuid of a legacy id, or NULL when it is not mapped';

CREATE FUNCTION mosta_require_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	mapped uuid;
BEGIN
	mapped := @extschema@.mosta_lookup_id(collection, legacy_id);
	IF mapped IS NULL THEN
		RAISE EXCEPTION 'legacy id "%" of collection "%" is not mapped', legacy_id, collection
			USING ERRCODE = 'foreign_key_violation',
			      DETAIL = format('A row that refers to %s "%s" cannot be migrated before it.', collection, legacy_id),
			      HINT = format('Backfill collection "%s" first (parents before children), then retry.', collection);
	END IF;
	RETURN mapped;
END
$$;
COMMENT ON FUNCTION mosta_require_id(text, text) IS
	'Returns the uuid of a legacy id, or raises 23503 naming the collection and the id when it is not mapped';

CREATE FUNCTION mosta_legacy_id(collection text, new_id uuid) RETURNS text
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(new_id, 'new_id');
	RETURN (SELECT m.legacy_id FROM mosta.id_map m
	         WHERE m.new_id = mosta_legacy_id.new_id AND m.collection = mosta_legacy_id.collection);
END
$$;
COMMENT ON FUNCTION mosta_legacy_id(text, uuid) IS
	'Returns the legacy id a uuid was allocated for in a collection, or NULL';

------------------------------------------------------------------------------
-- Privileges of id_map
------------------------------------------------------------------------------

REVOKE ALL ON mosta.id_map, mosta.id_policies FROM PUBLIC;
GRANT SELECT ON mosta.id_map, mosta.id_policies TO mosta_admin;
-- the MongoDB sink gives rows migrated from MongoDB their legacy ObjectId back as _id (docs/mongodb.md)
GRANT SELECT ON mosta.id_map TO mosta_sidecar;
REVOKE ALL ON FUNCTION
	mosta._id_policy(text),
	mosta._check_legacy_id(text, text, boolean),
	mosta._check_collection(text),
	mosta._new_id(text, text, text),
	mosta._raise_collision(text, text, text),
	mosta._lock_allocation(),
	mosta_set_id_policy(text, text, boolean),
	mosta_map_id(text, text),
	mosta_map_ids(text, text[]),
	mosta_lookup_id(text, text),
	mosta_require_id(text, text),
	mosta_legacy_id(text, uuid)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	mosta_set_id_policy(text, text, boolean),
	mosta_map_id(text, text),
	mosta_map_ids(text, text[]),
	mosta_lookup_id(text, text),
	mosta_require_id(text, text),
	mosta_legacy_id(text, uuid)
	TO mosta_admin;
-- pure generators, useful as column defaults (DEFAULT mosta.uuid_v7()): everyone
GRANT EXECUTE ON FUNCTION mosta.uuid_v7(), mosta.uuid_v5(uuid, text), mosta.uuid_from_legacy_id(text, text),
	mosta.uuid_from_objectid(text, text) TO PUBLIC;
