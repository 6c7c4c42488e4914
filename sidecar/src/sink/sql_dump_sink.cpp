/*
 * sql_dump_sink.cpp
 *     SqlDumpSink: opening and recovery, the transaction buffer, checkpoint lines and fdatasync (see
 *     sql_dump_sink.hpp; the statements are in sql_dump_apply.cpp).
 */
#include "sink/sql_dump_sink.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <utility>

namespace mosta::sidecar {

namespace {

// The first lines of a new dump.
constexpr std::string_view kHeader =
	"-- mostajs SQL dump (docs/protocol.md): replay with psql -X -v ON_ERROR_STOP=1 -f\n"
	"SET client_encoding = 'UTF8';\n"
	"SET standard_conforming_strings = on;\n";

// kFirstTailBytes is how much of the file's end recovery reads first; it reads 4 times more each round.
constexpr std::size_t kFirstTailBytes = 64 * 1024;

// A checkpoint line found in the file: where the file may be cut and the LSN it records.
struct FoundCheckpoint {
	std::uint64_t end_offset;
	Lsn lsn;
};

// LastCheckpoint returns the last complete checkpoint line of tail (which starts at file offset start).
std::optional<FoundCheckpoint>
LastCheckpoint(const std::string &tail, std::uint64_t start) {
	std::size_t pos = tail.size();
	while (pos > 0) {
		pos = tail.rfind(SqlDumpSink::kCheckpointPrefix, pos - 1);
		if (pos == std::string::npos)
			return std::nullopt;
		bool line_start = pos > 0 ? tail[pos - 1] == '\n' : start == 0;
		std::size_t newline = tail.find('\n', pos);
		if (!line_start || newline == std::string::npos)
			continue;
		std::size_t lsn_at = pos + SqlDumpSink::kCheckpointPrefix.size();
		std::optional<Lsn> lsn = ParseLsn(std::string_view(tail).substr(lsn_at, newline - lsn_at));
		if (lsn)
			return FoundCheckpoint{start + newline + 1, *lsn};
	}
	return std::nullopt;
}

} // namespace

// SqlDumpSink opens the file and recovers.
SqlDumpSink::SqlDumpSink(std::string path, std::vector<std::string> ddl_collections)
	: path_(std::move(path)), name_("sql-dump:" + path_), ddl_collections_(std::move(ddl_collections)) {
	if (path_.empty())
		throw std::invalid_argument("SQL dump sink: the file path is empty");
	file_ = std::make_unique<DurableFile>(path_);
	Recover();
}

// ~SqlDumpSink rolls back the open transaction.
SqlDumpSink::~SqlDumpSink() {
	Rollback();
}

// Recover reads ever larger tails until one holds a complete checkpoint line, or the whole file does not.
void
SqlDumpSink::Recover() {
	std::uint64_t size = file_->Size();
	std::optional<FoundCheckpoint> found;
	for (std::uint64_t window = kFirstTailBytes;; window *= 4) {
		std::uint64_t start = size > window ? size - window : 0;
		found = LastCheckpoint(file_->ReadAt(start, static_cast<std::size_t>(size - start)), start);
		if (found || start == 0)
			break;
	}
	if (found) {
		durable_lsn_ = found->lsn;
		durable_size_ = found->end_offset;
		redeclare_ = true;
		if (size != durable_size_)
			file_->Truncate(durable_size_);
		return;
	}
	if (size != 0)
		file_->Truncate(0);
	file_->Append(kHeader);
	file_->Sync();
	SyncDirectory(std::filesystem::path(path_).parent_path().empty() ? "."
																	 : std::filesystem::path(path_).parent_path());
	durable_size_ = file_->Size();
}

// Name returns "sql-dump:<path>".
std::string_view
SqlDumpSink::Name() const noexcept {
	return name_;
}

// DurableLsn returns the last synced checkpoint.
Lsn
SqlDumpSink::DurableLsn() const noexcept {
	return durable_lsn_;
}

// BeginTransaction starts the buffer with BEGIN.
void
SqlDumpSink::BeginTransaction(Lsn commit_lsn) {
	if (poisoned_ || source_open_)
		throw std::logic_error(poisoned_ ? "SQL dump sink: BeginTransaction after a failed Apply, call Rollback()"
										 : "SQL dump sink: BeginTransaction while a source transaction is open");
	if (cut_pending_) {
		file_->Truncate(durable_size_);
		cut_pending_ = false;
	}
	buffer_ = "BEGIN;\n";
	source_open_ = true;
	source_commit_lsn_ = commit_lsn;
}

// Apply buffers the statements of one change; a failure poisons the transaction.
void
SqlDumpSink::Apply(const Change &change) {
	if (poisoned_ || !source_open_)
		throw std::logic_error(poisoned_ ? "SQL dump sink: Apply after a failed Apply, call Rollback()"
										 : "SQL dump sink: Apply outside BeginTransaction/CommitTransaction");
	try {
		switch (change.op) {
		case Op::Insert:
			WriteUpsert(Table(change), change.new_row);
			break;
		case Op::Update:
			WriteUpdate(Table(change), change);
			break;
		case Op::Delete:
			WriteDelete(Table(change), change);
			break;
		case Op::Truncate:
			WriteTruncate(change);
			break;
		case Op::Message:
			WriteDdl(change);
			break;
		default:
			throw std::invalid_argument("SQL dump sink: Apply takes row changes, truncates and messages, not " +
										std::string(OpName(change.op)));
		}
	} catch (...) {
		poisoned_ = true;
		throw;
	}
}

// CommitTransaction writes the buffer with COMMIT and the checkpoint line, then fdatasyncs.
void
SqlDumpSink::CommitTransaction(Lsn commit_lsn, Lsn end_lsn) {
	if (poisoned_ || !source_open_)
		throw std::logic_error(poisoned_ ? "SQL dump sink: CommitTransaction after a failed Apply, call Rollback()"
										 : "SQL dump sink: CommitTransaction without BeginTransaction");
	if (commit_lsn != source_commit_lsn_)
		throw std::logic_error("SQL dump sink: CommitTransaction(" + FormatLsn(commit_lsn) +
							   ") does not match BeginTransaction(" + FormatLsn(source_commit_lsn_) + ")");
	if (end_lsn == kInvalidLsn)
		throw std::invalid_argument("SQL dump sink: end LSN 0/0 (the slot must be read with include-lsn=on)");
	buffer_ += "COMMIT;\n";
	buffer_ += kCheckpointPrefix;
	buffer_ += FormatLsn(end_lsn) + "\n";
	try {
		file_->Append(buffer_);
		file_->Sync();
	} catch (...) {
		Rollback();
		throw;
	}
	buffer_.clear();
	source_open_ = false;
	durable_size_ = file_->Size();
	durable_lsn_ = std::max(durable_lsn_, end_lsn);
}

// Flush has nothing to do: every CommitTransaction is synced.
void
SqlDumpSink::Flush() {
	if (poisoned_ || source_open_)
		throw std::logic_error(poisoned_ ? "SQL dump sink: Flush after a failed Apply, call Rollback()"
										 : "SQL dump sink: Flush inside a source transaction");
}

// Rollback drops the buffer, forgets declared tables (their DDL may be dropped too) and cuts the file back.
void
SqlDumpSink::Rollback() noexcept {
	buffer_.clear();
	tables_.clear();
	schemas_.clear();
	redeclare_ = true;
	source_open_ = false;
	poisoned_ = false;
	if (file_ && file_->Size() != durable_size_) {
		try {
			file_->Truncate(durable_size_);
		} catch (const std::exception &) {
			cut_pending_ = true; // BeginTransaction retries the cut, and throws if it fails again
		}
	}
}

} // namespace mosta::sidecar
