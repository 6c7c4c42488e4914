/*
 * pg_source_conn.cpp
 *     Blocking libpq helpers of the PostgreSQL source (see pg_source_conn.hpp).
 */
#include "io/pg_source_conn.hpp"

#include <charconv>
#include <cmath>

#include "io/source.hpp"
#include "mosta/common/conninfo.hpp"

namespace mosta::copy {

namespace {

// Trimmed returns text without trailing blanks and line breaks.
std::string
Trimmed(std::string text) {
	while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
		text.pop_back();
	return text;
}

// CheckResult throws unless result is one a statement succeeds with.
sidecar::PgResultHandle
CheckResult(PGconn *conn, sidecar::PgResultHandle result, std::string_view context) {
	ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_OUT)
		return result;
	throw CopyError(std::string(context) + ": " + PgErrorText(conn, result.get()));
}

} // namespace

std::string
PgErrorText(PGconn *conn, const PGresult *result) {
	std::string text;
	if (result != nullptr)
		text = PQresultErrorMessage(result);
	if (text.empty() && conn != nullptr)
		text = PQerrorMessage(conn);
	if (text.empty())
		text = "unknown libpq error";
	if (result != nullptr) {
		if (const char *hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT);
			hint != nullptr && text.find(hint) == std::string::npos)
			text = Trimmed(text) + " (hint: " + hint + ")";
	}
	return MaskCredentialsInText(Trimmed(text));
}

sidecar::PgConnHandle
PgConnect(const std::string &uri, std::string_view describe) {
	// expand_dbname: uri is read as a connection string; application_name after it wins
	const char *keywords[] = {"dbname", "application_name", nullptr};
	const char *values[] = {uri.c_str(), "mosta-copy", nullptr};
	sidecar::PgConnHandle conn(PQconnectdbParams(keywords, values, 1));
	if (!conn)
		throw CopyError("cannot connect to " + std::string(describe) + ": out of memory");
	if (PQstatus(conn.get()) != CONNECTION_OK)
		throw CopyError("cannot connect to " + std::string(describe) + ": " + PgErrorText(conn.get(), nullptr));
	return conn;
}

sidecar::PgResultHandle
PgExec(PGconn *conn, const std::string &sql, std::string_view context) {
	return CheckResult(conn, sidecar::PgResultHandle(PQexec(conn, sql.c_str())), context);
}

sidecar::PgResultHandle
PgExecParams(PGconn *conn, const std::string &sql, const std::vector<std::string> &params, std::string_view context) {
	std::vector<const char *> values;
	values.reserve(params.size());
	for (const std::string &param : params)
		values.push_back(param.c_str());
	return CheckResult(conn,
					   sidecar::PgResultHandle(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
															values.data(), nullptr, nullptr, 0)),
					   context);
}

std::int64_t
PgFieldInt(const PGresult *result, int row, int column, std::int64_t fallback) {
	if (PQgetisnull(result, row, column))
		return fallback;
	std::string_view text = PgField(result, row, column);
	std::int64_t value = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (ec == std::errc() && end == text.data() + text.size())
		return value;
	double number = 0; // reltuples is a float4: "1e+06"
	auto [fend, fec] = std::from_chars(text.data(), text.data() + text.size(), number);
	if (fec == std::errc() && fend == text.data() + text.size() && std::isfinite(number))
		return static_cast<std::int64_t>(number);
	return fallback;
}

std::string
PgOidArray(const std::vector<std::uint32_t> &oids) {
	std::string out = "{";
	for (std::size_t i = 0; i < oids.size(); ++i) {
		if (i > 0)
			out += ',';
		out += std::to_string(oids[i]);
	}
	return out + "}";
}

} // namespace mosta::copy
