/*
 * lazy_query.hpp
 *     LazyQueryConnection: a blocking libpq connection opened at its first query (and again after it broke), for the
 *     lookups a sink makes from its worker thread (id_map for the MongoDB sink, the mapped mirror's rows): nothing is
 *     opened for a target that never asks.
 */
#pragma once

#include <string>

#include "pg/handles.hpp"

namespace mosta::sidecar {

class LazyQueryConnection {
  public:
	explicit LazyQueryConnection(std::string conninfo);

	// Query runs sql with count text params (a null pointer is SQL NULL), connecting first when needed, and returns
	// its rows; throws PgError naming context when the connection or the query fails.
	PgResultHandle Query(const char *context, const std::string &sql, int count, const char *const *params);

  private:
	std::string conninfo_;
	PgConnHandle conn_;
};

} // namespace mosta::sidecar
