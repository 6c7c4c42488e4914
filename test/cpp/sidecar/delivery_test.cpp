/*
 * delivery_test.cpp
 *     Unit tests for the delivery rules of one rule's stream (app/delivery.hpp), driven by a scripted stream (a
 *     source of transactions and a slot that resends from where it is asked to start, never before its confirmed
 *     position) and fake sinks that record calls, throw at chosen points, and crash (lose everything not flushed).
 *     What every test checks at the end: each target holds every source transaction exactly once.
 */
#include "app/delivery.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;
using sc::Lsn;

// kStep is the distance between two source transactions; a transaction's commit record is 8 bytes long.
constexpr Lsn kStep = 0x100;
constexpr Lsn kCommitBytes = 8;

// CommitLsn and EndLsn of source transaction number id (1, 2, ...).
Lsn
CommitLsn(int id) {
	return static_cast<Lsn>(id) * kStep;
}
Lsn
EndLsn(int id) {
	return CommitLsn(id) + kCommitBytes;
}

// Doc builds a document with op and the given LSN fields (text, as the plugin writes them).
sc::Change
Doc(sc::Op op, Lsn lsn = 0, Lsn commit_lsn = 0, Lsn end_lsn = 0) {
	sc::Change change;
	change.op = op;
	if (lsn != 0)
		change.lsn = lsn;
	if (commit_lsn != 0)
		change.commit_lsn = commit_lsn;
	if (end_lsn != 0)
		change.end_lsn = end_lsn;
	return change;
}

// Insert builds the one row change of transaction id: an insert into t with id = id.
sc::Change
Insert(int id) {
	sc::Change change = Doc(sc::Op::Insert, CommitLsn(id) - 0x10);
	change.new_row.push_back({"id", std::int64_t{id}});
	change.has_new = true;
	return change;
}

// Single returns a batch of one document (a Change is move-only).
std::vector<sc::Change>
Single(sc::Change change) {
	std::vector<sc::Change> batch;
	batch.push_back(std::move(change));
	return batch;
}

// The scripted source and its slot: transactions 1..count, each one message [begin, insert, commit].
class ScriptedSlot {
  public:
	explicit ScriptedSlot(int count) : count_(count) {}

	// From returns the messages PostgreSQL sends when the stream starts at start: every transaction whose commit
	// record starts at or after max(start, confirmed).
	std::vector<sc::SharedBatch>
	From(Lsn start) const {
		Lsn from = std::max(start, confirmed_);
		std::vector<sc::SharedBatch> batches;
		for (int id = 1; id <= count_; ++id) {
			if (CommitLsn(id) < from)
				continue;
			auto batch = std::make_shared<sc::DecodedMessage>();
			sc::Change begin = Doc(sc::Op::Begin, 0, CommitLsn(id));
			begin.ts = "2026-12-07T04:00:00+00:00";
			batch->changes.push_back(std::move(begin));
			batch->changes.push_back(Insert(id));
			batch->changes.push_back(Doc(sc::Op::Commit, CommitLsn(id), 0, EndLsn(id)));
			batches.push_back(batch);
		}
		return batches;
	}

	// Confirm records the flush position the rule reports; PostgreSQL never moves the slot back.
	void
	Confirm(Lsn lsn) {
		confirmed_ = std::max(confirmed_, lsn);
	}

	Lsn
	Confirmed() const {
		return confirmed_;
	}

	int
	Count() const {
		return count_;
	}

  private:
	int count_;
	Lsn confirmed_ = 0;
};

