/*
 * replication_stream.cpp
 *     ReplicationStream: replication commands and the CopyBoth loop of pg_recvlogical.c (StreamLogicalLog), on
 *     Asio. PQgetCopyData(conn, &buf, 1) never blocks: 0 means wait for the socket (or the next status update
 *     or the caller's deadline) and PQconsumeInput, -1 means the copy ended, -2 means the connection failed.
 *     Arguments of co_await calls are named locals, not class-type temporaries: GCC 12 may destroy those twice.
 */
#include "pg/replication_stream.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>
#include <variant>

#include "pg/errors.hpp"
#include "pg/handles.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kReadContext = "reading the replication stream";
constexpr std::string_view kStopContext = "stopping the replication stream";
constexpr std::string_view kStatusContext = "sending a standby status update";

// kProtocolViolation is the SQLSTATE of a message that breaks the protocol (class 08: reconnect).
constexpr const char *kProtocolViolation = "08P01";

// Value returns field column of row 0 of result as a string ("" for NULL).
std::string
Value(const PGresult *result, int column) {
	return PQgetisnull(result, 0, column) != 0 ? std::string() : std::string(PQgetvalue(result, 0, column));
}

// RequireRow checks that result is one row of at least columns columns.
void
RequireRow(std::string_view context, const PGresult *result, int columns) {
	if (result == nullptr || PQntuples(result) != 1 || PQnfields(result) < columns)
		throw PgError(context, kProtocolViolation, "unexpected answer from the server");
}

// ParseLsnField reads an LSN column, throwing a protocol violation when it is not one.
Lsn
ParseLsnField(std::string_view context, const std::string &text) {
	std::optional<Lsn> lsn = ParseLsn(text);
	if (!lsn)
		throw PgError(context, kProtocolViolation, "invalid LSN \"" + text + "\" from the server");
	return *lsn;
}

} // namespace

// BuildCreateSlotCommand uses the parenthesized option list of PostgreSQL 15.
std::string
BuildCreateSlotCommand(std::string_view slot, std::string_view plugin, SlotSnapshot snapshot) {
	bool temporary = snapshot == SlotSnapshot::ExportTemporary;
	return "CREATE_REPLICATION_SLOT " + PgConnection::QuoteIdentifier(slot) + (temporary ? " TEMPORARY" : "") +
		   " LOGICAL " + PgConnection::QuoteIdentifier(plugin) +
		   (snapshot == SlotSnapshot::Nothing ? " (SNAPSHOT 'nothing')" : " (SNAPSHOT 'export')");
}

// BuildStartCommand quotes the slot and option names as identifiers and the values as literals.
std::string
BuildStartCommand(std::string_view slot, Lsn start, const std::vector<PluginOption> &options) {
	std::string command =
		"START_REPLICATION SLOT " + PgConnection::QuoteIdentifier(slot) + " LOGICAL " + FormatLsn(start);
	for (std::size_t i = 0; i < options.size(); ++i) {
		command += i == 0 ? " (" : ", ";
		command +=
			PgConnection::QuoteIdentifier(options[i].first) + " " + PgConnection::QuoteLiteral(options[i].second);
	}
	if (!options.empty())
		command += ")";
	return command;
}

// ReplicationStream stores its configuration; nothing connects yet.
ReplicationStream::ReplicationStream(asio::any_io_executor executor, ReplicationStreamOptions options,
									 std::function<Lsn()> flush_lsn)
	: options_(std::move(options)), flush_lsn_(std::move(flush_lsn)), connection_(std::move(executor)) {}

// Connect opens a replication=database connection.
asio::awaitable<void>
ReplicationStream::Connect() {
	streaming_ = false;
	ended_ = false;
	co_await connection_.Connect(options_.conninfo, ConnectionKind::Replication);
}

// Close drops the connection.
void
ReplicationStream::Close() noexcept {
	connection_.Close();
	streaming_ = false;
}

