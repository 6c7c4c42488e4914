// ha_primitives_test.cpp: the HA primitives against a live server (ha/node_probe.hpp, ha/promotion.hpp): the probe
// of a primary and of a closed port, the topology read from a node, the refusals of PromoteStandby and
// RepointStandby on a primary, SwapMaster (the swap, and a refusal that changes nothing), LogActivity (masked).
// Skipped without PGHOST/PGPORT/PGUSER (run under scripts/pg-cluster run, with the mostajs extension installed).
#include "ha/node_probe.hpp"
#include "ha/promotion.hpp"

#include <cstdlib>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "pg/handles.hpp"

namespace mosta::sidecar::ha {
namespace {

namespace asio = boost::asio;

// RunCoroutine runs body on a fresh io_context until it finishes and rethrows what it threw.
void
RunCoroutine(std::function<asio::awaitable<void>()> body) {
	asio::io_context context;
	std::future<void> done = asio::co_spawn(context, std::move(body), asio::use_future);
	context.run();
	done.get();
}

// Query runs sql on a blocking connection from the environment and returns the first value ("" for none).
std::string
Query(const std::string &sql) {
	PgConnHandle conn(PQconnectdb(""));
	if (PQstatus(conn.get()) != CONNECTION_OK)
		throw std::runtime_error(std::string("test connection: ") + PQerrorMessage(conn.get()));
	PgResultHandle result(PQexec(conn.get(), sql.c_str()));
	ExecStatusType status = PQresultStatus(result.get());
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		throw std::runtime_error(sql + ": " + PQerrorMessage(conn.get()));
	return status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 && !PQgetisnull(result.get(), 0, 0)
			   ? PQgetvalue(result.get(), 0, 0)
			   : "";
}

constexpr const char *kProject = "mosta-it-ha";

// HaPrimitivesIT declares project mosta-it-ha: master m (this server), slaves s1 (postgres) and lite (sqlite).
class HaPrimitivesIT : public ::testing::Test {
  protected:
	void
	SetUp() override {
		for (const char *variable : {"PGHOST", "PGPORT", "PGUSER"})
			if (std::getenv(variable) == nullptr)
				GTEST_SKIP() << variable << " is not set: no PostgreSQL server to test against (run under "
							 << "scripts/pg-cluster run, after make install)";
		Query("SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS mostajs");
		RemoveProject();
		const std::string self = std::string("host=") + std::getenv("PGHOST") + " port=" + std::getenv("PGPORT");
		Query("SELECT mosta_add_replica('" + std::string(kProject) + "', 'm', 'master', 'postgres', '" + self + "')");
		Query("SELECT mosta_add_replica('" + std::string(kProject) +
			  "', 's1', 'slave', 'postgres', 'host=127.0.0.1 port=1 password=Hunter2x', lag_tolerance_ms => 0)");
		Query("SELECT mosta_add_replica('" + std::string(kProject) + "', 'lite', 'slave', 'sqlite', 'lite.db')");
		Query("INSERT INTO mosta.replica_status (project, replica, status, lag_ms, lag_bytes, applied_lsn, sync_state)"
			  " VALUES ('" +
			  std::string(kProject) + "', 's1', 'up', 0, 16, '0/100', 'sync')");
	}

	void
	TearDown() override {
		if (std::getenv("PGHOST") != nullptr)
			RemoveProject();
	}

	static void
	RemoveProject() {
		for (const char *name : {"s1", "lite", "m"})
			Query("SELECT mosta_remove_replica('" + std::string(kProject) + "', '" + name + "', if_exists => true)");
		Query("DELETE FROM mosta.activity WHERE project = '" + std::string(kProject) + "'");
	}

