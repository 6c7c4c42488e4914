-- 10_replicas.sql: mosta_add_replica and mosta_remove_replica: happy paths,
-- every rejection by SQLSTATE (with message or hint where it matters), and
-- the activity log.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(110);

\ir support/helpers.psql

-- activity_count returns how many activity rows there are.
CREATE FUNCTION pg_temp.activity_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM mosta.activity $$;

------------------------------------------------------------------------------
-- happy paths
------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM mosta.projects), 0::bigint, 'no project before the first replica');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'primary', 'master', 'postgres',
                                            'postgresql://app:secret@db1:5432/shop')$$,
                'a master is added');
SELECT is((SELECT array_agg(name::text) FROM mosta.projects), ARRAY['shop'],
          'the first replica creates its project');
SELECT row_eq($$SELECT role, dialect, uri, lag_tolerance_ms, pool_min, pool_max FROM mosta.replicas
                 WHERE project = 'shop' AND name = 'primary'$$,
              ROW('master'::text, 'postgres'::text, 'postgresql://app:secret@db1:5432/shop'::text, 5000::bigint, 1, 10),
              'defaults: lag_tolerance_ms 5000, pool 1..10; the raw URI is stored');
SELECT is(pg_temp.activity_count(), 1::bigint, 'one activity row after one add');
SELECT row_eq($$SELECT action, project, object, actor::text FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('add_replica'::text, 'shop'::text, 'primary'::text, session_user::text),
              'the activity row names the action, project, replica and actor');

SELECT lives_ok($$SELECT mosta_add_replica('shop', 'pg-1', 'slave', 'postgres', 'host=db2 port=5432 dbname=shop',
                                            200, 2, 4)$$,
                'a postgres slave with key=value conninfo and explicit settings is added');
SELECT row_eq($$SELECT role, lag_tolerance_ms, pool_min, pool_max FROM mosta.replicas
                 WHERE project = 'shop' AND name = 'pg-1'$$,
              ROW('slave'::text, 200::bigint, 2, 4), 'explicit lag tolerance and pool sizes are stored');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'mongo', 'slave', 'mongodb', 'mongodb://u:pw@m1:27017,m2/shop')$$,
                'a mongodb slave is added');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'lite', 'slave', 'sqlite', 'file:shop.db?mode=ro')$$,
                'a sqlite slave is added');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'dump', 'slave', 'sqldump', '/var/backups/shop.sql')$$,
                'a sqldump slave is added');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'export', 'slave', 'jsonl', '/var/export/')$$,
                'a jsonl slave (directory) is added');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'zero', 'slave', 'postgres', 'postgresql://db3/shop', 0, 0, 1)$$,
                'lag_tolerance_ms 0 and pool 0..1 are accepted');
SELECT lives_ok(format($$SELECT mosta_add_replica('shop', %L, 'slave', 'sqlite', ':memory:')$$, repeat('n', 63)),
                'a 63-character name is accepted');
SELECT lives_ok($$SELECT mosta_add_replica('Shop_2.eu-west', '0db', 'master', 'postgres', 'postgresql://db4/s')$$,
                'names may use letters, digits, "_", "." and "-", and start with a digit');
SELECT lives_ok($$SELECT mosta_add_replica('blog', 'primary', 'master', 'postgres', 'postgresql://db5/blog')$$,
                'a master in another project is fine');
SELECT is(pg_temp.activity_count(), 10::bigint, 'one activity row per successful add');

------------------------------------------------------------------------------
-- rejections
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'boss', 'postgres', 'postgresql://h/d')$$,
                 '22023', 'invalid role "boss"', 'unknown role is refused with 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('shop', 'x', 'boss', 'postgres', 'postgresql://h/d')$$))[4],
          'Valid values for role are: master, slave.', 'the role error hints at the valid roles');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'slave', 'oracle', 'x')$$,
                 '22023', 'invalid dialect "oracle"', 'unknown dialect is refused with 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('shop', 'x', 'slave', 'oracle', 'x')$$))[4],
          'Valid values for dialect are: postgres, sqlite, mongodb, sqldump, jsonl.',
          'the dialect error hints at the valid dialects');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'MASTER', 'postgres', 'postgresql://h/d')$$,
                 '22023', 'invalid role "MASTER"', 'roles are case-sensitive');

