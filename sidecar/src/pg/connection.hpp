/*
 * connection.hpp
 *     PgConnection: one non-blocking libpq connection driven by Boost.Asio coroutines, after ozo's
 *     impl/connection.h. PQsocket is wrapped in a posix::stream_descriptor that only waits for readiness (libpq
 *     does all reads and writes); the descriptor is release()d, never closed, before PQfinish or a new socket,
 *     because libpq owns the fd. Nothing here blocks the io_context: connecting polls PQconnectPoll, queries go
 *     through PQsendQuery/PQgetResult, output through PQflush. Failures throw PgError.
 */
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "pg/handles.hpp"

namespace mosta::sidecar {

// Whether a connection speaks the logical replication protocol (replication=database) or plain SQL.
enum class ConnectionKind {
	Sql,
	Replication,
};

// PgConnection owns a PGconn and the Asio descriptor that watches its socket. Use it from one coroutine at a
// time (or from coroutines that do not wait on it at once), on one executor.
class PgConnection {
  public:
	using Clock = std::chrono::steady_clock;

	// PgConnection makes a closed connection whose waits run on executor.
	explicit PgConnection(boost::asio::any_io_executor executor);

	// ~PgConnection releases the descriptor and closes the connection; it never throws.
	~PgConnection();

	PgConnection(const PgConnection &) = delete;
	PgConnection &operator=(const PgConnection &) = delete;

	// Connect opens a connection from conninfo (a keyword/value string or URI; "" takes everything from the PG*
	// environment), non-blocking; kind Replication adds replication=database. Closes any previous connection.
	// connect_timeout (which libpq ignores in non-blocking mode) bounds each host's attempt: with several hosts
	// they are then tried one by one, each with that deadline (a silent host costs connect_timeout, not the
	// operating system's TCP timeout, before the next is tried; target_session_attrs holds per host, apart from
	// prefer-standby, left to libpq).
	boost::asio::awaitable<void> Connect(std::string_view conninfo, ConnectionKind kind);

	// Close releases the descriptor and finishes the connection (a no-op when closed).
	void Close() noexcept;

	// IsOpen tells whether a connection is held.
	bool
	IsOpen() const noexcept {
		return conn_ != nullptr;
	}

	// Get returns the PGconn (null when closed), for libpq calls that do not wait.
	PGconn *
	Get() const noexcept {
		return conn_.get();
	}

	// Exec sends sql (simple query protocol) and returns its last result; a result that enters COPY is returned
	// at once. An error result throws PgError::FromResult with context.
	boost::asio::awaitable<PgResultHandle> Exec(std::string_view context, const std::string &sql);

	// Flush sends libpq's output buffer, consuming input meanwhile so that neither side can deadlock.
	boost::asio::awaitable<void> Flush(std::string_view context);

	// ConsumeInput reads what the socket holds into libpq's buffer; throws PgError on a lost connection.
	void ConsumeInput(std::string_view context);

	// WaitReadableUntil waits until the socket is readable (true) or deadline passes (false).
	boost::asio::awaitable<bool> WaitReadableUntil(Clock::time_point deadline);

	// WaitWritable waits until the socket is writable.
	boost::asio::awaitable<void> WaitWritable();

	// QuoteIdentifier returns name as a double-quoted identifier ("a""b"), for replication commands.
	static std::string QuoteIdentifier(std::string_view name);

	// QuoteLiteral returns value as a single-quoted literal ('it''s'), as the replication grammar reads it.
	static std::string QuoteLiteral(std::string_view value);

  private:
	// AttachSocket (re)wraps the current PQsocket in the descriptor, releasing the previous one.
	void AttachSocket();

	// WaitReadable waits until the socket is readable.
	boost::asio::awaitable<void> WaitReadable();

	// PollConnect runs the PQconnectPoll state machine of the started connection until it is made (true) or
	// deadline passes (false); throws PgError when it fails.
	boost::asio::awaitable<bool> PollConnect(Clock::time_point deadline);

	boost::asio::any_io_executor executor_;
	boost::asio::posix::stream_descriptor socket_;
	PgConnHandle conn_;
};

} // namespace mosta::sidecar
