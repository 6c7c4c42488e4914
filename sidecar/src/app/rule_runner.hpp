/*
 * rule_runner.hpp
 *     RuleRunner: runs one rule, once: ONE replication slot for the rule (RuleSlotName), one stream, each message
 *     parsed once on the io thread and fanned out to every target of the rule (TargetChannel: its own sink,
 *     worker thread, bounded queue, durable position and status row). Errors of the rule (its slot, its stream,
 *     the source) throw; the supervisor (run.cpp) retries or stops. Errors of one target are the target's: it is
 *     rolled back and detached while the others go on (docs/guarantees.md, "One slot per rule").
 *
 *     Positions. The rule confirms to PostgreSQL the minimum durable position of all its targets, attached or not
 *     (app/delivery.hpp). A target detached (its sink failed, its queue stayed full) holds the slot back; when it
 *     can go on (its retry is due and its sink opens again, or its queue drained), the rule's stream is restarted
 *     from the minimum at a transaction boundary and the targets ahead skip what they hold.
 *
 *     The slot (rule_slot.cpp). When the rule's slot does not exist it is created with an exported snapshot and
 *     the one copy read is applied to every target (app/rule_copy.hpp), except the SQLite and MongoDB targets that
 *     hold data (after a failover to a standby, which has no logical slot): those are re-synced in the same
 *     snapshot by key-range checksums, re-copying only the rows that differ (app/resync.hpp); per-target slots left by
 * 0.2.0 are migrated instead (pg_copy_logical_replication_slot of the one furthest behind), without a new copy. A
 *     target that needs a copy while the slot stays (added later, its sink's RecopyNeeded, rolled back under the
 *     slot, no checkpoint) is copied alone: pinned at the slot's confirmed position, copied in the snapshot of a
 *     TEMPORARY slot made on a second replication connection, committed at that slot's consistent point, then
 *     attached by a restart of the stream. A slot PostgreSQL invalidated re-copies every target, loudly.
 *
 *     Stop: when *stop becomes true, the runner finishes the transaction in flight, flushes every target, sends
 *     its final status update and returns. With once, it writes a heartbeat (mosta_heartbeat()) before streaming
 *     and returns once that heartbeat is applied and flushed in every attached target.
 */
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "app/delivery.hpp"
#include "app/rule_status.hpp"
#include "app/target_channel.hpp"
#include "pg/connection.hpp"
#include "pg/replication_stream.hpp"

namespace mosta::sidecar {

// RuleRunner runs one rule; use it from one coroutine.
class RuleRunner {
  public:
	// RuleRunner keeps plan; stop is read between messages; progress outlives the runner and holds the targets'
	// entries (created when missing); recopy names targets ("project.replica") to copy again (their replica
	// changed).
	RuleRunner(boost::asio::any_io_executor executor, const Config &config, RulePlan plan, const bool *stop,
			   RuleProgress &progress, std::set<std::string> recopy = {});
	~RuleRunner();

	// Run does the rule's work (see the file comment) until done, stopped, or once-finished; throws on failure.
	boost::asio::awaitable<void> Run();

	// ReportError records a failure of the rule in every target's status and writes it (best effort, never throws).
	boost::asio::awaitable<void> ReportError(const std::string &error);

	// MarkStopped records that the daemon stopped cleanly (status stopped, lag unknown) and writes it.
	boost::asio::awaitable<void> MarkStopped();

	// Pause records that the rule was disabled (status paused; the slot stays) and writes it.
	boost::asio::awaitable<void> Pause();

	// RefreshStatus re-reads the slot and writes every target's status (best effort, never throws).
	boost::asio::awaitable<void> RefreshStatus();

	// TargetFailed tells whether a target ended on an error that is not retried (--once, or fatal).
	bool TargetFailed() const;

  private:
	// OpenTargets opens every target's sink; a target that fails is in error and retried later.
	boost::asio::awaitable<void> OpenTargets();

	// PrepareSlot makes the rule's slot usable: migrates 0.2.0's per-target slots, drops a lost slot, creates it
	// and copies every target when needed, and marks the targets that need a copy alone (rule_slot.cpp).
	boost::asio::awaitable<void> PrepareSlot();

	// Migrate replaces 0.2.0's per-target slots of the rule by the rule's slot; false when there were none.
	boost::asio::awaitable<bool> Migrate();