// FakeSink groups closed transactions until Flush (durable only then), records every call, throws when fail says
// so, and Crash() loses everything not flushed. Its durable rows are the ids of the transactions it holds, in
// the order they became durable, duplicates included.
class FakeSink : public sc::Sink {
  public:
	std::string_view
	Name() const noexcept override {
		return "fake";
	}
	Lsn
	DurableLsn() const noexcept override {
		return durable_lsn_;
	}
	void
	BeginTransaction(Lsn commit_lsn) override {
		Call("begin " + sc::FormatLsn(commit_lsn));
		open_ = true;
	}
	void
	NoteCommitTime(std::string_view commit_time) override {
		commit_times_.emplace_back(commit_time);
	}
	void
	Apply(const sc::Change &change) override {
		Call("apply " + std::string(sc::OpName(change.op)));
		if (!open_)
			throw std::logic_error("apply outside a transaction");
		if (change.op == sc::Op::Insert)
			open_rows_.push_back(static_cast<int>(std::get<std::int64_t>(change.new_row.at(0).value)));
		else
			open_rows_.push_back(-1); // a message
	}
	void
	CommitTransaction(Lsn commit_lsn, Lsn end_lsn) override {
		Call("commit " + sc::FormatLsn(commit_lsn) + " " + sc::FormatLsn(end_lsn));
		pending_rows_.insert(pending_rows_.end(), open_rows_.begin(), open_rows_.end());
		open_rows_.clear();
		pending_lsn_ = end_lsn;
		open_ = false;
	}
	void
	Flush() override {
		Call("flush");
		if (open_)
			throw std::logic_error("flush with a transaction open");
		rows_.insert(rows_.end(), pending_rows_.begin(), pending_rows_.end());
		pending_rows_.clear();
		durable_lsn_ = std::max(durable_lsn_, pending_lsn_);
	}
	void
	Rollback() noexcept override {
		calls_.push_back("rollback");
		open_rows_.clear();
		pending_rows_.clear();
		pending_lsn_ = durable_lsn_;
		open_ = false;
	}
	void
	Rewind() override {
		calls_.push_back("rewind"); // TargetDelivery never rewinds: the rule runner does, before a copy
	}

	// Crash loses everything not flushed, as a kill -9 of the sidecar would.
	void
	Crash() {
		Rollback();
		calls_.clear();
	}

	// fail is asked before each call ("begin X/Y", "apply insert", "commit ...", "flush"): true throws.
	std::function<bool(const std::string &)> fail;

	const std::vector<int> &
	Rows() const {
		return rows_;
	}
	const std::vector<std::string> &
	Calls() const {
		return calls_;
	}
	const std::vector<std::string> &
	CommitTimes() const {
		return commit_times_;
	}

  private:
	void
	Call(const std::string &call) {
		calls_.push_back(call);
		if (fail && fail(call))
			throw std::runtime_error("target failed at " + call);
	}

	Lsn durable_lsn_ = 0;
	Lsn pending_lsn_ = 0;
	bool open_ = false;
	std::vector<int> open_rows_;
	std::vector<int> pending_rows_;
	std::vector<int> rows_;
	std::vector<std::string> calls_;
	std::vector<std::string> commit_times_;
};

// One rule with its targets, driven the way the rule runner drives them, without threads or I/O.
class Rule {
  public:
	Rule(int transactions, std::vector<std::string> names) : slot_(transactions) {
		for (const std::string &name : names) {
			sinks_[name] = std::make_unique<FakeSink>();
			Reopen(name);
		}
	}

	// Reopen gives target a new TargetDelivery (after a crash) and records its durable position, detached.
	void
	Reopen(const std::string &name) {
		deliveries_[name] = std::make_unique<sc::TargetDelivery>(*sinks_[name]);
		positions_.Set(name, sinks_[name]->DurableLsn());
		positions_.Detach(name);
	}

	// Start restarts the stream from the minimum durable position and attaches every target not marked broken.
	void
	Start() {
		for (const auto &[name, sink] : sinks_)
			if (broken_.count(name) == 0)
				positions_.Attach(name);
		pending_ = slot_.From(positions_.Minimum());
		next_ = 0;
	}

	// Feed hands the next count batches to every attached target; a target that throws is rolled back and
	// detached. Returns false when the stream has no more batch.
	bool
	Feed(std::size_t count = 1) {
		for (std::size_t i = 0; i < count && next_ < pending_.size(); ++i, ++next_) {
			for (const std::string &name : positions_.AttachedTargets()) {
				try {
					deliveries_[name]->Deliver(pending_[next_]->changes);
				} catch (const std::runtime_error &) {
					Fail(name);
				}
			}
		}
		return next_ < pending_.size();
	}

