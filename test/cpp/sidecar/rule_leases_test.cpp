/*
 * rule_leases_test.cpp
 *     Unit tests for the pure parts of the rule leases (app/rule_leases.hpp): which keys of P/rules/ a sidecar owns
 *     (its name AND its lease), which wanted rules it races for, which keys it releases, who holds the others,
 *     and the JSON of P/sidecars/NAME; the fence of durable target writes (util/act_fence.hpp): closed, a sink
 *     neither commits nor spills into its file, and its rollback leaves the file alone.
 */
#include "app/rule_leases.hpp"
#include "sink/json_archive_sink.hpp"
#include "sink/spooled_transaction.hpp"
#include "util/act_fence.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;
namespace dcs = mosta::sidecar::dcs;

const std::string kPrefix = "/mosta/rules/";

dcs::KeyValue
Key(const std::string &rule, const std::string &holder, std::int64_t lease) {
	dcs::KeyValue kv;
	kv.key = kPrefix + rule;
	kv.value = holder;
	kv.lease = lease;
	return kv;
}

TEST(PlanRuleLeases, NothingHeldRacesForEveryWantedRule) {
	sc::RuleLeasePlan plan = sc::PlanRuleLeases({}, kPrefix, "a", 7, {"r1", "r2"});
	EXPECT_TRUE(plan.owned.empty());
	EXPECT_EQ(plan.to_create, (std::vector<std::string>{"r1", "r2"}));
	EXPECT_TRUE(plan.to_release.empty());
	EXPECT_TRUE(plan.holders.empty());
}

TEST(PlanRuleLeases, OwnsOnlyItsNameOnItsLease) {
	std::vector<dcs::KeyValue> keys = {Key("r1", "a", 7), Key("r2", "b", 9), Key("r3", "a", 8)};
	sc::RuleLeasePlan plan = sc::PlanRuleLeases(keys, kPrefix, "a", 7, {"r1", "r2", "r3"});
	EXPECT_EQ(plan.owned, (std::set<std::string>{"r1"}));
	// r3 names "a" on another lease: an earlier process of the same name, or a second one misconfigured
	EXPECT_EQ(plan.holders.at("r2"), "b");
	EXPECT_EQ(plan.holders.at("r3"), "a");
	EXPECT_TRUE(plan.to_create.empty());
	EXPECT_TRUE(plan.to_release.empty());
}

TEST(PlanRuleLeases, NoLeaseOwnsNothing) {
	// a key without lease (lease 0) written by hand is nobody's, even with this sidecar's name
	sc::RuleLeasePlan plan = sc::PlanRuleLeases({Key("r1", "a", 0)}, kPrefix, "a", 0, {"r1"});
	EXPECT_TRUE(plan.owned.empty());
	EXPECT_TRUE(plan.to_create.empty());
	EXPECT_EQ(plan.holders.at("r1"), "a");
}

TEST(PlanRuleLeases, ReleasesOwnedRulesNoLongerWanted) {
	std::vector<dcs::KeyValue> keys = {Key("r1", "a", 7), Key("gone", "a", 7), Key("other", "b", 9)};
	sc::RuleLeasePlan plan = sc::PlanRuleLeases(keys, kPrefix, "a", 7, {"r1", "new"});
	EXPECT_EQ(plan.owned, (std::set<std::string>{"r1"}));
	EXPECT_EQ(plan.to_release, (std::vector<std::string>{"gone"}));
	EXPECT_EQ(plan.to_create, (std::vector<std::string>{"new"}));
	// another sidecar's key of a rule this one does not want stays its own business
	EXPECT_EQ(plan.holders.at("other"), "b");
}

TEST(PlanRuleLeases, IgnoresKeysOutsideOneRuleLevel) {
	dcs::KeyValue deeper = Key("r1/extra", "a", 7);
	dcs::KeyValue elsewhere;
	elsewhere.key = "/mosta/sidecars/a";
	elsewhere.value = "a";
	elsewhere.lease = 7;
	dcs::KeyValue bare = Key("", "a", 7);
	sc::RuleLeasePlan plan = sc::PlanRuleLeases({deeper, elsewhere, bare}, kPrefix, "a", 7, {"r1"});
	EXPECT_TRUE(plan.owned.empty());
	EXPECT_TRUE(plan.holders.empty());
	EXPECT_TRUE(plan.to_release.empty());
	EXPECT_EQ(plan.to_create, (std::vector<std::string>{"r1"}));
}

TEST(SidecarJson, NamesHostPidRulesAndTime) {
	EXPECT_EQ(sc::SidecarJson("s\"1", "h", 42, {"r2", "r1"}, 1700000000000),
			  "{\"name\":\"s\\\"1\",\"host\":\"h\",\"pid\":42,\"rules\":[\"r1\",\"r2\"],\"time_ms\":1700000000000}");
	EXPECT_EQ(sc::SidecarJson("s", "h", 1, {}, 0),
			  "{\"name\":\"s\",\"host\":\"h\",\"pid\":1,\"rules\":[],\"time_ms\":0}");
}

