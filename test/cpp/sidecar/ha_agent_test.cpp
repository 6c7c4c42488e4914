// ha_agent_test.cpp: the decisions of the node agent (ha/node_agent.hpp: Decide, NewPrimary), its peer cache and
// conninfo helpers, what the local server's files are made of (ha/local_server.hpp: pg_controldata's output,
// postgresql.auto.conf's primary_conninfo), and the command lines of the agent and switchover subcommands.
#include "ha/local_server.hpp"
#include "ha/node_agent.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/config.hpp"

namespace mosta::sidecar::ha {
namespace {

PeerView
Peer(std::string name, bool reachable, bool in_recovery, std::string master, std::uint32_t timeline = 1) {
	PeerView peer;
	peer.name = std::move(name);
	peer.reachable = reachable;
	peer.in_recovery = in_recovery;
	peer.catalog_master = std::move(master);
	peer.timeline = timeline;
	return peer;
}

AgentView
View(LocalState local, std::vector<PeerView> peers, std::string local_master = "", std::uint32_t timeline = 1) {
	AgentView view;
	view.self = "node1";
	view.local = local;
	view.timeline = timeline;
	view.local_catalog_master = std::move(local_master);
	view.peers = std::move(peers);
	return view;
}

TEST(Decide, StoppedFormerMasterRewindsFromTheNewPrimary) {
	// after a failover: standby1 is a primary on timeline 2 and its catalog names it master
	AgentView view = View(LocalState::Stopped,
						  {Peer("standby1", true, false, "standby1", 2), Peer("standby2", true, true, "standby1", 2)});
	Action action = Decide(view);
	EXPECT_EQ(action.kind, ActionKind::Rewind);
	EXPECT_EQ(action.peer, "standby1");
}

TEST(Decide, StoppedWithoutAnyAnswerStartsFenced) {
	AgentView view =
		View(LocalState::Stopped, {Peer("standby1", false, false, ""), Peer("standby2", false, false, "")});
	Action action = Decide(view);
	EXPECT_EQ(action.kind, ActionKind::StartFenced);
	EXPECT_NE(action.reason.find("no other node answers"), std::string::npos);
}

TEST(Decide, StoppedMasterConfirmedByThePeersStartsAsPrimary) {
	AgentView view =
		View(LocalState::Stopped, {Peer("standby1", true, true, "node1"), Peer("standby2", false, true, "")});
	EXPECT_EQ(Decide(view).kind, ActionKind::StartPrimary);
}

TEST(Decide, StoppedMasterNotConfirmedStartsFenced) {
	// a standby's copy names another master (it replayed a role swap): never open for writes on a guess
	AgentView view = View(LocalState::Stopped, {Peer("standby1", true, true, "standby2")});
	EXPECT_EQ(Decide(view).kind, ActionKind::StartFenced);
}

TEST(Decide, StoppedStandbyStartsAsItIsAndAlonePrimaryToo) {
	AgentView view = View(LocalState::Stopped, {Peer("node2", true, true, "node2")});
	view.standby_signal = true;
	EXPECT_EQ(Decide(view).kind, ActionKind::Start);
	EXPECT_EQ(Decide(View(LocalState::Stopped, {})).kind, ActionKind::Start);
}

TEST(Decide, StoppedStandbyRewindsWhenAPrimaryIsThere) {
	AgentView view = View(LocalState::Stopped, {Peer("node2", true, false, "node2", 1)});
	view.standby_signal = true;
	Action action = Decide(view);
	EXPECT_EQ(action.kind, ActionKind::Rewind);
	EXPECT_EQ(action.peer, "node2");
}

TEST(Decide, StoppedNodeNeverRewindsFromAnOlderClaimant) {
	// a peer claims the master role on a timeline before ours: not the newer primary
	AgentView view = View(LocalState::Stopped, {Peer("node2", true, false, "node2", 1)}, "", 3);
	EXPECT_EQ(Decide(view).kind, ActionKind::StartFenced);
}

TEST(Decide, RunningPrimaryIsDemotedByANewerPrimaryOnly) {
	AgentView newer = View(LocalState::Primary, {Peer("standby1", true, false, "standby1", 2)}, "node1", 1);
	Action action = Decide(newer);
	EXPECT_EQ(action.kind, ActionKind::Demote);
	EXPECT_EQ(action.peer, "standby1");
	AgentView same = View(LocalState::Primary, {Peer("standby1", true, false, "standby1", 1)}, "node1", 1);
	EXPECT_EQ(Decide(same).kind, ActionKind::None);
	EXPECT_NE(Decide(same).reason.find("warning"), std::string::npos);
	AgentView alone = View(LocalState::Primary, {Peer("standby1", true, true, "node1")}, "node1");
	EXPECT_EQ(Decide(alone).kind, ActionKind::None);
}

TEST(Decide, StandbyFollowingTheWrongNodeIsRepointed) {
	AgentView view =
		View(LocalState::Standby, {Peer("node2", false, false, ""), Peer("node3", true, false, "node3", 2)}, "node3");
	view.following = "node2";
	Action action = Decide(view);
	EXPECT_EQ(action.kind, ActionKind::Repoint);
	EXPECT_EQ(action.peer, "node3");
	view.following = "node3";
	EXPECT_EQ(Decide(view).kind, ActionKind::None);
	view.stalled = true; // it follows node3 but cannot stream: its history went past node3's fork
	EXPECT_EQ(Decide(view).kind, ActionKind::Demote);
}

TEST(Decide, FencedFormerMaster) {
	// its own catalog copy still names it master
	AgentView view = View(LocalState::Standby, {Peer("standby1", true, false, "standby1", 2)}, "node1");
	EXPECT_EQ(Decide(view).kind, ActionKind::Demote);
	view.following = "standby1"; // catching up after a switchover: leave it
	EXPECT_EQ(Decide(view).kind, ActionKind::None);
	AgentView confirmed = View(LocalState::Standby, {Peer("standby1", true, true, "node1")}, "node1");
	EXPECT_EQ(Decide(confirmed).kind, ActionKind::StartPrimary);
	AgentView nobody = View(LocalState::Standby, {Peer("standby1", false, false, "")}, "node1");
	EXPECT_EQ(Decide(nobody).kind, ActionKind::None);
}

TEST(NewPrimary, TheHighestTimelineAmongTheSelfNamedPrimaries) {
	AgentView view = View(LocalState::Stopped, {Peer("a", true, false, "a", 2), Peer("b", true, false, "b", 3),
												Peer("c", true, false, "a", 4), Peer("d", false, false, "d", 5)});
	ASSERT_NE(NewPrimary(view), nullptr);
	EXPECT_EQ(NewPrimary(view)->name, "b");
	EXPECT_EQ(NewPrimary(View(LocalState::Stopped, {Peer("a", true, true, "a")})), nullptr);
}

TEST(PeerCache, RoundTripWithoutPasswords) {
	std::string conninfo = ConninfoWithoutPassword("postgresql://u:s3cret@db1:5433/app?sslmode=require");
	EXPECT_EQ(conninfo.find("s3cret"), std::string::npos);
	EXPECT_NE(conninfo.find("dbname='app'"), std::string::npos);
	EXPECT_NE(conninfo.find("port='5433'"), std::string::npos);
	std::vector<CachedPeer> peers = {{"standby1", "slave", conninfo}, {"node1", "master", "host='h' port='1'"}};
	std::vector<CachedPeer> read = ParsePeerCache(FormatPeerCache(peers));
	ASSERT_EQ(read.size(), 2U);
	EXPECT_EQ(read[0].name, "standby1");
	EXPECT_EQ(read[0].role, "slave");
	EXPECT_EQ(read[0].conninfo, conninfo);
	EXPECT_EQ(read[1].name, "node1");
	EXPECT_TRUE(ParsePeerCache("# comment only\n\nbroken line\n").empty());
}

TEST(SameServer, HostAndPortWithLibpqDefaults) {
	EXPECT_TRUE(SameServer("host=127.0.0.1 port=5433 dbname=a", "postgresql://u@127.0.0.1:5433/b"));
	EXPECT_TRUE(SameServer("host=localhost dbname=a", "host=127.0.0.1 port=5432"));
	EXPECT_FALSE(SameServer("host=127.0.0.1 port=5433", "host=127.0.0.1 port=5434"));
	EXPECT_FALSE(SameServer("host=127.0.0.1 nonsense", "host=127.0.0.1"));
}

TEST(ControlData, ReadsTheFieldsTheAgentUses) {
	ControlData data = ParseControlData("pg_control version number:            1300\n"
										"Database system identifier:           7312345678901234567\n"
										"Database cluster state:               shut down\n"
										"Latest checkpoint location:           0/405B7F0\n"
										"Latest checkpoint's REDO location:    0/405B7F0\n"
										"Latest checkpoint's TimeLineID:       2\n");
	EXPECT_EQ(data.state, "shut down");
	ASSERT_TRUE(data.checkpoint.has_value());
	EXPECT_EQ(*data.checkpoint, 0x405B7F0U);
	EXPECT_EQ(data.timeline, 2U);
	EXPECT_EQ(data.system_identifier, "7312345678901234567");
}

TEST(AutoConf, PrimaryConninfoReplacedOnce) {
	std::string conf = "# Do not edit this file manually!\nprimary_conninfo = 'host=old'\nwork_mem = '8MB'\n"
					   "  primary_conninfo = 'host=older'\n";
	EXPECT_EQ(SetPrimaryConninfo(conf, "host='new' application_name='it''s'"),
			  "# Do not edit this file manually!\nwork_mem = '8MB'\n"
			  "primary_conninfo = 'host=''new'' application_name=''it''''s'''\n");
}

TEST(AgentConfig, TheAgentSubcommand) {
	Config config = ParseConfig({"agent", "--node", "n1", "--project", "app", "--pgdata", "/tmp", "--state-dir", "/tmp",
								 "--poll-interval", "200ms", "--catchup-timeout", "5s"},
								nullptr);
	EXPECT_TRUE(config.agent);
	EXPECT_EQ(config.node, "n1");
	EXPECT_EQ(config.ha_project, "app");
	EXPECT_EQ(config.pgdata, "/tmp");
	EXPECT_EQ(config.poll_interval.count(), 200);
	EXPECT_EQ(config.catchup_timeout.count(), 5000);
	EXPECT_THROW(ParseConfig({"agent", "--node", "n1", "--project", "app", "--pgdata", "/tmp"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"agent", "--node", "n1", "--project", "app", "--pgdata", "/nonexistent-dir-x",
							  "--state-dir", "/tmp"},
							 nullptr),
				 ConfigError);
	EXPECT_THROW(ParseConfig({"agent", "stray", "--node", "n1"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"--node", "n1"}, nullptr), ConfigError);
}

TEST(AgentConfig, TheSwitchoverSubcommand) {
	Config config = ParseConfig({"switchover", "app", "standby1", "--timeout", "30s"}, "host=db1");
	EXPECT_TRUE(config.switchover);
	EXPECT_EQ(config.ha_project, "app");
	EXPECT_EQ(config.switchover_replica, "standby1");
	EXPECT_EQ(config.switchover_timeout.count(), 30000);
	EXPECT_EQ(config.source, "host=db1");
	EXPECT_THROW(ParseConfig({"switchover", "app"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"switchover", "app", "s1", "s2"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"switchover", "app", "s1", "--node", "x"}, nullptr), ConfigError);
}

} // namespace
} // namespace mosta::sidecar::ha