	// FlushAll flushes every attached target (as when the stream is idle), updating the positions.
	void
	FlushAll() {
		for (const std::string &name : positions_.AttachedTargets()) {
			try {
				positions_.Set(name, deliveries_[name]->Flush());
			} catch (const std::runtime_error &) {
				Fail(name);
			}
		}
	}

	// Confirm reports the minimum to the slot.
	void
	Confirm() {
		slot_.Confirm(positions_.Minimum());
	}

	// Run streams everything, flushing and confirming after each batch.
	void
	Run() {
		Start();
		while (Feed()) {
			FlushAll();
			Confirm();
		}
		FlushAll();
		Confirm();
	}

	// Crash kills the process: every sink loses what it did not flush; the slot keeps what was confirmed.
	void
	Crash() {
		for (auto &[name, sink] : sinks_) {
			sink->Crash();
			Reopen(name);
		}
	}

	void
	Fail(const std::string &name) {
		deliveries_[name]->Rollback();
		positions_.Detach(name);
		positions_.Set(name, sinks_[name]->DurableLsn());
		broken_.insert({name, true});
	}

	// Repair clears a target's failure injection; the next Start attaches it again.
	void
	Repair(const std::string &name) {
		sinks_[name]->fail = nullptr;
		broken_.erase(name);
	}

	// ExpectExactlyOnce checks that target holds every source transaction once, in order.
	void
	ExpectExactlyOnce(const std::string &name) const {
		std::vector<int> expected;
		for (int id = 1; id <= slot_.Count(); ++id)
			expected.push_back(id);
		EXPECT_EQ(sinks_.at(name)->Rows(), expected) << "target " << name;
		EXPECT_EQ(sinks_.at(name)->DurableLsn(), EndLsn(slot_.Count())) << "target " << name;
	}

	FakeSink &
	Sink(const std::string &name) {
		return *sinks_.at(name);
	}
	sc::TargetDelivery &
	Delivery(const std::string &name) {
		return *deliveries_.at(name);
	}
	sc::RulePositions &
	Positions() {
		return positions_;
	}
	ScriptedSlot &
	Slot() {
		return slot_;
	}

  private:
	ScriptedSlot slot_;
	std::map<std::string, std::unique_ptr<FakeSink>> sinks_;
	std::map<std::string, std::unique_ptr<sc::TargetDelivery>> deliveries_;
	std::map<std::string, bool> broken_;
	sc::RulePositions positions_;
	std::vector<sc::SharedBatch> pending_;
	std::size_t next_ = 0;
};

// BringTo makes target durable at the end of transaction id by delivering 1..id to it alone.
void
BringTo(FakeSink &sink, int id) {
	sc::TargetDelivery delivery(sink);
	ScriptedSlot slot(id);
	for (const sc::SharedBatch &batch : slot.From(0))
		delivery.Deliver(batch->changes);
	delivery.Flush();
}

TEST(ReadPositions, ReadsTheFieldsOfEachOp) {
	EXPECT_EQ(sc::ReadPositions(Doc(sc::Op::Begin, 0, 0x20)).commit_lsn, 0x20u);
	sc::DocumentPositions commit = sc::ReadPositions(Doc(sc::Op::Commit, 0x20, 0, 0x28));
	EXPECT_EQ(commit.lsn, 0x20u);
	EXPECT_EQ(commit.end_lsn, 0x28u);
	sc::Change message = Doc(sc::Op::Message, 0x30);
	EXPECT_EQ(sc::ReadPositions(message).lsn, 0x30u);
	EXPECT_EQ(sc::ClosedPosition(message), 0x30u);
	message.transactional = true;
	EXPECT_EQ(sc::ClosedPosition(message), std::nullopt);
	EXPECT_EQ(sc::ClosedPosition(Doc(sc::Op::Commit, 0x20, 0, 0x28)), 0x28u);
	EXPECT_EQ(sc::ClosedPosition(Insert(1)), std::nullopt);
}

