-- types: how every built-in type family, enums, domains, composites, arrays
-- and NULL are written as JSON values in the change documents.
\set VERBOSITY terse
SET synchronous_commit = on;
-- settings whose text forms are what the plugin writes (the last part of
-- this file checks that other settings decode the same WAL to the same bytes)
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';

SELECT 'init' FROM pg_create_logical_replication_slot('regress_types', 'mostajs');

CREATE TABLE ty_int (id serial PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, o oid);
INSERT INTO ty_int (i2, i4, i8, o) VALUES
	(-32768, -2147483648, -9223372036854775808, 0),
	(32767, 2147483647, 9223372036854775807, 4294967295),
	(0, -1, 1, 16384),
	(NULL, NULL, NULL, NULL);

CREATE TABLE ty_float (id serial PRIMARY KEY, r real, d double precision);
INSERT INTO ty_float (r, d) VALUES
	('NaN', 'NaN'),
	('Infinity', 'Infinity'),
	('-Infinity', '-Infinity'),
	('-0', '-0'),
	(0, 0),
	(0.1, 0.1),
	(1.5, -2.25),
	(1e30, 1e300),
	(-3.4028235e38, 1.7976931348623157e308),
	(1e-45, 5e-324),
	(1.0 / 3, 1.0 / 3),
	(123456789, 1e-5),
	(NULL, NULL);

CREATE TABLE ty_numeric (id serial PRIMARY KEY, n numeric, n2 numeric(10, 3), m money);
INSERT INTO ty_numeric (n, n2, m) VALUES
	('NaN', 1.5, '1234.56'),
	('Infinity', 0, '-0.01'),
	('-Infinity', -1.0005, '0'),
	(1.500, 2.10, '92233720368547758.07'),
	(-123456789012345678901234567890.123456789000, NULL, NULL),
	(0.000000000000000000001, 1e6, 1),
	(NULL, NULL, NULL);

CREATE TABLE ty_bool (id serial PRIMARY KEY, b boolean);
INSERT INTO ty_bool (b) VALUES (true), (false), (NULL);

