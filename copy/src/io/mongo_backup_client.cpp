/*
 * mongo_backup_client.cpp
 *     MongoConnection (see mongo_backup_client.hpp).
 */
#include "io/mongo_backup_client.hpp"

#include <stdexcept>

#include "io/source.hpp"
#include "mosta/common/conninfo.hpp"
#include "sink/mongo_mapping_uri.hpp"

namespace mosta::copy {

namespace {

// When the URI sets no serverSelectionTimeoutMS, give up on an unreachable server after this long.
constexpr std::int32_t kServerSelectionTimeoutMs = 5000;

// EnsureDriver initialises the driver once (mongoc_cleanup runs at exit).
void
EnsureDriver() {
	static sidecar::MongoDriver driver;
}

} // namespace

MongoConnection::MongoConnection(const std::string &uri) : masked_(MaskCredentials(uri)) {
	EnsureDriver();
	sidecar::MappedUri mapped;
	try {
		mapped = sidecar::SplitMappingOption(uri);
	} catch (const std::invalid_argument &e) {
		throw CopyError("MongoDB: " + masked_ + ": " + e.what());
	}
	mapping_path_ = mapped.mapping_path;
	bson_error_t error;
	uri_.reset(mongoc_uri_new_with_error(mapped.uri.c_str(), &error));
	if (!uri_)
		throw CopyError("MongoDB: bad connection string " + masked_ + ": " + MaskCredentialsInText(error.message) +
						" (hint: mongodb://[user:password@]host[:port]/database)");
	const char *database = mongoc_uri_get_database(uri_.get());
	if (database == nullptr || database[0] == '\0')
		throw CopyError("MongoDB: " + masked_ + " names no database (hint: mongodb://host:port/database)");
	database_ = database;
	if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, kServerSelectionTimeoutMs);
	pool_.reset(mongoc_client_pool_new(uri_.get()));
	if (!pool_)
		throw CopyError("MongoDB: cannot create a client pool for " + masked_);
	mongoc_client_pool_set_error_api(pool_.get(), MONGOC_ERROR_API_VERSION_2);
	mongoc_client_pool_set_appname(pool_.get(), "mosta-copy");
}

void
MongoConnection::Ping() {
	sidecar::PooledClient client(pool_.get());
	sidecar::BsonHandle ping = sidecar::NewBson();
	BSON_APPEND_INT32(ping.get(), "ping", 1);
	bson_error_t error;
	if (!mongoc_client_command_simple(client.get(), "admin", ping.get(), nullptr, nullptr, &error))
		throw CopyError("MongoDB: cannot reach " + masked_ + ": " + MaskCredentialsInText(error.message));
}

sidecar::MongoCollectionHandle
MongoConnection::Collection(mongoc_client_t *client, const std::string &collection) const {
	return sidecar::MongoCollectionHandle(mongoc_client_get_collection(client, database_.c_str(), collection.c_str()));
}

} // namespace mosta::copy