TEST(ReadPositions, NamesAMissingField) {
	try {
		sc::ReadPositions(Doc(sc::Op::Commit, 0x20));
		FAIL() << "no error";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("\"end_lsn\" (op commit)"), std::string::npos) << e.what();
	}
	EXPECT_THROW(sc::ReadPositions(Doc(sc::Op::Begin)), std::runtime_error);
}

TEST(TargetDelivery, AppliesATransactionInTheContractOrder) {
	FakeSink sink;
	sc::TargetDelivery delivery(sink);
	delivery.Deliver(ScriptedSlot(1).From(0).at(0)->changes);
	EXPECT_EQ(sink.Calls(), (std::vector<std::string>{"begin 0/100", "apply insert", "commit 0/100 0/108"}));
	EXPECT_EQ(sink.CommitTimes(), (std::vector<std::string>{"2026-12-07T04:00:00+00:00"}));
	EXPECT_FALSE(delivery.InTransaction());
	EXPECT_EQ(delivery.LastClosed(), EndLsn(1));
	EXPECT_EQ(delivery.Flush(), EndLsn(1));
	sc::DeliveryCounts counts = delivery.TakeCounts();
	EXPECT_EQ(counts.changes, 1);
	EXPECT_EQ(counts.transactions, 1);
	EXPECT_EQ(delivery.TakeCounts().transactions, 0);
}

// OriginTransaction returns transaction id as one message whose begin carries origin ("" for none), with a
// transactional message after its insert.
sc::SharedBatch
OriginTransaction(int id, std::string_view origin) {
	auto batch = std::make_shared<sc::DecodedMessage>();
	sc::Change begin = Doc(sc::Op::Begin, 0, CommitLsn(id));
	begin.origin = origin;
	batch->changes.push_back(std::move(begin));
	batch->changes.push_back(Insert(id));
	sc::Change message = Doc(sc::Op::Message, CommitLsn(id) - 0x8);
	message.transactional = true;
	batch->changes.push_back(std::move(message));
	batch->changes.push_back(Doc(sc::Op::Commit, CommitLsn(id), 0, EndLsn(id)));
	return batch;
}

TEST(TargetDelivery, DropsTheChangesOfItsOwnOriginOnly) {
	// two sides of a bidirectional rule fed by one stream: transaction 2 came from side a, 3 from side b
	FakeSink a_sink;
	FakeSink b_sink;
	sc::TargetDelivery a(a_sink, "mosta_r_reverse_a");
	sc::TargetDelivery b(b_sink, "mosta_r_reverse_b");
	std::vector<sc::SharedBatch> stream = {OriginTransaction(1, ""), OriginTransaction(2, "mosta_r_reverse_a"),
										   OriginTransaction(3, "mosta_r_reverse_b"), OriginTransaction(4, "other")};
	for (const sc::SharedBatch &batch : stream) {
		a.Deliver(batch->changes);
		b.Deliver(batch->changes);
	}
	EXPECT_EQ(a.Flush(), EndLsn(4));
	EXPECT_EQ(b.Flush(), EndLsn(4));
	// each side gets every transaction but its own, whose begin and commit still move its checkpoint
	EXPECT_EQ(a_sink.Rows(), (std::vector<int>{1, -1, 3, -1, 4, -1}));
	EXPECT_EQ(b_sink.Rows(), (std::vector<int>{1, -1, 2, -1, 4, -1}));
	const std::vector<std::string> &calls = a_sink.Calls();
	auto own = std::find(calls.begin(), calls.end(), "begin 0/200");
	ASSERT_NE(own, calls.end());
	EXPECT_EQ(*std::next(own), "commit 0/200 0/208");
	sc::DeliveryCounts counts = a.TakeCounts();
	EXPECT_EQ(counts.transactions, 4);
	EXPECT_EQ(counts.changes, 6);
	EXPECT_EQ(counts.echoes_dropped, 2);
	// without a dropped origin nothing is dropped
	FakeSink plain_sink;
	sc::TargetDelivery plain(plain_sink);
	for (const sc::SharedBatch &batch : stream)
		plain.Deliver(batch->changes);
	plain.Flush();
	EXPECT_EQ(plain_sink.Rows().size(), 8u);
}