CREATE TABLE ty_text (id serial PRIMARY KEY, c char(5), vc varchar(12), t text, n name, ch "char");
INSERT INTO ty_text (c, vc, t, n, ch) VALUES
	('ab', 'plain', 'plain', 'plain', 'x'),
	('"q"', 'say "hi"', 'it''s "quoted"', 'na"me', '"'),
	('\', 'back\slash', E'C:\\dir\\file', E'a\\b', '\'),
	(E'a\tb', E'tab\there', E'line1\nline2\r\nline3', E'new\nline', E'\n'),
	('é', 'naïve café', '日本語 – 😀 ∑', 'ünïcödé', 'é'),
	(E'\x01', E'\x1f', E'bell\x07 del\x7f', E'\x02', E'\x03'),
	('', '', '', '', ''),
	('{,}', '[1,2]', '{"not":"json"}', 'a,b', ','),
	(NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ty_bytea (id serial PRIMARY KEY, b bytea);
INSERT INTO ty_bytea (b) VALUES ('\x'), ('\x00ff10'), ('abc'::bytea), (E'\\\\ "'::bytea), (NULL);

CREATE TABLE ty_time (id serial PRIMARY KEY, d date, t time, ttz timetz, ts timestamp, tstz timestamptz,
	ts3 timestamp(3), iv interval);
INSERT INTO ty_time (d, t, ttz, ts, tstz, ts3, iv) VALUES
	('2024-02-29', '12:34:56.789', '12:34:56+05:30', '2024-02-29 12:34:56.789012',
	 '2024-02-29 12:34:56.5+02', '2024-02-29 12:34:56.7896', '1 year 2 months 3 days 04:05:06.7'),
	('infinity', '24:00', '00:00-03', 'infinity', 'infinity', 'infinity', '-1 day -00:00:01'),
	('-infinity', '00:00', '23:59:59.999999+14', '-infinity', '-infinity', '-infinity', '0'),
	('0044-03-15 BC', '00:00:00.000001', '01:02:03-12:34', '0044-03-15 12:00 BC', '0044-03-15 12:00+00 BC',
	 '4713-01-01 00:00 BC', '-178000000 years'),
	('1999-12-31', '23:59:59.999999', '10:00+00', '2000-01-01 00:00:00', '1999-12-31 23:59:59.999999-08',
	 '1970-01-01 00:00', '1 mon -1 day 25:00'),
	('294276-12-31', '12:00', '12:00+00', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00',
	 '0001-01-01 00:00', '00:00:00.000001'),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ty_net (id serial PRIMARY KEY, u uuid, i inet, c cidr, m macaddr, m8 macaddr8, l pg_lsn);
INSERT INTO ty_net (u, i, c, m, m8, l) VALUES
	('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
	 '08:00:2b:01:02:03:04:05', '0/0'),
	('00000000-0000-0000-0000-000000000000', '::ffff:1.2.3.4', '2001:db8::/32', 'ff-ff-ff-ff-ff-ff',
	 '0800.2b01.0203.0405', 'FFFFFFFF/A0'),
	(NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ty_bit (id serial PRIMARY KEY, b bit(4), vb varbit);
INSERT INTO ty_bit (b, vb) VALUES (B'1010', B''), (B'0000', B'1111000011'), (NULL, NULL);

CREATE TABLE ty_doc (id serial PRIMARY KEY, j json, jb jsonb, x xml, tv tsvector, tq tsquery, jp jsonpath);
INSERT INTO ty_doc (j, jb, x, tv, tq, jp) VALUES
	('{"a": 1, "b": [true, null, "s"]}', '{"b": [1, 2.50, {"c": null}], "a": "x"}', '<a x="1">t&amp;u</a>',
	 'a fat cat', 'fat & (rat | cat)', '$.a[*] ? (@ > 1)'),
	(E'{\n  "multi": "line",\r\n  "esc": "q\\"\\n\\u00e9"\n}', E'{"nl": "a\\nb", "q": "\\"", "u": "\\u00e9"}',
	 E'<doc>\n  <p>two lines</p>\n</doc>', E'it''s a\\ test', 'a:*', '$'),
	('"just a string"', '42', '<?xml version="1.0"?><r/>', '', 'x', 'strict $.a'),
	('[]', '[]', 'text node', 'x:1A', '!x', '$.a.b'),
	('null', 'null', NULL, NULL, NULL, NULL),
	(NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ty_geo (id serial PRIMARY KEY, p point, l line, s lseg, b box, pa path, po polygon, c circle);
INSERT INTO ty_geo (p, l, s, b, pa, po, c) VALUES
	('(1,2)', '{1,-1,0}', '[(0,0),(1,1)]', '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))',
	 '<(0,0),1.5>'),
	(point(1.0 / 3, -0.5), '{0,1,-2.5}', '[(1,2),(3,4)]', '(1,1),(1,1)', '((0,0),(1,0))', '((1,1))', '<(1,-1),0>'),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ty_range (id serial PRIMARY KEY, i4r int4range, i8r int8range, nr numrange, dr daterange,
	tsr tsrange, tstzr tstzrange, i4mr int4multirange);
INSERT INTO ty_range (i4r, i8r, nr, dr, tsr, tstzr, i4mr) VALUES
	('[1,10)', '(0,5]', '[1.5,2.50]', '[2024-01-01,2024-02-01)', '[2024-01-01 10:00,2024-01-01 12:00)',
	 '[2024-01-01 10:00+00,2024-01-01 12:00+01)', '{[1,3),[5,7)}'),
	('empty', '(,)', '(,1.0)', '[2024-01-01,infinity)', '(,)', '[-infinity,infinity]', '{}'),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ty_array (id serial PRIMARY KEY, ai int[], ai2 int[][], at text[], af float8[], an numeric[],
	ab bool[], aby bytea[], ats timestamptz[], aj jsonb[], aiv interval[]);
INSERT INTO ty_array (ai, ai2, at, af, an, ab, aby, ats, aj, aiv) VALUES
	('{1,2,3}', '{{1,2},{3,4},{5,6}}', '{"a,b","say \"hi\"","back\\slash","{}",NULL,"NULL",""}',
	 '{NaN,Infinity,-0,0.5}', '{1.50,NaN,-0}', '{t,f,NULL}', '{"\\x00ff",NULL}',
	 '{"2024-01-01 00:00+00",infinity}', ARRAY['{"a":1}'::jsonb, '[1,"x"]', NULL], '{"1 day","-00:00:01"}'),
	('{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
	('{NULL}', '{{NULL,1},{2,NULL}}', ARRAY[E'new\nline', E'tab\t', 'ü'], '{1e300}', '{1e-20}', '{NULL}',
	 '{"\\x"}', '{NULL}', '{null}', '{NULL}'),
	('[0:2]={7,8,9}', '[1:1][3:4]={{1,2}}', '{{a,b},{c,d}}', '{{{1}},{{2}}}', NULL, NULL, NULL, NULL, NULL, NULL),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TYPE ty_mood AS ENUM ('sad', 'ok', 'happy', 'it''s "quoted"', 'é ü');
CREATE DOMAIN ty_posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN ty_email AS text CHECK (VALUE LIKE '%@%');
CREATE DOMAIN ty_tags AS text[] CHECK (cardinality(VALUE) < 5);
CREATE DOMAIN ty_when AS timestamptz NOT NULL;
CREATE DOMAIN ty_doc_domain AS jsonb;
CREATE TYPE ty_pair AS (a integer, b text);
CREATE TYPE ty_nested AS (p ty_pair, tags text[], m ty_mood);
-- a composite of fields whose output functions read session settings
CREATE TYPE ty_reading AS (at timestamptz, d date, v float8, raw bytea, span interval);
CREATE TABLE ty_user (id serial PRIMARY KEY, m ty_mood, ms ty_mood[], p ty_posint, ps ty_posint[], e ty_email,
	tg ty_tags, w ty_when, jd ty_doc_domain, c ty_pair, cs ty_pair[], n ty_nested, r ty_reading);
INSERT INTO ty_user (m, ms, p, ps, e, tg, w, jd, c, cs, n, r) VALUES
	('happy', '{sad,ok}', 1, '{1,2}', 'a@b.c', '{x,"y z"}', '2024-01-01 00:00+00', '{"k": [1]}',
	 ROW(1, 'one'), ARRAY[ROW(1, 'a b')::ty_pair, ROW(NULL, NULL)::ty_pair, NULL],
	 ROW(ROW(2, 'it''s "x"'), '{a,"b,c"}', 'ok'),
	 ROW('2024-01-01 10:00+00', '2024-12-31', 1.0 / 3, '\x00ff', '1 day 02:00')),
	('it''s "quoted"', ARRAY['é ü'::ty_mood, NULL], 2147483647, '{}', '"q"@x', '{}', 'infinity', 'null',
	 ROW(NULL, ''), '{}', ROW(NULL, NULL, NULL), ROW(NULL, NULL, NULL, NULL, NULL)),
	(NULL, NULL, NULL, NULL, NULL, NULL, '2000-01-01', NULL, NULL, NULL, NULL, NULL);

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_types', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

SELECT data FROM pg_logical_slot_peek_changes('regress_types', NULL, NULL);

-- the declared type of every column (include-types); types outside pg_catalog
-- (domains, enums, composites) schema-qualified, whatever the search_path
SELECT DISTINCT data::jsonb->>'table' AS "table", data::jsonb->'types' AS types
FROM pg_logical_slot_peek_changes('regress_types', NULL, NULL, 'include-types', '1')
WHERE data::jsonb->>'op' = 'insert'
ORDER BY 1;

-- the same WAL decodes to the same bytes whatever the session's settings
CREATE TEMP TABLE decoded_before AS
SELECT n, data FROM pg_logical_slot_peek_changes('regress_types', NULL, NULL, 'include-types', '1')
	WITH ORDINALITY AS c(lsn, xid, data, n);
SET TimeZone = 'Asia/Kathmandu';
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -3;
SET bytea_output = 'escape';
SET search_path = pg_catalog;
CREATE TEMP TABLE decoded_after AS
SELECT n, data FROM pg_logical_slot_peek_changes('regress_types', NULL, NULL, 'include-types', '1')
	WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT n, b.data AS before, a.data AS after
FROM decoded_before b FULL JOIN decoded_after a USING (n)
WHERE b.data IS DISTINCT FROM a.data
ORDER BY n;
RESET TimeZone;
RESET DateStyle;
RESET IntervalStyle;
RESET extra_float_digits;
RESET bytea_output;
RESET search_path;

SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regress_types', NULL, NULL);
SELECT pg_drop_replication_slot('regress_types');
DROP TABLE ty_int, ty_float, ty_numeric, ty_bool, ty_text, ty_bytea, ty_time, ty_net, ty_bit, ty_doc, ty_geo,
	ty_range, ty_array, ty_user;
DROP TYPE ty_reading, ty_nested, ty_pair;
DROP DOMAIN ty_posint, ty_email, ty_tags, ty_when, ty_doc_domain;
DROP TYPE ty_mood;
