/*
 * mongo_source.hpp
 *     MongoSource: the MongoDB side of a migration, one client for one thread (mongo-c-driver clients are not
 *     thread-safe; a command that reads on two threads opens two). The database is the mapping's source database,
 *     else the URI's path; the URI's password never reaches a message (Masked).
 */
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <bson/bson.h>
#include <mongoc/mongoc.h>

namespace mosta::migrate {

// MongoSourceError is a failure to reach or read the MongoDB source; what() names the source (masked).
class MongoSourceError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

struct MongoCollectionDeleter {
	void
	operator()(mongoc_collection_t *collection) const noexcept {
		mongoc_collection_destroy(collection);
	}
};
struct MongoCursorDeleter {
	void
	operator()(mongoc_cursor_t *cursor) const noexcept {
		mongoc_cursor_destroy(cursor);
	}
};
using MongoCollection = std::unique_ptr<mongoc_collection_t, MongoCollectionDeleter>;
using MongoCursor = std::unique_ptr<mongoc_cursor_t, MongoCursorDeleter>;

class MongoSource {
  public:
	// MongoSource parses uri, chooses the database (database if not empty, else the URI's; neither: MongoSourceError)
	// and pings the server; throws MongoSourceError.
	MongoSource(const std::string &uri, const std::string &database);
	~MongoSource();
	MongoSource(const MongoSource &) = delete;
	MongoSource &operator=(const MongoSource &) = delete;

	mongoc_client_t *
	Client() const noexcept {
		return client_;
	}
	const std::string &
	Database() const noexcept {
		return database_;
	}
	// Masked is the URI as messages show it (password replaced).
	const std::string &
	Masked() const noexcept {
		return masked_;
	}

	// Collection returns a handle on name in the database.
	MongoCollection Collection(const std::string &name) const;

	// Fail throws MongoSourceError "doing (source): message".
	[[noreturn]] void Fail(const std::string &doing, const bson_error_t &error) const;

  private:
	std::string masked_;
	std::string database_;
	mongoc_uri_t *uri_ = nullptr;
	mongoc_client_t *client_ = nullptr;
};

} // namespace mosta::migrate
