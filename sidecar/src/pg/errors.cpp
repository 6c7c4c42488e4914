/*
 * errors.cpp
 *     ClassifySqlState and PgError: what a libpq failure says (SQLSTATE, message, detail, hint) and what the
 *     supervisor should do about it. SQLSTATEs are PostgreSQL 15's (Appendix A, "PostgreSQL Error Codes").
 */
#include "pg/errors.hpp"

#include <cctype>
#include <utility>

#include "mosta/common/conninfo.hpp"

namespace mosta::sidecar {

namespace {

// SqlStateClass returns the two-character class of a five-character SQLSTATE, or "" if it is malformed.
std::string_view
SqlStateClass(std::string_view sqlstate) noexcept {
	return sqlstate.size() == 5 ? sqlstate.substr(0, 2) : std::string_view{};
}

// IsRetryable says whether sqlstate is transient: the connection or the server is going away or coming back,
// the server ran out of something, or a transaction lost a race.
bool
IsRetryable(std::string_view sqlstate) noexcept {
	std::string_view sqlstate_class = SqlStateClass(sqlstate);
	return sqlstate_class == "08"	 // connection_exception and all its subclasses
		   || sqlstate_class == "53" // insufficient_resources: disk_full, out_of_memory, too_many_connections...
		   || sqlstate == "57P01"	 // admin_shutdown (also pg_terminate_backend)
		   || sqlstate == "57P02"	 // crash_shutdown
		   || sqlstate == "57P03"	 // cannot_connect_now (starting up, recovery)
		   || sqlstate == "57P05"	 // idle_session_timeout
		   || sqlstate == "40001"	 // serialization_failure
		   || sqlstate == "40P01";	 // deadlock_detected
}

// IsRetryLater says whether sqlstate means "busy or not ready yet": the slot is active for another process
// (55006), or an object is not in the state it needs (55000: also wal_level too low or a slot invalidated,
// which need an operator, hence a long wait rather than a fast retry).
bool
IsRetryLater(std::string_view sqlstate) noexcept {
	return sqlstate == "55006"	   // object_in_use
		   || sqlstate == "55000"; // object_not_in_prerequisite_state
}

// OneLine trims text and joins its lines with single blanks, for a log line.
std::string
OneLine(std::string_view text) {
	std::string line;
	bool pending_blank = false;
	for (char c : text) {
		if (std::isspace(static_cast<unsigned char>(c))) {
			pending_blank = !line.empty();
			continue;
		}
		if (pending_blank)
			line += ' ';
		pending_blank = false;
		line += c;
	}
	return line;
}

// Clean returns text on one line with its credentials masked.
std::string
Clean(std::string_view text) {
	return mosta::MaskCredentialsInText(OneLine(text));
}

// Field returns one error field of result, or "".
std::string_view
Field(const PGresult *result, int field_code) {
	const char *value = result != nullptr ? PQresultErrorField(result, field_code) : nullptr;
	return value != nullptr ? std::string_view{value} : std::string_view{};
}

// ResultMessage returns the best message for a failed result: its primary message, else its whole error text,
// else the connection's, else its unexpected status.
std::string
ResultMessage(const PGresult *result, const PGconn *conn) {
	std::string message = OneLine(Field(result, PG_DIAG_MESSAGE_PRIMARY));
	if (message.empty() && result != nullptr)
		message = OneLine(PQresultErrorMessage(result));
	if (message.empty() && conn != nullptr)
		message = OneLine(PQerrorMessage(conn));
	if (message.empty() && result != nullptr)
		message = std::string("unexpected result status ") + PQresStatus(PQresultStatus(result));
	if (message.empty())
		message = "no result (out of memory or connection lost)";
	return message;
}

} // namespace

// ClassifySqlState maps a SQLSTATE to Retry, RetryLater or Fatal.
ErrorClass
ClassifySqlState(std::string_view sqlstate) noexcept {
	if (sqlstate.empty() || IsRetryable(sqlstate))
		return ErrorClass::Retry;
	if (IsRetryLater(sqlstate))
		return ErrorClass::RetryLater;
	return ErrorClass::Fatal; // among others 42704 (missing slot), 42501 (privilege), 28xxx, 3D000, 22023, 58P01
}

// ErrorClassName returns a lowercase name of error_class.
std::string_view
ErrorClassName(ErrorClass error_class) noexcept {
	switch (error_class) {
	case ErrorClass::Retry:
		return "retry";
	case ErrorClass::RetryLater:
		return "retry later";
	case ErrorClass::Fatal:
		return "fatal";
	}
	return "fatal";
}

// PgError keeps the parts and makes "<context>: <message>" the text of what().
PgError::PgError(std::string_view context, std::string sqlstate, std::string_view message, std::string_view detail,
				 std::string_view hint)
	: std::runtime_error(Clean(std::string(context) + ": " + std::string(message))), sqlstate_(std::move(sqlstate)),
	  message_(Clean(message)), detail_(Clean(detail)), hint_(Clean(hint)) {}

// FromResult collects the error fields of result, falling back to conn's message.
PgError
PgError::FromResult(std::string_view context, const PGresult *result, const PGconn *conn) {
	return PgError(context, std::string(Field(result, PG_DIAG_SQLSTATE)), ResultMessage(result, conn),
				   Field(result, PG_DIAG_MESSAGE_DETAIL), Field(result, PG_DIAG_MESSAGE_HINT));
}

// FromConn collects PQerrorMessage of conn (a null conn means libpq could not allocate one).
PgError
PgError::FromConn(std::string_view context, const PGconn *conn) {
	std::string message = conn != nullptr ? OneLine(PQerrorMessage(conn)) : std::string();
	if (message.empty())
		message = conn != nullptr ? "connection failed" : "out of memory allocating a connection";
	return PgError(context, std::string(), message);
}

} // namespace mosta::sidecar
