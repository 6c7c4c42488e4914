/*
 * state.cpp
 *     EnsureState (state.hpp): the DDL of the migration's state tables, exactly as docs/migration.md ("State
 *     schema") lists them. Every statement is IF NOT EXISTS, so every command may run it first.
 */
#include "state.hpp"

#include "pg/errors.hpp"

namespace mosta::migrate {

namespace {

constexpr const char *kStateDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS mosta_migration;
CREATE TABLE IF NOT EXISTS mosta_migration.checkpoints (
  mapping text NOT NULL, collection text NOT NULL,
  last_id text,
  documents bigint NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,
  PRIMARY KEY (mapping, collection));
CREATE TABLE IF NOT EXISTS mosta_migration.stream (
  mapping text PRIMARY KEY,
  resume_token text NOT NULL,
  start_token text NOT NULL,
  applied bigint NOT NULL DEFAULT 0,
  last_event_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  cutover_requested_at timestamptz, stopped_at timestamptz);
CREATE TABLE IF NOT EXISTS mosta_migration.problems (
  mapping text NOT NULL, collection text NOT NULL, legacy_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('missing_parent', 'rejected')),
  field text NOT NULL DEFAULT '', parent_collection text, parent_legacy_id text, sqlstate text, message text NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(), last_seen timestamptz NOT NULL DEFAULT now(), attempts integer NOT NULL DEFAULT 1,
  PRIMARY KEY (mapping, collection, legacy_id, kind, field));
CREATE TABLE IF NOT EXISTS mosta_migration.shadow (
  mapping text NOT NULL, collection text NOT NULL,
  checked bigint NOT NULL DEFAULT 0, mismatches bigint NOT NULL DEFAULT 0, errors bigint NOT NULL DEFAULT 0,
  clean_since timestamptz,
  last_mismatch_at timestamptz, last_mismatch_key text, updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (mapping, collection));
)sql";

} // namespace

void
EnsureState(sidecar::PgSession &session) {
	// IF NOT EXISTS still notices "already exists, skipping" for every object: quiet for this transaction only
	// CREATE ... IF NOT EXISTS races with itself (two commands starting at once: a unique violation in the
	// catalog): one at a time, under a transaction-level advisory lock
	std::string sql = "BEGIN; SET LOCAL client_min_messages = warning; SELECT pg_advisory_xact_lock(hashtext("
					  "'mosta_migration state'));" +
					  std::string(kStateDdl) + "COMMIT;";
	try {
		session.Exec(sql, "creating the migration state (schema mosta_migration)");
	} catch (const sidecar::PgError &e) {
		session.TryExec("ROLLBACK");
		if (e.SqlState() == "42501")
			throw sidecar::PgError("creating the migration state (schema mosta_migration) in " + session.Described(),
								   e.SqlState(), e.Message(), e.Detail(),
								   "grant the migration role CREATE on the database (GRANT CREATE ON DATABASE ... TO "
								   "role), or create schema mosta_migration owned by it first");
		throw;
	}
}

} // namespace mosta::migrate
