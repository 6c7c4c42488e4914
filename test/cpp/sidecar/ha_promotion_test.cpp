// ha_promotion_test.cpp: the pure parts of the HA primitives (ha/promotion.hpp, ha/node_probe.hpp): a standby's
// primary_conninfo built from a catalog URI (no password, the standby's application_name), the master's WAL
// position implied by the last observations, and how an observation is described.
#include "ha/node_probe.hpp"
#include "ha/promotion.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace mosta::sidecar::ha {
namespace {

TEST(PrimaryConninfo, DropsThePasswordAndSetsTheApplicationName) {
	std::string conninfo =
		PrimaryConninfo("postgresql://repl:s3cret@db1.example:5433/app?sslmode=require&application_name=x", "standby1");
	EXPECT_EQ(conninfo.find("s3cret"), std::string::npos);
	EXPECT_EQ(conninfo.find("password"), std::string::npos);
	EXPECT_NE(conninfo.find("user='repl'"), std::string::npos);
	EXPECT_NE(conninfo.find("host='db1.example'"), std::string::npos);
	EXPECT_NE(conninfo.find("port='5433'"), std::string::npos);
	EXPECT_NE(conninfo.find("sslmode='require'"), std::string::npos);
	EXPECT_EQ(conninfo.find("dbname"), std::string::npos);
	EXPECT_EQ(conninfo.find("application_name='x'"), std::string::npos);
	EXPECT_NE(conninfo.find("application_name='standby1'"), std::string::npos);
}

TEST(PrimaryConninfo, KeywordValueInputAndQuoting) {
	std::string conninfo =
		PrimaryConninfo("host=/tmp/sock port=5432 user=o\\'k password='a b' target_session_attrs=read-write", "s'2");
	EXPECT_EQ(conninfo, "user='o\\'k' host='/tmp/sock' port='5432' application_name='s\\'2'");
}

TEST(PrimaryConninfo, RefusesWhatLibpqCannotParseWithoutShowingThePassword) {
	try {
		PrimaryConninfo("host=a password=hunter2 nonsense", "s1");
		FAIL() << "no error";
	} catch (const std::runtime_error &e) {
		EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("invalid connection string"), std::string::npos) << e.what();
	}
}

TEST(SplitHosts, OneConninfoPerHostInOrder) {
	std::vector<std::string> split =
		SplitHosts("host=a,b,/tmp/s port=1,2,3 dbname=d user=u password=p target_session_attrs=read-write");
	ASSERT_EQ(split.size(), 3u);
	EXPECT_EQ(split[0], "host='a' port='1' user='u' password='p' dbname='d'");
	EXPECT_EQ(split[1], "host='b' port='2' user='u' password='p' dbname='d'");
	EXPECT_EQ(split[2], "host='/tmp/s' port='3' user='u' password='p' dbname='d'");
	// one port for all hosts
	split = SplitHosts("host=a,b port=5433");
	ASSERT_EQ(split.size(), 2u);
	EXPECT_EQ(split[0], "host='a' port='5433'");
	EXPECT_EQ(split[1], "host='b' port='5433'");
	// a URI: each host with its own port, or libpq's default when it has none
	split = SplitHosts("postgresql://u@a,b:5433/d");
	ASSERT_EQ(split.size(), 2u);
	EXPECT_EQ(split[0], "host='a' user='u' dbname='d'");
	EXPECT_EQ(split[1], "host='b' port='5433' user='u' dbname='d'");
	split = SplitHosts("host=a,b hostaddr=127.0.0.1,127.0.0.2 port=7");
	ASSERT_EQ(split.size(), 2u);
	EXPECT_EQ(split[1], "host='b' hostaddr='127.0.0.2' port='7'");
}

TEST(SplitHosts, OneHostIsReturnedAsItIs) {
	EXPECT_EQ(SplitHosts("host=a port=1 target_session_attrs=any"),
			  std::vector<std::string>{"host=a port=1 target_session_attrs=any"});
	EXPECT_EQ(SplitHosts(""), std::vector<std::string>{""});
	EXPECT_EQ(SplitHosts("postgresql://x@h/d"), std::vector<std::string>{"postgresql://x@h/d"});
}

TEST(SplitHosts, RefusesListsThatDoNotPairUp) {
	EXPECT_THROW(SplitHosts("host=a,b port=1,2,3"), std::runtime_error);
	EXPECT_THROW(SplitHosts("host=a,b hostaddr=1.2.3.4"), std::runtime_error);
	try {
		SplitHosts("host=a password=hunter2 junk");
		FAIL() << "no error";
	} catch (const std::runtime_error &e) {
		EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
	}
}

TEST(Topology, MasterLsnAtLastObservationIsTheHighestImplied) {
	Topology topology;
	TopologyReplica master{"m", "master", "postgres", "host=m", 0, {}};
	TopologyReplica s1{"s1", "slave", "postgres", "host=s1", 0, {}};
	s1.last.present = true;
	s1.last.applied_lsn = 1000;
	s1.last.lag_bytes = 24;
	TopologyReplica s2{"s2", "slave", "postgres", "host=s2", 0, {}};
	s2.last.present = true;
	s2.last.applied_lsn = 900;
	s2.last.lag_bytes = 200;
	TopologyReplica lite{"lite", "slave", "sqlite", "a.db", 0, {}};
	lite.last.present = true;
	lite.last.applied_lsn = 5000;
	lite.last.lag_bytes = 0;
	topology.replicas = {master, s1, s2, lite};
	EXPECT_EQ(topology.MasterLsnAtLastObservation(), std::optional<Lsn>(1100));
	EXPECT_EQ(topology.Master()->name, "m");
	EXPECT_EQ(topology.Find("s2")->name, "s2");
	EXPECT_EQ(topology.Find("nope"), nullptr);
	topology.replicas = {master};
	EXPECT_FALSE(topology.MasterLsnAtLastObservation());
}

TEST(LastObservation, Describe) {
	LastObservation never;
	EXPECT_EQ(never.Describe(), "never reported");
	LastObservation seen;
	seen.present = true;
	seen.status = "up";
	seen.sync_state = "sync";
	seen.lag_ms = 0;
	seen.lag_bytes = 120;
	seen.applied_lsn = 0x16B374D848;
	seen.age_ms = 2100;
	EXPECT_EQ(seen.Describe(), "sync_state sync, status up, lag 0 ms / 120 bytes, replayed 16/B374D848, 2.1 s old");
}

TEST(NodeProbe, MostAdvancedLsn) {
	NodeProbe primary;
	primary.current_lsn = 500;
	EXPECT_EQ(primary.MostAdvancedLsn(), 500u);
	NodeProbe standby;
	standby.in_recovery = true;
	standby.receive_lsn = 400;
	standby.replay_lsn = 300;
	EXPECT_EQ(standby.MostAdvancedLsn(), 400u);
	standby.receive_lsn.reset();
	EXPECT_EQ(standby.MostAdvancedLsn(), 300u);
}

} // namespace
} // namespace mosta::sidecar::ha
