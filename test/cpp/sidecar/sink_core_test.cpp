/*
 * sink_core_test.cpp
 *     SinkCore alone, with a fake sink that records its hooks: hook order, poisoning and Rollback, misuse, grouping
 *     by count, changes and delay (injected clock), the checkpoint in the group of its data, and a failing durable
 *     commit that leaves DurableLsn() where it was.
 */
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "sink/sink_core.hpp"

namespace {

using mosta::sidecar::Change;
using mosta::sidecar::GroupPolicy;
using mosta::sidecar::Lsn;
using mosta::sidecar::Op;
using mosta::sidecar::SinkCore;

using TimePoint = std::chrono::steady_clock::time_point;

// FakeSink records each hook call as a word in log; the switches make hooks throw.
class FakeSink final : public SinkCore {
  public:
	explicit FakeSink(GroupPolicy policy, TimePoint *now = nullptr)
		: SinkCore("Fake sink", policy, now == nullptr ? Clock() : Clock([now] { return *now; })) {}

	std::string_view
	Name() const noexcept override {
		return "fake";
	}

	std::vector<std::string> log;
	bool fail_apply = false;
	bool fail_durable = false;
	bool fail_open = false;

  protected:
	void
	OpenGroup() override {
		log.push_back("open-group");
	}
	void
	OpenSource(Lsn commit_lsn) override {
		if (fail_open)
			throw std::runtime_error("cannot open");
		log.push_back("open-source " + std::to_string(commit_lsn));
	}
	void
	InsertRow(const Change &) override {
		Record("insert");
	}
	void
	UpdateRow(const Change &) override {
		Record("update");
	}
	void
	DeleteRow(const Change &) override {
		Record("delete");
	}
	void
	TruncateTables(const Change &) override {
		Record("truncate");
	}
	void
	ApplyMessage(const Change &) override {
		Record("message");
	}
	void
	RecordCheckpoint(Lsn, Lsn end_lsn) override {
		log.push_back("checkpoint " + std::to_string(end_lsn));
	}
	void
	MakeGroupDurable(Lsn pending_lsn) override {
		if (fail_durable)
			throw std::runtime_error("disk full");
		log.push_back("durable " + std::to_string(pending_lsn) + " (durable was " + std::to_string(DurableLsn()) + ")");
	}
	void
	DiscardGroup() noexcept override {
		log.push_back("discard");
	}

