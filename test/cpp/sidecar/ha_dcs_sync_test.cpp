// ha_dcs_sync_test.cpp: the synchronous standby's choice and protocol (ha/sync_standby.hpp): the sync key never
// names a standby PostgreSQL does not wait for.
#include "ha/sync_standby.hpp"

#include <gtest/gtest.h>

namespace mosta::sidecar::ha {
namespace {

const std::vector<std::string> kEligible = {"n2", "n3"};

ReplicationRow
Row(std::string name, std::string state, std::string sync_state, Lsn flush) {
	return ReplicationRow{std::move(name), std::move(state), std::move(sync_state), flush};
}

TEST(SyncStandbyNames, NamesOneStandbyOrNone) {
	EXPECT_EQ(SyncStandbyNames("on", std::string("n2")), "FIRST 1 (\"n2\")");
	EXPECT_EQ(SyncStandbyNames("strict", std::string("a\"b")), "FIRST 1 (\"a\"\"b\")");
	EXPECT_EQ(SyncStandbyNames("on", std::nullopt), "");
	EXPECT_EQ(SyncStandbyNames("strict", std::nullopt), "*");
}

TEST(ChooseSyncStandby, KeepsTheCurrentOneWhileItStreamsElseTheMostAdvanced) {
	const std::vector<ReplicationRow> rows = {Row("n2", "streaming", "sync", 100),
											  Row("n3", "streaming", "async", 200)};
	EXPECT_EQ(ChooseSyncStandby(std::string("n2"), rows, kEligible), "n2");
	EXPECT_EQ(ChooseSyncStandby(std::nullopt, rows, kEligible), "n3");
	const std::vector<ReplicationRow> gone = {Row("n2", "catchup", "async", 100), Row("n3", "streaming", "async", 50)};
	EXPECT_EQ(ChooseSyncStandby(std::string("n2"), gone, kEligible), "n3");
	// not a standby of the project, or not streaming: never chosen
	EXPECT_EQ(ChooseSyncStandby(std::nullopt, {Row("other", "streaming", "async", 900)}, kEligible), std::nullopt);
	EXPECT_EQ(ChooseSyncStandby(std::nullopt, {Row("n2", "startup", "async", 900)}, kEligible), std::nullopt);
}

TEST(PlanSync, TheSettingFirstThenTheKeyOnceItIsSync) {
	// nothing synchronous yet, n2 streams: set the setting; the key waits
	std::vector<ReplicationRow> rows = {Row("n2", "streaming", "async", 100)};
	SyncPlan plan = PlanSync("on", "", std::nullopt, rows, kEligible);
	EXPECT_FALSE(plan.clear_key);
	ASSERT_TRUE(plan.set_names);
	EXPECT_EQ(*plan.set_names, "FIRST 1 (\"n2\")");
	EXPECT_FALSE(plan.name_key);
	// the setting in force but n2 not shown sync yet: nothing
	plan = PlanSync("on", "FIRST 1 (\"n2\")", std::nullopt, rows, kEligible);
	EXPECT_FALSE(plan.set_names);
	EXPECT_FALSE(plan.name_key);
	// n2 is sync: the key names it
	rows[0].sync_state = "sync";
	plan = PlanSync("on", "FIRST 1 (\"n2\")", std::nullopt, rows, kEligible);
	EXPECT_TRUE(plan.name_key);
	EXPECT_EQ(plan.desired, "n2");
	// steady: nothing
	plan = PlanSync("on", "FIRST 1 (\"n2\")", std::string("n2"), rows, kEligible);
	EXPECT_FALSE(plan.clear_key || plan.set_names || plan.name_key);
	EXPECT_TRUE(plan.reason.empty());
}

TEST(PlanSync, AChangeClearsTheKeyBeforeTheSetting) {
	// n2 (named) stopped streaming, n3 streams
	const std::vector<ReplicationRow> rows = {Row("n3", "streaming", "async", 100)};
	SyncPlan plan = PlanSync("on", "FIRST 1 (\"n2\")", std::string("n2"), rows, kEligible);
	EXPECT_TRUE(plan.clear_key);
	ASSERT_TRUE(plan.set_names);
	EXPECT_EQ(*plan.set_names, "FIRST 1 (\"n3\")");
	EXPECT_FALSE(plan.name_key);
}

TEST(PlanSync, NoStandbyStreaming) {
	SyncPlan plan = PlanSync("on", "FIRST 1 (\"n2\")", std::string("n2"), {}, kEligible);
	EXPECT_TRUE(plan.clear_key);
	EXPECT_EQ(plan.set_names, std::optional<std::string>(""));
	plan = PlanSync("strict", "FIRST 1 (\"n2\")", std::string("n2"), {}, kEligible);
	EXPECT_TRUE(plan.clear_key);
	EXPECT_EQ(plan.set_names, std::optional<std::string>("*")); // writes wait
	plan = PlanSync("strict", "*", std::nullopt, {}, kEligible);
	EXPECT_FALSE(plan.clear_key || plan.set_names || plan.name_key);
}

TEST(PlanSync, StrictMovesFromTheWildcardToANamedStandby) {
	// under '*' n2 shows sync, but the key names it only once the setting names it
	const std::vector<ReplicationRow> rows = {Row("n2", "streaming", "sync", 100)};
	SyncPlan plan = PlanSync("strict", "*", std::nullopt, rows, kEligible);
	EXPECT_EQ(plan.set_names, std::optional<std::string>("FIRST 1 (\"n2\")"));
	EXPECT_FALSE(plan.name_key);
}

} // namespace
} // namespace mosta::sidecar::ha
