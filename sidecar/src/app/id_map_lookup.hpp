/*
 * id_map_lookup.hpp
 *     IdMapLookup: for the MongoDB sink, the legacy ObjectId that mosta.id_map holds for a uuid key, so that a
 *     document whose row was migrated from MongoDB keeps its original _id (docs/mongodb.md, "_id"). The id_map
 *     collection of a table is the table's name (without schema), as docs/migration.md names them.
 *
 *     It runs on the target's worker thread, where blocking is allowed, over a plain libpq connection of its own
 *     (opened at the first lookup). A table is asked about once: when id_map has no row for its collection, its
 *     keys are never looked up again. Found ids are cached, up to kCachedIds of them.
 */
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "decode/change.hpp"
#include "pg/handles.hpp"
#include "pg/lazy_query.hpp"

namespace mosta::sidecar {

// IdMapLookup answers "which legacy ObjectId did id_map give this uuid?" for one target; use it from one thread.
class IdMapLookup {
  public:
	// IdMapLookup keeps conninfo (the source) for the connection it opens when first asked.
	explicit IdMapLookup(std::string conninfo);

	// operator() returns the 24-hex legacy id of uuid in the id_map collection of change's table, or nothing (not
	// mapped, or mapped from something that is not an ObjectId); throws PgError when the source cannot answer.
	std::optional<std::string> operator()(const Change &change, const std::string &uuid);

  private:
	// Query runs sql with params on the connection, opening it first when needed; throws PgError.
	PgResultHandle Query(const char *context, const std::string &sql, int count, const char *const *params);

	static constexpr std::size_t kCachedIds = 100'000;

	LazyQueryConnection connection_;
	std::unordered_map<std::string, bool> collection_mapped_; // table name → id_map has rows for it
	std::unordered_map<std::string, std::string> cache_;	  // table '\0' uuid → legacy ObjectId
};

} // namespace mosta::sidecar
