/*
 * pg_session.cpp
 *     PgSession (pg_session.hpp).
 */
#include "sink/pg_session.hpp"

#include <algorithm>
#include <array>

#include "mosta/common/conninfo.hpp"
#include "pg/errors.hpp"
#include "sink/pg_value_text.hpp"

namespace mosta::sidecar {

namespace {

constexpr const char *kApplicationName = "mosta-sidecar";

// Succeeded tells whether result is a success of any kind but COPY.
bool
Succeeded(const PGresult *result) noexcept {
	ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
	return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

} // namespace

PgSession::PgSession(const std::string &conninfo) : described_("PostgreSQL target " + MaskCredentials(conninfo)) {
	// dbname first and expanded, so that the keywords after it apply unless the URI says otherwise
	std::array<const char *, 3> keywords{"dbname", "fallback_application_name", nullptr};
	std::array<const char *, 3> values{conninfo.c_str(), kApplicationName, nullptr};
	conn_.reset(PQconnectdbParams(keywords.data(), values.data(), 1));
	if (conn_ == nullptr)
		throw PgError("connecting to " + described_, "", "out of memory");
	if (PQstatus(conn_.get()) != CONNECTION_OK)
		throw PgError::FromConn("connecting to " + described_, conn_.get());
	Exec(kPgSessionSettingsSql, "setting the session up");
}

void
PgSession::Fail(const PGresult *result, std::string_view doing) const {
	throw PgError::FromResult(std::string(doing) + " in " + described_, result, conn_.get());
}

void
PgSession::Exec(const std::string &sql, std::string_view doing) {
	PgResultHandle result(PQexec(conn_.get(), sql.c_str()));
	if (!Succeeded(result.get()))
		Fail(result.get(), doing);
}

PgResultHandle
PgSession::Query(const std::string &sql, const std::vector<const char *> &params, std::string_view doing) {
	PgResultHandle result(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
									   params.data(), nullptr, nullptr, 0));
	if (!Succeeded(result.get()))
		Fail(result.get(), doing);
	return result;
}

void
PgSession::CopyIn(const std::string &copy_sql, std::string_view data, std::string_view doing) {
	PgResultHandle start(PQexec(conn_.get(), copy_sql.c_str()));
	if (start == nullptr || PQresultStatus(start.get()) != PGRES_COPY_IN)
		Fail(start.get(), doing);
	// PQputCopyData takes an int: send large buffers in pieces
	constexpr std::size_t kPiece = 1U << 30;
	for (std::size_t pos = 0; pos < data.size(); pos += kPiece) {
		std::size_t size = std::min(kPiece, data.size() - pos);
		if (PQputCopyData(conn_.get(), data.data() + pos, static_cast<int>(size)) != 1)
			Fail(nullptr, doing);
	}
	if (PQputCopyEnd(conn_.get(), nullptr) != 1)
		Fail(nullptr, doing);
	PgResultHandle end(PQgetResult(conn_.get()));
	bool ok = Succeeded(end.get());
	// drain the results of the COPY (there is one), so the connection is ready for the next command
	while (PgResultHandle extra{PQgetResult(conn_.get())}) {
	}
	if (!ok)
		Fail(end.get(), doing);
}

bool
PgSession::Healthy() const noexcept {
	return PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) != PQTRANS_UNKNOWN;
}

bool
PgSession::TryExec(const char *sql) noexcept {
	PgResultHandle result(PQexec(conn_.get(), sql));
	return Succeeded(result.get());
}

} // namespace mosta::sidecar
