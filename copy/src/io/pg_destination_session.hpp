/*
 * pg_destination_session.hpp
 *     One blocking libpq connection of the PostgreSQL destination (io/pg_destination.cpp): connected with
 *     application_name mosta-copy (unless the URI names another) and mosta-copy's session settings
 *     (kSessionSettingsSql), every failure a CopyError that says what was being done, with PostgreSQL's message,
 *     detail, hint and context (a COPY's line and column), credentials masked.
 */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pg/handles.hpp"

namespace mosta::copy {

class PgSession {
  public:
	// PgSession connects to uri (a libpq URI or conninfo; "" takes the PG* variables) and applies the session
	// settings; throws CopyError naming described (the URI, masked).
	PgSession(const std::string &uri, const std::string &described);

	PGconn *
	Get() const noexcept {
		return conn_.get();
	}

	// Exec runs sql (one or more statements without parameters); throws CopyError "doing: <PostgreSQL's error>".
	void Exec(const std::string &sql, std::string_view doing);
	// Query runs sql with text parameters and returns its rows; throws like Exec.
	sidecar::PgResultHandle Query(const std::string &sql, const std::vector<std::string> &params,
								  std::string_view doing);
	// TryExec runs sql, ignoring any failure (for Abort's clean-up); returns whether it succeeded.
	bool TryExec(const std::string &sql) noexcept;

	// Fail throws the CopyError of result (or of the connection when result is null): "doing: message".
	[[noreturn]] void Fail(const PGresult *result, std::string_view doing) const;

  private:
	sidecar::PgConnHandle conn_;
	std::string described_;
};

// PgErrorText returns PostgreSQL's error of result (or conn's when result is null) on one line: the message, then
// its detail, hint and context in parentheses, credentials masked.
std::string PgErrorText(const PGresult *result, const PGconn *conn);

} // namespace mosta::copy
