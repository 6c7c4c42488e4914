/*
 * id_map_lookup.cpp
 *     IdMapLookup (see id_map_lookup.hpp).
 */
#include "app/id_map_lookup.hpp"

#include <utility>

#include "pg/errors.hpp"

namespace mosta::sidecar {

IdMapLookup::IdMapLookup(std::string conninfo) : connection_(std::move(conninfo)) {}

PgResultHandle
IdMapLookup::Query(const char *context, const std::string &sql, int count, const char *const *params) {
	return connection_.Query(context, sql, count, params);
}

std::optional<std::string>
IdMapLookup::operator()(const Change &change, const std::string &uuid) {
	const std::string &collection = change.Table();
	auto mapped = collection_mapped_.find(collection);
	if (mapped == collection_mapped_.end()) {
		const char *params[] = {collection.c_str()};
		PgResultHandle any =
			Query("looking up id_map", "SELECT EXISTS (SELECT 1 FROM mosta.id_map WHERE collection = $1)", 1, params);
		mapped = collection_mapped_.emplace(collection, PQgetvalue(any.get(), 0, 0)[0] == 't').first;
	}
	if (!mapped->second)
		return std::nullopt;
	std::string key = collection + '\0' + uuid;
	if (auto cached = cache_.find(key); cached != cache_.end())
		return cached->second;
	const char *params[] = {collection.c_str(), uuid.c_str()};
	PgResultHandle row = Query("looking up id_map",
							   "SELECT legacy_id FROM mosta.id_map WHERE collection = $1 AND new_id = $2::uuid"
							   " AND legacy_id ~ '^[0-9a-fA-F]{24}$'",
							   2, params);
	if (PQntuples(row.get()) == 0)
		return std::nullopt;
	std::string legacy = PQgetvalue(row.get(), 0, 0);
	if (cache_.size() >= kCachedIds)
		cache_.clear();
	cache_.emplace(std::move(key), legacy);
	return legacy;
}

} // namespace mosta::sidecar
