// sqlite_promotion_test.cpp: the decisions of mosta-sidecar promote / switch-back for a SQLite replica
// (ha/sqlite_promotion.hpp): reading a project from a topology file, the lag gate, whether a failed probe means
// the server answered, the overlay that makes the promoted replica the write target (and the daemon's pass over
// the files), and the command lines (app/config.hpp).
#include "ha/sqlite_promotion.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "app/config.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar::ha {
namespace {

// A topology file as mosta_topology() writes it (version 2), trimmed to what promote reads.
const std::string kTree = R"({
  "version": 2, "generatedAt": "2026-12-07T10:00:00.123456+00:00", "statusMaxAgeMs": 30000,
  "projects": {
    "app": {
      "readRouting": "least-lag", "readsGoTo": "lite", "eligible": ["lite"],
      "replicas": [
        {"name": "master", "role": "master", "dialect": "postgres", "uri": "host=db1 password=*** dbname=shop",
         "lagTolerance": 0, "status": {"status": "unknown", "lagMs": null, "lagBytes": null, "appliedLsn": null,
         "lastSeen": null, "withinTolerance": false, "lastError": null, "syncState": null}},
        {"name": "lite", "role": "slave", "dialect": "sqlite", "uri": "lite.db", "lagTolerance": 0,
         "status": {"status": "up", "lagMs": 0, "lagBytes": 312, "appliedLsn": "0/16B3748",
         "lastSeen": "2026-12-07T09:59:59.5+00:00", "withinTolerance": true, "lastError": null, "syncState": null}}
      ]
    },
    "other": {"readRouting": "least-lag", "readsGoTo": null, "eligible": [], "replicas": []}
  },
  "rules": [
    {"name": "r1", "source": "app", "target": "app", "mode": "cdc", "conflictResolution": "source-wins",
     "enabled": true, "targets": [{"project": "app", "replica": "lite", "slot": "mosta_r1_lite_abc",
     "status": "streaming", "appliedLsn": "0/16B3748"}]},
    {"name": "r2", "source": "app", "target": "app", "mode": "snapshot", "conflictResolution": "source-wins",
     "enabled": false, "targets": [{"project": "app", "replica": "other", "slot": "s2", "status": "stopped",
     "appliedLsn": null}]}
  ],
  "activity": []
})";

TreeObservation
Seen(const std::string &status, std::optional<long long> lag_ms, std::optional<Lsn> applied) {
	TreeObservation last;
	last.present = true;
	last.status = status;
	last.lag_ms = lag_ms;
	last.applied_lsn = applied;
	last.last_seen = "2026-12-07T09:59:59+00:00";
	return last;
}

TEST(SqlitePromotionTree, ReadsTheProjectTheReplicaAndItsRule) {
	TreeProject tree = ReadTreeProject(kTree, "app", "lite");
	EXPECT_EQ(tree.generated_at, "2026-12-07T10:00:00.123456+00:00");
	ASSERT_EQ(tree.replicas.size(), 2U);
	ASSERT_NE(tree.Master(), nullptr);
	EXPECT_EQ(tree.Master()->name, "master");
	const TreeReplica *lite = tree.Find("lite");
	ASSERT_NE(lite, nullptr);
	EXPECT_EQ(lite->dialect, "sqlite");
	EXPECT_EQ(lite->uri, "lite.db");
	EXPECT_TRUE(lite->last.present);
	EXPECT_EQ(lite->last.status, "up");
	EXPECT_EQ(lite->last.lag_ms, 0);
	EXPECT_EQ(lite->last.lag_bytes, 312);
	EXPECT_EQ(lite->last.applied_lsn, ParseLsn("0/16B3748"));
	EXPECT_FALSE(tree.Master()->last.present); // lastSeen null: never reported
	ASSERT_EQ(tree.feeds.size(), 1U);		   // r2 feeds another replica
	EXPECT_EQ(tree.feeds[0].rule, "r1");
	EXPECT_EQ(tree.feeds[0].mode, "cdc");
	EXPECT_EQ(tree.feeds[0].conflict_resolution, "source-wins");
	EXPECT_TRUE(tree.feeds[0].enabled);
	EXPECT_EQ(tree.feeds[0].slot, "mosta_r1_lite_abc");
	EXPECT_EQ(tree.Find("nope"), nullptr);
	EXPECT_TRUE(ReadTreeProject(kTree, "other", "x").replicas.empty());
}

