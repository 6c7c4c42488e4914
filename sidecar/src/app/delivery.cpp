/*
 * delivery.cpp
 *     TargetDelivery and RulePositions (see delivery.hpp).
 */
#include "app/delivery.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mosta::sidecar {

namespace {

// LsnField returns one LSN field of change (validated by the decoder); throws naming the field when it is missing.
Lsn
LsnField(const Change &change, Lsn lsn, const char *field) {
	if (lsn == kInvalidLsn)
		throw std::runtime_error(std::string("change document without a valid \"") + field + "\" (op " +
								 std::string(OpName(change.op)) + "): is include-lsn on?");
	return lsn;
}

} // namespace

DocumentPositions
ReadPositions(const Change &change) {
	DocumentPositions positions;
	switch (change.op) {
	case Op::Begin:
		positions.commit_lsn = LsnField(change, change.commit_lsn, "commit_lsn");
		break;
	case Op::Commit:
		positions.lsn = LsnField(change, change.lsn, "lsn");
		positions.end_lsn = LsnField(change, change.end_lsn, "end_lsn");
		break;
	case Op::Message:
		if (!change.transactional)
			positions.lsn = LsnField(change, change.lsn, "lsn");
		break;
	default:
		break;
	}
	return positions;
}

std::optional<Lsn>
ClosedPosition(const Change &change) {
	if (change.op == Op::Commit)
		return ReadPositions(change).end_lsn;
	if (change.op == Op::Message && !change.transactional)
		return ReadPositions(change).lsn;
	return std::nullopt;
}

void
TargetDelivery::Deliver(const std::vector<Change> &batch) {
	for (const Change &change : batch)
		Dispatch(change);
}

void
TargetDelivery::Dispatch(const Change &change) {
	switch (change.op) {
	case Op::Begin: {
		Lsn commit_lsn = ReadPositions(change).commit_lsn;
		if (in_transaction_)
			throw std::runtime_error("begin of a transaction at " + FormatLsn(commit_lsn) + " while another is open");
		skipping_ = commit_lsn < sink_.DurableLsn();
		dropping_ = !dropped_origin_.empty() && change.origin == dropped_origin_;
		if (skipping_) {
			++counts_.skipped_transactions;
		} else {
			sink_.BeginTransaction(commit_lsn);
			if (!change.ts.empty())
				sink_.NoteCommitTime(change.ts);
		}
		in_transaction_ = true;
		return;
	}
	case Op::Commit: {
		DocumentPositions positions = ReadPositions(change);
		if (!in_transaction_)
			throw std::runtime_error("commit at " + FormatLsn(positions.lsn) + " outside a transaction");
		if (!skipping_) {
			sink_.CommitTransaction(positions.lsn, positions.end_lsn);
			++counts_.transactions;
		}
		in_transaction_ = skipping_ = dropping_ = false;
		last_closed_ = positions.end_lsn;
		return;
	}
	case Op::Message:
		if (!change.transactional) {
			Lsn lsn = ReadPositions(change).lsn;
			if (lsn > sink_.DurableLsn()) {
				sink_.BeginTransaction(lsn);
				sink_.Apply(change);
				sink_.CommitTransaction(lsn, lsn);
				++counts_.changes;
			}
			last_closed_ = std::max(last_closed_, lsn);
			return;
		}
		[[fallthrough]];
	case Op::Insert:
	case Op::Update:
	case Op::Delete:
	case Op::Truncate:
		if (!in_transaction_)
			throw std::runtime_error("change document outside a transaction (op " + std::string(OpName(change.op)) +
									 ")");
		if (skipping_)
			return;
		if (dropping_) {
			++counts_.echoes_dropped; // it came from this target: applying it there again would be an echo
			return;
		}
		sink_.Apply(change);
		++counts_.changes;
		return;
	case Op::Prepare:
	case Op::CommitPrepared:
	case Op::RollbackPrepared:
		throw std::runtime_error("two-phase document (op " + std::string(OpName(change.op)) +
								 ") on a slot created without two-phase decoding");
	}
}

Lsn
TargetDelivery::Flush() {
	if (!in_transaction_)
		sink_.Flush();
	return sink_.DurableLsn();
}

void
TargetDelivery::Rollback() noexcept {
	sink_.Rollback();
	in_transaction_ = skipping_ = dropping_ = false;
}

DeliveryCounts
TargetDelivery::TakeCounts() noexcept {
	DeliveryCounts counts = counts_;
	counts_ = {};
	return counts;
}

void
RulePositions::Set(const std::string &target, Lsn durable) {
	targets_[target].durable = durable;
}

void
RulePositions::Pin(const std::string &target, Lsn position) {
	Entry &entry = targets_[target];
	entry.durable = position;
	entry.attached = false;
}

void
RulePositions::Remove(const std::string &target) {
	targets_.erase(target);
}

void
RulePositions::Attach(const std::string &target) {
	targets_[target].attached = true;
}

void
RulePositions::Detach(const std::string &target) {
	auto entry = targets_.find(target);
	if (entry != targets_.end())
		entry->second.attached = false;
}

bool
RulePositions::Attached(const std::string &target) const {
	auto entry = targets_.find(target);
	return entry != targets_.end() && entry->second.attached;
}

Lsn
RulePositions::Position(const std::string &target) const {
	auto entry = targets_.find(target);
	return entry == targets_.end() ? kInvalidLsn : entry->second.durable;
}

Lsn
RulePositions::Minimum() const {
	if (targets_.empty())
		return kInvalidLsn;
	Lsn minimum = targets_.begin()->second.durable;
	for (const auto &[name, entry] : targets_)
		minimum = std::min(minimum, entry.durable);
	return minimum;
}

std::vector<std::string>
RulePositions::Targets() const {
	std::vector<std::string> names;
	for (const auto &[name, entry] : targets_)
		names.push_back(name);
	return names;
}

std::vector<std::string>
RulePositions::AttachedTargets() const {
	std::vector<std::string> names;
	for (const auto &[name, entry] : targets_)
		if (entry.attached)
			names.push_back(name);
	return names;
}

bool
RulePositions::AllAttached() const {
	return std::all_of(targets_.begin(), targets_.end(), [](const auto &entry) { return entry.second.attached; });
}

} // namespace mosta::sidecar
