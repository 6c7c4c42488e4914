/*
 * state.hpp
 *     The migration's state in the target database, schema mosta_migration (docs/migration.md, "State"): created by
 *     the first command that needs it (idempotent), dumped by pg_dump with the data it describes, dropped at
 *     decommission (DROP SCHEMA mosta_migration CASCADE). Every row is keyed by the mapping's name.
 *
 *       checkpoints (mapping, collection): backfill's position per collection (last _id applied, documents, done)
 *       stream (mapping): the change-stream resume token, committed with the changes it covers; cutover marks
 *       problems (mapping, collection, legacy_id, kind, field): documents held back (missing_parent) or refused
 *       shadow (mapping, collection): the shadow-read sampler's counters and its clean window
 */
#pragma once

#include "sink/pg_session.hpp"

namespace mosta::migrate {

// kStateSchema is the schema every state table lives in.
inline constexpr const char *kStateSchema = "mosta_migration";

// EnsureState creates the schema and its tables when missing (CREATE ... IF NOT EXISTS, in its own transaction);
// throws PgError (with a hint when the role may not create a schema).
void EnsureState(sidecar::PgSession &session);

} // namespace mosta::migrate