TEST(SqlitePromotionTree, RefusesWhatIsNotATopologyOrAnUnknownProject) {
	EXPECT_THROW(ReadTreeProject("not json", "app", "lite"), std::runtime_error);
	EXPECT_THROW(ReadTreeProject("{\"rules\":[]}", "app", "lite"), std::runtime_error);
	try {
		ReadTreeProject(kTree, "shop", "lite");
		FAIL() << "an unknown project was read";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("project \"shop\" is not in the topology file"), std::string::npos)
			<< e.what();
	}
}

TEST(SqliteLagGate, ToleranceZeroNeedsACaughtUpReplica) {
	const Lsn observed = *ParseLsn("0/16B3748");
	GateVerdict ok = SqliteLagGate(0, Seen("up", 0, observed), observed);
	EXPECT_TRUE(ok.allows) << ok.reason;
	EXPECT_NE(ok.reason.find("caught up at the last observation"), std::string::npos) << ok.reason;
	// a file further than observed (the daemon applied more before the master died) is fine too
	EXPECT_TRUE(SqliteLagGate(0, Seen("up", 0, observed), observed + 100).allows);
	GateVerdict lagging = SqliteLagGate(0, Seen("up", 250, observed), observed);
	EXPECT_FALSE(lagging.allows);
	EXPECT_NE(lagging.reason.find("lag_tolerance_ms is 0 and it was not caught up"), std::string::npos)
		<< lagging.reason;
	EXPECT_FALSE(SqliteLagGate(0, Seen("down", std::nullopt, observed), observed).allows);
	EXPECT_FALSE(SqliteLagGate(0, Seen("error", 0, observed), observed).allows);
	EXPECT_FALSE(SqliteLagGate(0, Seen("unknown", std::nullopt, observed), observed).allows);
}

TEST(SqliteLagGate, ToleranceAboveZeroAllowsThatMuchLag) {
	const Lsn observed = *ParseLsn("0/16B3748");
	EXPECT_TRUE(SqliteLagGate(1000, Seen("up", 900, observed), observed).allows);
	EXPECT_TRUE(SqliteLagGate(1000, Seen("up", 1000, observed), observed).allows);
	GateVerdict beyond = SqliteLagGate(1000, Seen("up", 1001, observed), observed);
	EXPECT_FALSE(beyond.allows);
	EXPECT_NE(beyond.reason.find("lag 1001 ms beyond its tolerance of 1000 ms"), std::string::npos) << beyond.reason;
}

TEST(SqliteLagGate, RefusesWithoutAnObservationACheckpointOrAFileBehindIt) {
	const Lsn observed = *ParseLsn("0/16B3748");
	GateVerdict never = SqliteLagGate(0, TreeObservation{}, observed);
	EXPECT_FALSE(never.allows);
	EXPECT_NE(never.reason.find("never reported"), std::string::npos) << never.reason;
	GateVerdict no_checkpoint = SqliteLagGate(0, Seen("up", 0, observed), std::nullopt);
	EXPECT_FALSE(no_checkpoint.allows);
	EXPECT_NE(no_checkpoint.reason.find("no checkpoint"), std::string::npos) << no_checkpoint.reason;
	GateVerdict older = SqliteLagGate(1000, Seen("up", 0, observed), observed - 1);
	EXPECT_FALSE(older.allows);
	EXPECT_NE(older.reason.find("is behind the 0/16B3748 observed"), std::string::npos) << older.reason;
}

