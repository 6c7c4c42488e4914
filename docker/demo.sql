-- docker/demo.sql: a table, this database as the project's master, three file
-- targets in the sidecar's volume and a CDC rule; docker/README.md ("Declare
-- replicas and a rule") walks through it, and scripts/check-containers runs it:
--
--   docker compose -f docker/compose.yaml exec -T postgres psql -X -v ON_ERROR_STOP=1 -d shop <docker/demo.sql
--
-- Target URIs are paths inside the sidecar container, under its data directory
-- /var/lib/mosta (MOSTA_DATA_DIR, the volume "mosta"); a relative URI such as
-- 'shop.db' lands there too.
CREATE TABLE users (id bigint PRIMARY KEY, email text);
INSERT INTO users VALUES (1, 'ada@example.com');

SELECT mosta_add_replica('shop', 'master-pg', 'master', 'postgres', 'postgresql://postgres@postgres:5432/shop');
SELECT mosta_add_replica('shop', 'slave',   'slave', 'sqlite',  '/var/lib/mosta/shop.db');
SELECT mosta_add_replica('shop', 'dump',    'slave', 'sqldump', '/var/lib/mosta/shop.sql');
SELECT mosta_add_replica('shop', 'archive', 'slave', 'jsonl',   '/var/lib/mosta/archive/');
SELECT mosta_add_rule('shop-cdc', 'shop', 'shop', 'cdc', ARRAY['users']);
