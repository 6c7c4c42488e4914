/*
 * pg_session.hpp
 *     PgSession: the PostgreSQL sink's one blocking libpq connection (the sink runs on its target's worker thread,
 *     so blocking there stalls nothing else): connected with application_name mosta-sidecar (unless the URI names
 *     another) under the fixed session settings of pg_value_text.hpp; every failure a PgError whose text says what
 *     was being done in which target (URI masked).
 */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pg/handles.hpp"

namespace mosta::sidecar {

class PgSession {
  public:
	// PgSession connects to conninfo (a URI or keyword/value string) and applies the session settings; throws
	// PgError naming the target (masked).
	explicit PgSession(const std::string &conninfo);

	PGconn *
	Get() const noexcept {
		return conn_.get();
	}

	// Described returns the target as messages name it (the URI, masked).
	const std::string &
	Described() const noexcept {
		return described_;
	}

	// Exec runs sql (one or more statements without parameters); throws PgError "doing in <target>: ...".
	void Exec(const std::string &sql, std::string_view doing);

	// Query runs one statement with text parameters (a null pointer is SQL NULL) and returns its result; throws
	// like Exec.
	PgResultHandle Query(const std::string &sql, const std::vector<const char *> &params, std::string_view doing);

	// CopyIn runs copy_sql (a COPY ... FROM STDIN) and sends data, COPY's text format; throws like Exec.
	void CopyIn(const std::string &copy_sql, std::string_view data, std::string_view doing);

	// Healthy tells whether the connection is still usable (not broken, not inside a failed transaction).
	bool Healthy() const noexcept;

	// TryExec runs sql, ignoring any failure (clean-up after a failure); returns whether it succeeded.
	bool TryExec(const char *sql) noexcept;

	// Fail throws the PgError of result (or of the connection when result is null).
	[[noreturn]] void Fail(const PGresult *result, std::string_view doing) const;

  private:
	PgConnHandle conn_;
	std::string described_;
};

} // namespace mosta::sidecar