TEST(TargetDelivery, ADroppedTransactionDoesNotLeakIntoTheNext) {
	// the origin's transaction is split over messages, and a rollback forgets it
	FakeSink sink;
	sc::TargetDelivery delivery(sink, "mine");
	sc::SharedBatch own = OriginTransaction(1, "mine");
	std::vector<sc::Change> head;
	head.push_back(Doc(sc::Op::Begin, 0, CommitLsn(1)));
	head.back().origin = "mine";
	head.push_back(Insert(1));
	delivery.Deliver(head);
	delivery.Rollback();
	delivery.Deliver(OriginTransaction(2, "")->changes);
	delivery.Flush();
	EXPECT_EQ(sink.Rows(), (std::vector<int>{2, -1}));
}

TEST(TargetDelivery, FlushWaitsForTheOpenTransaction) {
	FakeSink sink;
	sc::TargetDelivery delivery(sink);
	std::vector<sc::Change> batch; // the commit comes in the next message
	batch.push_back(Doc(sc::Op::Begin, 0, CommitLsn(1)));
	batch.push_back(Insert(1));
	delivery.Deliver(batch);
	EXPECT_TRUE(delivery.InTransaction());
	EXPECT_EQ(delivery.Flush(), 0u);
	EXPECT_EQ(std::count(sink.Calls().begin(), sink.Calls().end(), "flush"), 0);
}

TEST(TargetDelivery, SkipsWhatTheSinkHolds) {
	FakeSink sink;
	BringTo(sink, 2);
	sc::TargetDelivery delivery(sink);
	for (const sc::SharedBatch &batch : ScriptedSlot(3).From(0))
		delivery.Deliver(batch->changes);
	delivery.Flush();
	EXPECT_EQ(sink.Rows(), (std::vector<int>{1, 2, 3}));
	sc::DeliveryCounts counts = delivery.TakeCounts();
	EXPECT_EQ(counts.skipped_transactions, 2);
	EXPECT_EQ(counts.transactions, 1);
	EXPECT_EQ(delivery.LastClosed(), EndLsn(3)); // skipped transactions count for --once too
}

TEST(TargetDelivery, DeliversANonTransactionalMessageAsItsOwnTransaction) {
	FakeSink sink;
	sc::TargetDelivery delivery(sink);
	delivery.Deliver(Single(Doc(sc::Op::Message, 0x500)));
	EXPECT_EQ(sink.Calls(), (std::vector<std::string>{"begin 0/500", "apply message", "commit 0/500 0/500"}));
	delivery.Flush();
	EXPECT_EQ(sink.DurableLsn(), 0x500u);
	// held: lsn <= DurableLsn() is skipped
	delivery.Deliver(Single(Doc(sc::Op::Message, 0x500)));
	EXPECT_EQ(std::count(sink.Calls().begin(), sink.Calls().end(), "apply message"), 1);
	EXPECT_EQ(delivery.LastClosed(), 0x500u);
}

TEST(TargetDelivery, RefusesChangesOutsideATransactionAndTwoPhaseDocuments) {
	FakeSink sink;
	sc::TargetDelivery delivery(sink);
	EXPECT_THROW(delivery.Deliver(Single(Insert(1))), std::runtime_error);
	EXPECT_THROW(delivery.Deliver(Single(Doc(sc::Op::Commit, 0x100, 0, 0x108))), std::runtime_error);
	EXPECT_THROW(delivery.Deliver(Single(Doc(sc::Op::Prepare, 0x100, 0, 0x108))), std::runtime_error);
	EXPECT_TRUE(sink.Calls().empty());
}

