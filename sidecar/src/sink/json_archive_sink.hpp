/*
 * json_archive_sink.hpp
 *     JsonArchiveSink: an append-only archive of the change stream as newline-delimited JSON, in files
 *       <directory>/archive-<commit LSN of the file's first transaction, 16 hex digits>.jsonl
 *     (fixed width, so names sort in stream order). Each source transaction is written as
 *       {"op":"begin","format_version":3,"ts":"<commit time>","commit_lsn":"X/Y"}
 *       <each change document verbatim, as received (Change::raw), a row change preceded by its relation document
 *        (format version 3) the first time the file holds it and again when the relation's description changed>
 *       {"op":"commit","ts":"<commit time>","lsn":"X/Y","end_lsn":"X/Y"}
 *     so an archive file is itself a protocol stream (docs/protocol.md) read with include-lsn, in the format version
 *     its begin lines name (kFormatVersion, or kCopyFormatVersion for the initial copy's
 *     transaction; a begin line without format_version, written by 0.1.0, is version 1).
 * "ts" is the commit timestamp text the daemon passes to NoteCommitTime (the begin document's "ts",
 * include-timestamp=on), JSON-escaped; it is left out when NoteCommitTime was not called (a non-transactional message).
 * "xid" is not archived; the changes are kept exactly as the plugin wrote them (with "lsn", and "types" when read with
 *     include-types).
 *
 *     Durability (SpooledTransaction): a transaction's lines are buffered up to SpooledTransaction::kSpillBytes and
 *     then appended to the file unsynced, so a transaction of any size is streamed with bounded memory; at
 *     CommitTransaction the rest and the commit line are appended, then fdatasync'd; DurableLsn() moves only after
 *     that. The file is chosen at BeginTransaction: a new one is started once the current one holds
 *     max_file_bytes or more (the directory is fsync'd after creating it), so a transaction's lines never straddle
 *     two files. Opening recovers: in the newest file everything after the last complete commit line is cut (a
 *     crash may have left a partial transaction of any length; it is found reading backwards in bounded chunks),
 *     and a newest file without any commit line is removed; DurableLsn() is that commit's end_lsn. Appends are not
 *     idempotent: the daemon's skipping of transactions at or below DurableLsn() keeps the archive free of
 *     duplicates. The transaction state machine (poisoning after an Apply that throws, until Rollback) is
 *     SinkCore's (sink_core.hpp).
 */
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "sink/sink_core.hpp"
#include "sink/spooled_transaction.hpp"

namespace mosta::sidecar {

// JsonArchiveSink appends the stream to size-rotated JSON-lines files in one directory.
class JsonArchiveSink final : public SinkCore {
  public:
	// JsonArchiveSink creates directory if needed and recovers from its newest file; throws std::system_error,
	// std::invalid_argument (max_file_bytes 0) or std::runtime_error (an archive file it cannot read).
	JsonArchiveSink(std::string directory, std::uint64_t max_file_bytes);

	// ~JsonArchiveSink discards what is not durable.
	~JsonArchiveSink() override;

	JsonArchiveSink(const JsonArchiveSink &) = delete;
	JsonArchiveSink &operator=(const JsonArchiveSink &) = delete;

	std::string_view Name() const noexcept override;
	// NoteCommitTime records the open transaction's commit time for its begin and commit lines; it must come
	// before the first Apply (throws std::logic_error otherwise).
	void NoteCommitTime(std::string_view commit_time) override;

	// FileName returns the archive file name for a file whose first transaction commits at lsn.
	static std::string FileName(Lsn lsn);

  private:
	// The SinkCore hooks (one source transaction per group): OpenSource settles the file, ApplyChange writes a
	// change's document (every op, not SinkCore's dispatch), RecordCheckpoint the commit line, MakeGroupDurable
	// fdatasyncs, DiscardGroup cuts the file back to the last commit line.
	void OpenSource(Lsn commit_lsn) override;
	void ApplyChange(const Change &change) override;
	void RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) override;
	void MakeGroupDurable(Lsn pending_lsn) override;
	void DiscardGroup() noexcept override;

	// Recover opens the newest file, cuts its partial tail and reads DurableLsn().
	void Recover();

	// Rotate starts the file of the transaction committing at commit_lsn when it needs one of its own.
	void Rotate(Lsn commit_lsn);

	// WriteBeginLine writes the open transaction's begin line, once, before its first change or its commit line.
	void WriteBeginLine();

	// WriteRelationLine writes relation's document unless the file already holds that description of it.
	void WriteRelationLine(const std::shared_ptr<const RelationSchema> &relation);

	std::string directory_;
	std::uint64_t max_file_bytes_;
	std::string name_;
	SpooledTransaction spool_;	 // the newest file (none before the first transaction) and the open transaction
	bool begin_written_ = false; // the open transaction's begin line is written (NoteCommitTime is too late)
	std::string commit_time_;	 // the open transaction's "ts", empty when not noted
	// The relation documents the current file holds, by relid (kept alive, so a pointer is never reused).
	std::unordered_map<std::uint32_t, std::shared_ptr<const RelationSchema>> written_relations_;
};

} // namespace mosta::sidecar
