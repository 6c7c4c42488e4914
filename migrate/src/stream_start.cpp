/*
 * stream_start.cpp
 *     EnsureStreamStart (stream_start.hpp): the position is the postBatchResumeToken of a new database change
 *     stream's first (empty) batch, taken before backfill reads anything; should the first batch already hold an
 *     event, that event's token is as good (it happened before backfill's first read, which will see its effect).
 */
#include "stream_start.hpp"

#include <stdexcept>

#include "change_stream.hpp"
#include "follow_state.hpp"
#include "mosta/common/identifiers.hpp"

namespace mosta::migrate {

namespace {

// kStartAwaitMs bounds the wait for a first batch when the server gives no position with the stream's opening.
constexpr int kStartAwaitMs = 1000;

std::string
CurrentPosition(MongoSource &source) {
	ChangeStream stream(source, "", kStartAwaitMs, 1);
	std::string token = stream.ResumeToken();
	if (token.empty()) {
		static_cast<void>(stream.Next()); // an event or an empty getMore: either leaves a position
		token = stream.ResumeToken();
	}
	if (token.empty())
		throw MongoSourceError("MongoDB " + source.Masked() + " gave no change-stream position for database " +
							   source.Database() +
							   " (no postBatchResumeToken): the catch-up needs a server with "
							   "change streams (a replica set member, MongoDB 4.0.7 or later)");
	return token;
}

} // namespace

std::string
EnsureStreamStart(sidecar::PgSession &session, const mapping::Mapping &mapping, MongoSource &source) {
	if (std::optional<StreamRow> row = ReadStream(session, mapping.name))
		return row->start_token;
	std::string token = CurrentPosition(source);
	session.Query("INSERT INTO mosta_migration.stream (mapping, resume_token, start_token) VALUES ($1, $2, $2) "
				  "ON CONFLICT (mapping) DO NOTHING",
				  {mapping.name.c_str(), token.c_str()}, "recording the change-stream start");
	// A concurrent backfill may have recorded its own position first: the stored one is the one that counts.
	std::optional<StreamRow> row = ReadStream(session, mapping.name);
	if (!row)
		throw std::runtime_error(NoStreamMessage(mapping.name));
	return row->start_token;
}

std::string
RestartStreamStart(sidecar::PgSession &session, const mapping::Mapping &mapping, MongoSource &source) {
	if (!TryFollowerLock(session, mapping.name))
		throw std::runtime_error("a follower of mapping " + mapping.name +
								 " is running: stop it before backfill records a new change-stream start");
	std::string token;
	try {
		token = CurrentPosition(source);
		session.Query("INSERT INTO mosta_migration.stream (mapping, resume_token, start_token) VALUES ($1, $2, $2) "
					  "ON CONFLICT (mapping) DO UPDATE SET resume_token = $2, start_token = $2, updated_at = now()",
					  {mapping.name.c_str(), token.c_str()}, "recording a new change-stream start");
	} catch (...) {
		session.TryExec(("SELECT pg_advisory_unlock(hashtext('mosta-migrate follow'), hashtext(" +
						 QuoteLiteral(mapping.name) + "))")
							.c_str());
		throw;
	}
	UnlockFollower(session, mapping.name);
	return token;
}

} // namespace mosta::migrate
