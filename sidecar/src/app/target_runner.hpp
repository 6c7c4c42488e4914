/*
 * target_runner.hpp
 *     TargetRunner: runs one target of one rule (RulePlan, ReplicaInfo), once: opens the target's sink, creates or
 *     reuses the target's own slot (SlotName), takes the initial copy under the slot's exported snapshot, then
 *     (mode cdc) streams and applies, writing status to the catalog every status interval. Errors throw; the
 *     supervisor (run.cpp) retries or stops. Every target has its own slot so that a failing target holds back
 *     only itself: the others keep flowing, and its retained WAL is reported (docs/guarantees.md).
 *
 *     Initial copy. When the slot does not exist it is created with an exported snapshot, and a second, normal
 *     connection reads every collection in that snapshot (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET
 *     TRANSACTION SNAPSHOT) through mosta.snapshot_documents(regclass, true, kFormatVersion), in a cursor so memory
 * stays bounded. All rows go to the sink inside ONE sink transaction committed at the slot's consistent point, so after
 * the copy DurableLsn() = consistent point and streaming starts there: no gap, no duplicate at the hand-over. A crash
 * during the copy leaves a slot while the sink's DurableLsn() is still 0/0: the runner then drops the slot and starts
 * over with a new one (a copy cannot be resumed, because the exported snapshot dies with the connection that created
 * the slot); that copy starts with a truncate of the copied tables, as a re-snapshot does, for targets that keep
 * partial writes (MongoDB).
 *
 *     Re-snapshot. A slot PostgreSQL invalidated (wal_status = lost: it outgrew max_slot_wal_keep_size) has lost
 *     changes for good, and so has a target whose slot was dropped by hand while the sink holds data, and a target
 *     rolled back under its slot (restored from an older file, a dump cut back): its checkpoint is behind the slot's
 *     confirmed_flush_lsn, where PostgreSQL resumes, so what lies between cannot come again. The runner
 *     says so loudly (log line, mosta.activity row, target_status.warning, resnapshots + 1), drops the slot,
 *     creates a new one and copies again; that copy starts with a truncate of every copied table in the same sink
 *     transaction, so rows deleted during the outage disappear from the target too.
 *
 *     Streaming. START_REPLICATION from the sink's DurableLsn(), with format-version kFormatVersion, include-lsn,
 * include-types, include-xids, include-timestamp (the commit time, handed to the sink with NoteCommitTime) and
 * batch-bytes 65536. A transaction whose commit_lsn < DurableLsn() (i.e. whose end_lsn <= DurableLsn()) is skipped
 * whole: replay after a crash is idempotent. The flush LSN confirmed to PostgreSQL is DurableLsn(); the sink is flushed
 * whenever the stream is idle (no XLogData for poll_interval).
 *
 *     Stop: when *stop becomes true, the runner finishes the transaction in flight, flushes, sends its final
 *     status update (ReplicationStream::Stop) and returns. With once, it writes a heartbeat (mosta_heartbeat())
 *     before streaming and returns once that heartbeat has been applied and flushed: everything committed before
 *     the start is then in the sink and confirmed.
 */
#pragma once

#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "decode/change.hpp"
#include "pg/connection.hpp"
#include "pg/replication_stream.hpp"
#include "sink/sink.hpp"

namespace mosta::sidecar {

// OpenSink opens the sink of one sqlite, sqldump, jsonl or mongodb replica (slot: the checkpoint key; data_dir: where
// file targets live, app/target_path.hpp; collections: the rule's, which tables a mostajs.ddl CREATE TABLE is
// applied to; source: the source's conninfo, which a mongodb sink reads mosta.id_map through); throws on failure.
std::unique_ptr<Sink> OpenSink(const ReplicaInfo &replica, const std::string &slot, const std::string &data_dir,
							   const std::vector<std::string> &collections = {}, const std::string &source = {});

// The status of every target of one rule, kept by the supervisor across runs and shared by the rule's runners
// (all on the io thread), so that each can write the rule's aggregate.
struct RuleProgress {
	// Keyed by (project, replica); std::map keeps references stable while entries are added.
	std::map<std::pair<std::string, std::string>, TargetStatus> targets;

	// Aggregate returns AggregateRuleStatus over the targets.
	RuleStatus Aggregate() const;
};

// TargetRunner runs one target of a rule; use it from one coroutine.
class TargetRunner {
  public:
	// TargetRunner keeps plan and target; stop is read between messages; progress outlives the runner and holds
	// the target's entry (created when missing).
	TargetRunner(boost::asio::any_io_executor executor, const Config &config, RulePlan plan, ReplicaInfo target,
				 const bool *stop, RuleProgress &progress);

	// Run does the target's work (see the file comment) until done, stopped, or once-finished; throws on failure.
	boost::asio::awaitable<void> Run();

	// ReportError records error in the status and writes it (best effort, never throws); called by the supervisor.
	boost::asio::awaitable<void> ReportError(const std::string &error);

	// MarkStopped records that the daemon stopped cleanly while the target was running (status stopped; its
	// replica down, lag unknown, so reads are no longer routed to it) and writes it (best effort, never throws).
	boost::asio::awaitable<void> MarkStopped();

	// Pause records that the target was stopped because its rule was disabled (status paused; the slot stays, so
	// enabling the rule again resumes where it stopped) and writes it (best effort, never throws).
	boost::asio::awaitable<void> Pause();