  private:
	void
	Record(const char *what) {
		if (fail_apply)
			throw std::runtime_error("apply failed");
		log.push_back(what);
	}
};

Change
Of(Op op) {
	Change change;
	change.op = op;
	return change;
}

TEST(SinkCore, CallsTheHooksInOrderAndMovesDurableLsnAfterTheDurableCommit) {
	FakeSink sink(GroupPolicy{});
	sink.BeginTransaction(10);
	for (Op op : {Op::Insert, Op::Update, Op::Delete, Op::Truncate, Op::Message})
		sink.Apply(Of(op));
	sink.CommitTransaction(10, 12);
	EXPECT_EQ(sink.log,
			  (std::vector<std::string>{"open-group", "open-source 10", "insert", "update", "delete", "truncate",
										"message", "checkpoint 12", "durable 12 (durable was 0)"}));
	EXPECT_EQ(sink.DurableLsn(), 12u);
	EXPECT_THROW(sink.Apply(Of(Op::Insert)), std::logic_error); // no transaction open
	sink.BeginTransaction(20);
	EXPECT_THROW(sink.Apply(Of(Op::Begin)), std::invalid_argument);
	sink.Rollback();
}

TEST(SinkCore, AFailedApplyPoisonsUntilRollback) {
	FakeSink sink(GroupPolicy{});
	sink.BeginTransaction(10);
	sink.fail_apply = true;
	EXPECT_THROW(sink.Apply(Of(Op::Insert)), std::runtime_error);
	sink.fail_apply = false;
	try {
		sink.Apply(Of(Op::Insert));
		ADD_FAILURE() << "Apply after a failed Apply must throw";
	} catch (const std::logic_error &e) {
		EXPECT_STREQ(e.what(), "Fake sink: Apply after a failed Apply, call Rollback()");
	}
	EXPECT_THROW(sink.CommitTransaction(10, 12), std::logic_error);
	EXPECT_THROW(sink.Flush(), std::logic_error);
	EXPECT_THROW(sink.BeginTransaction(20), std::logic_error);
	EXPECT_EQ(sink.log, (std::vector<std::string>{"open-group", "open-source 10"})); // nothing reached the target
	sink.Rollback();
	EXPECT_EQ(sink.log.back(), "discard");
	EXPECT_EQ(sink.DurableLsn(), 0u);
	sink.BeginTransaction(10); // recovered: the transaction is retried
	sink.Apply(Of(Op::Insert));
	sink.CommitTransaction(10, 12);
	EXPECT_EQ(sink.DurableLsn(), 12u);
}

TEST(SinkCore, RefusesMisuse) {
	FakeSink sink(GroupPolicy{});
	EXPECT_THROW(sink.CommitTransaction(10, 12), std::logic_error); // without BeginTransaction
	sink.BeginTransaction(10);
	EXPECT_THROW(sink.BeginTransaction(11), std::logic_error);
	try {
		sink.CommitTransaction(11, 12);
		ADD_FAILURE() << "a commit LSN other than the begin's must throw";
	} catch (const std::logic_error &e) {
		EXPECT_STREQ(e.what(), "Fake sink: CommitTransaction(0/B) does not match BeginTransaction(0/A)");
	}
	EXPECT_THROW(sink.CommitTransaction(10, 0), std::invalid_argument);
	EXPECT_THROW(sink.Flush(), std::logic_error); // a source transaction is open
	sink.CommitTransaction(10, 12);				  // the refusals left the transaction as it was
	EXPECT_EQ(sink.DurableLsn(), 12u);
	EXPECT_THROW(FakeSink(GroupPolicy{0}), std::invalid_argument);
}

TEST(SinkCore, GroupsByTransactionCount) {
	GroupPolicy policy;
	policy.max_transactions = 3;
	FakeSink sink(policy);
	for (Lsn lsn : {10, 20, 30, 40}) {
		sink.BeginTransaction(lsn);
		sink.Apply(Of(Op::Insert));
		sink.CommitTransaction(lsn, lsn + 2);
		EXPECT_EQ(sink.DurableLsn(), lsn < 30 ? 0u : 32u);
	}
	EXPECT_EQ(sink.log, (std::vector<std::string>{"open-group", "open-source 10", "insert", "checkpoint 12",
												  "open-source 20", "insert", "checkpoint 22", "open-source 30",
												  "insert", "checkpoint 32", "durable 32 (durable was 0)", "open-group",
												  "open-source 40", "insert", "checkpoint 42"}));
	sink.Flush();
	EXPECT_EQ(sink.log.back(), "durable 42 (durable was 32)");
	EXPECT_EQ(sink.DurableLsn(), 42u);
	std::size_t calls = sink.log.size();
	sink.Flush(); // no group open: nothing to do
	EXPECT_EQ(sink.log.size(), calls);
}

TEST(SinkCore, GroupsByChanges) {
	GroupPolicy policy;
	policy.max_transactions = 100;
	policy.max_changes = 3;
	FakeSink sink(policy);
	sink.BeginTransaction(10);
	sink.Apply(Of(Op::Insert));
	sink.Apply(Of(Op::Insert));
	sink.CommitTransaction(10, 12);
	EXPECT_EQ(sink.DurableLsn(), 0u);
	sink.BeginTransaction(20);
	sink.Apply(Of(Op::Insert));
	sink.CommitTransaction(20, 22);
	EXPECT_EQ(sink.DurableLsn(), 22u);
	sink.BeginTransaction(30); // the count starts again in the next group
	sink.Apply(Of(Op::Insert));
	sink.Apply(Of(Op::Insert));
	sink.CommitTransaction(30, 32);
	EXPECT_EQ(sink.DurableLsn(), 22u);
}

TEST(SinkCore, GroupsByDelay) {
	GroupPolicy policy;
	policy.max_transactions = 100;
	policy.max_delay = std::chrono::milliseconds(200);
	TimePoint now{};
	FakeSink sink(policy, &now);
	sink.BeginTransaction(10); // the group starts now
	sink.CommitTransaction(10, 12);
	now += std::chrono::milliseconds(199);
	sink.BeginTransaction(20);
	sink.CommitTransaction(20, 22);
	EXPECT_EQ(sink.DurableLsn(), 0u);
	now += std::chrono::milliseconds(1);
	sink.BeginTransaction(30);
	sink.CommitTransaction(30, 32);
	EXPECT_EQ(sink.DurableLsn(), 32u);
	now += std::chrono::milliseconds(500); // the age counts from the group's first BeginTransaction
	sink.BeginTransaction(40);
	sink.CommitTransaction(40, 42);
	EXPECT_EQ(sink.DurableLsn(), 32u);
}

TEST(SinkCore, WritesTheCheckpointInTheGroupOfItsData) {
	GroupPolicy policy;
	policy.max_transactions = 2;
	FakeSink sink(policy);
	sink.BeginTransaction(10);
	sink.Apply(Of(Op::Insert));
	sink.CommitTransaction(10, 12);
	sink.BeginTransaction(20);
	sink.Apply(Of(Op::Delete));
	sink.CommitTransaction(20, 22);
	// each checkpoint follows its transaction's data, before the one durable commit of the group
	EXPECT_EQ(sink.log,
			  (std::vector<std::string>{"open-group", "open-source 10", "insert", "checkpoint 12", "open-source 20",
										"delete", "checkpoint 22", "durable 22 (durable was 0)"}));
}

TEST(SinkCore, AFailedDurableCommitLeavesDurableLsnAndRollsBack) {
	GroupPolicy policy;
	policy.max_transactions = 2;
	FakeSink sink(policy);
	sink.BeginTransaction(10);
	sink.CommitTransaction(10, 12);
	sink.Flush();
	ASSERT_EQ(sink.DurableLsn(), 12u);
	sink.BeginTransaction(20);
	sink.CommitTransaction(20, 22);
	sink.fail_durable = true;
	EXPECT_THROW(sink.Flush(), std::runtime_error);
	EXPECT_EQ(sink.DurableLsn(), 12u);
	EXPECT_EQ(sink.log.back(), "discard");
	sink.fail_durable = false;
	sink.BeginTransaction(20); // a new group: the daemon resumes from DurableLsn()
	sink.CommitTransaction(20, 22);
	sink.fail_durable = true;
	sink.BeginTransaction(30);
	EXPECT_THROW(sink.CommitTransaction(30, 32), std::runtime_error); // the budget's durable commit fails too
	EXPECT_EQ(sink.DurableLsn(), 12u);
	sink.fail_durable = false;
	sink.Flush(); // nothing left to commit
	EXPECT_EQ(sink.DurableLsn(), 12u);
}

TEST(SinkCore, AFailedBeginLeavesNothingOpen) {
	FakeSink sink(GroupPolicy{});
	sink.fail_open = true;
	EXPECT_THROW(sink.BeginTransaction(10), std::runtime_error);
	EXPECT_EQ(sink.log, (std::vector<std::string>{"open-group", "discard"}));
	EXPECT_THROW(sink.Apply(Of(Op::Insert)), std::logic_error); // no source transaction open
	sink.fail_open = false;
	sink.BeginTransaction(10); // a new group
	sink.CommitTransaction(10, 12);
	EXPECT_EQ(sink.log, (std::vector<std::string>{"open-group", "discard", "open-group", "open-source 10",
												  "checkpoint 12", "durable 12 (durable was 0)"}));
}

} // namespace

