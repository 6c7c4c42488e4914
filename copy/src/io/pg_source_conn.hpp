/*
 * pg_source_conn.hpp
 *     Blocking libpq for the PostgreSQL source (a batch tool: one thread per connection, no event loop): connect
 *     with application_name mosta-copy, run a statement and check its result, read a result's text fields. Every
 *     failure throws CopyError whose message names the source (credentials masked) and what was being done.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pg/handles.hpp"

namespace mosta::copy {

// PgConnect opens a blocking connection to uri (a libpq URI or conninfo; "" takes the PG* variables), with
// application_name mosta-copy; describe names the source in messages.
sidecar::PgConnHandle PgConnect(const std::string &uri, std::string_view describe);

// PgExec runs sql (simple query protocol, several statements allowed) and returns its last result, which must be
// COMMAND_OK, TUPLES_OK or COPY_OUT; context says what it was for ("reading the tables").
sidecar::PgResultHandle PgExec(PGconn *conn, const std::string &sql, std::string_view context);

// PgExecParams runs one statement with text parameters ($1, $2, ...).
sidecar::PgResultHandle PgExecParams(PGconn *conn, const std::string &sql, const std::vector<std::string> &params,
									 std::string_view context);

// PgErrorText returns libpq's message for a failed result (or the connection's), trimmed and masked.
std::string PgErrorText(PGconn *conn, const PGresult *result);

// PgField returns a result's field as text ("" for NULL).
inline std::string_view
PgField(const PGresult *result, int row, int column) {
	return std::string_view(PQgetvalue(result, row, column),
							static_cast<std::size_t>(PQgetlength(result, row, column)));
}

// PgFieldInt returns a field holding an integer (reltuples and other floats are truncated); fallback for NULL.
std::int64_t PgFieldInt(const PGresult *result, int row, int column, std::int64_t fallback = 0);

// PgFieldBool returns a boolean field ("t").
inline bool
PgFieldBool(const PGresult *result, int row, int column) {
	return PgField(result, row, column) == "t";
}

// PgOidArray returns oids as an array literal for a $n::oid[] parameter ("{1,2}").
std::string PgOidArray(const std::vector<std::uint32_t> &oids);

} // namespace mosta::copy