-- masters must be readable stores
SELECT throws_ok(format($$SELECT mosta_add_replica('archive', 'm', 'master', %L, %L)$$, dialect, uri), '22023',
                 format('a %s replica cannot be a master', dialect), format('a %s master is refused', dialect))
  FROM (VALUES ('sqldump', '/backups/a.sql'), ('jsonl', '/export/')) AS d(dialect, uri);
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('archive', 'm', 'master', 'jsonl', '/export/')$$))[4],
          'Add it with role ''slave''; masters are postgres, sqlite or mongodb.',
          'the file-master error hints at role slave');
SELECT lives_ok($$SELECT mosta_add_replica('docs', 'm', 'master', 'mongodb', 'mongodb://m1/docs')$$,
                'a mongodb master is accepted');
SELECT lives_ok($$SELECT mosta_add_replica('local', 'm', 'master', 'sqlite', 'local.db')$$,
                'a sqlite master is accepted');
SELECT is(mosta_remove_replica('docs', 'm') AND mosta_remove_replica('local', 'm'), true, 'and both are removed');

-- each NULL argument
SELECT throws_ok(format('SELECT mosta_add_replica(%s)', args), '22004',
                 format('argument "%s" must not be null', arg), format('NULL %s is refused with 22004', arg))
  FROM (VALUES
	('project', $$NULL, 'x', 'slave', 'sqlite', 'a.db'$$),
	('name', $$'shop', NULL, 'slave', 'sqlite', 'a.db'$$),
	('role', $$'shop', 'x', NULL, 'sqlite', 'a.db'$$),
	('dialect', $$'shop', 'x', 'slave', NULL, 'a.db'$$),
	('uri', $$'shop', 'x', 'slave', 'sqlite', NULL$$),
	('lag_tolerance_ms', $$'shop', 'x', 'slave', 'sqlite', 'a.db', NULL$$),
	('pool_min', $$'shop', 'x', 'slave', 'sqlite', 'a.db', 5000, NULL$$),
	('pool_max', $$'shop', 'x', 'slave', 'sqlite', 'a.db', 5000, 1, NULL$$)
  ) AS t(arg, args);
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('shop', 'x', 'slave', 'sqlite', NULL)$$))[4],
          'Pass a value for uri.', 'the NULL error hints at the argument');

-- bad names, for the replica and for the project
SELECT throws_ok(format($$SELECT mosta_add_replica(%L, %L, 'slave', 'sqlite', 'a.db')$$, project, name), '22023',
                 format('invalid %s "%s"', which, bad), format('%s %s is refused with 22023', which, why))
  FROM (VALUES ('', 'empty'), ('two words', 'with a space'), (repeat('a', 64), 'of 64 characters'),
               ('-lead', 'with a leading "-"'), ('_lead', 'with a leading "_"'), ('naïve', 'with a non-ASCII letter'),
               (E'a\n', 'with a trailing newline')) AS b(bad, why),
       LATERAL (VALUES ('name', 'shop', bad), ('project', bad, 'x')) AS w(which, project, name);
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('shop', 'a b', 'slave', 'sqlite', 'a.db')$$))[4],
          'Use 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit.',
          'the name error hints at the allowed characters');

-- duplicates and the one-master rule
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'pg-1', 'slave', 'sqlite', 'b.db')$$,
                 '23505', 'replica "pg-1" already exists in project "shop"', 'a duplicate replica name is refused');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'primary', 'master', 'postgres', 'postgresql://h/d')$$,
                 '23505', 'replica "primary" already exists in project "shop"',
                 're-adding the master under its own name is a duplicate, not a second master');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'primary2', 'master', 'postgres', 'postgresql://h/d')$$,
                 '23505', 'project "shop" already has a master "primary"', 'a second master in a project is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('shop', 'primary2', 'master', 'postgres',
                                                       'postgresql://h/d')$$))[3],
          'A project has exactly one master: writes go there.', 'the second-master error explains why');