namespace {

// FakeSink's DurableLsn starts where a target left it: one committed transaction.
void
HoldUpTo(FakeSink &sink, Lsn end_lsn) {
	sink.BeginTransaction(end_lsn - 1);
	sink.CommitTransaction(end_lsn - 1, end_lsn);
	sink.Flush();
}

TEST(SinkCore, WithoutRewindAnEarlierCommitLeavesDurableLsnAhead) {
	FakeSink sink(GroupPolicy{});
	HoldUpTo(sink, 500);
	sink.BeginTransaction(100);
	sink.CommitTransaction(100, 100);
	sink.Flush();
	EXPECT_EQ(sink.DurableLsn(), 500u);
}

TEST(SinkCore, RewindMakesTheNextGroupsEndTheDurableLsnEvenBehind) {
	FakeSink sink(GroupPolicy{});
	HoldUpTo(sink, 500);
	sink.Rewind();
	sink.BeginTransaction(100);
	sink.Apply(Of(Op::Insert));
	sink.CommitTransaction(100, 100);
	sink.Flush();
	EXPECT_EQ(sink.DurableLsn(), 100u);
	EXPECT_EQ(sink.log.back(), "durable 100 (durable was 500)");
	// once durable, positions move forward only again
	sink.BeginTransaction(90);
	sink.CommitTransaction(90, 90);
	sink.Flush();
	EXPECT_EQ(sink.DurableLsn(), 100u);
}

TEST(SinkCore, RewindCommitsWhatIsOpenFirstAndIsRefusedInsideATransaction) {
	FakeSink sink(GroupPolicy{.max_transactions = 100});
	sink.BeginTransaction(10);
	sink.CommitTransaction(10, 20);
	EXPECT_EQ(sink.DurableLsn(), 0u); // grouped, not yet durable
	sink.Rewind();
	EXPECT_EQ(sink.DurableLsn(), 20u);
	sink.BeginTransaction(30);
	EXPECT_THROW(sink.Rewind(), std::logic_error);
}

TEST(SinkCore, RollbackCancelsARewind) {
	FakeSink sink(GroupPolicy{});
	HoldUpTo(sink, 500);
	sink.Rewind();
	sink.BeginTransaction(100);
	sink.Rollback();
	EXPECT_EQ(sink.DurableLsn(), 500u);
	sink.BeginTransaction(100);
	sink.CommitTransaction(100, 100);
	sink.Flush();
	EXPECT_EQ(sink.DurableLsn(), 500u);
}

} // namespace
