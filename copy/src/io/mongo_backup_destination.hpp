/*
 * mongo_backup_destination.hpp
 *     What a MongoDB destination (io/mongo_destination.cpp) tells besides Destination's interface: per table, the
 *     canonical checksum of the documents it wrote as the MongoDB source (io/mongo_source.cpp) reads them back, and
 *     how many rows the mapping did not keep exactly (docs/copy-stores.md, "MongoDB").
 *
 *     What the checksum of a MongoDB copy covers: every copied column of every row, as the MongoDB source reads the
 *     collection back (the canonical text of verify_mongo). Where the sink's mapping keeps the value (every type
 *     but the exceptions of mongo_backup_document.hpp) that is the source's checksum; where it cannot (json
 *     columns, sub-millisecond timestamps, ...) the rows differ from the source's and the destination counts them
 *     (inexact_rows, inexact_columns, and a warning on stderr). So `mosta-copy verify` of a MongoDB copy checks the
 *     collections against `checksum` (what was written: a lost, added or changed document shows), and the
 *     manifest's source checksum equals it exactly when inexact_rows is 0.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/destination.hpp"

namespace mosta::copy {

// One table as a MongoDB destination wrote it.
struct MongoStoredTable {
	std::string table;		// "schema.name"
	std::string collection; // its collection
	std::uint64_t rows = 0;
	std::string checksum;					  // canonical checksum of the documents as read back
	std::uint64_t inexact_rows = 0;			  // rows read back differently from the source's
	std::vector<std::string> inexact_columns; // the columns that differed, in table order
};

// MongoStoredTables returns the tables a MongoDB destination wrote (complete after Finish), or null when
// destination is not a MongoDB destination.
const std::vector<MongoStoredTable> *MongoStoredTables(const Destination &destination);

} // namespace mosta::copy
