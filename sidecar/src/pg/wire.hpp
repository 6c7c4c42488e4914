/*
 * wire.hpp
 *     The pure codec of the CopyBoth sub-protocol of streaming replication (PostgreSQL docs, "Streaming
 *     Replication Protocol"; reference client pg_recvlogical.c): parse the server's XLogData ('w') and primary
 *     keepalive ('k') messages, build the standby status update ('r'). All integers are big-endian (network
 *     order); times are PostgreSQL timestamps: microseconds since 2000-01-01 00:00:00 UTC. No I/O, no libpq.
 */
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "pg/lsn.hpp"

namespace mosta::sidecar {

// A PostgreSQL TimestampTz: microseconds since 2000-01-01 00:00:00 UTC.
using PgTimestamp = std::int64_t;

// Message type bytes of the CopyBoth sub-protocol.
inline constexpr char kXLogDataTag = 'w';
inline constexpr char kPrimaryKeepaliveTag = 'k';
inline constexpr char kStandbyStatusUpdateTag = 'r';

// Byte sizes: the XLogData header before its data, a whole keepalive, a whole status update.
inline constexpr std::size_t kXLogDataHeaderSize = 1 + 8 + 8 + 8;
inline constexpr std::size_t kPrimaryKeepaliveSize = 1 + 8 + 8 + 1;
inline constexpr std::size_t kStandbyStatusUpdateSize = 1 + 8 + 8 + 8 + 8 + 1;

// XLogData ('w'): one chunk of plugin output; data points into the parsed buffer and lives as long as it does.
struct XLogData {
	Lsn data_start = 0;
	Lsn wal_end = 0;
	PgTimestamp send_time = 0;
	std::string_view data;
};

// Primary keepalive ('k'): the server's WAL end; reply_requested asks for a status update at once.
struct PrimaryKeepalive {
	Lsn wal_end = 0;
	PgTimestamp send_time = 0;
	bool reply_requested = false;
};

// A CopyData payload that is not a valid 'w' or 'k' message; message says why, for a log line.
struct WireError {
	std::string message;
};

// What ParseCopyData makes of one CopyData payload.
using CopyMessage = std::variant<XLogData, PrimaryKeepalive, WireError>;

// Standby status update ('r'): what the client has written, flushed (made durable) and applied.
struct StandbyStatusUpdate {
	Lsn write = 0;
	Lsn flush = 0;
	Lsn apply = 0;
	PgTimestamp send_time = 0;
	bool reply_requested = false;
};

// ParseCopyData decodes one CopyData payload from the server (as returned by PQgetCopyData).
CopyMessage ParseCopyData(std::string_view payload);

// BuildStandbyStatusUpdate encodes update as the 34-byte 'r' message to send with PQputCopyData.
std::array<char, kStandbyStatusUpdateSize> BuildStandbyStatusUpdate(const StandbyStatusUpdate &update);

// ToPgTimestamp converts a system_clock time to microseconds since 2000-01-01 UTC (truncating toward zero).
PgTimestamp ToPgTimestamp(std::chrono::system_clock::time_point time);

// FromPgTimestamp converts microseconds since 2000-01-01 UTC to a system_clock time.
std::chrono::system_clock::time_point FromPgTimestamp(PgTimestamp timestamp);

// PgTimestampNow returns the current time as a PostgreSQL timestamp.
PgTimestamp PgTimestampNow();

} // namespace mosta::sidecar