TEST(DefaultSidecarName, IsHostColonPid) {
	std::string name = sc::DefaultSidecarName();
	auto colon = name.rfind(':');
	ASSERT_NE(colon, std::string::npos);
	EXPECT_GT(colon, 0u);
	EXPECT_EQ(name.substr(colon + 1), std::to_string(static_cast<long>(getpid())));
}

TEST(ActFence, OpenUntilTheDeadlineClosedWhenRevoked) {
	EXPECT_TRUE(sc::MayAct()); // never set: no --dcs, always open
	sc::AllowActingUntil(sc::BootTimeNow() + std::chrono::seconds(60));
	EXPECT_TRUE(sc::MayAct());
	EXPECT_NO_THROW(sc::ThrowIfFenced("target x"));
	sc::AllowActingUntil(sc::BootTimeNow() - std::chrono::milliseconds(1));
	EXPECT_FALSE(sc::MayAct());
	sc::RevokeActing();
	EXPECT_FALSE(sc::MayAct());
	try {
		sc::ThrowIfFenced("target x");
		ADD_FAILURE() << "no Fenced thrown";
	} catch (const sc::Fenced &e) {
		EXPECT_NE(std::string(e.what()).find("target x: not committed"), std::string::npos) << e.what();
	}
	// back to "no --dcs" for the other tests of this binary
	sc::AllowActingUntil(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max()));
	EXPECT_TRUE(sc::MayAct());
}

// OpenFence reopens the fence as without --dcs when a test ends.
struct OpenFence {
	~OpenFence() {
		sc::AllowActingUntil(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max()));
	}
};

std::string
ReadAll(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

const sc::DecoderOptions kKeepRaw{true};

std::string
Row(int id) {
	return R"({"op":"insert","lsn":"0/1F0","schema":"public","table":"big","key":["id"],"new":{"id":)" +
		   std::to_string(id) + R"(,"v":")" + std::string(200, 'x') + R"("}})";
}

TEST(ActFence, AFencedSinkNeitherCommitsNorSpillsNorCutsTheFile) {
	OpenFence reopen;
	std::string pattern = (std::filesystem::temp_directory_path() / "mosta-fence-XXXXXX").string();
	std::string dir = mkdtemp(pattern.data());
	{
		sc::JsonArchiveSink sink(dir, 1 << 30);
		std::string file = dir + "/archive-00000000000000F8.jsonl";
		sink.BeginTransaction(0xf8);
		sink.Apply(sc::ParseChange(Row(1), kKeepRaw));
		sink.CommitTransaction(0xf8, 0x100);
		sink.Flush();
		std::string durable = ReadAll(file);
		ASSERT_FALSE(durable.empty());

		// a commit past the deadline: refused, nothing written, DurableLsn unchanged
		sc::RevokeActing();
		sink.BeginTransaction(0x1f8);
		sink.Apply(sc::ParseChange(Row(2), kKeepRaw));
		EXPECT_THROW(
			{
				sink.CommitTransaction(0x1f8, 0x200);
				sink.Flush();
			},
			sc::Fenced);
		sink.Rollback();
		EXPECT_EQ(ReadAll(file), durable);
		EXPECT_EQ(sink.DurableLsn(), 0x100u);

		// a transaction larger than the spill bound: the spill is refused
		sink.BeginTransaction(0x2f8);
		bool fenced = false;
		for (int id = 0; !fenced && id < 20 * static_cast<int>(sc::SpooledTransaction::kSpillBytes / 200); ++id) {
			try {
				sink.Apply(sc::ParseChange(Row(id), kKeepRaw));
			} catch (const sc::Fenced &) {
				fenced = true;
			}
		}
		EXPECT_TRUE(fenced);
		sink.Rollback();
		EXPECT_EQ(ReadAll(file), durable);

		// spilled while allowed, rolled back once fenced: the file is left as it is (another holder's now)
		sc::AllowActingUntil(sc::BootTimeNow() + std::chrono::seconds(60));
		sink.BeginTransaction(0x3f8);
		for (int id = 0; std::filesystem::file_size(file) == durable.size() &&
						 id < 20 * static_cast<int>(sc::SpooledTransaction::kSpillBytes / 200);
			 ++id)
			sink.Apply(sc::ParseChange(Row(id), kKeepRaw));
		std::uintmax_t spilled = std::filesystem::file_size(file);
		EXPECT_GT(spilled, durable.size());
		sc::RevokeActing();
		sink.Rollback();
		EXPECT_EQ(std::filesystem::file_size(file), spilled);
		sc::AllowActingUntil(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max()));
	}
	std::filesystem::remove_all(dir);
}

} // namespace
