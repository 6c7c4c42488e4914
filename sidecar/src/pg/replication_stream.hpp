/*
 * replication_stream.hpp
 *     ReplicationStream: the logical replication client of the sidecar, after pg_recvlogical.c, on Boost.Asio
 *     coroutines. It opens a replication=database connection (PgConnection: non-blocking, never blocks the
 *     io_context), runs IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT (PG15 syntax, with an exported snapshot) and
 *     DROP_REPLICATION_SLOT, then START_REPLICATION ... LOGICAL and reads the CopyBoth stream.
 *
 *     Next() hands out each XLogData ('w') and handles everything else on the way: a keepalive ('k') that asks
 *     for a reply is answered at once, and a standby status update ('r') goes out at least every
 *     status_interval. Its write, flush and apply positions all come from the flush_lsn function, which must
 *     return only what the sinks made durable (docs/protocol.md section 17, rule 4). Stop() sends a last status
 *     update and ends the copy cleanly (CopyDone both ways), leaving the connection usable for commands.
 *
 *     Failures throw PgError (SQLSTATE and ErrorClass: a missing slot is 42704, fatal; a lost connection has no
 *     SQLSTATE, retry). A malformed CopyData message throws PgError with 08P01 (protocol_violation, retry).
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg/connection.hpp"
#include "pg/lsn.hpp"
#include "pg/wire.hpp"

namespace mosta::sidecar {

// How a ReplicationStream connects and how often it reports.
struct ReplicationStreamOptions {
	std::string conninfo;							   // "" takes everything from the PG* environment
	std::chrono::milliseconds status_interval{10'000}; // keep it well inside the server's wal_sender_timeout
	std::chrono::milliseconds stop_timeout{10'000};	   // how long Stop() waits for the server's CopyDone
};

// The answer to IDENTIFY_SYSTEM.
struct SystemIdentity {
	std::string system_id;
	std::uint32_t timeline = 0;
	Lsn xlog_pos = kInvalidLsn;
	std::string dbname;
};

// What CREATE_REPLICATION_SLOT does with the snapshot at the slot's consistent point.
enum class SlotSnapshot {
	Export,	 // export it (valid until the next command on this connection): SET TRANSACTION SNAPSHOT reads it
	Nothing, // no snapshot
	// a TEMPORARY slot (dropped when the connection ends) that exports its snapshot: a target copied alone
	ExportTemporary,
};

// The answer to CREATE_REPLICATION_SLOT.
struct CreatedSlot {
	std::string slot_name;
	Lsn consistent_point = kInvalidLsn;
	std::string snapshot_name; // "" unless SlotSnapshot::Export
	std::string output_plugin;
};

// One XLogData message: where its WAL record starts, the server's WAL end when sent, and the plugin's output.
struct XLogMessage {
	Lsn data_start = kInvalidLsn;
	Lsn wal_end = kInvalidLsn;
	PgTimestamp send_time = 0;
	std::string data;
};

// An output plugin option of START_REPLICATION: name and value.
using PluginOption = std::pair<std::string, std::string>;

// Counters for status reporting and tests.
struct ReplicationStreamStats {
	std::uint64_t messages = 0;			 // XLogData handed out by Next()
	std::uint64_t keepalives = 0;		 // keepalives received
	std::uint64_t keepalive_replies = 0; // status updates sent because a keepalive asked for one
	std::uint64_t status_updates = 0;	 // all status updates sent
	Lsn last_flush_reported = kInvalidLsn;
	Lsn server_wal_end = kInvalidLsn; // from the last keepalive or XLogData
};

// BuildCreateSlotCommand spells CREATE_REPLICATION_SLOT "slot" LOGICAL "plugin" (SNAPSHOT '...') (PG15 syntax).
std::string BuildCreateSlotCommand(std::string_view slot, std::string_view plugin, SlotSnapshot snapshot);

// BuildStartCommand spells START_REPLICATION SLOT "slot" LOGICAL X/Y ("name" 'value', ...).
std::string BuildStartCommand(std::string_view slot, Lsn start, const std::vector<PluginOption> &options);

// ReplicationStream is one replication connection and, once started, its CopyBoth stream. Drive it from one
// coroutine: Next(), SendStatus() and Stop() must not overlap.
class ReplicationStream {
  public:
	using Clock = std::chrono::steady_clock;

	// ReplicationStream keeps the options and the source of the durable flush LSN (kInvalidLsn: nothing yet).
	ReplicationStream(boost::asio::any_io_executor executor, ReplicationStreamOptions options,
					  std::function<Lsn()> flush_lsn);

	// Connect opens the replication connection (replication=database).
	boost::asio::awaitable<void> Connect();

	// Close drops the connection at once, without a final status update; it never throws.
	void Close() noexcept;

	// IdentifySystem runs IDENTIFY_SYSTEM.
	boost::asio::awaitable<SystemIdentity> IdentifySystem();

	// CreateSlot runs CREATE_REPLICATION_SLOT slot LOGICAL plugin (SNAPSHOT 'export'|'nothing').
	boost::asio::awaitable<CreatedSlot> CreateSlot(std::string_view slot, std::string_view plugin,
												   SlotSnapshot snapshot = SlotSnapshot::Export);

	// DropSlot runs DROP_REPLICATION_SLOT slot, with WAIT when wait is set (else an active slot is an error).
	boost::asio::awaitable<void> DropSlot(std::string_view slot, bool wait = false);

	// Start runs START_REPLICATION SLOT slot LOGICAL start ("name" 'value', ...) and enters the stream.
	boost::asio::awaitable<void> Start(std::string_view slot, Lsn start, const std::vector<PluginOption> &options);

	// Next returns the next XLogData, answering keepalives and sending status updates while it waits; nullopt
	// when deadline passes first or when the stream has ended (then Ended() is true).
	boost::asio::awaitable<std::optional<XLogMessage>> Next(Clock::time_point deadline = Clock::time_point::max());

	// SendStatus sends a standby status update now, with flush_lsn() as write, flush and apply position.
	boost::asio::awaitable<void> SendStatus(bool reply_requested = false);

	// Stop sends a final status update, ends the copy (PQputCopyEnd) and drains the server's remaining messages.
	boost::asio::awaitable<void> Stop();

	// Streaming tells whether START_REPLICATION succeeded and the stream has not ended.
	bool
	Streaming() const noexcept {
		return streaming_;
	}

	// Ended tells whether the server or Stop() ended the stream.
	bool
	Ended() const noexcept {
		return ended_;
	}

	// Stats returns the counters.
	const ReplicationStreamStats &
	Stats() const noexcept {
		return stats_;
	}

  private:
	// PutCopyData queues one CopyData message and flushes it.
	boost::asio::awaitable<void> PutCopyData(const char *data, int size);

	// PutCopyEnd sends CopyDone (PQputCopyEnd), retrying while libpq's output buffer is full, and flushes it.
	boost::asio::awaitable<void> PutCopyEnd(std::string_view context);

	// FinishCopy collects the results after the copy ended, until deadline; an error result throws.
	boost::asio::awaitable<void> FinishCopy(std::string_view context, Clock::time_point deadline);

	// Handle applies one keepalive or returns the XLogData carried by payload; throws on a malformed message.
	boost::asio::awaitable<std::optional<XLogMessage>> Handle(std::string_view payload);

	// CurrentFlushLsn calls flush_lsn_ (kInvalidLsn when none was given).
	Lsn CurrentFlushLsn() const;

	ReplicationStreamOptions options_;
	std::function<Lsn()> flush_lsn_;
	PgConnection connection_;
	Clock::time_point next_status_;
	bool streaming_ = false;
	bool ended_ = false;
	ReplicationStreamStats stats_;
};

} // namespace mosta::sidecar