// IdentifySystem reads systemid, timeline, xlogpos and dbname.
asio::awaitable<SystemIdentity>
ReplicationStream::IdentifySystem() {
	constexpr std::string_view context = "IDENTIFY_SYSTEM";
	const std::string command = "IDENTIFY_SYSTEM";
	PgResultHandle result = co_await connection_.Exec(context, command);
	RequireRow(context, result.get(), 4);
	SystemIdentity identity;
	identity.system_id = Value(result.get(), 0);
	identity.timeline = static_cast<std::uint32_t>(std::stoul(Value(result.get(), 1)));
	identity.xlog_pos = ParseLsnField(context, Value(result.get(), 2));
	identity.dbname = Value(result.get(), 3);
	co_return identity;
}

// CreateSlot reads slot_name, consistent_point, snapshot_name and output_plugin.
asio::awaitable<CreatedSlot>
ReplicationStream::CreateSlot(std::string_view slot, std::string_view plugin, SlotSnapshot snapshot) {
	constexpr std::string_view context = "CREATE_REPLICATION_SLOT";
	const std::string command = BuildCreateSlotCommand(slot, plugin, snapshot);
	PgResultHandle result = co_await connection_.Exec(context, command);
	RequireRow(context, result.get(), 4);
	CreatedSlot created;
	created.slot_name = Value(result.get(), 0);
	created.consistent_point = ParseLsnField(context, Value(result.get(), 1));
	created.snapshot_name = Value(result.get(), 2);
	created.output_plugin = Value(result.get(), 3);
	co_return created;
}

// DropSlot drops a slot over the replication connection.
asio::awaitable<void>
ReplicationStream::DropSlot(std::string_view slot, bool wait) {
	std::string command = "DROP_REPLICATION_SLOT " + PgConnection::QuoteIdentifier(slot) + (wait ? " WAIT" : "");
	co_await connection_.Exec("DROP_REPLICATION_SLOT", command);
}

// Start enters CopyBoth mode; the first status update is due one interval later.
asio::awaitable<void>
ReplicationStream::Start(std::string_view slot, Lsn start, const std::vector<PluginOption> &options) {
	constexpr std::string_view context = "START_REPLICATION";
	const std::string command = BuildStartCommand(slot, start, options);
	PgResultHandle result = co_await connection_.Exec(context, command);
	if (result == nullptr || PQresultStatus(result.get()) != PGRES_COPY_BOTH)
		throw PgError(context, kProtocolViolation, "the server did not enter COPY BOTH mode");
	streaming_ = true;
	ended_ = false;
	next_status_ = Clock::now() + options_.status_interval;
}

// Next loops over PQgetCopyData until an XLogData, the deadline or the end of the copy.
asio::awaitable<std::optional<XLogMessage>>
ReplicationStream::Next(Clock::time_point deadline) {
	if (!streaming_) {
		if (ended_)
			co_return std::nullopt;
		throw std::logic_error("ReplicationStream::Next before Start");
	}
	for (;;) {
		if (Clock::now() >= next_status_)
			co_await SendStatus();
		char *raw = nullptr;
		int size = PQgetCopyData(connection_.Get(), &raw, 1);
		PgBufferHandle buffer(raw);
		if (size > 0) {
			const std::string_view payload(buffer.get(), static_cast<std::size_t>(size));
			std::optional<XLogMessage> message = co_await Handle(payload);
			if (message)
				co_return message;
		} else if (size == 0) {
			if (Clock::now() >= deadline)
				co_return std::nullopt;
			if (co_await connection_.WaitReadableUntil(std::min(deadline, next_status_)))
				connection_.ConsumeInput(kReadContext);
		} else if (size == -1) {
			streaming_ = false;
			ended_ = true;
			co_await FinishCopy(kReadContext, Clock::now() + options_.stop_timeout);
			co_return std::nullopt;
		} else {
			throw PgError::FromConn(kReadContext, connection_.Get());
		}
	}
}

// Handle answers a keepalive that asks for it, or returns the XLogData.
asio::awaitable<std::optional<XLogMessage>>
ReplicationStream::Handle(std::string_view payload) {
	CopyMessage message = ParseCopyData(payload);
	if (const auto *wal = std::get_if<XLogData>(&message)) {
		++stats_.messages;
		stats_.server_wal_end = std::max(stats_.server_wal_end, wal->wal_end);
		co_return XLogMessage{wal->data_start, wal->wal_end, wal->send_time, std::string(wal->data)};
	}
	if (const auto *keepalive = std::get_if<PrimaryKeepalive>(&message)) {
		++stats_.keepalives;
		stats_.server_wal_end = std::max(stats_.server_wal_end, keepalive->wal_end);
		if (keepalive->reply_requested) {
			co_await SendStatus();
			++stats_.keepalive_replies;
		}
		co_return std::nullopt;
	}
	throw PgError(kReadContext, kProtocolViolation, std::get<WireError>(message).message);
}