	// RefreshStatus re-reads the slot (retained WAL) and writes the status again (best effort, never throws); the
	// supervisor calls it while the target waits to retry, so status shows the WAL a failing target retains.
	boost::asio::awaitable<void> RefreshStatus();

  private:
	// LoadCounters starts the counters from the catalog's target_status row, the first time only.
	boost::asio::awaitable<void> LoadCounters();

	// PrepareSlot checks the slot, drops it when it cannot be used (lost, or an interrupted copy), and creates it
	// and takes the initial copy when needed (a re-snapshot when the sink already holds data).
	boost::asio::awaitable<void> PrepareSlot(ReplicationStream &stream);

	// Copy takes the initial copy of the collections in snapshot_name, committed at consistent_point; with
	// resnapshot the copy first truncates every copied table in the target.
	boost::asio::awaitable<void> Copy(const std::string &snapshot_name, Lsn consistent_point, bool resnapshot);

	// IncludeTables resolves the rule's collections into the include-tables option ("" for '*').
	boost::asio::awaitable<std::string> IncludeTables();

	// Stream streams from start until stopped (or once-finished); whatever happens, it returns only once the
	// worker holds no batch of this runner. A sink's RecopyNeeded is answered with Recopy, then streaming goes on
	// from the new copy.
	boost::asio::awaitable<void> Stream(ReplicationStream &stream, Lsn start, const std::string &include_tables);

	// Recopy answers a sink's RecopyNeeded while streaming (reason: its message): rolls the sink back, says so
	// loudly (as a re-snapshot), stops the stream, drops the slot and takes a new initial copy.
	boost::asio::awaitable<void> Recopy(ReplicationStream &stream, const std::string &reason);

	// StreamLoop is Stream's work: read and parse a message on the io thread while the worker applies the last.
	boost::asio::awaitable<void> StreamLoop(ReplicationStream &stream, Lsn start, const std::string &include_tables);

	// StartApply hands a decoded message to the worker (none may be in flight).
	void StartApply(std::shared_ptr<const DecodedMessage> message);

	// FinishApply waits for the batch in flight, merges its counters and rethrows its error.
	boost::asio::awaitable<void> FinishApply();

	// DrainApply waits for the batch in flight and merges its counters; its error stays in apply_error_.
	boost::asio::awaitable<void> DrainApply();

	// Dispatch applies one document of the stream to the sink (on the worker thread: it counts in applied_).
	void Dispatch(const Change &change);

	// OnWorker runs work() on the worker thread and resumes on the io thread, where it merges applied_ into the
	// status; an exception of work() is rethrown here.
	template <class Work> boost::asio::awaitable<void> OnWorker(Work work);

	// MergeApplied adds what the worker counted (applied_) to the status, on the io thread.
	void MergeApplied();

	// FlushSink flushes the sink and updates the applied LSN.
	boost::asio::awaitable<void> FlushSink();

	// EndSqlTransaction rolls back a transaction left open on the status connection (a failed initial copy), or
	// closes a connection in an unknown state; never throws.
	boost::asio::awaitable<void> EndSqlTransaction();

	// PublishStatus reads the slot's state, updates the warnings and writes the status rows now.
	boost::asio::awaitable<void> PublishStatus();

	// Warn records a loud event: log line, target warning, and a mosta.activity row (best effort).
	boost::asio::awaitable<void> Warn(const std::string &action, const std::string &text);

	// SetState logs and records a state change.
	void SetState(const std::string &state, const std::string &detail);

	// Label returns "rule R, target P.X" for log lines.
	std::string Label() const;

	boost::asio::any_io_executor executor_;
	const Config &config_;
	RulePlan plan_;
	ReplicaInfo target_;
	// What the decoder keeps: the document texts for a JSON archive only (it writes them verbatim).
	DecoderOptions decoder_options_{target_.dialect == "jsonl"};
	ChangeDecoder decoder_{decoder_options_}; // the stream's relations (io thread only)
	const bool *stop_;
	RuleProgress &progress_;
	TargetStatus &status_;
	std::string slot_;
	PgConnection sql_;
	// The sink runs on its own thread (SQLite and file writes block): the io thread keeps every replication
	// connection and keepalive going meanwhile, and a slow or locked target does not stall the others. The runner
	// is one coroutine, so the sink is used by one thread at a time; the worker touches only sink_, applied_ and
	// the stream-position members below, never status_ (other runners read it for the rule's aggregate).
	boost::asio::thread_pool worker_{1};
	std::unique_ptr<Sink> sink_;
	struct {
		long long changes = 0;
		long long transactions = 0;
	} applied_;
	std::shared_ptr<const DecodedMessage> batch_; // the batch on the worker (released by the io thread)
	bool applying_ = false;						  // a batch is on the worker (set and cleared on the io thread)
	std::exception_ptr apply_error_;			  // how the last batch failed
	boost::asio::steady_timer applied_signal_{
		executor_, boost::asio::steady_timer::time_point::max()}; // cancelled when a batch ends
	bool skipping_ = false; // the open source transaction is already held by the sink
	bool in_transaction_ = false;
	// When the sink last held everything the server had sent (the stream idle, all flushed); unset before that.
	// lag_ms is the time since then: an upper bound of how stale the target is, 0 while idle.
	std::optional<std::chrono::steady_clock::time_point> caught_up_at_;
	bool idle_ = false;
	Lsn marker_ = kInvalidLsn; // --once: stream until this heartbeat is applied
	bool marker_reached_ = false;
};

} // namespace mosta::sidecar
