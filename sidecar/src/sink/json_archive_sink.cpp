/*
 * json_archive_sink.cpp
 *     JsonArchiveSink: recovery from the newest file, rotation, begin and commit lines, and the SinkCore hooks that
 *     write the transactions through SpooledTransaction (see json_archive_sink.hpp).
 */
#include "sink/json_archive_sink.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mosta::sidecar {

namespace {

constexpr std::string_view kFilePrefix = "archive-";
constexpr std::string_view kFileSuffix = ".jsonl";
constexpr std::string_view kCommitPrefix = R"({"op":"commit",)";

// kMaxCommitTimeBytes bounds a commit time (a timestamptz text is about 32 bytes), so that a commit line, even
// escaped, stays well within what recovery reads of it (kMaxFoundLineBytes).
constexpr std::size_t kMaxCommitTimeBytes = 128;
static_assert(6 * kMaxCommitTimeBytes + 256 < kMaxFoundLineBytes);

// ArchiveFiles returns the archive files of directory (and symbolic links so named), oldest first.
std::vector<std::filesystem::path>
ArchiveFiles(const std::string &directory) {
	std::vector<std::filesystem::path> files;
	for (const auto &entry : std::filesystem::directory_iterator(directory)) {
		std::string name = entry.path().filename().string();
		if ((entry.is_regular_file() || entry.is_symlink()) &&
			name.size() == kFilePrefix.size() + 16 + kFileSuffix.size() &&
			name.compare(0, kFilePrefix.size(), kFilePrefix) == 0 &&
			name.compare(name.size() - kFileSuffix.size(), kFileSuffix.size(), kFileSuffix) == 0)
			files.push_back(entry.path());
	}
	std::sort(files.begin(), files.end());
	return files;
}

// RefuseForeignFile throws unless file is empty or starts as every archive file does, with a begin line (or a
// prefix of one): only the sink's own files are cut, truncated or removed; other files are never touched.
void
RefuseForeignFile(const DurableFile &file) {
	constexpr std::string_view kBeginPrefix = R"({"op":"begin",)";
	std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(file.Size(), kBeginPrefix.size()));
	if (file.ReadAt(0, length) != kBeginPrefix.substr(0, length))
		throw std::runtime_error("JSON archive sink: " + file.Path() +
								 " has an archive file's name but not its content (no begin line): refusing to "
								 "touch a file the sidecar did not create");
}

// AppendJsonString appends text as a JSON string: quotes, backslash and control characters escaped, other bytes
// (UTF-8) as they are.
void
AppendJsonString(std::string &out, std::string_view text) {
	static constexpr char kHex[] = "0123456789abcdef";
	out += '"';
	for (char c : text) {
		auto byte = static_cast<unsigned char>(c);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += c;
		} else if (byte < 0x20) {
			out += "\\u00";
			out += kHex[byte >> 4];
			out += kHex[byte & 0xf];
		} else {
			out += c;
		}
	}
	out += '"';
}

} // namespace

// JsonArchiveSink creates the directory and recovers.
JsonArchiveSink::JsonArchiveSink(std::string directory, std::uint64_t max_file_bytes)
	: SinkCore("JSON archive sink", GroupPolicy{}), directory_(std::move(directory)), max_file_bytes_(max_file_bytes),
	  name_("json-archive:" + directory_) {
	if (directory_.empty())
		throw std::invalid_argument("JSON archive sink: the directory is empty");
	if (max_file_bytes_ == 0)
		throw std::invalid_argument("JSON archive sink: max_file_bytes must be at least 1");
	std::error_code error;
	if (std::filesystem::exists(directory_, error) && !std::filesystem::is_directory(directory_, error))
		throw std::runtime_error("JSON archive sink: " + directory_ + " exists and is not a directory");
	std::filesystem::create_directories(directory_);
	Recover();
}

// ~JsonArchiveSink rolls back the open transaction.
JsonArchiveSink::~JsonArchiveSink() {
	Rollback();
}

// FileName prints archive-%016X.jsonl.
std::string
JsonArchiveSink::FileName(Lsn lsn) {
	char hex[17];
	std::snprintf(hex, sizeof hex, "%016llX", static_cast<unsigned long long>(lsn));
	return std::string(kFilePrefix) + hex + std::string(kFileSuffix);
}

// Recover finds the last commit line of the newest file from its end and cuts the file after it; a newest file
// without one is removed and the one before it is tried.
void
JsonArchiveSink::Recover() {
	std::vector<std::filesystem::path> files = ArchiveFiles(directory_);
	for (const std::filesystem::path &path : files) {
		if (std::filesystem::is_symlink(path))
			throw std::runtime_error("JSON archive sink: " + path.string() +
									 " is a symbolic link: refusing to write through it");
		RefuseForeignFile(DurableFile(path.string()));
	}
	while (!files.empty()) {
		auto file = std::make_unique<DurableFile>(files.back().string());
		std::optional<FoundLine> commit = FindLastLine(*file, kCommitPrefix, [](std::string_view) { return true; });
		if (commit) {
			std::optional<Lsn> lsn = ParseChange(commit->text)->end_lsn;
			if (*lsn == kInvalidLsn)
				throw std::runtime_error("JSON archive sink: commit line without end_lsn in " + file->Path());
			RestoreDurableLsn(*lsn);
			if (file->Size() != commit->end_offset)
				file->Truncate(commit->end_offset);
			spool_.Attach(std::move(file));
			return;
		}
		file.reset();
		std::filesystem::remove(files.back());
		SyncDirectory(directory_);
		files.pop_back();
	}
}

