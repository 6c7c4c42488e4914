/*
 * mongo_mapped_source.hpp
 *     What the rollback mirror (mongo_mapped.hpp) reads from the source PostgreSQL database besides the change
 *     stream: the legacy id mosta.id_map holds for a uuid (references, and the _id of a delete whose old image
 *     holds the key only), and the current rows of a child table for one parent (a child array is rewritten whole
 *     from them). It runs on the target's worker thread, where blocking is allowed, over a plain libpq connection of
 *     its own (opened at the first question, reopened after a failure); the sidecar's role may read id_map and the
 *     rule's tables.
 *
 *     Rows are read as the decoded change gives values (mapping::Row): integers as int64, floats as double,
 *     booleans as bool, json/jsonb as their JSON text, arrays as raw JSON, timestamps as ISO 8601 text, everything
 *     else as its text, so that the reverse mapping treats a read row and a streamed one alike.
 */
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mapping/reverse.hpp"
#include "pg/handles.hpp"
#include "pg/lazy_query.hpp"

namespace mosta::sidecar {

// A column to read: its name and PostgreSQL type.
struct MirrorColumn {
	std::string name;
	std::string type;
};

// Rows read from the source, with the storage their values point into.
struct MirrorRows {
	std::vector<MirrorColumn> columns; // the rows' names and types point here (a move keeps the elements)
	std::deque<std::string> texts;	   // stable addresses: the rows' values point here
	std::vector<mapping::Row> rows;
};

// MappedSource answers the mirror's questions about the source; use it from one thread.
class MappedSource {
  public:
	explicit MappedSource(std::string conninfo);

	// LegacyId returns the legacy id of uuid in id_map's collection, or nullopt; throws PgError.
	std::optional<std::string> LegacyId(const std::string &collection, const std::string &uuid);

	// ReadRows returns the rows of schema.table whose where_column equals value (a uuid's text), ordered by
	// order_column, with columns in order; throws PgError.
	MirrorRows ReadRows(const std::string &schema, const std::string &table, const std::vector<MirrorColumn> &columns,
						const std::string &where_column, const std::string &value, const std::string &order_column);

	// ReadLegacyColumn returns column of the row of schema.table whose id_column is uuid (nullopt: no such row or
	// NULL); throws PgError.
	std::optional<std::string> ReadLegacyColumn(const std::string &schema, const std::string &table,
												const std::string &column, const std::string &id_column,
												const std::string &uuid);

  private:
	PgResultHandle Query(const char *context, const std::string &sql, int count, const char *const *params);

	static constexpr std::size_t kCachedIds = 100'000;

	LazyQueryConnection connection_;
	std::unordered_map<std::string, std::string> cache_; // collection '\0' uuid → legacy id
};

} // namespace mosta::sidecar
