/*
 * replication_stream_test.cpp
 *     Tests of ReplicationStream. The command builders and a refused connection need no server. The
 *     ReplicationStreamIT tests need a real PostgreSQL 15 with wal_level=logical and the mostajs plugin, found
 *     through PGHOST/PGPORT/PGUSER (test/integration/sidecar_stream.sh runs them inside scripts/pg-cluster);
 *     without those variables they are skipped. They never sleep to synchronise: every wait has a deadline.
 */
#include "pg/replication_stream.hpp"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "decode/change.hpp"
#include "pg/errors.hpp"
#include "pg/handles.hpp"

namespace {

namespace asio = boost::asio;
namespace sc = mosta::sidecar;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char *kStreamSlot = "mostajs_it_stream";
constexpr const char *kKeepaliveSlot = "mostajs_it_keepalive";
constexpr const char *kIntervalSlot = "mostajs_it_interval";
constexpr const char *kMissingSlot = "mostajs_it_no_such_slot";

// kVersionOnly is the smallest option list (named: GCC 12 rejects an initializer list of literals in co_await).
const std::vector<sc::PluginOption> kVersionOnly{{"format-version", "1"}};

// RunCoroutine runs body (whose co_await expressions build no temporaries: GCC 12 miscompiles those) on a fresh
// io_context until it finishes and rethrows what it threw.
void
RunCoroutine(std::function<asio::awaitable<void>()> body) {
	asio::io_context context;
	std::future<void> done = asio::co_spawn(context, std::move(body), asio::use_future);
	context.run();
	done.get();
}

// Sql is a plain blocking connection for the test's own queries (the environment names the server).
class Sql {
  public:
	// Sql connects or throws.
	Sql() : conn_(PQconnectdb("")) {
		if (PQstatus(conn_.get()) != CONNECTION_OK)
			throw std::runtime_error(std::string("test connection: ") + PQerrorMessage(conn_.get()));
	}

	// Query runs sql and returns the first column of the first row ("" when there is none); throws on error.
	std::string
	Query(const std::string &sql) {
		sc::PgResultHandle result(PQexec(conn_.get(), sql.c_str()));
		ExecStatusType status = PQresultStatus(result.get());
		if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
			throw std::runtime_error(sql + ": " + PQerrorMessage(conn_.get()));
		return status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
	}

	// DropSlot drops slot if it exists.
	void
	DropSlot(const std::string &slot) {
		Query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
	}

  private:
	sc::PgConnHandle conn_;
};

// Ops returns the op names of changes, for one readable comparison.
std::vector<std::string>
Ops(const std::vector<const sc::Change *> &changes) {
	std::vector<std::string> ops;
	for (const sc::Change *change : changes)
		ops.emplace_back(sc::OpName(change->op));
	return ops;
}

TEST(ReplicationStreamCommands, QuoteNamesAndValues) {
	EXPECT_EQ(sc::BuildStartCommand("my\"slot", 0x16B374D848, {{"format-version", "1"}, {"message-prefixes", "a'b"}}),
			  "START_REPLICATION SLOT \"my\"\"slot\" LOGICAL 16/B374D848 (\"format-version\" '1', "
			  "\"message-prefixes\" 'a''b')");
	EXPECT_EQ(sc::BuildStartCommand("s", 0, {}), "START_REPLICATION SLOT \"s\" LOGICAL 0/0");
	EXPECT_EQ(sc::BuildCreateSlotCommand("s", "mostajs", sc::SlotSnapshot::Export),
			  "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"mostajs\" (SNAPSHOT 'export')");
	EXPECT_EQ(sc::BuildCreateSlotCommand("s", "mostajs", sc::SlotSnapshot::Nothing),
			  "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"mostajs\" (SNAPSHOT 'nothing')");
	EXPECT_EQ(sc::BuildCreateSlotCommand("s", "mostajs", sc::SlotSnapshot::ExportTemporary),
			  "CREATE_REPLICATION_SLOT \"s\" TEMPORARY LOGICAL \"mostajs\" (SNAPSHOT 'export')");
}

TEST(ReplicationStreamCommands, RefusedConnectionIsRetry) {
	sc::ErrorClass error_class = sc::ErrorClass::Fatal;
	RunCoroutine([&]() -> asio::awaitable<void> {
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::ReplicationStream stream(executor, {"host=127.0.0.1 port=1 connect_timeout=5 sslmode=disable"}, nullptr);
		try {
			co_await stream.Connect();
			ADD_FAILURE() << "connected to port 1";
		} catch (const sc::PgError &error) {
			EXPECT_EQ(error.SqlState(), "");
			error_class = error.Class();
		}
	});
	EXPECT_EQ(error_class, sc::ErrorClass::Retry);
}

// ReplicationStreamIT needs a server; it skips without one and drops its slots before and after each test.
class ReplicationStreamIT : public ::testing::Test {
  protected:
	void
	SetUp() override {
		for (const char *variable : {"PGHOST", "PGPORT", "PGUSER"})
			if (std::getenv(variable) == nullptr)
				GTEST_SKIP() << variable << " is not set: no PostgreSQL server to test against (run "
							 << "scripts/pg-cluster run -- bash test/integration/sidecar_stream.sh)";
		DropSlots();
	}

