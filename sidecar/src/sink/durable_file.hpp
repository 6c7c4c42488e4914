/*
 * durable_file.hpp
 *     DurableFile: an append-only file whose writes count only once fdatasync'd, for the file sinks (SQL dump,
 *     JSON archive). POSIX calls, errors as std::system_error naming the path; the descriptor closes on
 *     destruction. SyncDirectory makes a new file's directory entry durable. FindLastLine finds a sink's last
 *     commit or checkpoint line reading backwards in bounded chunks, so recovery from a long partial tail costs
 *     time, not memory.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mosta::sidecar {

// DurableFile is one open file (created when missing), written at its end.
class DurableFile {
  public:
	// DurableFile opens path read-write, creating it (mode 0644) when missing; throws std::system_error.
	explicit DurableFile(std::string path);

	// ~DurableFile closes the descriptor (unsynced data may be lost, which is the contract).
	~DurableFile();

	DurableFile(const DurableFile &) = delete;
	DurableFile &operator=(const DurableFile &) = delete;

	// Path returns the file's path.
	const std::string &
	Path() const noexcept {
		return path_;
	}

	// Size returns the current size in bytes (what was appended, synced or not).
	std::uint64_t
	Size() const noexcept {
		return size_;
	}

	// Append writes data at the end of the file, all of it or throws.
	void Append(std::string_view data);

	// Sync fdatasyncs the file: everything appended so far is on disk when it returns.
	void Sync();

	// Truncate cuts the file to size bytes (and syncs the cut), e.g. to drop a partial tail.
	void Truncate(std::uint64_t size);

	// ReadAt returns up to length bytes at offset.
	std::string ReadAt(std::uint64_t offset, std::size_t length) const;

  private:
	std::string path_;
	int fd_ = -1;
	std::uint64_t size_ = 0;
};

// A complete line found by FindLastLine: the file offset just past its newline, and its text without the newline.
struct FoundLine {
	std::uint64_t end_offset;
	std::string text;
};

// FindLastLine returns the last complete line of file (ended by '\n') that starts with prefix, is at most
// kMaxFoundLineBytes long and is taken by accept; nullopt when there is none. Lines are read backwards in chunks
// of 64 KiB, so memory stays bounded however long the file's tail is.
std::optional<FoundLine> FindLastLine(const DurableFile &file, std::string_view prefix,
									  const std::function<bool(std::string_view)> &accept);

// kMaxFoundLineBytes bounds the lines FindLastLine returns (commit and checkpoint lines are short).
constexpr std::size_t kMaxFoundLineBytes = 4096;

// SyncDirectory fsyncs the directory at path, so that a file just created in it survives a crash.
void SyncDirectory(const std::string &path);

} // namespace mosta::sidecar
