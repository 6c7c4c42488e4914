/*
 * connection.cpp
 *     PgConnection: libpq's asynchronous API (PQconnectStartParams/PQconnectPoll, PQsendQuery/PQgetResult,
 *     PQflush) on an Asio stream_descriptor that only waits for readiness. Waiting for "readable or writable" or
 *     "readable or a deadline" uses Asio's awaitable || operator, which cancels the loser.
 */
#include "pg/connection.hpp"

#include <array>
#include <utility>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pg/errors.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

namespace {

// kFallbackApplicationName names the sidecar in pg_stat_activity unless conninfo sets application_name.
constexpr const char *kFallbackApplicationName = "mosta-sidecar";

// IsErrorStatus tells whether a result reports a failed command.
bool
IsErrorStatus(ExecStatusType status) noexcept {
	return status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR;
}

// IsCopyStatus tells whether a result starts a COPY (no further result comes until the copy ends).
bool
IsCopyStatus(ExecStatusType status) noexcept {
	return status == PGRES_COPY_BOTH || status == PGRES_COPY_OUT || status == PGRES_COPY_IN;
}

// Quote surrounds text with quote, doubling every quote inside it.
std::string
Quote(std::string_view text, char quote) {
	std::string quoted(1, quote);
	for (char c : text) {
		quoted += c;
		if (c == quote)
			quoted += quote;
	}
	quoted += quote;
	return quoted;
}

} // namespace

// PgConnection binds the descriptor and timers to executor.
PgConnection::PgConnection(asio::any_io_executor executor) : executor_(executor), socket_(executor) {}

// ~PgConnection closes without throwing.
PgConnection::~PgConnection() {
	Close();
}

// Close releases the fd from Asio (libpq owns it), then PQfinish'es.
void
PgConnection::Close() noexcept {
	if (socket_.is_open())
		socket_.release();
	conn_.reset();
}

// AttachSocket re-registers the fd: after a failed attempt libpq may open a new socket under the same number.
void
PgConnection::AttachSocket() {
	if (socket_.is_open())
		socket_.release();
	int fd = PQsocket(conn_.get());
	if (fd < 0)
		throw PgError::FromConn("connecting", conn_.get());
	socket_.assign(fd);
}

// Connect runs the PQconnectPoll state machine, waiting on the socket as libpq asks.
asio::awaitable<void>
PgConnection::Connect(std::string_view conninfo, ConnectionKind kind) {
	Close();
	std::string dbname(conninfo);
	const bool replication = kind == ConnectionKind::Replication;
	// dbname first and expanded, so that the keywords after it override what conninfo says.
	std::array<const char *, 4> keywords{"dbname", "fallback_application_name", replication ? "replication" : nullptr,
										 nullptr};
	std::array<const char *, 4> values{dbname.c_str(), kFallbackApplicationName, replication ? "database" : nullptr,
									   nullptr};
	conn_.reset(PQconnectStartParams(keywords.data(), values.data(), 1));
	if (conn_ == nullptr || PQstatus(conn_.get()) == CONNECTION_BAD) {
		PgError error = PgError::FromConn("connecting", conn_.get());
		Close();
		throw error;
	}
	PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
	while (poll != PGRES_POLLING_OK) {
		if (poll == PGRES_POLLING_FAILED) {
			PgError error = PgError::FromConn("connecting", conn_.get());
			Close();
			throw error;
		}
		AttachSocket();
		if (poll == PGRES_POLLING_READING)
			co_await WaitReadable();
		else
			co_await WaitWritable();
		poll = PQconnectPoll(conn_.get());
	}
	AttachSocket();
	if (PQsetnonblocking(conn_.get(), 1) != 0)
		throw PgError::FromConn("connecting", conn_.get());
}

// Exec collects the results of one query without blocking; the first error result wins.
asio::awaitable<PgResultHandle>
PgConnection::Exec(std::string_view context, const std::string &sql) {
	if (PQsendQuery(conn_.get(), sql.c_str()) != 1)
		throw PgError::FromConn(context, conn_.get());
	co_await Flush(context);
	PgResultHandle last;
	PgResultHandle error;
	for (;;) {
		while (PQisBusy(conn_.get()) != 0) {
			co_await WaitReadable();
			ConsumeInput(context);
		}
		PgResultHandle result(PQgetResult(conn_.get()));
		if (result == nullptr)
			break;
		ExecStatusType status = PQresultStatus(result.get());
		if (IsCopyStatus(status) && error == nullptr)
			co_return result;
		if (IsErrorStatus(status) && error == nullptr)
			error = std::move(result);
		else
			last = std::move(result);
	}
	if (error != nullptr)
		throw PgError::FromResult(context, error.get(), conn_.get());
	co_return last;
}

// Flush follows libpq's advice for non-blocking mode: on 1, wait for read or write readiness and consume input
// when readable, then flush again.
asio::awaitable<void>
PgConnection::Flush(std::string_view context) {
	using namespace asio::experimental::awaitable_operators;
	for (;;) {
		int flushed = PQflush(conn_.get());
		if (flushed == 0)
			co_return;
		if (flushed < 0)
			throw PgError::FromConn(context, conn_.get());
		auto ready = co_await (WaitReadable() || WaitWritable());
		if (ready.index() == 0)
			ConsumeInput(context);
	}
}

// ConsumeInput wraps PQconsumeInput.
void
PgConnection::ConsumeInput(std::string_view context) {
	if (PQconsumeInput(conn_.get()) != 1)
		throw PgError::FromConn(context, conn_.get());
}

// WaitReadable waits for read readiness of the socket.
asio::awaitable<void>
PgConnection::WaitReadable() {
	co_await socket_.async_wait(asio::posix::descriptor_base::wait_read, asio::use_awaitable);
}

// WaitWritable waits for write readiness of the socket.
asio::awaitable<void>
PgConnection::WaitWritable() {
	co_await socket_.async_wait(asio::posix::descriptor_base::wait_write, asio::use_awaitable);
}

// WaitReadableUntil races read readiness against a timer.
asio::awaitable<bool>
PgConnection::WaitReadableUntil(Clock::time_point deadline) {
	using namespace asio::experimental::awaitable_operators;
	if (Clock::now() >= deadline)
		co_return false;
	asio::steady_timer timer(executor_, deadline);
	auto ready = co_await (WaitReadable() || timer.async_wait(asio::use_awaitable));
	co_return ready.index() == 0;
}

// QuoteIdentifier double-quotes name.
std::string
PgConnection::QuoteIdentifier(std::string_view name) {
	return Quote(name, '"');
}

// QuoteLiteral single-quotes value (the replication scanner knows no backslash escapes).
std::string
PgConnection::QuoteLiteral(std::string_view value) {
	return Quote(value, '\'');
}

} // namespace mosta::sidecar