	void
	TearDown() override {
		if (!IsSkipped())
			DropSlots();
	}

	// DropSlots drops every slot these tests create.
	void
	DropSlots() {
		for (const char *slot : {kStreamSlot, kKeepaliveSlot, kIntervalSlot})
			sql_.DropSlot(slot);
	}

	// Sql returns the test's own plain connection (opened only when the test runs).
	Sql &
	sql() {
		return sql_.Get();
	}

  private:
	// LazySql opens its connection on first use, so that skipped tests need no server.
	struct LazySql {
		std::unique_ptr<Sql> sql;

		Sql &
		Get() {
			if (!sql)
				sql = std::make_unique<Sql>();
			return *sql;
		}

		void
		DropSlot(const std::string &slot) {
			Get().DropSlot(slot);
		}
	} sql_;
};

TEST_F(ReplicationStreamIT, StreamsTransactionsInOrderAndConfirmsTheFlushLsn) {
	sql().Query("DROP TABLE IF EXISTS it_stream; CREATE TABLE it_stream (id int PRIMARY KEY, note text)");
	sql().Query("INSERT INTO it_stream VALUES (0, 'before the slot')");
	sc::Lsn durable = sc::kInvalidLsn;
	sc::ChangeDecoder decoder;
	std::vector<std::shared_ptr<const sc::DecodedMessage>> messages;
	std::string confirmed;
	RunCoroutine([&]() -> asio::awaitable<void> {
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::ReplicationStream stream(executor, {}, [&] { return durable; });
		co_await stream.Connect();
		sc::SystemIdentity identity = co_await stream.IdentifySystem();
		EXPECT_FALSE(identity.system_id.empty());
		EXPECT_NE(identity.xlog_pos, sc::kInvalidLsn);

		sc::CreatedSlot slot = co_await stream.CreateSlot(kStreamSlot, "mostajs", sc::SlotSnapshot::Export);
		EXPECT_EQ(slot.slot_name, kStreamSlot);
		EXPECT_EQ(slot.output_plugin, "mostajs");
		EXPECT_NE(slot.consistent_point, sc::kInvalidLsn);
		EXPECT_FALSE(slot.snapshot_name.empty());

		sql().Query("INSERT INTO it_stream VALUES (1, 'one')");
		sql().Query("BEGIN; INSERT INTO it_stream VALUES (2, 'two'); INSERT INTO it_stream VALUES (3, 'three'); "
					"COMMIT");
		sql().Query("INSERT INTO it_stream VALUES (4, 'four')");
		// The exported snapshot sees the table as of the slot's consistent point: only row 0.
		Sql reader;
		reader.Query("BEGIN ISOLATION LEVEL REPEATABLE READ");
		reader.Query("SET TRANSACTION SNAPSHOT '" + slot.snapshot_name + "'");
		EXPECT_EQ(reader.Query("SELECT string_agg(id::text, ',') FROM it_stream"), "0");
		reader.Query("COMMIT");

		const std::vector<sc::PluginOption> plugin_options{{"format-version", "1"}, {"include-lsn", "on"}};
		co_await stream.Start(kStreamSlot, slot.consistent_point, plugin_options);
		EXPECT_TRUE(stream.Streaming());
		Clock::time_point deadline = Clock::now() + 30s;
		sc::Lsn previous_start = sc::kInvalidLsn;
		int commits = 0;
		while (commits < 3) {
			std::optional<sc::XLogMessage> message = co_await stream.Next(deadline);
			if (!message)
				throw std::runtime_error("the third commit did not arrive within 30 s");
			EXPECT_GE(message->data_start, previous_start);
			previous_start = message->data_start;
			std::shared_ptr<const sc::DecodedMessage> decoded = decoder.Decode(message->data);
			for (const sc::Change &change : decoded->changes)
				commits += change.op == sc::Op::Commit;
			messages.push_back(decoded);
		}
		durable = messages.back()->changes.back().end_lsn;
		co_await stream.SendStatus();
		// Poll the slot, keeping the stream serviced meanwhile, until it reports the flush LSN or 10 s pass.
		deadline = Clock::now() + 10s;
		const std::string query = std::string("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE ") +
								  "slot_name = '" + kStreamSlot + "'";
		while ((confirmed = sql().Query(query)) != sc::FormatLsn(durable) && Clock::now() < deadline) {
			std::optional<sc::XLogMessage> extra = co_await stream.Next(Clock::now() + 50ms);
			EXPECT_FALSE(extra) << "a document after the third commit";
		}
		co_await stream.Stop();
		EXPECT_TRUE(stream.Ended());
		EXPECT_FALSE(stream.Streaming());
		co_await stream.DropSlot(kStreamSlot); // the connection is usable again after Stop
	});
	std::vector<const sc::Change *> changes;
	for (const auto &decoded : messages)
		for (const sc::Change &change : decoded->changes)
			changes.push_back(&change);
	EXPECT_EQ(Ops(changes), (std::vector<std::string>{"begin", "insert", "commit", "begin", "insert", "insert",
													  "commit", "begin", "insert", "commit"}));
	std::vector<std::int64_t> ids;
	std::vector<sc::Lsn> commit_lsns;
	for (const sc::Change *each : changes) {
		const sc::Change &change = *each;
		if (change.op == sc::Op::Insert) {
			EXPECT_EQ(change.Table(), "it_stream");
			ids.push_back(std::get<std::int64_t>(change.new_row.at(0).value));
		}
		if (change.op == sc::Op::Begin)
			commit_lsns.push_back(change.commit_lsn);
	}
	EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2, 3, 4}));
	ASSERT_EQ(commit_lsns.size(), 3U);
	EXPECT_LT(commit_lsns[0], commit_lsns[1]);
	EXPECT_LT(commit_lsns[1], commit_lsns[2]);
	EXPECT_NE(durable, sc::kInvalidLsn);
	EXPECT_EQ(confirmed, sc::FormatLsn(durable));
	sql().Query("DROP TABLE it_stream");
}