TEST(ServerAnswered, TellsAServerThatRefusedFromOneThatIsDown) {
	EXPECT_TRUE(ServerAnswered("connection to server at \"db1\" (10.0.0.1), port 5432 failed: FATAL:  password "
							   "authentication failed for user \"app\""));
	EXPECT_TRUE(ServerAnswered("connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: FATAL:  the database "
							   "system is starting up"));
	EXPECT_FALSE(ServerAnswered("connection to server at \"db1\" (10.0.0.1), port 5432 failed: Connection refused\n"
								"\tIs the server running on that host and accepting TCP/IP connections?"));
	EXPECT_FALSE(ServerAnswered("connecting to db1:5432: timed out after 3000 ms"));
	EXPECT_FALSE(ServerAnswered(""));
}

// JsonValue reads path of json with SQLite's json_extract, as text ("" for null).
std::string
JsonValue(const std::string &json, const std::string &path) {
	SqliteHandle db = OpenSqlite(":memory:");
	SqliteStmtHandle stmt = PrepareSql(db.get(), "SELECT json_extract(?1, ?2)");
	BindText(db.get(), stmt.get(), 1, json);
	BindText(db.get(), stmt.get(), 2, path);
	StepSql(db.get(), stmt.get());
	return ColumnText(stmt.get(), 0);
}

TEST(OverlayPromotion, MakesThePromotedReplicaTheMasterAndWriteTarget) {
	PromotionRow row{"app", "lite", "master", "2026-12-07T10:01:00.000Z"};
	std::string tree = OverlayPromotion(kTree, row, "/var/lib/mosta/lite.db");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.replicas[1].role"), "master");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.replicas[0].role"), "slave");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.replicas[0].status.status"), "down");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.replicas[0].status.withinTolerance"), "0");
	EXPECT_NE(JsonValue(tree, "$.projects.app.replicas[0].status.lastError").find("former master"), std::string::npos);
	EXPECT_EQ(JsonValue(tree, "$.projects.app.writeTarget"), "lite");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.readsGoTo"), "lite");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.eligible"), "[]");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.replica"), "lite");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.state"), "master");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.formerMaster"), "master");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.promotedAt"), "2026-12-07T10:01:00.000Z");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.file"), "/var/lib/mosta/lite.db");
	// the rest stays: the other project, the rules, the generation time
	EXPECT_EQ(JsonValue(tree, "$.generatedAt"), "2026-12-07T10:00:00.123456+00:00");
	EXPECT_EQ(JsonValue(tree, "$.rules[0].name"), "r1");
	EXPECT_EQ(JsonValue(tree, "$.projects.other.replicas"), "[]");
	// the overlaid tree reads as a topology, the replica now the master
	TreeProject read = ReadTreeProject(tree, "app", "lite");
	ASSERT_NE(read.Master(), nullptr);
	EXPECT_EQ(read.Master()->name, "lite");
}

TEST(OverlayPromotion, LeavesATreeWithoutThatReplicaAsItIs) {
	PromotionRow row{"app", "gone", "master", "2026-12-07T10:01:00.000Z"};
	EXPECT_EQ(OverlayPromotion(kTree, row, "/x.db"), kTree);
	PromotionRow other{"shop", "lite", "master", "2026-12-07T10:01:00.000Z"};
	EXPECT_EQ(OverlayPromotion(kTree, other, "/x.db"), kTree);
	EXPECT_THROW(OverlayPromotion("{", row, "/x.db"), std::runtime_error);
}

// A data directory holding lite.db, removed at the end.
class PromotedFile : public ::testing::Test {
  protected:
	void
	SetUp() override {
		dir_ = std::filesystem::temp_directory_path() /
			   ("mosta_promotion_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
				::testing::UnitTest::GetInstance()->current_test_info()->name());
		std::filesystem::create_directories(dir_);
		db_ = OpenSqlite((dir_ / "lite.db").string());
		ExecSql(db_.get(), "CREATE TABLE \"public.t\" (id INTEGER PRIMARY KEY)");
	}
	void
	TearDown() override {
		db_.reset();
		std::filesystem::remove_all(dir_);
	}

