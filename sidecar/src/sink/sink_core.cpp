/*
 * sink_core.cpp
 *     SinkCore: the sinks' transaction state machine (see sink_core.hpp).
 */
#include "sink/sink_core.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "util/act_fence.hpp"

namespace mosta::sidecar {

// SinkCore checks the policy and takes the steady clock unless given one.
SinkCore::SinkCore(std::string label, GroupPolicy policy, Clock clock)
	: label_(std::move(label)), policy_(policy), clock_(std::move(clock)) {
	if (policy_.max_transactions == 0)
		throw std::invalid_argument(label_ + ": group_max_transactions must be at least 1");
	if (!clock_)
		clock_ = [] { return std::chrono::steady_clock::now(); };
}

// RestoreDurableLsn sets the durable (and pending) position found at open.
void
SinkCore::RestoreDurableLsn(Lsn lsn) noexcept {
	durable_lsn_ = lsn;
	pending_lsn_ = lsn;
}

// DurableLsn returns the end LSN of the last group made durable.
Lsn
SinkCore::DurableLsn() const noexcept {
	return durable_lsn_;
}

// RefuseIfPoisoned throws once a failed Apply poisoned the sink.
void
SinkCore::RefuseIfPoisoned(const char *method) const {
	if (poisoned_)
		throw std::logic_error(label_ + ": " + method + " after a failed Apply, call Rollback()");
}

// BeginTransaction opens a group unless one is open, then the source transaction; on failure rolls back.
void
SinkCore::BeginTransaction(Lsn commit_lsn) {
	RefuseIfPoisoned("BeginTransaction");
	if (source_open_)
		throw std::logic_error(label_ + ": BeginTransaction while a source transaction is open");
	try {
		if (!group_open_) {
			OpenGroup();
			group_open_ = true;
			group_transactions_ = 0;
			group_changes_ = 0;
			group_started_ = clock_();
		}
		OpenSource(commit_lsn);
	} catch (...) {
		Rollback(); // nothing half-open is left behind
		throw;
	}
	source_open_ = true;
	source_commit_lsn_ = commit_lsn;
}

// Apply applies one change; a failure poisons the sink until Rollback.
void
SinkCore::Apply(const Change &change) {
	RefuseIfPoisoned("Apply");
	if (!source_open_)
		throw std::logic_error(label_ + ": Apply outside BeginTransaction/CommitTransaction");
	try {
		ApplyChange(change);
	} catch (...) {
		poisoned_ = true;
		throw;
	}
	++group_changes_;
}

// ApplyChange dispatches on the op.
void
SinkCore::ApplyChange(const Change &change) {
	switch (change.op) {
	case Op::Insert:
		InsertRow(change);
		break;
	case Op::Update:
		UpdateRow(change);
		break;
	case Op::Delete:
		DeleteRow(change);
		break;
	case Op::Truncate:
		TruncateTables(change);
		break;
	case Op::Message:
		ApplyMessage(change);
		break;
	default:
		RefuseOp(change);
	}
}

// RefuseOp throws for an op the sink does not take.
void
SinkCore::RefuseOp(const Change &change) const {
	throw std::invalid_argument(label_ + ": Apply takes row changes, truncates and messages, not " +
								std::string(OpName(change.op)));
}

// CommitTransaction records the checkpoint in the group, then makes the group durable if its budget is spent.
void
SinkCore::CommitTransaction(Lsn commit_lsn, Lsn end_lsn) {
	RefuseIfPoisoned("CommitTransaction");
	if (!source_open_)
		throw std::logic_error(label_ + ": CommitTransaction without BeginTransaction");
	if (commit_lsn != source_commit_lsn_)
		throw std::logic_error(label_ + ": CommitTransaction(" + FormatLsn(commit_lsn) +
							   ") does not match BeginTransaction(" + FormatLsn(source_commit_lsn_) + ")");
	if (end_lsn == kInvalidLsn)
		throw std::invalid_argument(label_ + ": end LSN 0/0 (the slot must be read with include-lsn=on)");
	try {
		RecordCheckpoint(commit_lsn, end_lsn);
	} catch (...) {
		Rollback();
		throw;
	}
	pending_lsn_ = std::max(pending_lsn_, end_lsn);
	source_open_ = false;
	++group_transactions_;
	if (group_transactions_ >= policy_.max_transactions || group_changes_ >= policy_.max_changes ||
		std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - group_started_) >= policy_.max_delay)
		CommitGroup();
}

// Flush makes the open group, if any, durable.
void
SinkCore::Flush() {
	RefuseIfPoisoned("Flush");
	if (source_open_)
		throw std::logic_error(label_ + ": Flush inside a source transaction");
	CommitGroup();
}

// Rewind makes what is open durable, then lets the next group's checkpoint go behind DurableLsn().
void
SinkCore::Rewind() {
	RefuseIfPoisoned("Rewind");
	if (source_open_)
		throw std::logic_error(label_ + ": Rewind inside a source transaction");
	CommitGroup();
	rewinding_ = true;
	pending_lsn_ = kInvalidLsn;
}

// Rollback discards the group and forgets the open transaction, the poisoning and a rewind.
void
SinkCore::Rollback() noexcept {
	DiscardGroup();
	rewinding_ = false;
	group_open_ = false;
	source_open_ = false;
	poisoned_ = false;
	group_transactions_ = 0;
	group_changes_ = 0;
	pending_lsn_ = durable_lsn_;
}

// CommitGroup makes the group durable, then moves DurableLsn(); on failure DurableLsn() stays.
void
SinkCore::CommitGroup() {
	if (!group_open_)
		return;
	try {
		ThrowIfFenced(label_); // --dcs: past the lease's fence deadline another sidecar may write here
		MakeGroupDurable(pending_lsn_);
	} catch (...) {
		Rollback();
		throw;
	}
	group_open_ = false;
	group_transactions_ = 0;
	group_changes_ = 0;
	if (rewinding_ && pending_lsn_ != kInvalidLsn) {
		durable_lsn_ = pending_lsn_;
		rewinding_ = false;
	} else {
		durable_lsn_ = std::max(durable_lsn_, pending_lsn_);
	}
}

} // namespace mosta::sidecar
