/*
 * change_stream.hpp
 *     The client side of a MongoDB database change stream (docs/migration.md, "Catch-up and cutover"): opened on the
 *     source database with fullDocument "updateLookup" (an update event carries the document as it is when the
 *     event is read, or null when it has been deleted since), resumed after a stored resume token, read event by
 *     event. The position after what was read (ResumeToken) is the last event's _id, or the server's
 *     postBatchResumeToken once a batch is exhausted: it also moves past events of collections nobody follows, so a
 *     stored position stays inside the oplog while only other collections change.
 *
 *     Tokens are stored as relaxed extended JSON of the token document ({"_data": "..."}), the text
 *     mosta_migration.stream keeps.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include "mongo_source.hpp"
#include "sink/mongo_bson.hpp"

namespace mosta::migrate {

// ChangeStreamHistoryLost is MongoDB's error 286: the oplog no longer holds the position the stream resumes from.
class ChangeStreamHistoryLost : public MongoSourceError {
  public:
	using MongoSourceError::MongoSourceError;
};

// kChangeStreamHistoryLost is the server's error code for it.
inline constexpr std::uint32_t kChangeStreamHistoryLost = 286;

// What an event does.
enum class ChangeOp { Insert, Update, Replace, Delete, Drop, Rename, DropDatabase, Invalidate, Other };

// One change event, owned (the driver's document lives only until the next read).
struct ChangeEvent {
	ChangeOp op = ChangeOp::Other;
	std::string operation;			   // operationType as the server sent it
	std::string collection;			   // ns.coll ("" for dropDatabase, invalidate)
	std::string rename_to;			   // rename: to.coll
	sidecar::BsonHandle token;		   // the event's _id: the position just after it
	sidecar::BsonHandle key;		   // {"_id": documentKey._id} (insert, update, replace, delete)
	sidecar::BsonHandle full_document; // empty when absent or null
	std::int64_t wall_ms = 0;		   // wallTime, else clusterTime's seconds (ms since the epoch; 0: unknown)
};

// DecodeChangeEvent copies what follow needs out of an event document; throws MongoSourceError when the event has
// no _id document (no resume token) or a data-change event has no documentKey._id.
ChangeEvent DecodeChangeEvent(const bson_t *event);

// TokenJson returns the relaxed extended JSON of a token document; ParseToken reads it back (throws
// MongoSourceError naming the text when it is not a JSON document).
std::string TokenJson(const bson_t *token);
sidecar::BsonHandle ParseToken(const std::string &json);

class ChangeStream {
  public:
	// ChangeStream opens a change stream on source's database, after resume_token (relaxed JSON; empty: from now);
	// a read waits up to await_ms for new events, a batch holds at most batch_size. Throws ChangeStreamHistoryLost
	// (error 286), MongoSourceError.
	ChangeStream(MongoSource &source, const std::string &resume_token, int await_ms, int batch_size);
	~ChangeStream();
	ChangeStream(const ChangeStream &) = delete;
	ChangeStream &operator=(const ChangeStream &) = delete;

	// Next returns the next event, or nullopt when the server had none within await_ms (the stream is drained up to
	// now). Throws like the constructor.
	std::optional<ChangeEvent> Next();

	// ResumeToken returns the position after everything Next returned (relaxed JSON), "" when the server gave none.
	std::string ResumeToken() const;

  private:
	[[noreturn]] void Fail(const char *doing, const bson_error_t &error) const;

	MongoSource &source_;
	mongoc_change_stream_t *stream_ = nullptr;
};

} // namespace mosta::migrate
