-- Run once, on the container's first start, in POSTGRES_DB (docker/postgres-entrypoint.sh).
-- Creates schema mosta, the mosta_* functions and the role mosta_admin (docs/sql-api.md).
CREATE EXTENSION IF NOT EXISTS mostajs;
