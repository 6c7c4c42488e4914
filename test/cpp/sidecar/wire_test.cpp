/*
 * wire_test.cpp
 *     Unit tests for the CopyBoth codec: hand-built 'w' and 'k' payloads (big-endian, laid out as in
 *     pg_recvlogical.c), truncated and unknown messages, the 34-byte 'r' layout, and the PostgreSQL epoch.
 */
#include "pg/wire.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;
using namespace std::string_literals;

// Be64 returns value as 8 big-endian bytes.
std::string
Be64(std::uint64_t value) {
	std::string bytes(8, '\0');
	for (int i = 7; i >= 0; --i, value >>= 8)
		bytes[i] = static_cast<char>(value & 0xFF);
	return bytes;
}

// XLogDataPayload builds a 'w' message by hand.
std::string
XLogDataPayload(std::uint64_t start, std::uint64_t end, std::int64_t time, const std::string &data) {
	return "w"s + Be64(start) + Be64(end) + Be64(static_cast<std::uint64_t>(time)) + data;
}

// KeepalivePayload builds a 'k' message by hand.
std::string
KeepalivePayload(std::uint64_t end, std::int64_t time, char reply) {
	return "k"s + Be64(end) + Be64(static_cast<std::uint64_t>(time)) + std::string(1, reply);
}

// ErrorOf returns the message of a WireError result, or a note that parsing succeeded.
std::string
ErrorOf(const sc::CopyMessage &message) {
	const auto *error = std::get_if<sc::WireError>(&message);
	return error != nullptr ? error->message : "(no error)";
}

TEST(Be64, IsBigEndian) {
	EXPECT_EQ(Be64(0x0102030405060708), "\x01\x02\x03\x04\x05\x06\x07\x08"s);
}

TEST(ParseCopyData, ReadsXLogData) {
	std::string payload = XLogDataPayload(0x16B374D848, 0x16B374D900, 0x0002A1B2C3D4E5F6, R"({"op":"begin"})");
	ASSERT_EQ(payload.size(), 25u + 14u);
	sc::CopyMessage message = sc::ParseCopyData(payload);
	const auto *xlog = std::get_if<sc::XLogData>(&message);
	ASSERT_NE(xlog, nullptr) << ErrorOf(message);
	EXPECT_EQ(xlog->data_start, 0x16B374D848u);
	EXPECT_EQ(xlog->wal_end, 0x16B374D900u);
	EXPECT_EQ(xlog->send_time, 0x0002A1B2C3D4E5F6);
	EXPECT_EQ(xlog->data, R"({"op":"begin"})");
	EXPECT_EQ(xlog->data.data(), payload.data() + 25); // a view into the buffer, no copy
}

TEST(ParseCopyData, ReadsExactByteLayoutOfXLogData) {
	std::string payload = "w"
						  "\x00\x00\x00\x16\xB3\x74\xD8\x48"
						  "\xFF\xFE\xFD\xFC\xFB\xFA\xF9\xF8"
						  "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFE"
						  "x\0y"s;
	auto xlog = std::get<sc::XLogData>(sc::ParseCopyData(payload));
	EXPECT_EQ(xlog.data_start, 0x16B374D848u);
	EXPECT_EQ(xlog.wal_end, 0xFFFEFDFCFBFAF9F8u); // high bit set: no sign extension
	EXPECT_EQ(xlog.send_time, -2);				  // timestamps are signed
	EXPECT_EQ(xlog.data, "x\0y"s);				  // binary-safe
}

TEST(ParseCopyData, AcceptsXLogDataWithEmptyData) {
	auto message = sc::ParseCopyData(XLogDataPayload(1, 2, 3, ""));
	ASSERT_TRUE(std::holds_alternative<sc::XLogData>(message)) << ErrorOf(message);
	EXPECT_TRUE(std::get<sc::XLogData>(message).data.empty());
}

TEST(ParseCopyData, RejectsTruncatedXLogData) {
	std::string payload = XLogDataPayload(1, 2, 3, "");
	for (std::size_t size = 1; size < sc::kXLogDataHeaderSize; ++size) {
		auto message = sc::ParseCopyData(std::string_view(payload).substr(0, size));
		EXPECT_EQ(ErrorOf(message),
				  "XLogData message too short: " + std::to_string(size) + " bytes, expected at least 25");
	}
}

TEST(ParseCopyData, ReadsKeepalive) {
	auto message = sc::ParseCopyData(KeepalivePayload(0x16B374D848, 745'000'000'000'000, 1));
	const auto *keepalive = std::get_if<sc::PrimaryKeepalive>(&message);
	ASSERT_NE(keepalive, nullptr) << ErrorOf(message);
	EXPECT_EQ(keepalive->wal_end, 0x16B374D848u);
	EXPECT_EQ(keepalive->send_time, 745'000'000'000'000);
	EXPECT_TRUE(keepalive->reply_requested);

	auto quiet = std::get<sc::PrimaryKeepalive>(sc::ParseCopyData(KeepalivePayload(7, 8, 0)));
	EXPECT_FALSE(quiet.reply_requested);
}

