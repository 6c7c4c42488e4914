/*
 * wire.cpp
 *     ParseCopyData, BuildStandbyStatusUpdate and the PostgreSQL timestamp conversions. Length checks follow
 *     pg_recvlogical.c: a message shorter than its fixed layout is an error, bytes after a keepalive's fields are
 *     ignored (as pg_recvlogical does, so that a server adding fields does not break us).
 */
#include "pg/wire.hpp"

namespace mosta::sidecar {

namespace {

// Seconds from 1970-01-01 (the system_clock epoch since C++20) to 2000-01-01 (POSTGRES_EPOCH_JDATE).
constexpr std::chrono::seconds kUnixToPgEpoch{946'684'800};

// ReadUint64 reads 8 big-endian bytes at bytes[offset]; the caller has checked the length.
std::uint64_t
ReadUint64(std::string_view bytes, std::size_t offset) {
	std::uint64_t value = 0;
	for (std::size_t i = 0; i < 8; ++i)
		value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
	return value;
}

// WriteUint64 writes value as 8 big-endian bytes at out[offset].
template <std::size_t N>
void
WriteUint64(std::array<char, N> &out, std::size_t offset, std::uint64_t value) {
	for (std::size_t i = 0; i < 8; ++i)
		out[offset + i] = static_cast<char>(static_cast<unsigned char>(value >> (8 * (7 - i))));
}

// TooShort returns the error for a message of kind that has size bytes but needs at least needed.
WireError
TooShort(std::string_view kind, std::size_t size, std::size_t needed) {
	return WireError{std::string(kind) + " message too short: " + std::to_string(size) + " bytes, expected at least " +
					 std::to_string(needed)};
}

// DescribeTag returns a printable form of an unknown type byte: 'x' when printable ASCII, else 0xNN.
std::string
DescribeTag(char tag) {
	auto byte = static_cast<unsigned char>(tag);
	if (byte >= 0x20 && byte < 0x7F)
		return std::string("'") + tag + "'";
	constexpr char digits[] = "0123456789ABCDEF";
	return std::string("0x") + digits[byte >> 4] + digits[byte & 0xF];
}

// ParseXLogData decodes a payload that starts with 'w'.
CopyMessage
ParseXLogData(std::string_view payload) {
	if (payload.size() < kXLogDataHeaderSize)
		return TooShort("XLogData", payload.size(), kXLogDataHeaderSize);
	XLogData message;
	message.data_start = ReadUint64(payload, 1);
	message.wal_end = ReadUint64(payload, 9);
	message.send_time = static_cast<PgTimestamp>(ReadUint64(payload, 17));
	message.data = payload.substr(kXLogDataHeaderSize);
	return message;
}

// ParsePrimaryKeepalive decodes a payload that starts with 'k'.
CopyMessage
ParsePrimaryKeepalive(std::string_view payload) {
	if (payload.size() < kPrimaryKeepaliveSize)
		return TooShort("primary keepalive", payload.size(), kPrimaryKeepaliveSize);
	PrimaryKeepalive message;
	message.wal_end = ReadUint64(payload, 1);
	message.send_time = static_cast<PgTimestamp>(ReadUint64(payload, 9));
	message.reply_requested = payload[17] != 0;
	return message;
}

} // namespace

// ParseCopyData dispatches on the type byte of one CopyData payload.
CopyMessage
ParseCopyData(std::string_view payload) {
	if (payload.empty())
		return WireError{"empty CopyData message from the server"};
	switch (payload[0]) {
	case kXLogDataTag:
		return ParseXLogData(payload);
	case kPrimaryKeepaliveTag:
		return ParsePrimaryKeepalive(payload);
	default:
		return WireError{"unknown streaming message type " + DescribeTag(payload[0]) + " (" +
						 std::to_string(payload.size()) + " bytes)"};
	}
}

// BuildStandbyStatusUpdate lays out 'r', write, flush, apply, send time and the reply flag.
std::array<char, kStandbyStatusUpdateSize>
BuildStandbyStatusUpdate(const StandbyStatusUpdate &update) {
	std::array<char, kStandbyStatusUpdateSize> message{};
	message[0] = kStandbyStatusUpdateTag;
	WriteUint64(message, 1, update.write);
	WriteUint64(message, 9, update.flush);
	WriteUint64(message, 17, update.apply);
	WriteUint64(message, 25, static_cast<std::uint64_t>(update.send_time));
	message[33] = update.reply_requested ? 1 : 0;
	return message;
}

// ToPgTimestamp shifts a system_clock time to the PostgreSQL epoch, in microseconds.
PgTimestamp
ToPgTimestamp(std::chrono::system_clock::time_point time) {
	auto since_pg_epoch = time.time_since_epoch() - kUnixToPgEpoch;
	return std::chrono::duration_cast<std::chrono::microseconds>(since_pg_epoch).count();
}

// FromPgTimestamp shifts microseconds since the PostgreSQL epoch to a system_clock time.
std::chrono::system_clock::time_point
FromPgTimestamp(PgTimestamp timestamp) {
	auto since_unix_epoch = std::chrono::microseconds{timestamp} + kUnixToPgEpoch;
	return std::chrono::system_clock::time_point{
		std::chrono::duration_cast<std::chrono::system_clock::duration>(since_unix_epoch)};
}

// PgTimestampNow returns ToPgTimestamp(system_clock::now()).
PgTimestamp
PgTimestampNow() {
	return ToPgTimestamp(std::chrono::system_clock::now());
}

} // namespace mosta::sidecar
