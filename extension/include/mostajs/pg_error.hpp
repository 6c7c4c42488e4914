/*-------------------------------------------------------------------------
 * pg_error.hpp
 *	  PgError: a PostgreSQL error (SQLSTATE, message, detail, hint) carried
 *	  through C++ code as an exception.
 *
 * Regime: C++ only. This header never includes postgres.h, so pure C++
 * files can throw PgError without seeing PostgreSQL's macros. InvokeCpp
 * (invoke_cpp.hpp) turns it back into an ereport(ERROR) at the boundary;
 * PgCall (pg_call.hpp) creates it from a PostgreSQL error.
 *-------------------------------------------------------------------------
 */
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace mostajs {

/* SQLSTATEs we raise, as text so that pure C++ files need no elog.h. */
namespace sqlstate {
constexpr const char *kInternalError = "XX000";
constexpr const char *kInvalidParameterValue = "22023";
constexpr const char *kNullValueNotAllowed = "22004";
constexpr const char *kUndefinedTable = "42P01";
constexpr const char *kWrongObjectType = "42809";
constexpr const char *kInvalidName = "42602";
constexpr const char *kSyntaxError = "42601";
constexpr const char *kObjectNotInPrerequisiteState = "55000";
} // namespace sqlstate

/*
 * PgError is an error meant for the SQL user: a five-character SQLSTATE and
 * PostgreSQL-style texts (lowercase message without a period; detail and
 * hint as full sentences, empty when absent).
 */
class PgError : public std::exception {
public:
	PgError(std::string sql_state, std::string message, std::string detail = {}, std::string hint = {})
	    : sql_state_(std::move(sql_state)), message_(std::move(message)), detail_(std::move(detail)),
	      hint_(std::move(hint)) {
		if (sql_state_.size() != 5)
			sql_state_ = sqlstate::kInternalError;
	}

	const char *
	what() const noexcept override {
		return message_.c_str();
	}
	const char *
	SqlState() const noexcept {
		return sql_state_.c_str();
	}
	const std::string &
	Detail() const noexcept {
		return detail_;
	}
	const std::string &
	Hint() const noexcept {
		return hint_;
	}

	/* WithHint returns a copy of this error carrying hint instead of its own. */
	PgError
	WithHint(std::string hint) const {
		return PgError(sql_state_, message_, detail_, std::move(hint));
	}

private:
	std::string sql_state_;
	std::string message_;
	std::string detail_;
	std::string hint_;
};

} // namespace mostajs