	// CreateAndCopy creates the rule's slot with an exported snapshot and copies every open target in it.
	boost::asio::awaitable<void> CreateAndCopy();

	// Resync re-syncs one target that holds data by key-range checksums in created's snapshot (app/resync.hpp),
	// with an activity row; a target that cannot be read is marked for a copy alone, loudly.
	boost::asio::awaitable<void> Resync(TargetChannel &channel, const CreatedSlot &created);

	// CopyAlone copies one target in the snapshot of a temporary slot (see the file comment).
	boost::asio::awaitable<void> CopyAlone(TargetChannel &channel);

	// CopyPending copies alone every open target that needs it.
	boost::asio::awaitable<void> CopyPending();

	// DropTargetSlots drops 0.2.0's per-target slots of the rule that no walsender holds.
	boost::asio::awaitable<void> DropTargetSlots(const std::string &why);

	// IncludeTables resolves the rule's collections into the include-tables option ("" for '*').
	boost::asio::awaitable<std::string> IncludeTables();

	// Stream streams, restarting the stream when a target is to be attached, until stopped or once-finished.
	boost::asio::awaitable<void> Stream();

	// StreamLoop reads from start and fans out; true when it ended to restart the stream (a target to attach).
	boost::asio::awaitable<bool> StreamLoop(Lsn start);

	// StartStream starts the stream at start with the plugin options and marks the attached targets streaming.
	boost::asio::awaitable<void> StartStream(Lsn start);

	// EndStream flushes at the end of StreamLoop; true to restart (a target to attach or copy), else it stops the
	// stream (stopped, or --once with marker_read) and publishes the final status.
	boost::asio::awaitable<bool> EndStream(bool marker_read);

	// FanOut hands batch to every attached target, waiting for room in a full queue; a target whose queue stays
	// full while the others wait is detached (SlowToDetach).
	boost::asio::awaitable<void> FanOut(const SharedBatch &batch);

	// SlowToDetach tells whether slow, whose queue is full, is to be detached: full for kSlowTargetTimeout while
	// another attached target waits for input, and not detached for that before without progress since.
	bool SlowToDetach(TargetChannel &slow) const;

	// Detach detaches a slow target; it drains, then is attached again by a restart from the minimum.
	void Detach(TargetChannel &slow);

	// HandleFailures rolls back and detaches every target whose sink failed, and schedules its retry.
	boost::asio::awaitable<void> HandleFailures();

	// RetryDue tries the detached targets whose retry is due (reopening a failed sink); sets restart_ when one
	// can be attached.
	boost::asio::awaitable<void> RetryDue();

	// FlushAll flushes every attached target and records its position.
	boost::asio::awaitable<void> FlushAll();

	// DrainAll waits until no worker holds a batch (every exit of Run goes through it).
	boost::asio::awaitable<void> DrainAll();

	// PublishAll reads the slot's state and writes every target's status.
	boost::asio::awaitable<void> PublishAll();

	// EndSqlTransaction rolls back a transaction left open on the status connection (a failed copy); never throws.
	boost::asio::awaitable<void> EndSqlTransaction();

	// ConfirmLsn returns the flush position to confirm: the minimum durable position, never below the slot's.
	Lsn ConfirmLsn() const;

	// StreamOptions returns the replication connection's options.
	ReplicationStreamOptions StreamOptions() const;

	// Label returns "rule R" for log lines.
	std::string Label() const;

	boost::asio::any_io_executor executor_;
	const Config &config_;
	RulePlan plan_;
	const bool *stop_;
	RuleProgress &progress_;
	std::set<std::string> recopy_;
	std::string slot_;
	PgConnection sql_;
	// The documents' raw text is kept only when a target archives it (jsonl); one decoder for the rule's stream,
	// on the io thread: the relations of the current decoding session.
	DecoderOptions decoder_options_;
	ChangeDecoder decoder_;
	std::vector<std::unique_ptr<TargetChannel>> channels_;
	RulePositions positions_;
	std::unique_ptr<ReplicationStream> stream_;
	Lsn slot_confirmed_ = kInvalidLsn; // the slot's confirmed_flush_lsn when last read: the floor of ConfirmLsn
	std::string include_tables_;
	bool restart_ = false;	   // a target waits to be attached: restart the stream at the next boundary
	Lsn marker_ = kInvalidLsn; // --once: stream until this heartbeat is applied
};

} // namespace mosta::sidecar