	std::filesystem::path dir_;
	SqliteHandle db_;
};

TEST_F(PromotedFile, TheDaemonsTreeShowsAPromotionOnlyWhileTheFileHoldsIt) {
	const std::string data_dir = std::filesystem::canonical(dir_).string();
	EXPECT_EQ(OverlayPromotions(kTree, data_dir), kTree); // no _mosta_promotion table
	EXPECT_TRUE(ReadPromotions(db_.get()).empty());
	ExecSql(db_.get(), "CREATE TABLE _mosta_promotion (project TEXT PRIMARY KEY, replica TEXT NOT NULL, state TEXT "
					   "NOT NULL CHECK (state IN ('master', 'switching-back')), promoted_at TEXT NOT NULL)");
	EXPECT_EQ(OverlayPromotions(kTree, data_dir), kTree); // empty
	ExecSql(db_.get(), "INSERT INTO _mosta_promotion VALUES ('app', 'lite', 'switching-back', '2026-12-07T10:01:00Z')");
	std::vector<PromotionRow> rows = ReadPromotions(db_.get());
	ASSERT_EQ(rows.size(), 1U);
	EXPECT_EQ(rows[0].state, "switching-back");
	std::string tree = OverlayPromotions(kTree, data_dir);
	EXPECT_EQ(JsonValue(tree, "$.projects.app.writeTarget"), "lite");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.state"), "switching-back");
	EXPECT_EQ(JsonValue(tree, "$.projects.app.promotion.file"), (std::filesystem::path(data_dir) / "lite.db").string());
	// another data directory: the file is not found, the tree is the catalog's
	EXPECT_EQ(OverlayPromotions(kTree, std::filesystem::temp_directory_path().string()), kTree);
	ExecSql(db_.get(), "DELETE FROM _mosta_promotion");
	EXPECT_EQ(OverlayPromotions(kTree, data_dir), kTree);
}

TEST(SqlitePromotionConfig, ParsesPromoteAndSwitchBack) {
	Config promote = ParseConfig(
		{"promote", "app", "lite", "--tree", "/tmp/tree.json", "--force", "--allow-data-loss", "--source", "host=db1"},
		nullptr);
	EXPECT_TRUE(promote.promote);
	EXPECT_EQ(promote.ha_project, "app");
	EXPECT_EQ(promote.promote_replica, "lite");
	EXPECT_EQ(promote.tree_path, "/tmp/tree.json");
	EXPECT_TRUE(promote.force);
	EXPECT_TRUE(promote.allow_data_loss);
	Config by_file = ParseConfig({"promote", "app", "lite", "--file", "/tmp/lite.db"}, nullptr);
	EXPECT_EQ(by_file.sqlite_file, "/tmp/lite.db");
	EXPECT_THROW(ParseConfig({"promote", "app"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"promote", "app", "lite"}, nullptr), ConfigError); // neither --tree nor --file
	EXPECT_THROW(ParseConfig({"promote", "app", "lite", "x", "--file", "/a"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"promote", "app", "lite", "--file", "/a", "--timeout", "1s"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"promote", "app", "lite", "--file", ""}, nullptr), ConfigError);
	Config back = ParseConfig({"switch-back", "app", "--timeout", "30s", "--file", "/tmp/lite.db"}, "host=db1");
	EXPECT_TRUE(back.switch_back);
	EXPECT_EQ(back.ha_project, "app");
	EXPECT_EQ(back.switchover_timeout, std::chrono::seconds(30));
	EXPECT_EQ(back.source, "host=db1");
	EXPECT_THROW(ParseConfig({"switch-back"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"switch-back", "app", "lite"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"switch-back", "app", "--force"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"--force"}, nullptr), ConfigError); // a subcommand's flag
}

} // namespace
} // namespace mosta::sidecar::ha
