/*
 * sql_dump_sink.cpp
 *     SqlDumpSink: opening and recovery, and the SinkCore hooks: transactions, checkpoint lines and fdatasync
 *     through SpooledTransaction (see sql_dump_sink.hpp; the statements are in sql_dump_apply.cpp and
 * sql_dump_ddl.cpp).
 */
#include "sink/sql_dump_sink.hpp"

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
	: SinkCore("SQL dump sink", GroupPolicy{}), path_(std::move(path)), name_("sql-dump:" + path_),
	  ddl_collections_(std::move(ddl_collections)) {
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
			RestoreDurableLsn(*scan.lsn);
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

// OpenSource starts the transaction with BEGIN.
void
SqlDumpSink::OpenSource(Lsn commit_lsn) {
	static_cast<void>(commit_lsn);
	spool_.Begin();
	if (types_stale_) {
		types_ = committed_types_;
		types_stale_ = false;
	}
	spool_.Append("BEGIN;\n");
}

// InsertRow writes the upsert of the new row.
void
SqlDumpSink::InsertRow(const Change &change) {
	WriteUpsert(Table(change), change.new_row);
}

// UpdateRow writes an update.
void
SqlDumpSink::UpdateRow(const Change &change) {
	WriteUpdate(Table(change), change);
}

// DeleteRow writes a delete.
void
SqlDumpSink::DeleteRow(const Change &change) {
	WriteDelete(Table(change), change);
}

// TruncateTables writes the truncate of the listed tables.
void
SqlDumpSink::TruncateTables(const Change &change) {
	WriteTruncate(change);
}

// ApplyMessage follows a mostajs.type or mostajs.ddl message.
void
SqlDumpSink::ApplyMessage(const Change &change) {
	if (change.prefix == kTypePrefix)
		WriteTypeMessage(change);
	else
		WriteDdl(change);
}

// RecordCheckpoint writes COMMIT and the checkpoint line up to its CRC field.
void
SqlDumpSink::RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) {
	static_cast<void>(commit_lsn);
	// the checkpoint line carries the CRC of the file up to its own CRC field (sql_dump_scan.hpp)
	spool_.Append("COMMIT;\n" + std::string(kCheckpointPrefix) + FormatLsn(end_lsn));
}

// MakeGroupDurable ends the checkpoint line with its CRC and fdatasyncs; the types written become the durable ones.
void
SqlDumpSink::MakeGroupDurable(Lsn pending_lsn) {
	static_cast<void>(pending_lsn);
	spool_.Commit(FormatSqlDumpCrc(spool_.RunningCrc()) + "\n");
	if (types_changed_) {
		committed_types_ = types_;
		types_changed_ = false;
	}
}

// DiscardGroup forgets declared tables (their DDL may be cut too) and cuts the file back to the last checkpoint
// (when that fails, the next BeginTransaction retries it and throws if it fails again).
void
SqlDumpSink::DiscardGroup() noexcept {
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
}

} // namespace mosta::sidecar