TEST(TargetDelivery, RollbackForgetsTheOpenTransaction) {
	FakeSink sink;
	sink.fail = [](const std::string &call) { return call == "apply insert"; };
	sc::TargetDelivery delivery(sink);
	EXPECT_THROW(delivery.Deliver(ScriptedSlot(1).From(0).at(0)->changes), std::runtime_error);
	EXPECT_TRUE(delivery.InTransaction());
	delivery.Rollback();
	EXPECT_FALSE(delivery.InTransaction());
	sink.fail = nullptr;
	delivery.Deliver(ScriptedSlot(1).From(0).at(0)->changes);
	delivery.Flush();
	EXPECT_EQ(sink.Rows(), (std::vector<int>{1}));
}

TEST(RulePositions, MinimumCoversDetachedAndPinnedTargets) {
	sc::RulePositions positions;
	EXPECT_EQ(positions.Minimum(), 0u);
	positions.Set("a", 0x300);
	positions.Set("b", 0x200);
	positions.Attach("a");
	positions.Attach("b");
	EXPECT_EQ(positions.Minimum(), 0x200u);
	EXPECT_TRUE(positions.AllAttached());
	positions.Detach("b"); // a failing target still holds the slot back
	EXPECT_EQ(positions.Minimum(), 0x200u);
	EXPECT_EQ(positions.AttachedTargets(), (std::vector<std::string>{"a"}));
	EXPECT_FALSE(positions.AllAttached());
	positions.Pin("c", 0x100); // about to be copied alone at the slot's position
	EXPECT_EQ(positions.Minimum(), 0x100u);
	EXPECT_FALSE(positions.Attached("c"));
	positions.Remove("c");
	positions.Remove("b");
	EXPECT_EQ(positions.Minimum(), 0x300u);
	EXPECT_EQ(positions.Targets(), (std::vector<std::string>{"a"}));
}

TEST(RuleDelivery, EachTargetSkipsWhatItHolds) {
	Rule rule(6, {"a", "b", "c"});
	BringTo(rule.Sink("a"), 4);
	BringTo(rule.Sink("b"), 1);
	rule.Reopen("a");
	rule.Reopen("b");
	rule.Run();
	rule.ExpectExactlyOnce("a");
	rule.ExpectExactlyOnce("b");
	rule.ExpectExactlyOnce("c");
	// the stream started at c's 0/0: a and b skipped what they held
	EXPECT_EQ(rule.Delivery("a").TakeCounts().skipped_transactions, 4);
	EXPECT_EQ(rule.Delivery("b").TakeCounts().skipped_transactions, 1);
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(6));
}

TEST(RuleDelivery, ConfirmsTheMinimumDurablePosition) {
	Rule rule(5, {"fast", "slow"});
	rule.Start();
	rule.Feed(3);
	rule.Positions().Set("fast", rule.Delivery("fast").Flush()); // only fast flushes
	rule.Confirm();
	EXPECT_EQ(rule.Slot().Confirmed(), 0u);
	rule.Positions().Set("slow", rule.Delivery("slow").Flush());
	rule.Confirm();
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(3));
	rule.Feed(2);
	rule.Positions().Set("slow", rule.Delivery("slow").Flush());
	rule.Confirm();
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(3)); // fast has not flushed 4 and 5
	rule.FlushAll();
	rule.Confirm();
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(5));
}

