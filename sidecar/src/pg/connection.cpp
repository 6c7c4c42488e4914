/*
 * connection.cpp
 *     PgConnection: libpq's asynchronous API (PQconnectStartParams/PQconnectPoll, PQsendQuery/PQgetResult,
 *     PQflush) on an Asio stream_descriptor that only waits for readiness. Waiting for "readable or writable" or
 *     "readable or a deadline" uses Asio's awaitable || operator, which cancels the loser. libpq ignores
 *     connect_timeout in non-blocking mode: Connect applies it itself, host by host (connection.hpp).
 */
#include "pg/connection.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pg/conninfo_options.hpp"
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
	// the options as libpq resolved them (conninfo, PG* variables, defaults): connect_timeout and the host list
	ConninfoOptions options(PQconninfo(conn_.get()));
	int timeout = 0;
	std::vector<std::string> hosts, addresses, ports;
	if (options != nullptr) {
		std::string text = ConninfoValue(options.get(), "connect_timeout");
		timeout = text.empty() ? 0 : std::atoi(text.c_str());
		hosts = SplitConninfoList(ConninfoValue(options.get(), "host"));
		addresses = SplitConninfoList(ConninfoValue(options.get(), "hostaddr"));
		ports = SplitConninfoList(ConninfoValue(options.get(), "port"));
	}
	const std::size_t count = std::max(hosts.size(), addresses.size());
	const bool one_by_one = timeout > 0 && count > 1 &&
							ConninfoValue(options.get(), "target_session_attrs") != "prefer-standby" &&
							(ports.size() <= 1 || ports.size() == count);
	try {
		if (!one_by_one) {
			// libpq's own way through its hosts; connect_timeout (libpq ignores it here) bounds the whole attempt
			// (per host at least 2 s, libpq's rule)
			Clock::time_point deadline = Clock::time_point::max();
			if (timeout > 0)
				deadline = Clock::now() + std::chrono::seconds(std::max(timeout, 2) *
															   static_cast<int>(std::max<std::size_t>(count, 1)));
			if (!co_await PollConnect(deadline))
				throw PgError("connecting", "", "timeout expired after " + std::to_string(timeout) + " s");
		} else {
			// each host alone, with its own deadline: the next is tried when one fails or stays silent
			std::string failures;
			bool connected = false;
			for (std::size_t i = 0; i < count && !connected; ++i) {
				std::vector<std::string> names, texts;
				for (const PQconninfoOption *option = options.get(); option->keyword != nullptr; ++option) {
					std::string_view keyword = option->keyword;
					if (option->val == nullptr)
						continue;
					std::string value = option->val;
					if (keyword == "host")
						value = i < hosts.size() ? hosts[i] : std::string();
					else if (keyword == "hostaddr")
						value = i < addresses.size() ? addresses[i] : std::string();
					else if (keyword == "port" && !ports.empty())
						value = ports.size() == 1 ? ports[0] : ports[i];
					if (value.empty())
						continue;
					names.emplace_back(keyword);
					texts.push_back(std::move(value));
				}
				std::vector<const char *> keys, vals;
				for (std::size_t k = 0; k < names.size(); ++k) {
					keys.push_back(names[k].c_str());
					vals.push_back(texts[k].c_str());
				}
				keys.push_back(nullptr);
				vals.push_back(nullptr);
				Close();
				conn_.reset(PQconnectStartParams(keys.data(), vals.data(), 0));
				std::string host = i < hosts.size() && !hosts[i].empty() ? hosts[i]
								   : i < addresses.size()				 ? addresses[i]
																		 : "host " + std::to_string(i + 1);
				try {
					if (conn_ == nullptr || PQstatus(conn_.get()) == CONNECTION_BAD)
						throw PgError::FromConn("connecting", conn_.get());
					connected = co_await PollConnect(Clock::now() + std::chrono::seconds(std::max(timeout, 2)));
					if (!connected)
						failures += (failures.empty() ? "" : "; ") + host + ": timeout expired after " +
									std::to_string(std::max(timeout, 2)) + " s";
				} catch (const PgError &error) {
					failures += (failures.empty() ? "" : "; ") + host + ": " + error.what();
				}
			}
			if (!connected)
				throw PgError("connecting", "", "no host accepted the connection (" + failures + ")");
		}
	} catch (...) {
		Close();
		throw;
	}
	if (PQsetnonblocking(conn_.get(), 1) != 0)
		throw PgError::FromConn("connecting", conn_.get());
}

// PollConnect waits on the socket as PQconnectPoll asks, until the connection is made or deadline passes.
asio::awaitable<bool>
PgConnection::PollConnect(Clock::time_point deadline) {
	using namespace asio::experimental::awaitable_operators;
	PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
	while (poll != PGRES_POLLING_OK) {
		if (poll == PGRES_POLLING_FAILED)
			throw PgError::FromConn("connecting", conn_.get());
		AttachSocket();
		if (deadline == Clock::time_point::max()) {
			if (poll == PGRES_POLLING_READING)
				co_await WaitReadable();
			else
				co_await WaitWritable();
		} else {
			if (Clock::now() >= deadline)
				co_return false;
			asio::steady_timer timer(executor_, deadline);
			std::variant<std::monostate, std::monostate> ready;
			if (poll == PGRES_POLLING_READING)
				ready = co_await (WaitReadable() || timer.async_wait(asio::use_awaitable));
			else
				ready = co_await (WaitWritable() || timer.async_wait(asio::use_awaitable));
			if (ready.index() == 1)
				co_return false;
		}
		poll = PQconnectPoll(conn_.get());
	}
	AttachSocket();
	co_return true;
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
