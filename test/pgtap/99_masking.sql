-- 99_masking.sql: mosta.mask_uri and mosta.mask_text against the table of
-- cases the sidecar's GoogleTest reads too (test/cases/masking.tsv, read
-- here client-side by psql's \copy, so no file access is needed on the
-- server), and every PUBLIC path a stored secret could take (issue 10, item 9).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;

CREATE TEMP TABLE masking_cases (position serial, kind text, input text, expected text, secrets text);
\copy masking_cases (kind, input, expected, secrets) FROM PROGRAM 'grep -v -e "^#" -e "^$" test/cases/masking.tsv'

SELECT plan((SELECT count(*)::integer * 3 FROM masking_cases) + 9);

\ir support/helpers.psql

-- mask applies the function of a case's kind
CREATE FUNCTION pg_temp.mask(kind text, input text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE kind WHEN 'uri' THEN mosta.mask_uri(input) ELSE mosta.mask_text(input) END
$$;

-- leaked returns the secrets of a case that appear in masked, or NULL
CREATE FUNCTION pg_temp.leaked(masked text, secrets text) RETURNS text[] LANGUAGE sql AS $$
	SELECT array_agg(s) FROM unnest(string_to_array(secrets, '|')) s WHERE s <> '' AND strpos(masked, s) > 0
$$;

SELECT is(pg_temp.mask(kind, input), expected, format('%s: %s', kind, left(input, 70)))
  FROM masking_cases ORDER BY position;
SELECT is(pg_temp.leaked(pg_temp.mask(kind, input), secrets), NULL, format('%s leaks nothing: %s', kind, left(input, 60)))
  FROM masking_cases ORDER BY position;
SELECT is(pg_temp.mask(kind, pg_temp.mask(kind, input)), pg_temp.mask(kind, input),
          format('%s is idempotent: %s', kind, left(input, 60)))
  FROM masking_cases ORDER BY position;

SELECT cmp_ok((SELECT count(*) FROM masking_cases), '>', 80::bigint, 'the shared table was read');

------------------------------------------------------------------------------
-- what reaches PUBLIC goes through the masking: URIs and error texts
------------------------------------------------------------------------------
SELECT mosta_add_replica('p', 'primary', 'master', 'postgres', 'host=h password=pgsecret sslpassword=sslsecret');
SELECT mosta_add_replica('p', 'docs', 'slave', 'mongodb',
                         'mongodb://u:mongosecret@h/db?authMechanismProperties=AWS_SESSION_TOKEN:awstoken');
SELECT mosta_add_replica('p', 'lite', 'slave', 'sqlite', 'file:/data/app.db?hexkey=sqlitekey&mode=rwc');
CREATE TABLE public.t (id int PRIMARY KEY);
SELECT mosta_add_rule('r', 'p', 'p', 'cdc', ARRAY['public.t']);
INSERT INTO mosta.replica_status (project, replica, status, last_error)
VALUES ('p', 'docs', 'error', 'auth failed: {"password": "jsonsecret"} password => ''hashsecret''');
INSERT INTO mosta.rule_stats (rule, status, last_error)
VALUES ('r', 'error', 'open failed: file:/data/app.db?key=rulekey ("password"=quotedsecret)');
INSERT INTO mosta.target_status (rule, project, replica, slot, status, last_error, warning)
VALUES ('r', 'p', 'lite', 's', 'error', 'PGPASSWORD=envsecret psql', 'dsn=host%3Dh%20password%3Dencodedsecret');

-- secrets_in returns which of the planted secrets text shows
CREATE FUNCTION pg_temp.secrets_in(text text) RETURNS text[] LANGUAGE sql AS $$
	SELECT array_agg(s) FROM unnest(ARRAY['pgsecret', 'sslsecret', 'mongosecret', 'awstoken', 'sqlitekey', 'jsonsecret',
	                                      'hashsecret', 'rulekey', 'quotedsecret', 'envsecret', 'encodedsecret']) s
	 WHERE strpos(text, s) > 0
$$;

SELECT is(pg_temp.secrets_in((SELECT string_agg(r::text, ' ') FROM mosta_replica_status() r)), NULL,
          'mosta_replica_status() shows no secret');
SELECT is(pg_temp.secrets_in((SELECT string_agg(r::text, ' ') FROM mosta_rules() r)), NULL,
          'mosta_rules() shows no secret');
SELECT is(pg_temp.secrets_in((SELECT string_agg(r::text, ' ') FROM mosta_rule_targets() r)), NULL,
          'mosta_rule_targets() shows no secret');
SELECT is(pg_temp.secrets_in(mosta_topology()::text), NULL, 'mosta_topology() (the --tree file) shows no secret');
SELECT is(pg_temp.secrets_in((SELECT string_agg(r::text, ' ') FROM mosta.replicas_masked r)), NULL,
          'mosta.replicas_masked shows no secret');
SELECT is(pg_temp.secrets_in((SELECT string_agg(a.detail::text, ' ') FROM mosta.activity a)), NULL,
          'the activity log shows no secret');
SELECT ok(strpos(mosta_topology()::text, 'AWS_SESSION_TOKEN:***') > 0
          AND strpos(mosta_topology()::text, 'hexkey=***') > 0, 'the topology still shows which keys were masked');
SELECT is(pg_temp.secrets_in((SELECT string_agg(uri, ' ') FROM mosta.replicas)),
          ARRAY['pgsecret', 'sslsecret', 'mongosecret', 'awstoken', 'sqlitekey'], 'while the catalog holds them all');

SELECT * FROM finish();
ROLLBACK;
