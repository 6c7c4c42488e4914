// state_test.cpp: the state JSON (monitor/src/state.hpp): stale detection, history, rates, routing.
#include <gtest/gtest.h>

#include <random>

#include "routing.hpp"
#include "state.hpp"
#include "topology_fixture.hpp"

namespace mosta::monitor {
namespace {

using test::kT0;
using test::TreeV1;

StateSettings
Settings() {
	return StateSettings{"tree", "/run/tree.json", std::chrono::milliseconds(1000), std::chrono::milliseconds(2000)};
}

TEST(MonitorTopology, ParsesVersion1AndEscapes) {
	Topology topology = ParseTopology(TreeV1(0, 100, true, 10, 2, "least-lag", "<script>x</script>"));
	EXPECT_EQ(topology.version, 1);
	ASSERT_TRUE(topology.generated_at_unix);
	EXPECT_DOUBLE_EQ(*topology.generated_at_unix, kT0);
	ASSERT_EQ(topology.projects.size(), 1u);
	EXPECT_EQ(topology.projects[0].replicas.size(), 4u);
	EXPECT_EQ(topology.rules.at(0).changes_applied, 10);
	EXPECT_EQ(topology.json.find("<script>"), std::string::npos);
	EXPECT_NE(topology.json.find("\\u003cscript\\u003e"), std::string::npos);
	EXPECT_THROW(ParseTopology("not json"), TopologyError);
	EXPECT_THROW(ParseTopology("[1]"), TopologyError);
	EXPECT_THROW(ParseTopology("{\"projects\":{}}"), TopologyError);
}

TEST(MonitorTopology, IsoTimes) {
	EXPECT_DOUBLE_EQ(*ParseIsoTime("2026-12-07T07:00:00Z"), kT0);
	EXPECT_DOUBLE_EQ(*ParseIsoTime("2026-12-07T08:00:00+01:00"), kT0);
	EXPECT_DOUBLE_EQ(*ParseIsoTime("2026-12-07T06:30:00.5-00:30"), kT0 + 0.5);
	EXPECT_DOUBLE_EQ(*ParseIsoTime("2026-12-07T07:00:00.123456+00"), kT0 + 0.123456);
	EXPECT_FALSE(ParseIsoTime("2026-12-07"));
	EXPECT_FALSE(ParseIsoTime("2026-12-07T07:00:00+00:00junk"));
	EXPECT_EQ(FormatIsoTime(kT0 + 0.25), "2026-12-07T07:00:00.250Z");
}

TEST(MonitorState, StaleWhenOldMissingOrBroken) {
	MonitorState state(Settings());
	EXPECT_TRUE(state.StaleReason(kT0));
	EXPECT_TRUE(state.OnText(TreeV1(0, 100, true), kT0 + 1));
	EXPECT_FALSE(state.StaleReason(kT0 + 1));
	// the same text again changes nothing
	EXPECT_FALSE(state.OnText(TreeV1(0, 100, true), kT0 + 1.5));
	// past --stale-after (2 s) without a new generatedAt
	EXPECT_TRUE(state.OnTick(kT0 + 2.5));
	EXPECT_EQ(state.StaleReason(kT0 + 2.5).value_or(""), "sidecar not reporting since 2026-12-07T07:00:00.000+00:00");
	EXPECT_FALSE(state.OnTick(kT0 + 3));
	// a fresh tree ends it
	EXPECT_TRUE(state.OnText(TreeV1(3, 100, true), kT0 + 3));
	EXPECT_FALSE(state.StaleReason(kT0 + 3));
	// missing: stale, the last good topology kept
	EXPECT_TRUE(state.OnMissing(kT0 + 3.5));
	EXPECT_EQ(state.StaleReason(kT0 + 3.5).value_or(""), "no topology file at /run/tree.json");
	ASSERT_NE(state.GetTopology(), nullptr);
	// broken
	EXPECT_TRUE(state.OnText("{\"version\":", kT0 + 3.6));
	EXPECT_EQ(state.StaleReason(kT0 + 3.6).value_or("").rfind("cannot read /run/tree.json: not JSON", 0), 0u);
	EXPECT_EQ(*state.GetTopology()->generated_at_unix, kT0 + 3);
	// and back, with the same text as before: a change (no longer stale)
	EXPECT_TRUE(state.OnText(TreeV1(3, 100, true), kT0 + 3.7));
	EXPECT_FALSE(state.StaleReason(kT0 + 3.7));
}

TEST(MonitorState, HistoryOnePointPerGeneratedAtForTenMinutes) {
	MonitorState state(Settings());
	state.OnText(TreeV1(0, 100, true), kT0);
	state.OnText(TreeV1(0, 100, true), kT0 + 0.5);
	state.OnText(TreeV1(1, 200, true), kT0 + 1);
	const auto &local = state.History().at("app/local");
	ASSERT_EQ(local.size(), 2u);
	EXPECT_EQ(local[1].lag_ms, 200);
	EXPECT_EQ(local[1].lag_bytes, 2000);
	EXPECT_FALSE(state.History().at("app/primary")[0].lag_ms);
	// 11 minutes later: the points older than 10 minutes are gone
	state.OnText(TreeV1(11 * 60, 300, true), kT0 + 660);
	ASSERT_EQ(state.History().at("app/local").size(), 1u);
	EXPECT_EQ(state.History().at("app/local")[0].lag_ms, 300);
	std::string json = state.StateJson(kT0 + 660);
	EXPECT_NE(json.find("\"app/local\":[[1796627460,300,3000]]"), std::string::npos) << json;
}

TEST(MonitorState, RatesFromCounterDeltas) {
	MonitorState state(Settings());
	state.OnText(TreeV1(0, 100, true, 10, 2), kT0);
	EXPECT_EQ(state.Rates().at("r1").changes_per_second, 0);
	state.OnText(TreeV1(2, 100, true, 30, 3), kT0 + 2);
	EXPECT_DOUBLE_EQ(state.Rates().at("r1").changes_per_second, 10);
	EXPECT_DOUBLE_EQ(state.Rates().at("r1").transactions_per_second, 0.5);
	// the same counters one second later: still within twice the last interval, the rate holds
	state.OnText(TreeV1(3, 100, true, 30, 3), kT0 + 3);
	EXPECT_DOUBLE_EQ(state.Rates().at("r1").changes_per_second, 10);
	// idle for longer: 0
	state.OnText(TreeV1(10, 100, true, 30, 3), kT0 + 10);
	EXPECT_EQ(state.Rates().at("r1").changes_per_second, 0);
	EXPECT_EQ(state.Rates().at("r1").transactions_per_second, 0);
	// a counter going down (the rule was added again) gives no negative rate
	state.OnText(TreeV1(12, 100, true, 5, 1), kT0 + 12);
	EXPECT_EQ(state.Rates().at("r1").changes_per_second, 0);
	std::string json = state.StateJson(kT0 + 12);
	EXPECT_NE(json.find("\"rates\":{\"r1\":{\"changesPerSecond\":0,\"transactionsPerSecond\":0}}"), std::string::npos);
}

TEST(MonitorRouting, Version1IsComputedAsMostaReadReplica) {
	// least-lag: remote (50 ms) before local (100 ms); dump (sqldump) never
	Topology topology = ParseTopology(TreeV1(0, 100, true));
	Routing routing = ComputeRouting(topology.projects[0]);
	EXPECT_EQ(routing.strategy, "least-lag");
	EXPECT_EQ(routing.eligible, (std::vector<std::string>{"remote", "local"}));
	EXPECT_EQ(routing.reads_go_to, "remote");
	// equal lags: by name
	topology = ParseTopology(TreeV1(0, 50, true));
	EXPECT_EQ(ComputeRouting(topology.projects[0]).eligible, (std::vector<std::string>{"local", "remote"}));
	// local past its tolerance, remote down: the master
	topology = ParseTopology(TreeV1(0, 2500, false));
	routing = ComputeRouting(topology.projects[0]);
	EXPECT_TRUE(routing.eligible.empty());
	EXPECT_EQ(routing.reads_go_to, "primary");
	// stale: no slave eligible, reads to the master (version 1 and 2 alike); the state JSON says the same
	topology = ParseTopology(TreeV1(0, 100, true));
	routing = ComputeRouting(topology.projects[0], true);
	EXPECT_TRUE(routing.eligible.empty());
	EXPECT_EQ(routing.reads_go_to, "primary");
	MonitorState stale_state(
		StateSettings{"tree", "t", std::chrono::milliseconds(1000), std::chrono::milliseconds(5000)});
	stale_state.OnText(TreeV1(0, 100, true), kT0);
	EXPECT_NE(stale_state.StateJson(kT0 + 1).find(
				  "\"routing\":{\"app\":{\"strategy\":\"least-lag\",\"readsGoTo\":\"remote\""),
			  std::string::npos);
	EXPECT_NE(stale_state.StateJson(kT0 + 6).find(
				  "\"routing\":{\"app\":{\"strategy\":\"least-lag\",\"readsGoTo\":\"primary\",\"eligible\":[]}"),
			  std::string::npos)
		<< stale_state.StateJson(kT0 + 6);
	// round-robin: no single answer while slaves are eligible
	topology = ParseTopology(TreeV1(0, 100, true, 1, 1, "round-robin"));
	routing = ComputeRouting(topology.projects[0]);
	EXPECT_FALSE(routing.reads_go_to);
	std::uint64_t counter = 0;
	std::mt19937_64 random(1);
	EXPECT_EQ(ChooseRoute(topology.projects[0], routing, counter, random)->replica, "local");
	EXPECT_EQ(ChooseRoute(topology.projects[0], routing, counter, random)->replica, "remote");
	EXPECT_EQ(ChooseRoute(topology.projects[0], routing, counter, random)->replica, "local");
	topology = ParseTopology(TreeV1(0, 100, true, 1, 1, "random"));
	routing = ComputeRouting(topology.projects[0]);
	for (int i = 0; i < 20; ++i) {
		std::string chosen = ChooseRoute(topology.projects[0], routing, counter, random)->replica;
		EXPECT_TRUE(chosen == "local" || chosen == "remote") << chosen;
	}
}

TEST(MonitorRouting, Version2FieldsAreTakenAsGiven) {
	std::string text = "{\"version\":2,\"generatedAt\":\"2026-12-07T07:00:00Z\",\"statusMaxAgeMs\":30000,"
					   "\"projects\":{\"p\":{\"readRouting\":\"least-lag\",\"readsGoTo\":\"b\",\"eligible\":[\"b\","
					   "\"a\"],\"replicas\":[{\"name\":\"m\",\"role\":\"master\",\"dialect\":\"postgres\"}]}},"
					   "\"rules\":[],\"activity\":[{\"id\":1,\"action\":\"rule_added\"}]}";
	Topology topology = ParseTopology(text);
	EXPECT_EQ(topology.status_max_age_ms, 30000);
	Routing routing = ComputeRouting(topology.projects[0]);
	EXPECT_EQ(routing.reads_go_to, "b");
	EXPECT_EQ(routing.eligible, (std::vector<std::string>{"b", "a"}));
	MonitorState state(Settings());
	state.OnText(text, kT0);
	std::string json = state.StateJson(kT0);
	EXPECT_NE(
		json.find("\"routing\":{\"p\":{\"strategy\":\"least-lag\",\"readsGoTo\":\"b\",\"eligible\":[\"b\",\"a\"]}}"),
		std::string::npos)
		<< json;
	EXPECT_NE(json.find("\"activity\":[{\"id\":1,\"action\":\"rule_added\"}]"), std::string::npos);
}

TEST(MonitorState, StateJsonShape) {
	MonitorState state(Settings());
	std::string empty = state.StateJson(kT0);
	EXPECT_NE(empty.find("\"topology\":null"), std::string::npos) << empty;
	EXPECT_NE(empty.find("\"stale\":true"), std::string::npos);
	state.OnText(TreeV1(0, 100, true, 10, 2, "least-lag", "<script>alert(1)</script>\\n"), kT0 + 1.25);
	std::string json = state.StateJson(kT0 + 1.25);
	EXPECT_EQ(json.find('\n'), std::string::npos);
	EXPECT_EQ(json.find("<script>"), std::string::npos);
	EXPECT_NE(json.find("\"source\":\"tree\""), std::string::npos);
	EXPECT_NE(json.find("\"readAt\":\"2026-12-07T07:00:01.250Z\""), std::string::npos) << json;
	EXPECT_NE(json.find("\"ageSeconds\":1.25"), std::string::npos);
	EXPECT_NE(json.find("\"stale\":false,\"staleReason\":null,\"pollIntervalMs\":1000,\"staleAfterMs\":2000"),
			  std::string::npos);
}

} // namespace
} // namespace mosta::monitor
