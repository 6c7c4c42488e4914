// metrics_health_test.cpp: /metrics text (monitor/src/metrics.hpp) and the health decisions (health.hpp).
#include <gtest/gtest.h>

#include "health.hpp"
#include "metrics.hpp"
#include "topology_fixture.hpp"

namespace mosta::monitor {
namespace {

using test::kT0;
using test::TreeV1;

MonitorState
StateWith(const std::string &text, double now) {
	MonitorState state(StateSettings{"tree", "t", std::chrono::milliseconds(1000), std::chrono::milliseconds(5000)});
	state.OnText(text, now);
	return state;
}

TEST(MonitorMetrics, LabelEscaping) {
	EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
	EXPECT_EQ(EscapeLabelValue("plain"), "plain");
}

TEST(MonitorMetrics, Text) {
	MonitorState state = StateWith(TreeV1(0, 1500, true), kT0);
	std::string text = RenderMetrics(state, kT0 + 1);
	auto has = [&](const std::string &line) { return text.find(line + "\n") != std::string::npos; };
	EXPECT_TRUE(has("mosta_topology_stale 0")) << text;
	EXPECT_TRUE(has("mosta_topology_age_seconds 1"));
	EXPECT_TRUE(has("# TYPE mosta_rule_changes_applied_total counter"));
	EXPECT_TRUE(has("mosta_rule_changes_applied_total{rule=\"r1\"} 10"));
	EXPECT_TRUE(has("mosta_replica_lag_seconds{project=\"app\",replica=\"local\"} 1.5"));
	EXPECT_TRUE(has("mosta_replica_lag_bytes{project=\"app\",replica=\"local\"} 15000"));
	EXPECT_TRUE(has("mosta_replica_up{project=\"app\",replica=\"local\",role=\"slave\",dialect=\"sqlite\"} 1"));
	EXPECT_TRUE(has("mosta_replica_status{project=\"app\",replica=\"remote\",status=\"up\"} 1"));
	EXPECT_TRUE(has("mosta_replica_status{project=\"app\",replica=\"remote\",status=\"down\"} 0"));
	EXPECT_TRUE(has("mosta_target_retained_wal_bytes{rule=\"r1\",project=\"app\",replica=\"local\",slot=\"mosta_r1\"} "
					"4096"));
	EXPECT_TRUE(has("mosta_target_resnapshots_total{rule=\"r1\",project=\"app\",replica=\"local\"} 1"));
	EXPECT_TRUE(has("mosta_rule_last_apply_timestamp_seconds{rule=\"r1\"} 1796626800"));
	// unknown values are absent, not 0: the master has no lag and no within_tolerance
	EXPECT_EQ(text.find("mosta_replica_lag_seconds{project=\"app\",replica=\"primary\"}"), std::string::npos);
	EXPECT_EQ(text.find("mosta_replica_within_tolerance{project=\"app\",replica=\"primary\"}"), std::string::npos);
	EXPECT_EQ(text.find("mosta_replica_lag_bytes{project=\"app\",replica=\"remote\"}"), std::string::npos);
	// stale after 5 s
	EXPECT_NE(RenderMetrics(state, kT0 + 6).find("mosta_topology_stale 1\n"), std::string::npos);
}

TEST(MonitorMetrics, RuleConflicts) {
	// a topology written before conflicts were counted has none: the series is absent, not 0
	std::string text = RenderMetrics(StateWith(TreeV1(0, 1500, true), kT0), kT0 + 1);
	EXPECT_EQ(text.find("mosta_rule_conflicts_total{"), std::string::npos) << text;
	std::string tree = TreeV1(0, 1500, true);
	const std::string rows = "\"snapshotRows\":100";
	ASSERT_NE(tree.find(rows), std::string::npos);
	tree.replace(tree.find(rows), rows.size(), rows + ",\"conflicts\":3");
	text = RenderMetrics(StateWith(tree, kT0), kT0 + 1);
	EXPECT_NE(text.find("# TYPE mosta_rule_conflicts_total counter\n"), std::string::npos) << text;
	EXPECT_NE(text.find("mosta_rule_conflicts_total{rule=\"r1\"} 3\n"), std::string::npos) << text;
}

TEST(MonitorMetrics, NoTopology) {
	MonitorState state(StateSettings{});
	std::string text = RenderMetrics(state, kT0);
	EXPECT_NE(text.find("mosta_topology_stale 1\n"), std::string::npos);
	EXPECT_EQ(text.find("mosta_topology_age_seconds"), std::string::npos);
	EXPECT_NE(text.find("mosta_monitor_build_info{version=\""), std::string::npos);
}

TEST(MonitorHealth, Master) {
	MonitorState state = StateWith(TreeV1(0, 100, true), kT0);
	EXPECT_EQ(MasterHealth(state, "app", "", kT0 + 1).status, 200u);
	EXPECT_EQ(MasterHealth(state, "app", "", kT0 + 6).status, 503u);
	EXPECT_EQ(MasterHealth(state, "nope", "", kT0 + 1).status, 404u);
	EXPECT_EQ(MasterHealth(state, "", "", kT0 + 1).status, 400u);
	MonitorState none(StateSettings{});
	EXPECT_EQ(MasterHealth(none, "app", "", kT0).status, 503u);
	// by name: only the master's own check passes (a load balancer listing every node)
	EXPECT_EQ(MasterHealth(state, "app", "primary", kT0 + 1).status, 200u);
	EXPECT_EQ(MasterHealth(state, "app", "primary", kT0 + 6).status, 503u);
	HealthAnswer other = MasterHealth(state, "app", "local", kT0 + 1);
	EXPECT_EQ(other.status, 503u);
	EXPECT_NE(other.body.find("the master is primary, not local"), std::string::npos) << other.body;
	EXPECT_EQ(MasterHealth(state, "app", "ghost", kT0 + 1).status, 404u);
}

TEST(MonitorHealth, Replica) {
	using std::chrono::milliseconds;
	MonitorState state = StateWith(TreeV1(0, 1500, false), kT0);
	// within its tolerance (2000 ms)
	EXPECT_EQ(ReplicaHealth(state, "app", "local", std::nullopt, kT0 + 1).status, 200u);
	// an explicit lag limit
	EXPECT_EQ(ReplicaHealth(state, "app", "local", milliseconds(1500), kT0 + 1).status, 200u);
	HealthAnswer over = ReplicaHealth(state, "app", "local", milliseconds(1000), kT0 + 1);
	EXPECT_EQ(over.status, 503u);
	EXPECT_NE(over.body.find("lag 1500 ms exceeds 1000 ms"), std::string::npos) << over.body;
	// stale
	EXPECT_EQ(ReplicaHealth(state, "app", "local", milliseconds(5000), kT0 + 6).status, 503u);
	// down, a master, unknown names
	EXPECT_EQ(ReplicaHealth(state, "app", "remote", milliseconds(5000), kT0 + 1).status, 503u);
	EXPECT_EQ(ReplicaHealth(state, "app", "primary", std::nullopt, kT0 + 1).status, 503u);
	EXPECT_EQ(ReplicaHealth(state, "app", "ghost", std::nullopt, kT0 + 1).status, 404u);
	EXPECT_EQ(ReplicaHealth(state, "ghost", "local", std::nullopt, kT0 + 1).status, 404u);
	// past its tolerance
	MonitorState lagging = StateWith(TreeV1(0, 2500, true), kT0);
	EXPECT_EQ(ReplicaHealth(lagging, "app", "local", std::nullopt, kT0 + 1).status, 503u);
	EXPECT_EQ(ReplicaHealth(lagging, "app", "local", milliseconds(3000), kT0 + 1).status, 200u);
}

TEST(MonitorHealth, Route) {
	std::uint64_t counter = 0;
	std::mt19937_64 random(7);
	MonitorState state = StateWith(TreeV1(0, 100, true), kT0);
	HealthAnswer answer = RouteHealth(state, "app", counter, random, kT0 + 1);
	EXPECT_EQ(answer.status, 200u);
	EXPECT_EQ(answer.body, "{\"project\":\"app\",\"strategy\":\"least-lag\",\"replica\":\"remote\",\"role\":\"slave\","
						   "\"eligible\":[\"remote\",\"local\"]}");
	MonitorState fallback = StateWith(TreeV1(0, 9000, false), kT0);
	answer = RouteHealth(fallback, "app", counter, random, kT0 + 1);
	EXPECT_NE(answer.body.find("\"replica\":\"primary\",\"role\":\"master\""), std::string::npos) << answer.body;
	EXPECT_EQ(RouteHealth(fallback, "ghost", counter, random, kT0 + 1).status, 404u);
	MonitorState masterless = StateWith("{\"version\":1,\"generatedAt\":\"2026-12-07T07:00:00Z\",\"projects\":{\"p\":"
										"{\"replicas\":[]}},\"rules\":[]}",
										kT0);
	EXPECT_EQ(RouteHealth(masterless, "p", counter, random, kT0 + 1).status, 503u);
	// stale (after 5 s): the slaves' lags are not known any more, reads go to the master, as mosta_read_replica
	// decides once the reports are older than mostajs.status_max_age
	answer = RouteHealth(state, "app", counter, random, kT0 + 6);
	EXPECT_EQ(answer.status, 200u);
	EXPECT_NE(answer.body.find("\"replica\":\"primary\",\"role\":\"master\",\"eligible\":[],\"stale\":"),
			  std::string::npos)
		<< answer.body;
}

TEST(MonitorHealth, QueryParameters) {
	EXPECT_EQ(QueryParameter("project=a%20b&lag=5s", "project"), "a b");
	EXPECT_EQ(QueryParameter("project=a+b&lag=5s", "lag"), "5s");
	EXPECT_FALSE(QueryParameter("project=a", "replica"));
	EXPECT_EQ(PercentDecode("%3Cx%3e%zz%4"), "<x>%zz%4");
}

} // namespace
} // namespace mosta::monitor
