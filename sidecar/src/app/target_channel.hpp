/*
 * target_channel.hpp
 *     TargetChannel: one target of a rule's stream. It owns the target's sink, the worker thread the sink runs on
 *     (SQLite, file and MongoDB writes block: the io thread keeps the replication connection and its keepalives
 *     going meanwhile), a bounded queue of the stream's shared batches, the TargetDelivery that applies them, and
 *     the target's status row (TargetStatus, in the rule's RuleProgress).
 *
 *     Threads: every member is used on the io thread, except sink_ and delivery_, which only the worker touches
 *     while a job runs (one job at a time, started and ended on the io thread). The queue holds at most
 *     kMaxQueuedBatches batches: when it is full the rule runner waits for room (backpressure), and detaches the
 *     target only when it stays full for kSlowTargetTimeout while another target waits for input
 *     (docs/guarantees.md, "A slow target").
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "app/delivery.hpp"
#include "sink/sink.hpp"
#include "util/backoff.hpp"

namespace mosta::sidecar {

// kMaxQueuedBatches bounds a target's queue (each batch is at most one 64 kB output message, parsed: a few hundred
// kB with its changes). 16 keeps a 1 MB stream ahead of each worker, enough to smooth a sink's commits, and the
// sidecar's peak RSS under 50 MB (at 64 it reached 52 MB in bench/e2e.sh's catch-up).
inline constexpr std::size_t kMaxQueuedBatches = 16;

// kSlowTargetTimeout is how long a target's queue may stay full, while another target of the rule waits for input,
// before it is detached to catch up on its own.
inline constexpr std::chrono::seconds kSlowTargetTimeout{30};

// TargetChannel is one target of a rule, used from the rule runner's coroutine (see the file comment).
class TargetChannel {
  public:
	// TargetChannel keeps config, plan and status (which must outlive it).
	TargetChannel(boost::asio::any_io_executor executor, const Config &config, const RulePlan &plan, ReplicaInfo target,
				  TargetStatus &status);
	~TargetChannel();

	TargetChannel(const TargetChannel &) = delete;
	TargetChannel &operator=(const TargetChannel &) = delete;

	// Name returns "project.replica", the target's key in the rule's positions.
	std::string
	Name() const {
		return target_.project + "." + target_.name;
	}

	// Dialect returns the target's dialect (sqlite, sqldump, jsonl, mongodb).
	const std::string &
	Dialect() const noexcept {
		return target_.dialect;
	}

	// Label returns "rule R, target P.X" for log lines.
	std::string Label() const;

	// Open (re)opens the sink on the worker (after a failure, the old one is closed first); throws on failure.
	boost::asio::awaitable<void> Open();

	// IsOpen tells whether the sink is open.
	bool
	IsOpen() const noexcept {
		return open_;
	}

	// Durable returns the sink's durable position as last read on the io thread (at open, after each flush).
	Lsn
	Durable() const noexcept {
		return durable_;
	}

	// Push queues batch for the worker; false when the queue is full (the batch is not queued). A failed channel
	// drops the batch and returns true.
	bool Push(SharedBatch batch);

	// WaitRoom waits until the queue has room, the channel failed, or deadline passed; true when there is room.
	boost::asio::awaitable<bool> WaitRoom(std::chrono::steady_clock::time_point deadline);

	// Drain waits until the worker has applied every queued batch (or failed).
	boost::asio::awaitable<void> Drain();

	// Flush drains, then makes what is applied durable (no-op inside a source transaction); a failure is kept.
	boost::asio::awaitable<void> Flush();

	// Run runs work(sink) on the worker and rethrows its error; the queue must be drained.
	boost::asio::awaitable<void> Run(std::function<void(Sink &)> work);

	// Failed tells whether a job failed since the last Rollback; Error returns its text.
	bool
	Failed() const noexcept {
		return error_ != nullptr;
	}
	std::string ErrorText() const;

	// Fail records error as the channel's failure (a copy that failed on this target).
	void
	Fail(std::exception_ptr error) noexcept {
		error_ = std::move(error);
	}

	// Busy tells whether the worker has a job or a queued batch.
	bool
	Busy() const noexcept {
		return busy_ || !queue_.empty();
	}

	// NeedsRecopy tells whether the failure was the sink's RecopyNeeded.
	bool NeedsRecopy() const;

	// Rollback drains, discards what the sink did not make durable and clears the failure; never throws.
	boost::asio::awaitable<void> Rollback();

	// InTransaction tells whether the target is inside a source transaction (call after Drain).
	bool InTransaction() const noexcept;

	// LastClosed returns TargetDelivery::LastClosed (call after Drain).
	Lsn LastClosed() const noexcept;

	// SetState logs and records a state change (status streaming or done clears the last error).
	void SetState(const std::string &state, const std::string &detail);

	// The target's status row.
	TargetStatus &
	Status() noexcept {
		return status_;
	}

	// The retry schedule of a failed or detached target.
	Backoff backoff{BackoffPolicy{}};
	std::optional<std::chrono::steady_clock::time_point> retry_at; // when to try again (unset: not waiting)
	bool needs_copy = false;  // the target must be copied alone before it is attached
	bool final_error = false; // --once or fatal: it is not retried
	bool reopen = false;	  // the sink failed: open it again before the target is attached
	bool attach = false;	  // attach the target when the rule's stream (re)starts
	// A slow target: since when its queue is full (unset: not full), and where it was when last detached for it.
	std::optional<std::chrono::steady_clock::time_point> full_since;
	std::optional<Lsn> slow_detached_at;
	// When the target last held everything the server had sent (unset before that); lag is the time since then.
	std::optional<std::chrono::steady_clock::time_point> caught_up_at;
	bool idle = false;

  private:
	// StartNext hands the next queued batch to the worker when it is free.
	void StartNext();

	// Wait waits for the end of the job in flight, or until deadline.
	boost::asio::awaitable<void>
	Wait(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

	// MergeCounts adds what the worker counted to the status, on the io thread.
	void MergeCounts();

	boost::asio::any_io_executor executor_;
	const Config &config_;
	const RulePlan &plan_;
	ReplicaInfo target_;
	TargetStatus &status_;
	std::string checkpoint_key_; // SlotName(rule, project, replica): where the sink keys its checkpoint
	boost::asio::thread_pool worker_{1};
	std::unique_ptr<Sink> sink_;
	std::unique_ptr<TargetDelivery> delivery_;
	bool open_ = false;
	Lsn durable_ = kInvalidLsn;
	std::deque<SharedBatch> queue_;
	SharedBatch in_flight_; // the batch on the worker (freed on the io thread)
	bool busy_ = false;		// a job is on the worker
	std::exception_ptr error_;
	DeliveryCounts counts_; // written by the worker's job, merged on the io thread after it
	boost::asio::steady_timer done_signal_{executor_, boost::asio::steady_timer::time_point::max()};
};

} // namespace mosta::sidecar
