/*
 * endpoint.hpp
 *     What the command line names as a source or a destination (run/options parses it), and the options every
 *     destination reads. io/open.hpp makes the Source or Destination of an Endpoint.
 */
#pragma once

#include <cstddef>
#include <string>

namespace mosta::copy {

enum class EndpointKind { Postgres, Sqlite, SqlDump, Json, Mongodb };

struct Endpoint {
	EndpointKind kind = EndpointKind::Postgres;
	// postgres: a libpq URI or conninfo ("" takes the PG* variables); mongodb: a mongodb:// URI naming the
	// database; sqlite, sql-dump: a file path; json: a file path, or a directory (one file per table) when it ends
	// with '/' or is an existing directory.
	std::string target;
};

struct DestinationOptions {
	bool create_tables = false; // --create-tables: create types, sequences and tables (SQL dump: write their DDL)
	std::size_t batch_size = 1000;
	int jobs = 1; // tables written at once (OpenTable may be called from this many threads)
};

// EndpointKindName returns the command line's spelling: "postgres", "sqlite", "sql-dump", "json", "mongodb".
const char *EndpointKindName(EndpointKind kind) noexcept;

} // namespace mosta::copy
