/*
 * mongo_source.cpp
 *     MongoSource (mongo_source.hpp).
 */
#include "mongo_source.hpp"

#include <stdexcept>

#include "mosta/common/conninfo.hpp"
#include "sink/mongo_mapping_uri.hpp"

namespace mosta::migrate {

namespace {

// EnsureDriver initialises mongo-c-driver once per process (mongoc_init is not thread-safe; the first source is made
// before any worker thread starts).
void
EnsureDriver() {
	static const bool initialised = [] {
		mongoc_init();
		return true;
	}();
	static_cast<void>(initialised);
}

} // namespace

MongoSource::MongoSource(const std::string &uri, const std::string &database) : masked_(MaskCredentials(uri)) {
	EnsureDriver();
	// a mapped mirror's URI (mosta_mapping=FILE) names the database this tool compares or reads as it is: the
	// option is the sink's, the driver would warn about it
	std::string plain;
	try {
		plain = sidecar::SplitMappingOption(uri).uri;
	} catch (const std::invalid_argument &e) {
		throw MongoSourceError("MongoDB connection string " + masked_ + ": " + e.what());
	}
	bson_error_t error;
	uri_ = mongoc_uri_new_with_error(plain.c_str(), &error);
	if (uri_ == nullptr)
		throw MongoSourceError("bad MongoDB connection string " + masked_ + ": " +
							   MaskCredentialsInText(error.message));
	const char *from_uri = mongoc_uri_get_database(uri_);
	database_ = !database.empty() ? database : from_uri != nullptr ? from_uri : "";
	if (database_.empty()) {
		mongoc_uri_destroy(uri_);
		throw MongoSourceError("no MongoDB database: name it in the URI's path (" + masked_ +
							   "/DATABASE) or in the mapping's source.database");
	}
	if (!mongoc_uri_has_option(uri_, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri_, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
	if (!mongoc_uri_has_option(uri_, MONGOC_URI_APPNAME))
		mongoc_uri_set_appname(uri_, "mosta-migrate");
	client_ = mongoc_client_new_from_uri_with_error(uri_, &error);
	if (client_ == nullptr) {
		mongoc_uri_destroy(uri_);
		throw MongoSourceError("cannot create a MongoDB client for " + masked_ + ": " +
							   MaskCredentialsInText(error.message));
	}
	bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
	bool ok = mongoc_client_command_simple(client_, database_.c_str(), ping, nullptr, nullptr, &error);
	bson_destroy(ping);
	if (!ok) {
		std::string message = MaskCredentialsInText(error.message);
		mongoc_client_destroy(client_);
		mongoc_uri_destroy(uri_);
		throw MongoSourceError("cannot reach MongoDB " + masked_ + ": " + message);
	}
}

MongoSource::~MongoSource() {
	mongoc_client_destroy(client_);
	mongoc_uri_destroy(uri_);
}

MongoCollection
MongoSource::Collection(const std::string &name) const {
	return MongoCollection(mongoc_client_get_collection(client_, database_.c_str(), name.c_str()));
}

void
MongoSource::Fail(const std::string &doing, const bson_error_t &error) const {
	throw MongoSourceError(doing + " (MongoDB " + masked_ + "): " + MaskCredentialsInText(error.message));
}

} // namespace mosta::migrate
