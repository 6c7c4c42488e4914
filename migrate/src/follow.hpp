/*
 * follow.hpp
 *     The change-stream catch-up loop (docs/migration.md, "Catch-up and cutover"), shared by `follow` and by
 *     `cutover` when no follower runs. It resumes the database change stream from mosta_migration.stream's token and
 *     turns each received batch (what the server has, up to kBatchEvents events or batch_ms) into ONE PostgreSQL
 *     transaction: the stream row is locked and checked (the position is still the one this follower committed; the
 *     cutover mark), the events are reduced and applied (follow_reduce.hpp, follow_apply.hpp), documents held back
 *     for a missing parent retried, and the new position, the applied count and the last event's time written in
 *     the same transaction. A kill -9 therefore loses nothing and doubles nothing: the restart resumes from the
 *     committed position, and replaying an upsert or a delete changes nothing.
 *
 *     It stops: when a batch comes back empty (until_caught_up); when it is draining for a cutover (the mark is set,
 *     or drain) and a batch comes back empty — then its final transaction sets stopped_at; after the current
 *     transaction on SIGINT/SIGTERM; with an error on a drop, rename or invalidate (after applying what came before
 *     it) and on ChangeStreamHistoryLost.
 */
#pragma once

#include <cstdint>
#include <string>

#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

// kBatchEvents bounds the events of one transaction.
inline constexpr int kBatchEvents = 5000;

struct FollowOptions {
	const char *command = "follow"; // names the progress lines
	bool until_caught_up = false;	// return once a batch comes back empty
	bool drain = false;				// drain for a cutover: stop once a batch comes back empty, setting stopped_at
	int batch_ms = 200;				// how long a batch collects (and a read waits for events)
	bool reset_cutover = false;		// clear a cutover mark (and stopped_at) first: a rollback rehearsal
};

struct FollowResult {
	std::string position;	  // the committed resume token
	std::int64_t applied = 0; // stream.applied after the last transaction
	std::string stopped_at;	  // set when the cutover stopped the catch-up
	bool stopped_by_signal = false;
};

// Follow runs the catch-up of mapping (the state schema exists: EnsureState). It takes the mapping's follower lock
// (fails when another follower holds it) and refuses when the mapping has no stream row or its cutover is done
// (unless reset_cutover).
// Throws ChangeStreamHistoryLost (with what to do), MongoSourceError, PgError, std::runtime_error.
FollowResult Follow(sidecar::PgSession &session, MongoSource &source, const mapping::Mapping &mapping,
					const FollowOptions &options);

// CutoverDoneMessage is the refusal of a follow after the cutover at stopped_at.
std::string CutoverDoneMessage(const std::string &mapping, const std::string &stopped_at);

} // namespace mosta::migrate