TEST(RuleDelivery, AFailingTargetIsDetachedAndCatchesUpWithoutDuplicates) {
	Rule rule(8, {"a", "bad", "c"});
	rule.Sink("bad").fail = [](const std::string &call) { return call == "begin 0/400"; };
	rule.Run();
	// the others went on; the failing target holds the slot back at what it made durable
	EXPECT_FALSE(rule.Positions().Attached("bad"));
	EXPECT_EQ(rule.Sink("bad").DurableLsn(), EndLsn(3));
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(3));
	EXPECT_EQ(rule.Sink("a").Rows().size(), 8u);
	EXPECT_EQ(rule.Sink("c").Rows().size(), 8u);
	rule.Delivery("a").TakeCounts();
	// repaired: the stream restarts from the minimum, the others skip what they hold
	rule.Repair("bad");
	rule.Run();
	rule.ExpectExactlyOnce("a");
	rule.ExpectExactlyOnce("bad");
	rule.ExpectExactlyOnce("c");
	EXPECT_EQ(rule.Delivery("a").TakeCounts().skipped_transactions, 5);
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(8));
}

TEST(RuleDelivery, AFailedFlushLosesTheGroupAndCatchesUp) {
	Rule rule(4, {"a", "b"});
	int flushes = 0;
	rule.Sink("b").fail = [&flushes](const std::string &call) { return call == "flush" && ++flushes == 2; };
	rule.Start();
	rule.Feed(1);
	rule.FlushAll(); // b durable at 1
	rule.Feed(2);
	rule.FlushAll(); // b fails: 2 and 3 are lost for it
	EXPECT_FALSE(rule.Positions().Attached("b"));
	rule.Confirm();
	EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(1));
	rule.Repair("b");
	rule.Run();
	rule.ExpectExactlyOnce("a");
	rule.ExpectExactlyOnce("b");
}

// CrashAndRecover runs rule to the end after a crash: every sink loses what it did not flush, the stream restarts
// from the minimum durable position (never before the slot's confirmed position).
void
CrashAndRecover(Rule &rule) {
	rule.Crash();
	rule.Run();
	rule.ExpectExactlyOnce("a");
	rule.ExpectExactlyOnce("b");
	rule.ExpectExactlyOnce("c");
}

TEST(RuleDelivery, CrashBetweenApplyAndFlush) {
	for (int applied = 0; applied <= 6; ++applied) {
		SCOPED_TRACE("crash after " + std::to_string(applied) + " transactions applied");
		Rule rule(6, {"a", "b", "c"});
		rule.Start();
		rule.Feed(2);
		rule.FlushAll();
		rule.Confirm();
		rule.Feed(static_cast<std::size_t>(applied));
		CrashAndRecover(rule);
	}
}

TEST(RuleDelivery, CrashBetweenFlushAndConfirm) {
	for (int applied = 0; applied <= 4; ++applied) {
		SCOPED_TRACE("crash after " + std::to_string(applied) + " more transactions flushed");
		Rule rule(6, {"a", "b", "c"});
		rule.Start();
		rule.Feed(2);
		rule.FlushAll();
		rule.Confirm();
		rule.Feed(static_cast<std::size_t>(applied));
		rule.FlushAll(); // durable in every target, not confirmed: the slot resends, the targets skip
		CrashAndRecover(rule);
		EXPECT_EQ(rule.Slot().Confirmed(), EndLsn(6));
	}
}

TEST(RuleDelivery, CrashWithTargetsFlushedAtDifferentPoints) {
	Rule rule(7, {"a", "b", "c"});
	rule.Start();
	rule.Feed(2);
	rule.Positions().Set("a", rule.Delivery("a").Flush());
	rule.Feed(2);
	rule.Positions().Set("b", rule.Delivery("b").Flush());
	rule.Confirm(); // c holds nothing durable: the slot stays at 0/0
	EXPECT_EQ(rule.Slot().Confirmed(), 0u);
	rule.Feed(1);
	CrashAndRecover(rule);
}

TEST(RuleDelivery, CrashWhileATargetIsDetached) {
	Rule rule(6, {"a", "b", "c"});
	rule.Sink("b").fail = [](const std::string &call) { return call == "apply insert"; };
	rule.Start();
	rule.Feed(4);
	rule.FlushAll();
	rule.Confirm();
	EXPECT_EQ(rule.Slot().Confirmed(), 0u); // b holds nothing: WAL retained for it
	rule.Repair("b");
	CrashAndRecover(rule);
}

} // namespace
