// config_test.cpp: the daemon's command line (app/config.hpp), slot naming and the rule status aggregate
// (app/catalog.hpp).
#include <gtest/gtest.h>

#include "app/catalog.hpp"
#include "app/config.hpp"

namespace sc = mosta::sidecar;

TEST(ConfigTest, Defaults) {
	sc::Config config = sc::ParseConfig({}, nullptr);
	EXPECT_EQ(config.source, "");
	EXPECT_FALSE(config.once);
	EXPECT_EQ(config.status_interval, std::chrono::milliseconds(5000));
	EXPECT_EQ(config.heartbeat_interval, std::chrono::seconds(60));
	EXPECT_EQ(config.retained_wal_warning, 1LL << 30);
	EXPECT_EQ(config.tree_path, "");
}

TEST(ConfigTest, HeartbeatRetainedWalAndTree) {
	sc::Config config = sc::ParseConfig(
		{"--heartbeat-interval", "10s", "--retained-wal-warning=512MB", "--tree", "/tmp/replicator-tree.json"},
		nullptr);
	EXPECT_EQ(config.heartbeat_interval, std::chrono::seconds(10));
	EXPECT_EQ(config.retained_wal_warning, 512LL << 20);
	EXPECT_EQ(config.tree_path, "/tmp/replicator-tree.json");
	config = sc::ParseConfig({"--heartbeat-interval", "off", "--retained-wal-warning", "off"}, nullptr);
	EXPECT_EQ(config.heartbeat_interval.count(), 0);
	EXPECT_EQ(config.retained_wal_warning, 0);
	EXPECT_EQ(sc::ParseSize("--x", "64kB"), 64 * 1024);
	EXPECT_EQ(sc::ParseSize("--x", "2GB"), 2LL << 30);
	EXPECT_EQ(sc::ParseSize("--x", "1000"), 1000);
}

TEST(ConfigTest, FlagsAndInlineValues) {
	sc::Config config = sc::ParseConfig({"--once", "--source", "host=db", "--status-interval=250ms"}, "ignored");
	EXPECT_TRUE(config.once);
	EXPECT_EQ(config.source, "host=db");
	EXPECT_EQ(config.status_interval, std::chrono::milliseconds(250));
	EXPECT_EQ(sc::ParseConfig({"--poll-interval", "2m"}, nullptr).poll_interval, std::chrono::minutes(2));
	EXPECT_EQ(sc::ParseConfig({"--status-interval", "3"}, nullptr).status_interval, std::chrono::seconds(3));
}

TEST(ConfigTest, EnvironmentSourceWhenNoFlag) {
	EXPECT_EQ(sc::ParseConfig({}, "postgresql://x/db").source, "postgresql://x/db");
	EXPECT_EQ(sc::ParseConfig({}, "").source, "");
}

TEST(ConfigTest, BadFlagsNameTheFlagOrValue) {
	auto message = [](std::vector<std::string> args) {
		try {
			sc::ParseConfig(args, nullptr);
		} catch (const sc::ConfigError &e) {
			return std::string(e.what());
		}
		return std::string("no error");
	};
	EXPECT_NE(message({"--bogus"}).find("--bogus"), std::string::npos);
	EXPECT_NE(message({"--status-interval", "5x"}).find("\"5x\" for --status-interval"), std::string::npos);
	EXPECT_NE(message({"--status-interval", "0"}).find("--status-interval"), std::string::npos);
	EXPECT_NE(message({"--source"}).find("missing value for --source"), std::string::npos);
	EXPECT_NE(message({"--once=yes"}).find("--once"), std::string::npos);
	EXPECT_EQ(message({"postgresql://u:s3cret@h/db"}).find("s3cret"), std::string::npos);
	EXPECT_NE(message({"--retained-wal-warning", "1PB"}).find("\"1PB\" for --retained-wal-warning"), std::string::npos);
	EXPECT_NE(message({"--retained-wal-warning", "0"}).find("--retained-wal-warning"), std::string::npos);
	EXPECT_NE(message({"--heartbeat-interval", "soon"}).find("\"soon\" for --heartbeat-interval"), std::string::npos);
	EXPECT_NE(message({"--tree", "/nonexistent-dir/tree.json"}).find("directory /nonexistent-dir does not exist"),
			  std::string::npos);
	EXPECT_NE(message({"--tree", "/tmp/"}).find("for --tree"), std::string::npos);
}

