/*
 * errors.hpp
 *     PgError, the sidecar's exception for a failed libpq call (the extension has its own), and the
 *     classification of SQLSTATEs into "retry with backoff", "retry later" and "fatal", as libpqxx's
 *     throw_sql_error switches on the SQLSTATE class.
 */
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <libpq-fe.h>

namespace mosta::sidecar {

// What the supervisor does after an error.
enum class ErrorClass {
	Retry,		// transient (connection lost, server restarting, out of resources): reconnect with backoff
	RetryLater, // the slot or an object is busy or not ready: wait long (an operator may have to act), then retry
	Fatal,		// retrying cannot help (missing slot, missing privilege, bad option): stop with a clear message
};

// ClassifySqlState maps a five-character SQLSTATE to an ErrorClass; "" (an error raised by libpq itself, such
// as a lost or refused connection, which has no SQLSTATE) is Retry, any SQLSTATE not listed is Fatal.
ErrorClass ClassifySqlState(std::string_view sqlstate) noexcept;

// ErrorClassName returns "retry", "retry later" or "fatal", for log lines.
std::string_view ErrorClassName(ErrorClass error_class) noexcept;

// PgError is a failed server or libpq call: SQLSTATE (maybe empty), primary message, detail and hint. The text
// of what() is "<context>: <message>", with credentials masked.
class PgError : public std::runtime_error {
  public:
	// PgError builds an error from its parts; message, detail and hint are credential-masked.
	PgError(std::string_view context, std::string sqlstate, std::string_view message, std::string_view detail = {},
			std::string_view hint = {});

	// FromResult reads SQLSTATE, message, detail and hint from a failed result (or the connection's message when
	// result is null, as after an out-of-memory PQexec).
	static PgError FromResult(std::string_view context, const PGresult *result, const PGconn *conn);

	// FromConn reads PQerrorMessage of a failed connection; libpq gives no SQLSTATE for those.
	static PgError FromConn(std::string_view context, const PGconn *conn);

	// SqlState returns the five-character SQLSTATE, or "" when libpq raised the error itself.
	const std::string &
	SqlState() const noexcept {
		return sqlstate_;
	}

	// Message returns the primary message without context.
	const std::string &
	Message() const noexcept {
		return message_;
	}

	// Detail returns the server's DETAIL, or "".
	const std::string &
	Detail() const noexcept {
		return detail_;
	}

	// Hint returns the server's HINT, or "".
	const std::string &
	Hint() const noexcept {
		return hint_;
	}

	// Class returns ClassifySqlState(SqlState()).
	ErrorClass
	Class() const noexcept {
		return ClassifySqlState(sqlstate_);
	}

  private:
	std::string sqlstate_;
	std::string message_;
	std::string detail_;
	std::string hint_;
};

} // namespace mosta::sidecar
