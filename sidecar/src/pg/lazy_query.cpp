/*
 * lazy_query.cpp
 *     LazyQueryConnection (lazy_query.hpp).
 */
#include "pg/lazy_query.hpp"

#include <utility>

#include "pg/errors.hpp"

namespace mosta::sidecar {

LazyQueryConnection::LazyQueryConnection(std::string conninfo) : conninfo_(std::move(conninfo)) {}

PgResultHandle
LazyQueryConnection::Query(const char *context, const std::string &sql, int count, const char *const *params) {
	if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
		conn_.reset(PQconnectdb(conninfo_.c_str()));
		if (PQstatus(conn_.get()) != CONNECTION_OK) {
			PgError error = PgError::FromConn(context, conn_.get());
			conn_.reset();
			throw error;
		}
	}
	PgResultHandle result(PQexecParams(conn_.get(), sql.c_str(), count, nullptr, params, nullptr, nullptr, 0));
	if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
		throw PgError::FromResult(context, result.get(), conn_.get());
	return result;
}

} // namespace mosta::sidecar
