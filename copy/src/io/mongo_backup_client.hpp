/*
 * mongo_backup_client.hpp
 *     The connection of mosta-copy's MongoDB destination and source: a mongodb:// URI naming the database, a client
 *     pool (a mongoc_client_t is not thread-safe: each table's writer or reader pops a client of its own), the driver
 *     initialised once per process, and the URI with its password masked for every message.
 */
#pragma once

#include <string>

#include "sink/mongo_sink.hpp"

namespace mosta::copy {

class MongoConnection {
  public:
	// MongoConnection parses uri (its path names the database) and makes the pool; throws CopyError. Nothing is
	// sent before Ping. A mapped mirror's option (mosta_mapping=FILE, sink/mongo_mapping_uri.hpp) is taken out
	// before the driver sees the URI and kept in MappingPath.
	explicit MongoConnection(const std::string &uri);

	// Ping asks the server for a ping; throws CopyError saying what went wrong.
	void Ping();

	mongoc_client_pool_t *
	Pool() const noexcept {
		return pool_.get();
	}
	const std::string &
	Database() const noexcept {
		return database_;
	}
	// Masked returns the URI, password masked.
	const std::string &
	Masked() const noexcept {
		return masked_;
	}

	// MappingPath returns the mapping file the URI's mosta_mapping names, "" when none: a source reads the
	// collections as they are; a destination refuses it (it would write tables, not the legacy shape).
	const std::string &
	MappingPath() const noexcept {
		return mapping_path_;
	}

	// Collection returns a handle of collection in the database, for client.
	sidecar::MongoCollectionHandle Collection(mongoc_client_t *client, const std::string &collection) const;

  private:
	std::string masked_;
	std::string database_;
	std::string mapping_path_;
	sidecar::MongoUriHandle uri_;
	sidecar::MongoPoolHandle pool_;
};

} // namespace mosta::copy