SELECT is((SELECT count(*) FROM mosta.replicas WHERE role = 'master'), 3::bigint,
          'still one master in each of the three projects');

-- lag tolerance and pool sizes
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'slave', 'sqlite', 'a.db', -1)$$,
                 '22023', 'lag_tolerance_ms must not be negative', 'a negative lag tolerance is refused');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'slave', 'sqlite', 'a.db', 5000, 5, 4)$$,
                 '22023', 'invalid pool size: pool_min 5 and pool_max 4', 'pool_min > pool_max is refused');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'slave', 'sqlite', 'a.db', 5000, 0, 0)$$,
                 '22023', 'invalid pool size: pool_min 0 and pool_max 0', 'pool_max 0 is refused');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'slave', 'sqlite', 'a.db', 5000, -1, 4)$$,
                 '22023', 'invalid pool size: pool_min -1 and pool_max 4', 'a negative pool_min is refused');

-- malformed URIs, per dialect
SELECT throws_ok(format($$SELECT mosta_add_replica('shop', 'x', 'slave', %L, %L)$$, dialect, uri), '22023', NULL,
                 format('%s URI %s is refused with 22023', dialect, quote_literal(uri)))
  FROM (VALUES ('postgres', 'mysql://x'), ('postgres', 'host=x nosuchoption=1'), ('postgres', 'host=x dbname'),
               ('mongodb', 'mongodb://'), ('mongodb', 'mongodb+srv://a,b'), ('mongodb', 'mongodb://h:99999'),
               ('mongodb', 'postgresql://h/d'), ('sqlite', ''), ('sqlite', 'http://x/y.db'), ('sqlite', 'dir/'),
               ('sqldump', 'dir/'), ('sqldump', '   '), ('jsonl', 'ftp://x')) AS u(dialect, uri);
SELECT is((pg_temp.error_of($$SELECT mosta_add_replica('shop', 'x', 'slave', 'postgres', 'mysql://x')$$))[2],
          'invalid postgres connection string "mysql://x": unsupported scheme "mysql"',
          'the URI error says which dialect and what is wrong');
SELECT ok((pg_temp.error_of(format($$SELECT mosta_add_replica('shop', 'x', 'slave', %L, %L)$$, dialect, uri)))[4]
          LIKE 'Use %', format('the %s URI error hints at the accepted forms', dialect))
  FROM (VALUES ('postgres', 'mysql://x'), ('mongodb', 'mongodb://'), ('sqlite', 'http://x/y.db'),
               ('sqldump', 'dir/'), ('jsonl', 'ftp://x')) AS u(dialect, uri);

-- libpq's PQconninfoParse does not check ports (libpq fails only when connecting): check_uri does
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'x', 'slave', 'postgres', 'postgresql://u:S3cret@host:notaport/db')$$,
                 '22023', 'invalid postgres connection string "postgresql://u:***@host:notaport/db": invalid port "notaport" (must be 1 to 65535)',
                 $$postgres URI 'postgresql://host:notaport/db' (port not a number) is refused, password masked$$);
