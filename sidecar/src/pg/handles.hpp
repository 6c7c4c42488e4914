/*
 * handles.hpp
 *     RAII owners for libpq's C handles, after ozo's pg/handle.h: a unique_ptr with a noexcept deleter each, so
 *     that a PGconn is always PQfinish'ed, a PGresult always PQclear'ed and a libpq buffer (PQgetCopyData,
 *     PQescapeIdentifier, ...) always PQfreemem'ed, on every path including exceptions.
 */
#pragma once

#include <memory>

#include <libpq-fe.h>

namespace mosta::sidecar {

// PgConnDeleter closes a connection with PQfinish.
struct PgConnDeleter {
	// operator() releases conn (never null: unique_ptr skips null).
	void
	operator()(PGconn *conn) const noexcept {
		PQfinish(conn);
	}
};

// PgResultDeleter frees a result with PQclear.
struct PgResultDeleter {
	// operator() releases result.
	void
	operator()(PGresult *result) const noexcept {
		PQclear(result);
	}
};

// PgBufferDeleter frees memory that libpq allocated for the caller, with PQfreemem.
struct PgBufferDeleter {
	// operator() releases buffer.
	void
	operator()(char *buffer) const noexcept {
		PQfreemem(buffer);
	}
};

// An owned connection.
using PgConnHandle = std::unique_ptr<PGconn, PgConnDeleter>;

// An owned result.
using PgResultHandle = std::unique_ptr<PGresult, PgResultDeleter>;

// An owned libpq-allocated buffer (a CopyData row, an escaped string).
using PgBufferHandle = std::unique_ptr<char, PgBufferDeleter>;

} // namespace mosta::sidecar