	static std::string
	Roles() {
		return Query("SELECT string_agg(name || '=' || role, ',' ORDER BY name) FROM mosta.replicas WHERE project = '" +
					 std::string(kProject) + "'");
	}
};

TEST_F(HaPrimitivesIT, ProbesAPrimaryAndAClosedPort) {
	NodeProbe primary, closed;
	RunCoroutine([&]() -> asio::awaitable<void> {
		const std::string self = "";
		primary = co_await ProbeNode(self);
		const std::string nowhere = "host=127.0.0.1 port=1 password=Hunter2x";
		closed = co_await ProbeNode(nowhere);
	});
	EXPECT_TRUE(primary.reachable) << primary.error;
	EXPECT_FALSE(primary.in_recovery);
	EXPECT_FALSE(primary.system_identifier.empty());
	EXPECT_EQ(primary.timeline, std::optional<std::uint32_t>(1));
	EXPECT_TRUE(primary.current_lsn);
	EXPECT_EQ(primary.MostAdvancedLsn(), *primary.current_lsn);
	EXPECT_FALSE(closed.reachable);
	EXPECT_NE(closed.error.find("Connection refused"), std::string::npos) << closed.error;
	EXPECT_EQ(closed.error.find("Hunter2x"), std::string::npos) << closed.error;
}

TEST_F(HaPrimitivesIT, ReadsTheTopologyFromANode) {
	Topology topology;
	RunCoroutine([&]() -> asio::awaitable<void> {
		// a dead first host: the next one serves
		const std::string source = std::string("host=127.0.0.1,") + std::getenv("PGHOST") + " port=1," +
								   std::getenv("PGPORT") +
								   " dbname=" + (std::getenv("PGDATABASE") ? std::getenv("PGDATABASE") : "postgres");
		const std::string project = kProject;
		topology = co_await ReadTopologyFrom(source, project);
	});
	EXPECT_FALSE(topology.node_in_recovery);
	ASSERT_NE(topology.Master(), nullptr);
	EXPECT_EQ(topology.Master()->name, "m");
	ASSERT_EQ(topology.replicas.size(), 3u);
	const TopologyReplica *s1 = topology.Find("s1");
	ASSERT_NE(s1, nullptr);
	EXPECT_EQ(s1->lag_tolerance_ms, 0);
	EXPECT_TRUE(s1->last.present);
	EXPECT_EQ(s1->last.sync_state, "sync");
	EXPECT_EQ(s1->last.applied_lsn, std::optional<Lsn>(0x100));
	EXPECT_TRUE(s1->last.age_ms);
	EXPECT_EQ(topology.MasterLsnAtLastObservation(), std::optional<Lsn>(0x110));
	EXPECT_FALSE(topology.Find("lite")->last.present);

	EXPECT_THROW(RunCoroutine([&]() -> asio::awaitable<void> {
					 const std::string source = "";
					 const std::string project = "mosta-it-no-such-project";
					 co_await ReadTopologyFrom(source, project);
				 }),
				 std::runtime_error);
}

TEST_F(HaPrimitivesIT, PromoteAndRepointRefuseAPrimary) {
	try {
		RunCoroutine([&]() -> asio::awaitable<void> {
			const std::string self = "";
			co_await PromoteStandby(self);
		});
		FAIL() << "no error";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("it is not in recovery (already a primary)"), std::string::npos)
			<< e.what();
	}
	try {
		RunCoroutine([&]() -> asio::awaitable<void> {
			const std::string self = "", primary = "host=elsewhere", name = "s1";
			co_await RepointStandby(self, primary, name);
		});
		FAIL() << "no error";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("not in recovery (a primary)"), std::string::npos) << e.what();
	}
	EXPECT_EQ(Query("SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'"), "");
}

TEST_F(HaPrimitivesIT, SwapMasterSwapsOrChangesNothing) {
	const std::string before = Roles();
	for (const char *wrong : {"lite", "m", "nosuch"}) {
		EXPECT_THROW(RunCoroutine([&]() -> asio::awaitable<void> {
						 PgConnection conn(co_await asio::this_coro::executor);
						 const std::string self = "", project = kProject, target = wrong;
						 co_await conn.Connect(self, ConnectionKind::Sql);
						 co_await SwapMaster(conn, project, target);
					 }),
					 std::runtime_error)
			<< wrong;
		EXPECT_EQ(Roles(), before) << wrong;
	}
	SwapResult swap;
	RunCoroutine([&]() -> asio::awaitable<void> {
		PgConnection conn(co_await asio::this_coro::executor);
		const std::string self = "", project = kProject, target = "s1";
		co_await conn.Connect(self, ConnectionKind::Sql);
		swap = co_await SwapMaster(conn, project, target);
		// the connection is usable after the swap (no transaction left open)
		const std::string sql = "SELECT 1";
		co_await conn.Exec("after the swap", sql);
	});
	EXPECT_EQ(swap.old_master, "m");
	EXPECT_EQ(Roles(), "lite=slave,m=slave,s1=master");
	EXPECT_EQ(Query("SELECT status || ': ' || last_error FROM mosta.replica_status WHERE project = '" +
					std::string(kProject) + "' AND replica = 'm'"),
			  "down: former master, replaced by s1: it must rejoin as a standby (pg_rewind) before it serves reads");
	EXPECT_EQ(Query("SELECT count(*) FROM mosta.replica_status WHERE project = '" + std::string(kProject) +
					"' AND replica = 's1'"),
			  "0");
}

// Log inserts one activity row with detail and returns its action|project|object|detail.
std::string
Log(const std::string &detail) {
	long long id = 0;
	RunCoroutine([&]() -> asio::awaitable<void> {
		PgConnection conn(co_await asio::this_coro::executor);
		const std::string self = "", action = "failover", project = kProject, object = "s1";
		co_await conn.Connect(self, ConnectionKind::Sql);
		id = co_await LogActivity(conn, action, project, object, detail);
	});
	EXPECT_GT(id, 0);
	return Query("SELECT concat_ws('|', action, project, object, detail::text) FROM mosta.activity WHERE id = " +
				 std::to_string(id));
}

TEST_F(HaPrimitivesIT, LogActivityMasksTheDetail) {
	std::string row = Log(R"({"to":"s1","uri":"postgresql://u:Hunter2x@h/d"})");
	EXPECT_EQ(row, R"(failover|mosta-it-ha|s1|{"to": "s1", "uri": "postgresql://u:***@h/d"})");
	// a secret whose masked value runs past its closing quote breaks the JSON: the row keeps the masked text
	row = Log(R"({"to":"s1","note":"password=Hunter2x"})");
	EXPECT_EQ(row.find("Hunter2x"), std::string::npos) << row;
	EXPECT_EQ(row.rfind(R"(failover|mosta-it-ha|s1|{"unparsed": "{\"to\":\"s1\")", 0), 0u) << row;
}

} // namespace
} // namespace mosta::sidecar::ha
