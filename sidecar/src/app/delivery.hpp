/*
 * delivery.hpp
 *     The delivery rules of one rule's stream, with no I/O: what each target does with each document of the one
 *     stream the rule reads (docs/guarantees.md, "One slot per rule"), and which position the rule confirms.
 *
 *     One replication slot per rule: PostgreSQL decodes every change once, the sidecar parses each message once
 *     (a SharedBatch) and hands the same batch to every target of the rule. Each target has its own sink, its own
 *     durable position (Sink::DurableLsn) and its own TargetDelivery, which applies the contract of sink.hpp:
 *       - a transaction whose commit_lsn < DurableLsn() is skipped whole (the target holds it already), and so is
 *         a non-transactional message whose lsn <= DurableLsn();
 *       - any other transaction is BeginTransaction, NoteCommitTime, Apply..., CommitTransaction; a
 *         non-transactional message is BeginTransaction(L), Apply, CommitTransaction(L, L).
 *     RulePositions keeps the durable position of every target of the rule, attached or not: the rule confirms to
 *     PostgreSQL (flush LSN) their minimum, so the slot never moves past what any target still needs. A target
 *     detached (its sink failed, its queue stayed full, it waits for a copy) still holds the minimum back; it is
 *     attached again by restarting the rule's stream from the minimum, and the targets ahead skip what they hold.
 *
 *     TargetDelivery runs on the target's worker thread; RulePositions lives on the io thread.
 */
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "decode/change.hpp"
#include "pg/lsn.hpp"
#include "sink/sink.hpp"

namespace mosta::sidecar {

// SharedBatch is one decoded output message of the stream, read once and shared by every target of the rule.
using SharedBatch = std::shared_ptr<const DecodedMessage>;

// The positions delivery reads from a document; only the fields of its op are set.
struct DocumentPositions {
	Lsn commit_lsn = kInvalidLsn; // begin: where its commit record starts
	Lsn lsn = kInvalidLsn;		  // commit: the commit record's start; non-transactional message: its position
	Lsn end_lsn = kInvalidLsn;	  // commit: the end of the commit record, the transaction's checkpoint
};

// ReadPositions returns the positions of a begin, a commit or a non-transactional message (the one place that
// reads Change's LSN fields); throws naming the field when one it needs is missing.
DocumentPositions ReadPositions(const Change &change);

// ClosedPosition returns the position a document closes, the one a target holds once it is durable (a commit's
// end_lsn, a non-transactional message's lsn), or std::nullopt for any other document.
std::optional<Lsn> ClosedPosition(const Change &change);

// What a target did with the documents since the counts were last taken.
struct DeliveryCounts {
	long long changes = 0;				// row changes, truncates and messages applied
	long long transactions = 0;			// source transactions committed to the sink
	long long skipped_transactions = 0; // source transactions the sink already held
	long long echoes_dropped = 0;		// row changes, truncates and messages dropped by origin (they came from there)
};

// TargetDelivery applies the stream's documents to one target's sink in order; use it from one thread.
class TargetDelivery {
  public:
	// TargetDelivery keeps sink, which must outlive it. dropped_origin, when not empty, is the replication origin
	// of the transactions that came from this target (one side of a bidirectional rule, docs/bidirectional.md,
	// "Loop prevention"): their row changes, truncates and transactional messages are dropped, their begin and
	// commit still delivered, so that the sink's checkpoint moves past them. The stream must carry the origin
	// (plugin option include-origin).
	explicit TargetDelivery(Sink &sink, std::string dropped_origin = {})
		: sink_(sink), dropped_origin_(std::move(dropped_origin)) {}

	// Deliver applies batch's documents in order (see the file comment); throws what the sink throws, after which
	// the caller calls Rollback.
	void Deliver(const std::vector<Change> &batch);

	// Flush makes the closed transactions durable and returns DurableLsn(); with a transaction open it only
	// returns DurableLsn().
	Lsn Flush();

	// Rollback discards what is not durable (Sink::Rollback) and forgets the open transaction; never throws.
	void Rollback() noexcept;

	// InTransaction tells whether a source transaction is open (delivered or skipped).
	bool
	InTransaction() const noexcept {
		return in_transaction_;
	}

	// LastClosed returns the position closed by the last commit or non-transactional message read, applied or
	// skipped (kInvalidLsn before any): once durable, the target holds everything up to it.
	Lsn
	LastClosed() const noexcept {
		return last_closed_;
	}

	// TakeCounts returns the counts since the last call and starts them again.
	DeliveryCounts TakeCounts() noexcept;

  private:
	// Dispatch applies one document.
	void Dispatch(const Change &change);

	Sink &sink_;
	std::string dropped_origin_;
	bool in_transaction_ = false;
	bool skipping_ = false; // the open transaction is held by the sink already
	bool dropping_ = false; // the open transaction carries dropped_origin_: only its begin and commit are delivered
	Lsn last_closed_ = kInvalidLsn;
	DeliveryCounts counts_;
};

// RulePositions keeps the durable position of every target of a rule, and which of them the stream feeds.
class RulePositions {
  public:
	// Set records target's durable position (adding the target, detached, when new).
	void Set(const std::string &target, Lsn durable);

	// Pin records position for a target that will need it (a target about to be copied alone at the slot's
	// position, or one whose sink cannot be opened), detached: the slot cannot move past it.
	void Pin(const std::string &target, Lsn position);

	// Remove forgets target (removed from the rule): it no longer holds the slot back.
	void Remove(const std::string &target);

	// Attach marks target as fed by the stream; call it only when the stream (re)starts at Minimum() or below the
	// target's position, so that the target sees every transaction after what it holds.
	void Attach(const std::string &target);

	// Detach marks target as no longer fed (failed, too slow); its position still holds the slot back.
	void Detach(const std::string &target);

	// Attached tells whether the stream feeds target.
	bool Attached(const std::string &target) const;

	// Position returns target's durable position (kInvalidLsn when unknown).
	Lsn Position(const std::string &target) const;

	// Minimum returns the smallest position over every target, attached or not: where the stream (re)starts, and
	// what the rule confirms to PostgreSQL; kInvalidLsn when there is no target or one holds nothing yet.
	Lsn Minimum() const;

	// Targets returns the names of the targets, in order.
	std::vector<std::string> Targets() const;

	// AttachedTargets returns the names of the attached targets, in order.
	std::vector<std::string> AttachedTargets() const;

	// AllAttached tells whether every target is attached.
	bool AllAttached() const;

  private:
	struct Entry {
		Lsn durable = kInvalidLsn;
		bool attached = false;
	};
	std::map<std::string, Entry> targets_;
};

} // namespace mosta::sidecar
