/*
 * pg_destination_session.cpp
 *     PgSession (pg_destination_session.hpp).
 */
#include "io/pg_destination_session.hpp"

#include <array>

#include "io/source.hpp"
#include "model/value_text.hpp"
#include "mosta/common/conninfo.hpp"

namespace mosta::copy {

namespace {

constexpr const char *kApplicationName = "mosta-copy";

// OneLine returns text with its trailing newlines removed and the inner ones turned into "; ".
std::string
OneLine(std::string_view text) {
	while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
		text.remove_suffix(1);
	std::string line;
	for (char c : text) {
		if (c == '\n')
			line += "; ";
		else
			line += c;
	}
	return line;
}

} // namespace

std::string
PgErrorText(const PGresult *result, const PGconn *conn) {
	auto field = [&](int code) -> std::string {
		const char *value = result != nullptr ? PQresultErrorField(result, code) : nullptr;
		return value != nullptr ? OneLine(value) : std::string();
	};
	std::string text = field(PG_DIAG_MESSAGE_PRIMARY);
	if (text.empty())
		text = OneLine(result != nullptr && *PQresultErrorMessage(result) != '\0' ? PQresultErrorMessage(result)
					   : conn != nullptr										  ? PQerrorMessage(conn)
																				  : "out of memory");
	if (text.empty())
		text = "unknown error";
	for (auto [label, code] : std::array<std::pair<const char *, int>, 3>{
			 {{"detail", PG_DIAG_MESSAGE_DETAIL}, {"hint", PG_DIAG_MESSAGE_HINT}, {"context", PG_DIAG_CONTEXT}}}) {
		std::string value = field(code);
		if (!value.empty())
			text += std::string(" (") + label + ": " + value + ")";
	}
	return MaskCredentialsInText(text);
}

PgSession::PgSession(const std::string &uri, const std::string &described) : described_(described) {
	// dbname first and expanded, so that the keywords after it apply unless the URI says otherwise
	std::array<const char *, 3> keywords{"dbname", "fallback_application_name", nullptr};
	std::array<const char *, 3> values{uri.c_str(), kApplicationName, nullptr};
	conn_.reset(PQconnectdbParams(keywords.data(), values.data(), 1));
	if (conn_ == nullptr || PQstatus(conn_.get()) != CONNECTION_OK)
		throw CopyError("cannot connect to " + described_ + ": " +
						MaskCredentialsInText(conn_ != nullptr ? OneLine(PQerrorMessage(conn_.get()))
															   : std::string("out of memory")));
	Exec(kSessionSettingsSql, "setting the session up");
}

void
PgSession::Fail(const PGresult *result, std::string_view doing) const {
	throw CopyError(std::string(doing) + " in " + described_ + ": " + PgErrorText(result, conn_.get()));
}

void
PgSession::Exec(const std::string &sql, std::string_view doing) {
	sidecar::PgResultHandle result(PQexec(conn_.get(), sql.c_str()));
	ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		Fail(result.get(), doing);
}

sidecar::PgResultHandle
PgSession::Query(const std::string &sql, const std::vector<std::string> &params, std::string_view doing) {
	std::vector<const char *> values;
	values.reserve(params.size());
	for (const std::string &param : params)
		values.push_back(param.c_str());
	sidecar::PgResultHandle result(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
												values.data(), nullptr, nullptr, 0));
	ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		Fail(result.get(), doing);
	return result;
}

bool
PgSession::TryExec(const std::string &sql) noexcept {
	sidecar::PgResultHandle result(PQexec(conn_.get(), sql.c_str()));
	return result != nullptr && PQresultStatus(result.get()) == PGRES_COMMAND_OK;
}

} // namespace mosta::copy
