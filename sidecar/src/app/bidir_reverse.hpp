/*
 * bidir_reverse.hpp
 *     The reverse direction of a bidirectional rule (docs/bidirectional.md, "The reverse direction"): what is
 *     written on one target replica applied into the rule's source (its PostgreSQL master, the sidecar's
 *     --source), one ReverseRunner per target, run by SuperviseReverse next to the rule's forward runner.
 *
 *     Applier. A PgSink into the source whose replication origin is ReverseOriginName(rule, project, replica):
 *     every transaction it commits advances that origin in the same transaction as the data, so the source holds
 *     the reverse position (DurableLsn, where a restarted direction resumes), and the forward stream drops those
 *     transactions for that target (they came from it). Its conflict handler is the rule's (Side::Target).
 *
 *     PostgreSQL target. A logical slot named ReverseOriginName(...) on the target database (plugin mostajs; the
 *     target's server must have the mostajs library installed, CREATE EXTENSION is not needed there), created when
 *     missing, read with include-origin, include-timestamp, format version 3, decoded by the sidecar's decoder and
 *     delivered by a TargetDelivery that drops the transactions whose origin is ForwardOriginName(...) (what the
 *     forward direction applied there); the slot is confirmed up to the PgSink's durable position. The slot is
 *     created before the direction applies anything, at its first start: the forward initial copy into the target
 *     carries the forward origin, so whether the copy ran before or after, nothing written on the target by
 *     others since the slot exists is missed, and nothing the sidecar wrote there is read back.
 *
 *     SQLite target. The capture table _mosta_changes (sink/sqlite_capture.hpp), which the forward SqliteSink
 *     installs (capture_guard), polled every --poll-interval after the source's position SeqLsn^-1(DurableLsn);
 *     each captured change is applied as its own source transaction at LSN SeqLsn(seq) with the capture's time as
 *     its commit time; once durable in the source, the changes are purged from the file.
 *
 *     A conflict under policy error, or any failure, ends Run with an exception; SuperviseReverse records it as
 *     the target's error (mosta.target_status, prefixed "reverse direction") and retries with backoff.
 */
#pragma once

#include <atomic>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "app/rule_status.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar {

class PgSink;

// ReverseRunner is the reverse direction of one target of a bidirectional rule, run once (blocking) on a thread of
// its own; its counters are read from any thread.
class ReverseRunner {
  public:
	// ReverseRunner keeps config (which must outlive it).
	ReverseRunner(const Config &config, RulePlan plan, ReplicaInfo target);

	// Run applies the target's changes into the source until stop is set (--once: until it holds what the target
	// had when it looked); throws on failure (the target unreachable, a conflict under policy error, ...).
	void Run(const std::atomic<bool> &stop);

	// Label returns "rule R, reverse from P.X" for log lines.
	std::string Label() const;

	std::atomic<long long> changes{0};		// captured changes applied into the source
	std::atomic<long long> transactions{0}; // source transactions committed
	std::atomic<Lsn> durable{kInvalidLsn};	// the source's reverse position (DurableLsn)
	std::atomic<bool> caught_up{false};		// it read everything the target had and made it durable

  private:
	// RunSqlite drains the SQLite target's capture table into sink (see the file comment).
	void RunSqlite(PgSink &sink, const std::atomic<bool> &stop);

	// StreamPostgres streams the PostgreSQL target's reverse slot into sink (see the file comment).
	boost::asio::awaitable<void> StreamPostgres(PgSink &sink, const std::atomic<bool> &stop);

	// TargetTables returns the include-tables option of the reverse stream: the rule's collections ("" for '*').
	boost::asio::awaitable<std::string> TargetTables(PgConnection &sql) const;

	// Wait sleeps for the poll interval, waking early when stop is set.
	void Wait(const std::atomic<bool> &stop) const;

	const Config &config_;
	RulePlan plan_;
	ReplicaInfo target_;
};

// SuperviseReverse runs target's reverse direction (ReverseRunner on a thread of its own) until *stop is set, or
// once with config.once; a failure is recorded in the target's status entry of progress (and written to the
// catalog) and retried with backoff. *failed is set when it ends on an error under --once.
boost::asio::awaitable<void> SuperviseReverse(const Config &config, RulePlan plan, ReplicaInfo target, const bool *stop,
											  RuleProgress &progress, bool *failed);

// SqliteFilePromoted tells whether the SQLite file of replica under data_dir exists and is promoted
// (SqliteTargetIsPromoted): the reverse direction drains its writes into the source.
bool SqliteFilePromoted(const std::string &data_dir, const ReplicaInfo &replica);

} // namespace mosta::sidecar