TEST_F(ReplicationStreamIT, AnswersKeepalivesThatAskForAReply) {
	// wal_sender_timeout=1s: the server asks for a reply after 0.5 s of silence and ends the connection after 1 s
	// without one. The status interval (1 h) never fires, so only the replies keep the stream alive.
	sc::ReplicationStreamStats stats;
	bool streaming = false;
	RunCoroutine([&]() -> asio::awaitable<void> {
		sc::ReplicationStreamOptions options{"options='-c wal_sender_timeout=1s'", std::chrono::hours(1)};
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::ReplicationStream stream(executor, options, [] { return sc::kInvalidLsn; });
		co_await stream.Connect();
		co_await stream.CreateSlot(kKeepaliveSlot, "mostajs", sc::SlotSnapshot::Nothing);
		co_await stream.Start(kKeepaliveSlot, sc::kInvalidLsn, kVersionOnly);
		Clock::time_point deadline = Clock::now() + 3s;
		while (Clock::now() < deadline) {
			std::optional<sc::XLogMessage> message = co_await stream.Next(deadline);
			EXPECT_FALSE(message);
		}
		streaming = stream.Streaming();
		stats = stream.Stats();
		co_await stream.Stop();
	});
	EXPECT_TRUE(streaming) << "the server ended the stream: a keepalive was not answered";
	EXPECT_GE(stats.keepalive_replies, 2U);
	EXPECT_EQ(stats.status_updates, stats.keepalive_replies);
}

TEST_F(ReplicationStreamIT, SendsStatusUpdatesAtTheInterval) {
	sc::ReplicationStreamStats stats;
	RunCoroutine([&]() -> asio::awaitable<void> {
		sc::ReplicationStreamOptions options{"", 100ms};
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::ReplicationStream stream(executor, options, [] { return sc::Lsn{0x1234}; });
		co_await stream.Connect();
		co_await stream.CreateSlot(kIntervalSlot, "mostajs", sc::SlotSnapshot::Nothing);
		co_await stream.Start(kIntervalSlot, sc::kInvalidLsn, kVersionOnly);
		Clock::time_point deadline = Clock::now() + 1s;
		while (Clock::now() < deadline) {
			std::optional<sc::XLogMessage> message = co_await stream.Next(deadline);
			EXPECT_FALSE(message);
		}
		stats = stream.Stats();
		co_await stream.Stop();
	});
	EXPECT_GE(stats.status_updates, 5U);
	EXPECT_LE(stats.status_updates, 12U);
	EXPECT_EQ(stats.last_flush_reported, sc::Lsn{0x1234});
}

TEST_F(ReplicationStreamIT, MissingSlotIsFatal42704) {
	std::string sqlstate;
	sc::ErrorClass error_class = sc::ErrorClass::Retry;
	RunCoroutine([&]() -> asio::awaitable<void> {
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::ReplicationStream stream(executor, {}, nullptr);
		co_await stream.Connect();
		try {
			co_await stream.Start(kMissingSlot, sc::kInvalidLsn, kVersionOnly);
			ADD_FAILURE() << "START_REPLICATION of a missing slot succeeded";
		} catch (const sc::PgError &error) {
			sqlstate = error.SqlState();
			error_class = error.Class();
		}
	});
	EXPECT_EQ(sqlstate, "42704");
	EXPECT_EQ(error_class, sc::ErrorClass::Fatal);
}

} // namespace
