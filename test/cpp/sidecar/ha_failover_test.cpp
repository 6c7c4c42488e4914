// ha_failover_test.cpp: the decisions of mosta-sidecar failover (ha/failover.hpp): the lag gate, what makes a
// node impossible to promote, the ranking of candidates, the possible loss, the JSON quoting of the activity row,
// and the parsing of the failover subcommand's command line (app/config.hpp).
#include "ha/failover.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "app/config.hpp"

namespace mosta::sidecar::ha {
namespace {

LastObservation
Seen(const std::string &status, const std::string &sync_state, std::optional<long long> lag_ms) {
	LastObservation last;
	last.present = true;
	last.status = status;
	last.sync_state = sync_state;
	last.lag_ms = lag_ms;
	last.age_ms = 1500;
	return last;
}

TEST(LagGate, ToleranceZeroNeedsASynchronousStandby) {
	EXPECT_TRUE(LagGate(0, Seen("up", "sync", 0)).allows);
	EXPECT_TRUE(LagGate(0, Seen("up", "quorum", 0)).allows);
	// a synchronous standby whose replay lags still holds every acknowledged commit (flushed)
	EXPECT_TRUE(LagGate(0, Seen("catching-up", "sync", 900)).allows);
	GateVerdict async = LagGate(0, Seen("up", "async", 0));
	EXPECT_FALSE(async.allows);
	EXPECT_NE(async.reason.find("not a synchronous standby"), std::string::npos) << async.reason;
	EXPECT_NE(async.reason.find("sync_state async"), std::string::npos) << async.reason;
	EXPECT_NE(async.reason.find("1.5 s old"), std::string::npos) << async.reason;
	EXPECT_FALSE(LagGate(0, Seen("up", "potential", 0)).allows);
	EXPECT_FALSE(LagGate(0, Seen("up", "", 0)).allows);
	// sync, but not watched any more (the daemon stopped) or not connected: nothing tells it still is
	EXPECT_FALSE(LagGate(0, Seen("unknown", "sync", std::nullopt)).allows);
	EXPECT_FALSE(LagGate(0, Seen("down", "sync", std::nullopt)).allows);
	EXPECT_FALSE(LagGate(0, Seen("error", "sync", std::nullopt)).allows);
}

TEST(LagGate, PositiveToleranceNeedsUpAndWithinIt) {
	EXPECT_TRUE(LagGate(5000, Seen("up", "async", 5000)).allows);
	EXPECT_TRUE(LagGate(5000, Seen("up", "", 0)).allows);
	GateVerdict behind = LagGate(5000, Seen("up", "async", 5001));
	EXPECT_FALSE(behind.allows);
	EXPECT_NE(behind.reason.find("lag 5001 ms beyond its tolerance of 5000 ms"), std::string::npos) << behind.reason;
	EXPECT_FALSE(LagGate(5000, Seen("catching-up", "async", 10)).allows);
	EXPECT_FALSE(LagGate(5000, Seen("up", "async", std::nullopt)).allows);
	EXPECT_FALSE(LagGate(5000, Seen("down", "sync", 0)).allows);
}

TEST(LagGate, NeverReportedFails) {
	GateVerdict never = LagGate(5000, LastObservation());
	EXPECT_FALSE(never.allows);
	EXPECT_NE(never.reason.find("never reported"), std::string::npos);
	EXPECT_FALSE(LagGate(0, LastObservation()).allows);
}

TEST(CandidateProblem, UnreachablePrimaryOrForeign) {
	NodeProbe probe;
	probe.error = "connection refused";
	EXPECT_EQ(CandidateProblem(probe, "42"), "unreachable: connection refused");
	probe.reachable = true;
	probe.system_identifier = "42";
	EXPECT_EQ(CandidateProblem(probe, "42"), "not in recovery: it is a primary, not a standby");
	probe.in_recovery = true;
	EXPECT_EQ(CandidateProblem(probe, "42"), "");
	probe.system_identifier = "7";
	EXPECT_NE(CandidateProblem(probe, "42").find("system identifier 7 differs"), std::string::npos);
}

TEST(BetterCandidate, LsnThenSynchronousThenName) {
	std::vector<RankedCandidate> ranked = {
		{"c", 100, "async"}, {"b", 200, "async"}, {"a", 200, "async"}, {"z", 200, "sync"}, {"q", 200, "quorum"}};
	std::sort(ranked.begin(), ranked.end(), BetterCandidate);
	std::vector<std::string> order;
	for (const RankedCandidate &candidate : ranked)
		order.push_back(candidate.name);
	EXPECT_EQ(order, (std::vector<std::string>{"q", "z", "a", "b", "c"}));
}

TEST(EstimateLoss, KnownBytesAndTheUnknownBeyond) {
	PossibleLoss none = EstimateLoss(1000, {1000, 900}, 1000, false);
	EXPECT_EQ(none.known_bytes, 0);
	EXPECT_TRUE(none.beyond_unknown);
	EXPECT_NE(none.text.find("no WAL known beyond"), std::string::npos) << none.text;
	EXPECT_NE(none.text.find("beyond that unknown"), std::string::npos) << none.text;

	PossibleLoss some = EstimateLoss(1000, {1200, 900}, 1100, false);
	EXPECT_EQ(some.known_bytes, 200);
	EXPECT_EQ(some.most_advanced_lsn, 1200u);
	// the master's position at the last observation counts when it is the furthest
	EXPECT_EQ(EstimateLoss(1000, {900}, 1500, false).known_bytes, 500);
	// the master was read (reachable, in recovery): nothing unknown beyond
	PossibleLoss read = EstimateLoss(1000, {1000}, std::nullopt, true);
	EXPECT_FALSE(read.beyond_unknown);
	EXPECT_EQ(read.text.find("unknown"), std::string::npos) << read.text;
}

TEST(JsonQuote, EscapesWhatJsonNeeds) {
	EXPECT_EQ(JsonQuote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
	EXPECT_EQ(JsonQuote("é"), "\"é\"");
}

TEST(FailoverConfig, ParsesTheSubcommand) {
	Config config =
		ParseConfig({"failover", "app", "--to", "standby1", "--allow-data-loss", "--source", "host=a,b"}, nullptr);
	EXPECT_TRUE(config.failover);
	EXPECT_FALSE(config.verify);
	EXPECT_EQ(config.failover_project, "app");
	EXPECT_EQ(config.failover_to, "standby1");
	EXPECT_TRUE(config.allow_data_loss);
	EXPECT_EQ(config.source, "host=a,b");
	Config defaults = ParseConfig({"failover", "app"}, "host=c");
	EXPECT_EQ(defaults.failover_to, "");
	EXPECT_FALSE(defaults.allow_data_loss);
	EXPECT_EQ(defaults.source, "host=c"); // MOSTA_SOURCE_URI
}

TEST(FailoverConfig, RefusesBadUsage) {
	EXPECT_THROW(ParseConfig({"failover"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"failover", "a", "b"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"failover", "app", "--to"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"failover", "app", "--to="}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"failover", "app", "--once"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"failover", "app", "--allow-data-loss=yes"}, nullptr), ConfigError);
	// the daemon and verify do not take failover's flags
	EXPECT_THROW(ParseConfig({"--to", "x"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"--allow-data-loss"}, nullptr), ConfigError);
	EXPECT_THROW(ParseConfig({"verify", "r", "--allow-data-loss"}, nullptr), ConfigError);
	try {
		ParseConfig({"failover", "app", "--tree", "/tmp/x"}, nullptr);
		FAIL() << "no error";
	} catch (const ConfigError &e) {
		EXPECT_STREQ(e.what(), "flag --tree does not apply to failover (see --help)");
	}
	try {
		ParseConfig({"--to", "x"}, nullptr);
		FAIL() << "no error";
	} catch (const ConfigError &e) {
		EXPECT_STREQ(e.what(), "flag --to applies to a subcommand only (see --help)");
	}
}

TEST(FailoverConfig, HelpDocumentsIt) {
	std::string help = HelpText();
	EXPECT_NE(help.find("mosta-sidecar failover PROJECT [--to REPLICA] [--allow-data-loss] [--source DSN]"),
			  std::string::npos);
	EXPECT_NE(help.find("--allow-data-loss"), std::string::npos);
	EXPECT_TRUE(ParseConfig({"failover", "--help"}, nullptr).help);
}

} // namespace
} // namespace mosta::sidecar::ha