SELECT lives_ok($$SELECT mosta.check_uri('postgres', 'host=x port=')$$,
                $$postgres conninfo 'host=x port=' (empty port: libpq's default) is accepted$$);

SELECT is((SELECT count(*) FROM mosta.replicas WHERE name IN ('x', 'y')), 0::bigint,
          'no refused replica was stored');
SELECT throws_ok($$SELECT mosta_add_replica('ghost', 'x', 'slave', 'sqlite', 'http://x/y.db')$$,
                 '22023', NULL, 'a new project whose first replica has a bad URI is refused');
SELECT is((SELECT count(*) FROM mosta.projects WHERE name = 'ghost'), 0::bigint,
          'a refused first replica does not leave its project behind');
SELECT is(pg_temp.activity_count(), 14::bigint, 'refused calls add no activity row (14 successful calls so far)');

------------------------------------------------------------------------------
-- mosta_remove_replica
------------------------------------------------------------------------------
SELECT is(mosta_remove_replica('shop', 'lite'), true, 'removing a replica returns true');
SELECT is((SELECT count(*) FROM mosta.replicas WHERE project = 'shop' AND name = 'lite'), 0::bigint,
          'the removed replica is gone');
SELECT row_eq($$SELECT action, project, object, detail FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('remove_replica'::text, 'shop'::text, 'lite'::text, '{"role": "slave"}'::jsonb),
              'the removal is logged with the removed role');
SELECT throws_ok($$SELECT mosta_remove_replica('shop', 'lite')$$, '42704',
                 'replica "lite" does not exist in project "shop"', 'removing an unknown replica raises 42704');
SELECT throws_ok($$SELECT mosta_remove_replica('nowhere', 'lite')$$, '42704',
                 'project "nowhere" does not exist', 'removing from an unknown project raises 42704 naming the project');
SELECT is(mosta_remove_replica('shop', 'lite', if_exists => true), false, 'if_exists => true returns false');
SELECT is(mosta_remove_replica('shop', 'lite', true), false, 'if_exists as a positional argument returns false');
SELECT throws_ok(format('SELECT mosta_remove_replica(%s)', args), '22004',
                 format('argument "%s" must not be null', arg),
                 format('mosta_remove_replica: NULL %s raises 22004', arg))
  FROM (VALUES ('project', $$NULL, 'x'$$), ('name', $$'shop', NULL$$), ('if_exists', $$'shop', 'x', NULL$$))
       AS t(arg, args);
SELECT is(pg_temp.activity_count(), 15::bigint, 'only the successful removal was logged');

-- the project goes with its last replica, unless a rule names it
SELECT is(mosta_remove_replica('Shop_2.eu-west', '0db'), true, 'the last replica of a project is removed');
SELECT is((SELECT count(*) FROM mosta.projects WHERE name = 'Shop_2.eu-west'), 0::bigint,
          'removing the last replica of a project without rules removes the project');
SELECT lives_ok($$SELECT mosta_set_read_routing('blog', 'random')$$, 'routing set on project blog');
CREATE TABLE public.posts (id int PRIMARY KEY);
SELECT lives_ok($$SELECT mosta_add_rule('blog-to-shop', 'blog', 'shop', 'cdc', ARRAY['posts'])$$,
                'a rule from blog to shop is added');
SELECT is(mosta_remove_replica('blog', 'primary'), true, 'the last replica of blog is removed');
SELECT is((SELECT count(*) FROM mosta.projects WHERE name = 'blog'), 1::bigint,
          'a project a rule names outlives its last replica');
SELECT is(mosta_remove_rule('blog-to-shop'), true, 'the rule is removed');
SELECT lives_ok($$SELECT mosta_add_replica('blog', 'primary', 'master', 'postgres', 'postgresql://db5/blog')$$,
                'the project gets a replica again');
SELECT is(mosta_remove_replica('blog', 'primary'), true, 'and loses it');
SELECT is((SELECT count(*) FROM mosta.projects WHERE name = 'blog'), 0::bigint,
          'once no rule names it, removing its last replica removes the project');
SELECT is((SELECT count(*) FROM mosta.routing WHERE project = 'blog'), 0::bigint,
          'the routing row goes with the project');
SELECT is(mosta_remove_replica('shop', 'primary'), true, 'the master can be removed');
SELECT lives_ok($$SELECT mosta_add_replica('shop', 'primary2', 'master', 'postgres', 'postgresql://h/d')$$,
                'after removing the master a new master can be added');

SELECT * FROM finish();
ROLLBACK;