TEST(ConfigTest, MalformedSourceIsABadFlag) {
	auto message = [](std::vector<std::string> args, const char *env) {
		try {
			sc::ParseConfig(args, env);
		} catch (const sc::ConfigError &e) {
			return std::string(e.what());
		}
		return std::string("no error");
	};
	EXPECT_NE(message({"--source", "host=a port=x =="}, nullptr).find("invalid value for --source"), std::string::npos);
	EXPECT_NE(message({"--source", "postgresql://u:pw@h:notaport/db"}, nullptr).find("--source"), std::string::npos);
	EXPECT_EQ(message({"--source", "postgresql://u:s3cret@h:x/db"}, nullptr).find("s3cret"), std::string::npos);
	EXPECT_NE(message({}, "host=a =").find("MOSTA_SOURCE_URI"), std::string::npos);
	EXPECT_EQ(message({"--source", "host=db port=5433 dbname=app"}, nullptr), "no error");
	EXPECT_EQ(message({"--source", "postgresql://app@db:5433/app?sslmode=require"}, nullptr), "no error");
}

TEST(ConfigTest, DurationsOutOfRangeSayTheRange) {
	auto message = [](const std::string &flag, const std::string &value) {
		try {
			sc::ParseConfig({flag, value}, nullptr);
		} catch (const sc::ConfigError &e) {
			return std::string(e.what());
		}
		return std::string("no error");
	};
	for (const char *flag : {"--status-interval", "--poll-interval", "--heartbeat-interval"}) {
		for (const char *value : {"25h", "1441m", "86401s", "9999999999", "0ms"})
			EXPECT_NE(message(flag, value).find("must be between 1ms and 24h"), std::string::npos) << flag << value;
		EXPECT_NE(message(flag, "5x").find("expected a duration"), std::string::npos) << flag;
		EXPECT_EQ(message(flag, "24h"), "no error") << flag;
	}
	EXPECT_EQ(sc::ParseConfig({"--status-interval", "1h"}, nullptr).status_interval, std::chrono::hours(1));
	// 0 is off, as the help says; "off" too
	EXPECT_EQ(sc::ParseConfig({"--heartbeat-interval", "0"}, nullptr).heartbeat_interval.count(), 0);
	EXPECT_EQ(sc::ParseConfig({"--heartbeat-interval", "off"}, nullptr).heartbeat_interval.count(), 0);
	EXPECT_NE(message("--status-interval", "0").find("must be between"), std::string::npos);
}

TEST(ConfigTest, DataDirectory) {
	EXPECT_EQ(sc::ParseConfig({}, nullptr).data_dir, "/var/lib/mosta");
	EXPECT_EQ(sc::ParseConfig({}, nullptr, "/tmp").data_dir, "/tmp");
	EXPECT_EQ(sc::ParseConfig({"--data-dir", "/tmp/"}, nullptr, "/nonexistent").data_dir, "/tmp");
	EXPECT_EQ(sc::ParseConfig({"--data-dir=/tmp/../tmp"}, nullptr).data_dir, "/tmp");
	EXPECT_EQ(sc::ParseConfig({"verify", "r1", "--data-dir", "/tmp"}, nullptr).data_dir, "/tmp");
	EXPECT_THROW(sc::ParseConfig({"--data-dir", "/nonexistent-dir"}, nullptr), sc::ConfigError);
	EXPECT_THROW(sc::ParseConfig({"--data-dir", ""}, nullptr), sc::ConfigError);
	try {
		sc::ParseConfig({}, nullptr, "/nonexistent-dir");
		ADD_FAILURE() << "no error";
	} catch (const sc::ConfigError &e) {
		EXPECT_NE(std::string(e.what()).find("\"/nonexistent-dir\" for MOSTA_DATA_DIR"), std::string::npos);
	}
}

TEST(ConfigTest, Version) {
	EXPECT_TRUE(sc::ParseConfig({"--version"}, nullptr).version);
	EXPECT_THROW(sc::ParseConfig({"--version=1"}, nullptr), sc::ConfigError);
	std::string text = sc::VersionText();
	EXPECT_EQ(text.rfind(std::string("mosta-sidecar ") + MOSTA_VERSION + "\n", 0), 0U) << text;
	EXPECT_NE(text.find("format-version 1, 2, 3"), std::string::npos) << text;
	EXPECT_NE(text.find(std::string("catalog mostajs ") + MOSTA_VERSION), std::string::npos) << text;
}

