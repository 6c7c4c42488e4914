/*
 * rule_runner.hpp
 *     RuleRunner: runs one rule (RulePlan) against its sinks, once: opens the sinks, creates or reuses the rule's
 *     slot, takes the initial copy under the slot's exported snapshot, then (mode cdc) streams and applies, writing
 *     status to the catalog every status interval. Errors throw; the supervisor (run.cpp) retries or stops.
 *
 *     Initial copy. When the slot does not exist it is created with an exported snapshot, and a second, normal
 *     connection reads every collection in that snapshot (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET
 *     TRANSACTION SNAPSHOT) through mosta.snapshot_documents(regclass), in a cursor so memory stays bounded. All
 *     rows go to every sink inside ONE sink transaction committed at the slot's consistent point, so after the
 *     copy DurableLsn() = consistent point and streaming starts there: no gap, no duplicate at the hand-over.
 *     A crash during the copy leaves a slot while some sink's DurableLsn() is still 0/0: the runner then drops
 *     the slot and starts over with a new one (a copy cannot be resumed, because the exported snapshot dies with
 *     the connection that created the slot). Re-applying the copy is harmless on keyed tables (upserts).
 *
 *     Streaming. START_REPLICATION from the minimum DurableLsn() of the sinks, with include-lsn, include-types,
 *     include-xids and batch-bytes 65536. Per sink, a transaction whose commit_lsn < DurableLsn() (i.e. whose
 *     end_lsn <= DurableLsn()) is skipped whole: replay after a crash is idempotent. The flush LSN confirmed to
 *     PostgreSQL is the minimum DurableLsn() over the sinks; the sinks are flushed whenever the stream is idle
 *     (no XLogData for poll_interval).
 *
 *     Stop: when *stop becomes true, the runner finishes the transaction in flight, flushes, sends its final
 *     status update (ReplicationStream::Stop) and returns. With once, it writes a heartbeat (mosta_heartbeat())
 *     before streaming and returns once that heartbeat has been applied and flushed: everything committed before
 *     the start is then in the sinks and confirmed.
 */
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "decode/change.hpp"
#include "pg/connection.hpp"
#include "pg/replication_stream.hpp"
#include "sink/sink.hpp"

namespace mosta::sidecar {

// OpenSink opens the sink of one sqlite, sqldump or jsonl replica (slot: the checkpoint key; collections: the rule's,
// which tables a mostajs.ddl CREATE TABLE is applied to); throws on failure.
std::unique_ptr<Sink> OpenSink(const ReplicaInfo &replica, const std::string &slot,
							   const std::vector<std::string> &collections = {});

// RuleRunner runs one rule; use it from one coroutine.
class RuleRunner {
  public:
	// RuleRunner keeps the plan; stop is read between messages.
	RuleRunner(boost::asio::any_io_executor executor, const Config &config, RulePlan plan, const bool *stop);

	// Run does the rule's work (see the file comment) until done, stopped, or once-finished; throws on failure.
	boost::asio::awaitable<void> Run();

	// ReportError records error in the status and writes it (best effort, never throws); called by the supervisor.
	boost::asio::awaitable<void> ReportError(const std::string &error);

  private:
	// Copy takes the initial copy of the collections in snapshot_name, committed at consistent_point.
	boost::asio::awaitable<void> Copy(const std::string &snapshot_name, Lsn consistent_point);

	// Stream streams from start until stopped (or once-finished).
	boost::asio::awaitable<void> Stream(ReplicationStream &stream, Lsn start);

	// Dispatch applies one document of the stream to the sinks.
	void Dispatch(const Change &change);

	// FlushSinks flushes every sink and updates the confirmed LSN.
	void FlushSinks();

	// RollbackSinks discards what is not durable in every sink.
	void RollbackSinks() noexcept;

	// MinDurableLsn returns the minimum DurableLsn() over the sinks.
	Lsn MinDurableLsn() const noexcept;

	// PublishStatus writes the status rows now.
	boost::asio::awaitable<void> PublishStatus();

	// SetState logs and records a state change.
	void SetState(const std::string &state, const std::string &detail);

	boost::asio::any_io_executor executor_;
	const Config &config_;
	RulePlan plan_;
	const bool *stop_;
	std::string slot_;
	PgConnection sql_;
	std::vector<std::unique_ptr<Sink>> sinks_;
	std::vector<bool> skipping_; // per sink: the open source transaction is already held
	bool in_transaction_ = false;
	// When the sinks last held everything the server had sent (the stream idle, all flushed); unset before that.
	// lag_ms is the time since then: an upper bound of how stale the targets are, 0 while idle.
	std::optional<std::chrono::steady_clock::time_point> caught_up_at_;
	bool idle_ = false;
	Lsn marker_ = kInvalidLsn; // --once: stream until this heartbeat is applied
	bool marker_reached_ = false;
	RuleStatus status_;
	std::string include_tables_; // include-tables option for a rule with named collections ("" for '*')
};

} // namespace mosta::sidecar
