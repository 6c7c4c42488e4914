/*
 * pg_sink.hpp
 *     PgSink: a PostgreSQL database as a replication target (a separate database: another cluster, another major
 *     version, a subset of tables; not a physical standby), and the applier of the reverse direction of a
 *     bidirectional rule into the rule's PostgreSQL master (docs/bidirectional.md).
 *
 *     Exactly once, the way native logical replication does it: the sink's connection sets up a replication
 *     origin (options.origin, created when missing) and every target transaction calls
 *     pg_replication_origin_xact_setup(end LSN, source commit time) before COMMIT, so the target itself holds the
 *     position, advanced atomically with the data. DurableLsn() at open is pg_replication_origin_progress(origin,
 *     true). Each source transaction is one target transaction (its commit time becomes the target row's commit
 *     timestamp); transactions are committed with synchronous_commit = off, and a group is made durable by
 *     pg_replication_origin_progress(origin, true), which flushes the WAL up to the origin's last commit (one WAL
 *     flush per group, as a synchronous last commit would do).
 *
 *     Apply. Without a conflict handler (a cdc rule) changes are applied in bulk: runs of inserts into one table
 *     through COPY FROM STDIN, runs of updates and deletes through a staging table, statements pipelined
 *     (libpq pipeline mode), in the order of the source transaction. With a conflict handler (a bidirectional
 *     side) each row change is checked against the row the database holds (bidir/conflict.hpp), which needs full
 *     old images: a change of a table whose old image lacks a column throws, naming the table and the fix
 *     (ALTER TABLE ... REPLICA IDENTITY FULL on the side that wrote it).
 *
 *     Values arrive in the change documents' encoding (docs/protocol.md section 8) and are written as PostgreSQL
 *     input text (arrays from JSON to array literals, booleans, BC dates), under fixed session settings.
 *     mostajs.ddl messages are followed as by the SQLite sink: CREATE TABLE of a table the rule covers, ALTER
 *     (columns added, dropped, renamed, retyped), DROP; truncate empties the tables it names.
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bidir/conflict.hpp"
#include "sink/sink_core.hpp"

namespace mosta::sidecar {

// Settings of a PgSink.
struct PgSinkOptions {
	std::string conninfo;						// libpq connection string or URI of the target (never logged unmasked)
	std::string origin;							// the replication origin holding the position (created when missing)
	std::size_t group_max_transactions = 100;	// the last of this many source transactions commits synchronously
	std::vector<std::string> ddl_collections{}; // a mostajs.ddl CREATE TABLE is applied to tables these cover
	// Set for a bidirectional side: each row change is checked for conflicts and the handler decides.
	ConflictHandler on_conflict{};
	Side incoming_side = Side::Source; // the side the changes this sink applies were written on
};

// PgSink replicates into one PostgreSQL database.
class PgSink final : public SinkCore {
  public:
	// PgSink connects (blocking libpq: the sink runs on its target's worker thread), sets the session up, creates
	// the origin when missing and reads DurableLsn(); throws std::runtime_error naming the target (URI masked).
	explicit PgSink(PgSinkOptions options);
	~PgSink() override;

	PgSink(const PgSink &) = delete;
	PgSink &operator=(const PgSink &) = delete;

	std::string_view Name() const noexcept override;

	// NoteCommitTime keeps the source commit time: the origin timestamp of the target transaction (hence its
	// commit timestamp) and a conflict's incoming time.
	void NoteCommitTime(std::string_view commit_time) override;

	struct Impl; // pg_sink.cpp and its helpers

  private:
	void OpenGroup() override;
	void OpenSource(Lsn commit_lsn) override;
	void ApplyChange(const Change &change) override;
	void RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) override;
	void MakeGroupDurable(Lsn pending_lsn) override;
	void DiscardGroup() noexcept override;

	// ApplyTruncate empties the target's tables a truncate names; ApplyDdl follows a mostajs.ddl message.
	void ApplyTruncate(const Change &change);
	void ApplyDdl(const Change &change);

	std::unique_ptr<Impl> impl_;
};

} // namespace mosta::sidecar