TEST(ParseCopyData, ReadsExactByteLayoutOfKeepalive) {
	std::string payload = "k"
						  "\x80\x00\x00\x00\x00\x00\x00\x01"
						  "\x00\x01\x02\x03\x04\x05\x06\x07"
						  "\x02"s;
	ASSERT_EQ(payload.size(), sc::kPrimaryKeepaliveSize);
	auto keepalive = std::get<sc::PrimaryKeepalive>(sc::ParseCopyData(payload));
	EXPECT_EQ(keepalive.wal_end, 0x8000000000000001u);
	EXPECT_EQ(keepalive.send_time, 0x0001020304050607);
	EXPECT_TRUE(keepalive.reply_requested); // any non-zero byte, as pg_recvlogical reads it
}

TEST(ParseCopyData, IgnoresBytesAfterKeepaliveFields) {
	auto message = sc::ParseCopyData(KeepalivePayload(5, 6, 0) + "extra");
	ASSERT_TRUE(std::holds_alternative<sc::PrimaryKeepalive>(message)) << ErrorOf(message);
	EXPECT_EQ(std::get<sc::PrimaryKeepalive>(message).wal_end, 5u);
}

TEST(ParseCopyData, RejectsTruncatedKeepalive) {
	std::string payload = KeepalivePayload(1, 2, 1);
	for (std::size_t size = 1; size < sc::kPrimaryKeepaliveSize; ++size) {
		auto message = sc::ParseCopyData(std::string_view(payload).substr(0, size));
		EXPECT_EQ(ErrorOf(message),
				  "primary keepalive message too short: " + std::to_string(size) + " bytes, expected at least 18");
	}
}

TEST(ParseCopyData, RejectsEmptyAndUnknownMessages) {
	EXPECT_EQ(ErrorOf(sc::ParseCopyData("")), "empty CopyData message from the server");
	EXPECT_EQ(ErrorOf(sc::ParseCopyData("r" + std::string(33, '\0'))), "unknown streaming message type 'r' (34 bytes)");
	EXPECT_EQ(ErrorOf(sc::ParseCopyData("W")), "unknown streaming message type 'W' (1 bytes)");
	EXPECT_EQ(ErrorOf(sc::ParseCopyData("\0abc"s)), "unknown streaming message type 0x00 (4 bytes)");
	EXPECT_EQ(ErrorOf(sc::ParseCopyData("\xFF"s)), "unknown streaming message type 0xFF (1 bytes)");
}

TEST(BuildStandbyStatusUpdate, LaysOutThirtyFourBytes) {
	sc::StandbyStatusUpdate update;
	update.write = 0x0102030405060708;
	update.flush = 0x16B374D848;
	update.apply = 0;
	update.send_time = -2;
	update.reply_requested = true;
	auto message = sc::BuildStandbyStatusUpdate(update);
	static_assert(sizeof(message) == 34);
	std::string expected = "r"
						   "\x01\x02\x03\x04\x05\x06\x07\x08"
						   "\x00\x00\x00\x16\xB3\x74\xD8\x48"
						   "\x00\x00\x00\x00\x00\x00\x00\x00"
						   "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFE"
						   "\x01"s;
	EXPECT_EQ(std::string(message.data(), message.size()), expected);

	update.reply_requested = false;
	EXPECT_EQ(sc::BuildStandbyStatusUpdate(update)[33], '\0');
}

TEST(BuildStandbyStatusUpdate, DefaultIsAllZeroAfterTag) {
	auto message = sc::BuildStandbyStatusUpdate(sc::StandbyStatusUpdate{});
	EXPECT_EQ(std::string(message.data(), message.size()), "r" + std::string(33, '\0'));
}

TEST(PgTimestamp, CountsMicrosecondsFrom2000) {
	using std::chrono::system_clock;
	system_clock::time_point pg_epoch{std::chrono::seconds{946'684'800}}; // 2000-01-01 00:00:00 UTC
	EXPECT_EQ(sc::ToPgTimestamp(pg_epoch), 0);
	EXPECT_EQ(sc::ToPgTimestamp(system_clock::time_point{}), -946'684'800'000'000); // 1970-01-01
	// 2024-05-01 12:34:56.789012 UTC is 1714566896 s after the Unix epoch.
	system_clock::time_point then{std::chrono::seconds{1'714'566'896} + std::chrono::microseconds{789'012}};
	EXPECT_EQ(sc::ToPgTimestamp(then), (1'714'566'896 - 946'684'800) * 1'000'000LL + 789'012);
	EXPECT_EQ(sc::FromPgTimestamp(sc::ToPgTimestamp(then)), then);
	EXPECT_EQ(sc::FromPgTimestamp(0), pg_epoch);
	EXPECT_EQ(sc::FromPgTimestamp(-1), pg_epoch - std::chrono::microseconds{1});
}

TEST(PgTimestamp, TruncatesSubMicroseconds) {
	using std::chrono::system_clock;
	system_clock::time_point pg_epoch{std::chrono::seconds{946'684'800}};
	auto later = pg_epoch + std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds{1'999});
	EXPECT_EQ(sc::ToPgTimestamp(later), 1);
}

TEST(PgTimestamp, NowIsNearTheSystemClock) {
	sc::PgTimestamp before = sc::ToPgTimestamp(std::chrono::system_clock::now());
	sc::PgTimestamp now = sc::PgTimestampNow();
	sc::PgTimestamp after = sc::ToPgTimestamp(std::chrono::system_clock::now());
	EXPECT_LE(before, now);
	EXPECT_LE(now, after);
	EXPECT_GT(now, 700'000'000'000'000); // after 2022
}

} // namespace