// Name returns "json-archive:<directory>".
std::string_view
JsonArchiveSink::Name() const noexcept {
	return name_;
}

// OpenSource settles the file (a pending cut, rotation); the begin line waits for NoteCommitTime.
void
JsonArchiveSink::OpenSource(Lsn commit_lsn) {
	spool_.Begin();
	Rotate(commit_lsn);
	begin_written_ = false;
	commit_time_.clear();
}

// Rotate creates the file named after commit_lsn when there is no file yet or the current one is full; a current
// file left empty by a rolled-back transaction is replaced by it too (and removed), as it is named after another
// transaction.
void
JsonArchiveSink::Rotate(Lsn commit_lsn) {
	std::string path = (std::filesystem::path(directory_) / FileName(commit_lsn)).string();
	DurableFile *current = spool_.File();
	if (current != nullptr && (current->Size() == 0 ? current->Path() == path : current->Size() < max_file_bytes_))
		return;
	std::string stale = current != nullptr && current->Size() == 0 ? current->Path() : std::string();
	auto next = std::make_unique<DurableFile>(path);
	if (next->Size() != 0)
		next->Truncate(0); // left by a crash before its first commit was synced
	spool_.Attach(std::move(next));
	written_relations_.clear(); // each file describes its own relations
	if (!stale.empty())
		std::filesystem::remove(stale);
	SyncDirectory(directory_);
}

// NoteCommitTime keeps commit_time for the begin and commit lines, refusing an overlong one.
void
JsonArchiveSink::NoteCommitTime(std::string_view commit_time) {
	if (!SourceOpen() || begin_written_)
		throw std::logic_error(SourceOpen()
								   ? "JSON archive sink: NoteCommitTime after Apply"
								   : "JSON archive sink: NoteCommitTime outside BeginTransaction/CommitTransaction");
	if (commit_time.size() > kMaxCommitTimeBytes)
		throw std::invalid_argument("JSON archive sink: a commit time of " + std::to_string(commit_time.size()) +
									" bytes, more than a timestamp can take");
	commit_time_ = commit_time;
}

// WriteBeginLine writes {"op":"begin","format_version":N,"ts":...,"commit_lsn":...} once per transaction:
// format_version is the protocol version of the transaction's documents, so an archive that spans an upgrade of the
// sidecar says how to read each transaction: kFormatVersion for a streamed transaction (NoteCommitTime was called),
// kCopyFormatVersion for the initial copy and non-transactional messages (whose documents are the same in both).
void
JsonArchiveSink::WriteBeginLine() {
	if (begin_written_)
		return;
	int version = commit_time_.empty() ? kCopyFormatVersion : kFormatVersion;
	std::string line = R"({"op":"begin","format_version":)" + std::to_string(version) + ",";
	if (!commit_time_.empty()) {
		line += R"("ts":)";
		AppendJsonString(line, commit_time_);
		line += ',';
	}
	line += R"("commit_lsn":")" + FormatLsn(SourceCommitLsn()) + "\"}\n";
	spool_.Append(line);
	begin_written_ = true;
}

// ApplyChange writes the change's document verbatim, after the begin line.
void
JsonArchiveSink::ApplyChange(const Change &change) {
	if (change.op == Op::Begin || change.op == Op::Commit)
		throw std::invalid_argument("JSON archive sink: Apply does not take " + std::string(OpName(change.op)) +
									" documents; the sink writes its own begin and commit lines");
	if (change.raw.empty() || change.raw.find('\n') != std::string::npos)
		throw std::invalid_argument("JSON archive sink: a " + std::string(OpName(change.op)) +
									" change without its one-line document text (Change::raw)");
	WriteBeginLine();
	if (change.relation && !change.relation->document.empty())
		WriteRelationLine(change.relation);
	spool_.Append(change.raw);
	spool_.Append("\n");
}

// WriteRelationLine writes a version-3 row change's relation document before it, unless this file already has the
// same description of the relation: every archive file is a protocol stream of its own.
void
JsonArchiveSink::WriteRelationLine(const std::shared_ptr<const RelationSchema> &relation) {
	auto [written, added] = written_relations_.try_emplace(relation->relid, relation);
	if (!added) {
		if (written->second == relation)
			return;
		bool same = written->second->document == relation->document; // a new session describes it again
		written->second = relation;
		if (same)
			return;
	}
	spool_.Append(relation->document);
	spool_.Append("\n");
}

// RecordCheckpoint writes the begin line if not yet written, then the commit line.
void
JsonArchiveSink::RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) {
	std::string line = R"({"op":"commit",)";
	if (!commit_time_.empty()) {
		line += R"("ts":)";
		AppendJsonString(line, commit_time_);
		line += ',';
	}
	line += R"("lsn":")" + FormatLsn(commit_lsn) + R"(","end_lsn":")" + FormatLsn(end_lsn) + "\"}\n";
	WriteBeginLine();
	spool_.Append(line);
}

// MakeGroupDurable writes the rest of the transaction and fdatasyncs.
void
JsonArchiveSink::MakeGroupDurable(Lsn pending_lsn) {
	static_cast<void>(pending_lsn);
	spool_.Commit({});
}

// DiscardGroup cuts anything written past the last commit line (when that fails, the next BeginTransaction retries
// it and throws if it fails again).
void
JsonArchiveSink::DiscardGroup() noexcept {
	spool_.Rollback();
	written_relations_.clear(); // the cut may have taken relation lines with it
}

} // namespace mosta::sidecar
