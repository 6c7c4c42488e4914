/*
 * sink.hpp
 *     Sink: the interface the daemon drives for each target (SQLite, MongoDB, ...), shaped by the delivery contract
 *     of docs/DESIGN.md and docs/protocol.md section 17.
 *
 *     The daemon, for each source transaction read from the slot, in commit order:
 *       1. on "begin": if its commit_lsn < DurableLsn(), skips the transaction up to its "commit" (already held;
 *          equivalently, a transaction whose end_lsn <= DurableLsn() is never given to the sink again);
 *       2. BeginTransaction(commit_lsn), NoteCommitTime(ts of the begin document), then Apply() for each row
 *          change, truncate and transactional message;
 *       3. CommitTransaction(commit_lsn, end_lsn) on "commit".
 *     A non-transactional message at lsn L (lsn <= DurableLsn(): skip) is delivered as BeginTransaction(L),
 *     Apply(message), CommitTransaction(L, L). Two-phase documents are not sink input: the daemon stages a prepared
 *     transaction and hands it over at commit_prepared, with that document's end_lsn.
 *
 *     A sink may group several consecutive source transactions into one target transaction: CommitTransaction then
 *     only closes the source transaction, and the group is made durable by Flush() or when the sink's own size or
 *     time budget is reached. DurableLsn() reports only what is really durable, so the daemon confirms to
 *     PostgreSQL (flush LSN) exactly DurableLsn(). The daemon calls Flush() whenever its input runs dry, before a
 *     clean shutdown, and whenever it wants the flush LSN to move.
 *
 *     Failure: any method may throw (the target failed to do the job). The daemon then calls Rollback(), which
 *     discards everything not yet durable, and resumes the stream from DurableLsn(). A crash has the same effect:
 *     the target holds every transaction up to DurableLsn() and nothing after it. Re-applying a change is
 *     idempotent anyway on keyed tables (upserts and deletes by key), as CDC is at-least-once.
 *
 *     SinkCore (sink_core.hpp) enforces this contract once; every sink derives from it and provides its hooks.
 */
#pragma once

#include <stdexcept>
#include <string_view>

#include "decode/change.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar {

// RecopyNeeded is what Apply throws when the target can become equal to the source again only by a new copy: a
// mostajs.ddl message says the source rewrote a table the sink holds and gave its rows values no change document
// carries (ADD COLUMN with a volatile default). The daemon rolls the sink back and takes a new initial copy of the
// target, loudly (docs/sidecar.md, "Re-snapshots").
class RecopyNeeded : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// Sink is one replication target fed with source transactions in commit order.
class Sink {
  public:
	virtual ~Sink() = default;

	// Name returns a short label for logs and status ("sqlite:/var/lib/mosta/app.db").
	virtual std::string_view Name() const noexcept = 0;

	// DurableLsn returns the end LSN of the last source transaction (or non-transactional message) made durable,
	// as loaded from the target at open and advanced by each durable commit; kInvalidLsn when none.
	virtual Lsn DurableLsn() const noexcept = 0;

	// BeginTransaction opens the source transaction whose commit record starts at commit_lsn.
	virtual void BeginTransaction(Lsn commit_lsn) = 0;

	// NoteCommitTime is called by the daemon right after BeginTransaction for a streamed source transaction, with
	// the begin document's "ts" (the plugin's commit timestamp text, include-timestamp=on, e.g.
	// "2026-11-22T17:50:00.335859+00:00"); it is not called for the initial copy or for non-transactional messages.
	// Sinks that record the commit time override it; the default ignores it.
	virtual void
	NoteCommitTime(std::string_view commit_time) {
		static_cast<void>(commit_time);
	}

	// Apply applies one insert, update, delete, truncate or message of the open source transaction.
	virtual void Apply(const Change &change) = 0;

	// CommitTransaction closes the open source transaction and records end_lsn as its checkpoint in the same
	// target transaction; the data and the checkpoint become durable together, now or at the next Flush().
	virtual void CommitTransaction(Lsn commit_lsn, Lsn end_lsn) = 0;

	// Flush makes every closed source transaction durable; it is an error while a source transaction is open.
	virtual void Flush() = 0;

	// Rollback discards everything not yet durable (the open source transaction and any unflushed group); the
	// daemon then resumes from DurableLsn(). It never throws.
	virtual void Rollback() noexcept = 0;

	// Rewind, outside a source transaction, makes the next group's end LSN the target's checkpoint even when it
	// is behind DurableLsn() (what is open is made durable first). The daemon calls it before a copy or re-sync
	// committed at a new slot's consistent point: after a failover the new primary's WAL positions start behind
	// what the target held from the old primary (docs/guarantees.md). Rollback cancels it.
	virtual void Rewind() = 0;
};

} // namespace mosta::sidecar
