/*
 * sink_core.hpp
 *     SinkCore: the transaction state machine of every sink, written once. It implements Sink's public methods
 *     (sink.hpp) and calls a small set of hooks, the part that differs from one target to another:
 *
 *       BeginTransaction(c)   [no group open: OpenGroup()]  OpenSource(c)
 *       Apply(change)         ApplyChange(change), by default the op switch: InsertRow, UpdateRow, DeleteRow,
 *                             TruncateTables, ApplyMessage
 *       CommitTransaction(c, e)  RecordCheckpoint(c, e) (in the open group, with its data), then, once the group's
 *                             budget is spent, MakeGroupDurable(pending)
 *       Flush()               MakeGroupDurable(pending) when a group is open
 *       Rollback()            DiscardGroup()
 *
 *     A group is one target transaction holding one or more consecutive source transactions; it is made durable
 *     at the CommitTransaction that reaches GroupPolicy's max_transactions, or finds max_changes changes in it, or
 *     finds it max_delay old (read from the injected clock), and at Flush. DurableLsn() moves to the end LSN of the
 *     group's last source transaction only once MakeGroupDurable has returned.
 *
 *     Poisoning: after an Apply that throws, BeginTransaction, Apply, CommitTransaction and Flush throw
 *     std::logic_error ("<label>: Apply after a failed Apply, call Rollback()") until Rollback(), so a
 *     half-applied transaction can never be committed. An OpenGroup, OpenSource, RecordCheckpoint or MakeGroupDurable
 *     that throws rolls
 *     the group back (DiscardGroup) before the exception leaves the sink: DurableLsn() stays where it was. Misuse
 *     (Begin inside a transaction, Commit without Begin or with another commit LSN, Flush inside a transaction)
 *     throws std::logic_error; an end LSN 0/0 throws std::invalid_argument. Every message starts with the label
 *     the sink gives ("SQLite sink").
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>

#include "sink/sink.hpp"

namespace mosta::sidecar {

// When a group of source transactions is made durable (each bound reached at a CommitTransaction).
struct GroupPolicy {
	std::size_t max_transactions = 1;										// 1: at every CommitTransaction
	std::size_t max_changes = std::numeric_limits<std::size_t>::max();		// changes applied in the group
	std::chrono::milliseconds max_delay = std::chrono::milliseconds::max(); // age of the group
};

// SinkCore is the base of the sinks: Sink's state machine over the hooks below.
class SinkCore : public Sink {
  public:
	// Clock returns the time groups are aged by (std::chrono::steady_clock::now unless a test injects another).
	using Clock = std::function<std::chrono::steady_clock::time_point()>;

	Lsn DurableLsn() const noexcept final;
	void BeginTransaction(Lsn commit_lsn) final;
	void Apply(const Change &change) final;
	void CommitTransaction(Lsn commit_lsn, Lsn end_lsn) final;
	void Flush() final;
	void Rollback() noexcept final;
	void Rewind() final;

  protected:
	// SinkCore takes the label that starts error messages ("SQLite sink") and the grouping policy; throws
	// std::invalid_argument when policy.max_transactions is 0.
	SinkCore(std::string label, GroupPolicy policy, Clock clock = {});

	// RestoreDurableLsn sets DurableLsn() to what the sink found in its target when opening it.
	void RestoreDurableLsn(Lsn lsn) noexcept;

	// Rewinding says whether the open group's checkpoint may go behind DurableLsn() (Rewind).
	bool
	Rewinding() const noexcept {
		return rewinding_;
	}

	// SourceOpen says whether a source transaction is open (between BeginTransaction and CommitTransaction).
	bool
	SourceOpen() const noexcept {
		return source_open_;
	}

	// SourceCommitLsn returns the commit LSN of the open (or last) source transaction.
	Lsn
	SourceCommitLsn() const noexcept {
		return source_commit_lsn_;
	}

	// Label returns the label of the sink's messages.
	const std::string &
	Label() const noexcept {
		return label_;
	}

	// OpenGroup opens a target transaction; called by the BeginTransaction that finds no group open.
	virtual void
	OpenGroup() {}

	// OpenSource starts the source transaction committing at commit_lsn inside the open group.
	virtual void
	OpenSource(Lsn commit_lsn) {
		static_cast<void>(commit_lsn);
	}

	// ApplyChange applies one change of the open source transaction; by default it dispatches on change.op to the
	// hooks below and throws std::invalid_argument for any other op.
	virtual void ApplyChange(const Change &change);

	// The row operations, truncate and messages (ApplyChange's default dispatch); each throws on failure.
	virtual void
	InsertRow(const Change &change) {
		RefuseOp(change);
	}
	virtual void
	UpdateRow(const Change &change) {
		RefuseOp(change);
	}
	virtual void
	DeleteRow(const Change &change) {
		RefuseOp(change);
	}
	virtual void
	TruncateTables(const Change &change) {
		RefuseOp(change);
	}
	virtual void
	ApplyMessage(const Change &change) {
		static_cast<void>(change); // accepted, not stored
	}

	// RecordCheckpoint writes end_lsn as the checkpoint into the open group, with the source transaction's data.
	virtual void RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) = 0;

	// MakeGroupDurable makes the open group durable (data and checkpoint together); pending_lsn is the end LSN of
	// its last source transaction. DurableLsn() still returns the previous durable position while it runs.
	virtual void MakeGroupDurable(Lsn pending_lsn) = 0;

	// DiscardGroup discards everything not durable (the open group, caches that may describe undone work).
	virtual void DiscardGroup() noexcept = 0;

  private:
	// RefuseOp throws std::invalid_argument naming the op the sink does not take.
	[[noreturn]] void RefuseOp(const Change &change) const;

	// RefuseIfPoisoned throws std::logic_error when a failed Apply poisoned the sink ("<label>: <method> after a
	// failed Apply, call Rollback()").
	void RefuseIfPoisoned(const char *method) const;

	// CommitGroup makes the open group durable and moves DurableLsn(); on failure rolls back and rethrows.
	void CommitGroup();

	std::string label_;
	GroupPolicy policy_;
	Clock clock_;
	Lsn durable_lsn_ = kInvalidLsn;
	Lsn pending_lsn_ = kInvalidLsn; // end LSN of the last closed source transaction of the open group
	bool group_open_ = false;		// a target transaction is open
	bool source_open_ = false;		// between BeginTransaction and CommitTransaction
	bool poisoned_ = false;			// an Apply failed: only Rollback() is allowed until it runs
	bool rewinding_ = false;		// Rewind: the next group's end LSN becomes DurableLsn(), behind or not
	Lsn source_commit_lsn_ = kInvalidLsn;
	std::size_t group_transactions_ = 0;
	std::size_t group_changes_ = 0;
	std::chrono::steady_clock::time_point group_started_;
};

} // namespace mosta::sidecar
