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

namespace mosta::sidecar {

namespace {

// The first lines of a new dump.
constexpr std::string_view kHeader =
	"-- mostajs SQL dump (docs/protocol.md): replay with psql -X -v ON_ERROR_STOP=1 -f\n"
	"SET client_encoding = 'UTF8';\n"
	"SET standard_conforming_strings = on;\n";

// kMagic starts every dump this sink writes: a file that does not start with it is not ours to cut or append to.
constexpr std::string_view kMagic = "-- mostajs SQL dump ";
static_assert(kHeader.substr(0, kMagic.size()) == kMagic);

// RefuseForeignFile throws unless file is empty or starts with kMagic (or a prefix of it: a header cut by a crash).
void
RefuseForeignFile(const DurableFile &file) {
	std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(file.Size(), kMagic.size()));
	if (file.ReadAt(0, length) != kMagic.substr(0, length))
		throw std::runtime_error(
			"SQL dump sink: " + file.Path() + " exists and is not a mostajs SQL dump (it does not start with \"" +
			std::string(kMagic) + "...\"): refusing to write to a file the sidecar did not create");
}

} // namespace

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

// Recover finds the last checkpoint line from the end of the file, cuts the file after it, or restarts a file without
// one with the header; then hands the file to the spool.
void
SqlDumpSink::Recover() {
	auto file = std::make_unique<DurableFile>(path_);
	RefuseForeignFile(*file);
	std::optional<FoundLine> found = FindLastLine(*file, kCheckpointPrefix, [](std::string_view line) {
		return ParseLsn(line.substr(kCheckpointPrefix.size())).has_value();
	});
	if (found) {
		durable_lsn_ = *ParseLsn(std::string_view(found->text).substr(kCheckpointPrefix.size()));
		redeclare_ = true;
		if (file->Size() != found->end_offset)
			file->Truncate(found->end_offset);
	} else {
		if (file->Size() != 0)
			file->Truncate(0);
		file->Append(kHeader);
		file->Sync();
		std::filesystem::path directory = std::filesystem::path(path_).parent_path();
		SyncDirectory(directory.empty() ? "." : directory.string());
	}
	spool_.Attach(std::move(file));
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
		spool_.Commit("COMMIT;\n" + std::string(kCheckpointPrefix) + FormatLsn(end_lsn) + "\n");
	} catch (...) {
		Rollback();
		throw;
	}
	source_open_ = false;
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
	tables_.clear();
	schemas_.clear();
	redeclare_ = true;
	source_open_ = false;
	poisoned_ = false;
}

} // namespace mosta::sidecar
