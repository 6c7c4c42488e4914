/*
 * sql_dump_sink.cpp
 *     SqlDumpSink: opening and recovery, transactions, checkpoint lines and fdatasync through SpooledTransaction
 *     (see sql_dump_sink.hpp; the statements are in sql_dump_apply.cpp and sql_dump_ddl.cpp).
 */
#include "sink/sql_dump_sink.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "sink/sql_dump_scan.hpp"
#include "util/crc32c.hpp"

namespace mosta::sidecar {

// SqlDumpSink opens the file and recovers.
SqlDumpSink::SqlDumpSink(std::string path, std::vector<std::string> ddl_collections)
	: path_(std::move(path)), name_("sql-dump:" + path_), ddl_collections_(std::move(ddl_collections)) {
	if (path_.empty())
		throw std::invalid_argument("SQL dump sink: the file path is empty");
	Recover();
}

// ~SqlDumpSink rolls back the open transaction.
SqlDumpSink::~SqlDumpSink() {
	Rollback();
}

// Recover checks the whole file (ScanSqlDump: damage anywhere throws, nothing is written), cuts a partial tail
// after its last checkpoint line, or writes the header into an empty file; then hands the file to the spool with
// the running CRC, and takes the types it holds from its type records.
void
SqlDumpSink::Recover() {
	auto file = std::make_unique<DurableFile>(path_);
	SqlDumpScan scan = ScanSqlDump(*file);
	if (scan.empty) {
		if (file->Size() != 0)
			file->Truncate(0);
		file->Append(kSqlDumpHeader);
		file->Sync();
		std::filesystem::path directory = std::filesystem::path(path_).parent_path();
		SyncDirectory(directory.empty() ? "." : directory.string());
		scan.crc = Crc32cExtend(0, kSqlDumpHeader);
	} else {
		if (scan.lsn) {
			durable_lsn_ = *scan.lsn;
			redeclare_ = true;
		}
		if (file->Size() != scan.good_end)
			file->Truncate(scan.good_end);
		RestoreTypes(scan.records);
	}
	spool_.Attach(std::move(file));
	spool_.TrackCrc(scan.crc);
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

// BeginTransaction starts the transaction with BEGIN.
void
SqlDumpSink::BeginTransaction(Lsn commit_lsn) {
	if (poisoned_ || source_open_)
		throw std::logic_error(poisoned_ ? "SQL dump sink: BeginTransaction after a failed Apply, call Rollback()"
										 : "SQL dump sink: BeginTransaction while a source transaction is open");
	spool_.Begin();
	if (types_stale_) {
		types_ = committed_types_;
		types_stale_ = false;
	}
	source_open_ = true;
	spool_.Append("BEGIN;\n");
	source_commit_lsn_ = commit_lsn;
}

// Apply writes the statements of one change; a failure (a spill's too) poisons the transaction.
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
			if (change.prefix == kTypePrefix)
				WriteTypeMessage(change);
			else
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

// CommitTransaction writes the rest of the transaction, COMMIT and the checkpoint line, then fdatasyncs.
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
	try {
		// the checkpoint line carries the CRC of the file up to its own CRC field (sql_dump_scan.hpp)
		spool_.Append("COMMIT;\n" + std::string(kCheckpointPrefix) + FormatLsn(end_lsn));
		spool_.Commit(FormatSqlDumpCrc(spool_.RunningCrc()) + "\n");
	} catch (...) {
		Rollback();
		throw;
	}
	source_open_ = false;
	if (types_changed_) {
		committed_types_ = types_;
		types_changed_ = false;
	}
	durable_lsn_ = std::max(durable_lsn_, end_lsn);
}

// Flush has nothing to do: every CommitTransaction is synced.
void
SqlDumpSink::Flush() {
	if (poisoned_ || source_open_)
		throw std::logic_error(poisoned_ ? "SQL dump sink: Flush after a failed Apply, call Rollback()"
										 : "SQL dump sink: Flush inside a source transaction");
}

// Rollback forgets declared tables (their DDL may be cut too) and cuts the file back to the last checkpoint (when
// that fails, the next BeginTransaction retries it and throws if it fails again).
void
SqlDumpSink::Rollback() noexcept {
	spool_.Rollback();
	try {
		types_ = committed_types_;
	} catch (const std::exception &) {
		types_stale_ = true; // BeginTransaction copies again, and throws if it fails again
	}
	types_changed_ = false;
	tables_.clear();
	schemas_.clear();
	redeclare_ = true;
	source_open_ = false;
	poisoned_ = false;
}

} // namespace mosta::sidecar