TEST(ConfigTest, HelpDocumentsEveryFlag) {
	std::string help = sc::HelpText();
	for (const char *flag : {"--source", "--once", "--status-interval", "--poll-interval", "--heartbeat-interval",
							 "--retained-wal-warning", "--tree", "--help", "--version", "--data-dir", "SIGHUP",
							 "MOSTA_SOURCE_URI", "MOSTA_DATA_DIR", "PGHOST"})
		EXPECT_NE(help.find(flag), std::string::npos) << flag;
}

TEST(SlotNameTest, OneSlotPerTargetInTheSlotAlphabet) {
	std::string slot = sc::SlotName("r1", "shop", "local");
	EXPECT_EQ(slot.rfind("mosta_r1_local_", 0), 0U) << slot;
	EXPECT_EQ(slot.size(), std::string("mosta_r1_local_").size() + 8);
	EXPECT_TRUE(sc::IsMostaSlot(slot));
	std::string odd = sc::SlotName("Sync-Orders.v2", "p", "Cache");
	EXPECT_EQ(odd.rfind("mosta__ync__rders_v2__ache_", 0), 0U) << odd;
	EXPECT_TRUE(sc::IsMostaSlot(odd));
}

TEST(SlotNameTest, DeterministicDistinctAndBounded) {
	EXPECT_EQ(sc::SlotName("r", "p", "x"), sc::SlotName("r", "p", "x"));
	// names that sanitize alike, or split differently, still get different slots
	EXPECT_NE(sc::SlotName("a_b", "p", "c"), sc::SlotName("a", "p", "b_c"));
	EXPECT_NE(sc::SlotName("R", "p", "x"), sc::SlotName("r", "p", "x"));
	EXPECT_NE(sc::SlotName("r", "p1", "x"), sc::SlotName("r", "p2", "x"));
	std::string longest = sc::SlotName(std::string(63, 'r'), "p", std::string(63, 'x'));
	EXPECT_EQ(longest.size(), 63U);
	EXPECT_TRUE(sc::IsMostaSlot(longest));
	EXPECT_FALSE(sc::IsMostaSlot("mosta_r1"));
	EXPECT_FALSE(sc::IsMostaSlot("other_r1_local_0123abcd"));
	EXPECT_FALSE(sc::IsMostaSlot("mosta_r1_local_0123ABCD"));
}

namespace {

// Target returns a target status with the fields the aggregate reads.
sc::TargetStatus
Target(const std::string &replica, const std::string &status, long long changes, sc::Lsn applied,
	   std::optional<long long> retained, const std::string &error = "") {
	sc::TargetStatus target;
	target.project = "p";
	target.replica = replica;
	target.status = status;
	target.changes_applied = changes;
	target.transactions = changes / 2;
	target.applied_lsn = applied;
	target.retained_bytes = retained;
	target.last_error = error;
	return target;
}

} // namespace

TEST(AggregateRuleStatusTest, LeastAdvancedStatusMostAdvancedCounters) {
	sc::TargetStatus a = Target("a", "streaming", 10, 300, 1000);
	sc::TargetStatus b = Target("b", "snapshot", 4, 200, 5000);
	sc::RuleStatus rule = sc::AggregateRuleStatus({&a, &b});
	EXPECT_EQ(rule.status, "snapshot");
	EXPECT_EQ(rule.changes_applied, 10);
	EXPECT_EQ(rule.transactions, 5);
	EXPECT_EQ(rule.confirmed_lsn, 200U);
	EXPECT_EQ(rule.retained_bytes, 5000);
	EXPECT_EQ(rule.last_error, "");
}

TEST(AggregateRuleStatusTest, AnErrorWinsAndNamesItsReplica) {
	sc::TargetStatus a = Target("a", "streaming", 10, 300, std::nullopt);
	sc::TargetStatus b = Target("b", "error", 0, 0, std::nullopt, "disk full");
	sc::RuleStatus rule = sc::AggregateRuleStatus({&a, &b});
	EXPECT_EQ(rule.status, "error");
	EXPECT_EQ(rule.last_error, "p.b: disk full");
	EXPECT_EQ(rule.confirmed_lsn, 0U);
	EXPECT_FALSE(rule.retained_bytes.has_value());
	EXPECT_EQ(sc::AggregateRuleStatus({}).status, "pending");
}