// SendStatus reports flush_lsn() as written, flushed and applied, and restarts the status interval.
asio::awaitable<void>
ReplicationStream::SendStatus(bool reply_requested) {
	if (!streaming_)
		throw std::logic_error("ReplicationStream::SendStatus outside a stream");
	Lsn flush = CurrentFlushLsn();
	const StandbyStatusUpdate update{flush, flush, flush, PgTimestampNow(), reply_requested};
	const auto bytes = BuildStandbyStatusUpdate(update);
	co_await PutCopyData(bytes.data(), static_cast<int>(bytes.size()));
	++stats_.status_updates;
	stats_.last_flush_reported = flush;
	next_status_ = Clock::now() + options_.status_interval;
}

// PutCopyData retries while libpq's output buffer is full (0 in non-blocking mode), then flushes.
asio::awaitable<void>
ReplicationStream::PutCopyData(const char *data, int size) {
	for (;;) {
		int queued = PQputCopyData(connection_.Get(), data, size);
		if (queued < 0)
			throw PgError::FromConn(kStatusContext, connection_.Get());
		co_await connection_.Flush(kStatusContext);
		if (queued == 1)
			co_return;
	}
}

// Stop reports a last time, sends CopyDone, discards what the server still sends (it was not confirmed, so it
// comes again on the next start) until its CopyDone, then reads the command's result.
asio::awaitable<void>
ReplicationStream::Stop() {
	if (!streaming_)
		co_return;
	co_await SendStatus();
	Clock::time_point deadline = Clock::now() + options_.stop_timeout;
	co_await PutCopyEnd(kStopContext);
	streaming_ = false;
	ended_ = true;
	for (;;) {
		char *raw = nullptr;
		int size = PQgetCopyData(connection_.Get(), &raw, 1);
		PgBufferHandle buffer(raw);
		if (size == -1)
			break;
		if (size < -1)
			throw PgError::FromConn(kStopContext, connection_.Get());
		if (size == 0) {
			if (!co_await connection_.WaitReadableUntil(deadline))
				throw PgError(kStopContext, "", "the server did not end the copy within the stop timeout");
			connection_.ConsumeInput(kStopContext);
		}
	}
	co_await FinishCopy(kStopContext, deadline);
}

// PutCopyEnd retries PQputCopyEnd while it returns 0 (output buffer full in non-blocking mode).
asio::awaitable<void>
ReplicationStream::PutCopyEnd(std::string_view context) {
	for (;;) {
		int sent = PQputCopyEnd(connection_.Get(), nullptr);
		if (sent < 0)
			throw PgError::FromConn(context, connection_.Get());
		co_await connection_.Flush(context);
		if (sent == 1)
			co_return;
	}
}

// FinishCopy reads results until none is left; when the server ended the copy first (COPY_IN), it answers with
// CopyDone. The first error result throws.
asio::awaitable<void>
ReplicationStream::FinishCopy(std::string_view context, Clock::time_point deadline) {
	PgResultHandle error;
	for (;;) {
		while (PQisBusy(connection_.Get()) != 0) {
			if (!co_await connection_.WaitReadableUntil(deadline))
				throw PgError(context, "", "no answer from the server after the end of the copy");
			connection_.ConsumeInput(context);
		}
		PgResultHandle result(PQgetResult(connection_.Get()));
		if (result == nullptr)
			break;
		ExecStatusType status = PQresultStatus(result.get());
		if (status == PGRES_COPY_IN)
			co_await PutCopyEnd(context);
		else if ((status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) && error == nullptr)
			error = std::move(result);
	}
	if (error != nullptr)
		throw PgError::FromResult(context, error.get(), connection_.Get());
}

// CurrentFlushLsn asks the sinks' durable position.
Lsn
ReplicationStream::CurrentFlushLsn() const {
	return flush_lsn_ ? flush_lsn_() : kInvalidLsn;
}

} // namespace mosta::sidecar
