/*
 * json_archive_sink.hpp
 *     JsonArchiveSink: an append-only archive of the change stream as newline-delimited JSON, in files
 *       <directory>/archive-<commit LSN of the file's first transaction, 16 hex digits>.jsonl
 *     (fixed width, so names sort in stream order). Each source transaction is written as
 *       {"op":"begin","commit_lsn":"X/Y"}
 *       <each change document verbatim, as received (Change::raw)>
 *       {"op":"commit","lsn":"X/Y","end_lsn":"X/Y"}
 *     so an archive file is itself a protocol stream (docs/protocol.md) read with include-lsn. The Sink interface
 *     does not carry the begin/commit documents, so their "ts" and "xid" are not archived; the changes are kept
 *     exactly as the plugin wrote them (with "lsn", and "types" when read with include-types).
 *
 *     Durability: a transaction is buffered and written at CommitTransaction, then fdatasync'd; DurableLsn()
 *     moves only after that. A new file is started only at a transaction boundary, once the current one holds
 *     max_file_bytes or more, and the directory is fsync'd after creating it. Opening recovers: in the newest file
 *     everything after the last complete commit line is cut (a crash may have left a partial transaction), and a
 *     newest file without any commit line is removed; DurableLsn() is that commit's end_lsn. Appends are not
 *     idempotent: the daemon's skipping of transactions at or below DurableLsn() keeps the archive free of
 *     duplicates.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sink/durable_file.hpp"
#include "sink/sink.hpp"

namespace mosta::sidecar {

// JsonArchiveSink appends the stream to size-rotated JSON-lines files in one directory.
class JsonArchiveSink final : public Sink {
  public:
	// JsonArchiveSink creates directory if needed and recovers from its newest file; throws std::system_error,
	// std::invalid_argument (max_file_bytes 0) or std::runtime_error (an archive file it cannot read).
	JsonArchiveSink(std::string directory, std::uint64_t max_file_bytes);

	// ~JsonArchiveSink discards what is not durable.
	~JsonArchiveSink() override;

	JsonArchiveSink(const JsonArchiveSink &) = delete;
	JsonArchiveSink &operator=(const JsonArchiveSink &) = delete;

	std::string_view Name() const noexcept override;
	Lsn DurableLsn() const noexcept override;
	void BeginTransaction(Lsn commit_lsn) override;
	void Apply(const Change &change) override;
	void CommitTransaction(Lsn commit_lsn, Lsn end_lsn) override;
	void Flush() override;
	void Rollback() noexcept override;

	// FileName returns the archive file name for a file whose first transaction commits at lsn.
	static std::string FileName(Lsn lsn);

  private:
	// Recover opens the newest file, cuts its partial tail and reads DurableLsn().
	void Recover();

	std::string directory_;
	std::uint64_t max_file_bytes_;
	std::string name_;
	std::unique_ptr<DurableFile> file_; // the newest file, null before the first transaction
	std::string buffer_;
	Lsn durable_lsn_ = kInvalidLsn;
	std::uint64_t durable_size_ = 0; // size of file_ up to its last synced commit line
	bool source_open_ = false;
	bool cut_pending_ = false; // a Rollback could not cut the file; retried at the next BeginTransaction
	Lsn source_commit_lsn_ = kInvalidLsn;
};

} // namespace mosta::sidecar
