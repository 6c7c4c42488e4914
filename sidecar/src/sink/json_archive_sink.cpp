/*
 * json_archive_sink.cpp
 *     JsonArchiveSink: recovery from the newest file, buffering, rotation and fdatasync (see json_archive_sink.hpp).
 */
#include "sink/json_archive_sink.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mosta::sidecar {

namespace {

constexpr std::string_view kFilePrefix = "archive-";
constexpr std::string_view kFileSuffix = ".jsonl";
constexpr std::string_view kCommitPrefix = R"({"op":"commit",)";

// ArchiveFiles returns the archive files of directory, oldest first.
std::vector<std::filesystem::path>
ArchiveFiles(const std::string &directory) {
	std::vector<std::filesystem::path> files;
	for (const auto &entry : std::filesystem::directory_iterator(directory)) {
		std::string name = entry.path().filename().string();
		if (entry.is_regular_file() && name.size() == kFilePrefix.size() + 16 + kFileSuffix.size() &&
			name.compare(0, kFilePrefix.size(), kFilePrefix) == 0 &&
			name.compare(name.size() - kFileSuffix.size(), kFileSuffix.size(), kFileSuffix) == 0)
			files.push_back(entry.path());
	}
	std::sort(files.begin(), files.end());
	return files;
}

} // namespace

// JsonArchiveSink creates the directory and recovers.
JsonArchiveSink::JsonArchiveSink(std::string directory, std::uint64_t max_file_bytes)
	: directory_(std::move(directory)), max_file_bytes_(max_file_bytes), name_("json-archive:" + directory_) {
	if (directory_.empty())
		throw std::invalid_argument("JSON archive sink: the directory is empty");
	if (max_file_bytes_ == 0)
		throw std::invalid_argument("JSON archive sink: max_file_bytes must be at least 1");
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

// Recover reads the newest file (files are bounded by rotation) and cuts it after its last commit line; a
// newest file without one is removed and the one before it is tried.
void
JsonArchiveSink::Recover() {
	std::vector<std::filesystem::path> files = ArchiveFiles(directory_);
	while (!files.empty()) {
		auto file = std::make_unique<DurableFile>(files.back().string());
		std::string text = file->ReadAt(0, static_cast<std::size_t>(file->Size()));
		std::size_t keep = 0;
		std::string_view commit;
		for (std::size_t pos = 0, newline; (newline = text.find('\n', pos)) != std::string::npos; pos = newline + 1) {
			std::string_view line = std::string_view(text).substr(pos, newline - pos);
			if (line.substr(0, kCommitPrefix.size()) == kCommitPrefix) {
				keep = newline + 1;
				commit = line;
			}
		}
		if (keep != 0) {
			std::optional<Lsn> lsn = ParseLsn(ParseChange(commit).end_lsn);
			if (!lsn)
				throw std::runtime_error("JSON archive sink: commit line without end_lsn in " + file->Path());
			durable_lsn_ = *lsn;
			durable_size_ = keep;
			if (file->Size() != keep)
				file->Truncate(keep);
			file_ = std::move(file);
			return;
		}
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

// DurableLsn returns the end LSN of the last synced commit line.
Lsn
JsonArchiveSink::DurableLsn() const noexcept {
	return durable_lsn_;
}

// BeginTransaction starts the buffer with a begin line.
void
JsonArchiveSink::BeginTransaction(Lsn commit_lsn) {
	if (source_open_)
		throw std::logic_error("JSON archive sink: BeginTransaction while a source transaction is open");
	if (cut_pending_ && file_) {
		file_->Truncate(durable_size_);
		cut_pending_ = false;
	}
	buffer_ = R"({"op":"begin","commit_lsn":")" + FormatLsn(commit_lsn) + "\"}\n";
	source_open_ = true;
	source_commit_lsn_ = commit_lsn;
}

// Apply buffers the change's document verbatim.
void
JsonArchiveSink::Apply(const Change &change) {
	if (!source_open_)
		throw std::logic_error("JSON archive sink: Apply outside BeginTransaction/CommitTransaction");
	if (change.raw.empty() || change.raw.find('\n') != std::string::npos)
		throw std::invalid_argument("JSON archive sink: a " + std::string(OpName(change.op)) +
									" change without its one-line document text (Change::raw)");
	buffer_ += change.raw;
	buffer_ += '\n';
}

// CommitTransaction rotates if the current file is full, writes the buffer and a commit line, then fdatasyncs.
void
JsonArchiveSink::CommitTransaction(Lsn commit_lsn, Lsn end_lsn) {
	if (!source_open_)
		throw std::logic_error("JSON archive sink: CommitTransaction without BeginTransaction");
	if (commit_lsn != source_commit_lsn_)
		throw std::logic_error("JSON archive sink: CommitTransaction(" + FormatLsn(commit_lsn) +
							   ") does not match BeginTransaction(" + FormatLsn(source_commit_lsn_) + ")");
	if (end_lsn == kInvalidLsn)
		throw std::invalid_argument("JSON archive sink: end LSN 0/0 (the slot must be read with include-lsn=on)");
	buffer_ += R"({"op":"commit","lsn":")" + FormatLsn(commit_lsn) + R"(","end_lsn":")" + FormatLsn(end_lsn) + "\"}\n";
	try {
		if (!file_ || file_->Size() >= max_file_bytes_) {
			std::string path = (std::filesystem::path(directory_) / FileName(commit_lsn)).string();
			auto next = std::make_unique<DurableFile>(path);
			if (next->Size() != 0)
				next->Truncate(0); // left by a crash before its first commit was synced
			SyncDirectory(directory_);
			file_ = std::move(next);
			durable_size_ = 0;
		}
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
JsonArchiveSink::Flush() {
	if (source_open_)
		throw std::logic_error("JSON archive sink: Flush inside a source transaction");
}

// Rollback drops the buffer and cuts anything written past the last commit line.
void
JsonArchiveSink::Rollback() noexcept {
	buffer_.clear();
	source_open_ = false;
	if (file_ && file_->Size() != durable_size_) {
		try {
			file_->Truncate(durable_size_);
		} catch (const std::exception &) {
			cut_pending_ = true; // BeginTransaction retries the cut, and throws if it fails again
		}
	}
}

} // namespace mosta::sidecar
