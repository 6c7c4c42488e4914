/*
 * stream_start.hpp
 *     Where the change-stream catch-up starts (docs/migration.md, "Catch-up"): before backfill reads its first
 *     document, the MongoDB database's change-stream position is recorded once per mapping in mosta_migration.stream,
 *     so that every write made while backfill runs is replayed afterwards (upserts keyed on the legacy id make the
 *     overlap harmless). A later backfill run (a resume) keeps the recorded position.
 */
#pragma once

#include <string>

#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

// EnsureStreamStart returns the mapping's recorded start token, recording the database's current change-stream
// position first when there is none (the state schema exists: EnsureState). Throws MongoSourceError, PgError.
std::string EnsureStreamStart(sidecar::PgSession &session, const mapping::Mapping &mapping, MongoSource &source);

// RestartStreamStart records the database's current position as the mapping's start and resume position, replacing
// a stored one: for a backfill that reads EVERY collection again (--again without --collections), e.g. after
// ChangeStreamHistoryLost, when the stored position is no longer in the oplog. Refused (std::runtime_error) while a
// follower of the mapping runs. Returns the new token; throws MongoSourceError, PgError.
std::string RestartStreamStart(sidecar::PgSession &session, const mapping::Mapping &mapping, MongoSource &source);

} // namespace mosta::migrate
