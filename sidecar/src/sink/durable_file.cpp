/*
 * durable_file.cpp
 *     DurableFile and SyncDirectory on POSIX file descriptors (open, pwrite, fdatasync, ftruncate, fsync), and
 *     FindLastLine, a backward scan of a file in bounded chunks.
 */
#include "sink/durable_file.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mosta::sidecar {

namespace {

// kScanChunkBytes is how much of the file FindLastLine reads at a time.
constexpr std::size_t kScanChunkBytes = 64 * 1024;

// ThrowErrno throws std::system_error for errno, naming the operation and the path.
[[noreturn]] void
ThrowErrno(std::string_view what, const std::string &path) {
	throw std::system_error(errno, std::generic_category(), std::string(what) + " " + path);
}

} // namespace

// DurableFile opens or creates path and reads its size.
DurableFile::DurableFile(std::string path) : path_(std::move(path)) {
	fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd_ < 0)
		ThrowErrno("cannot open", path_);
	struct stat status {};
	if (::fstat(fd_, &status) != 0) {
		int saved = errno;
		::close(fd_);
		errno = saved;
		ThrowErrno("cannot stat", path_);
	}
	size_ = static_cast<std::uint64_t>(status.st_size);
}

// ~DurableFile closes the descriptor.
DurableFile::~DurableFile() {
	if (fd_ >= 0)
		::close(fd_);
}

// Append loops over pwrite until data is written, retrying on EINTR.
void
DurableFile::Append(std::string_view data) {
	while (!data.empty()) {
		ssize_t written = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(size_));
		if (written < 0) {
			if (errno == EINTR)
				continue;
			ThrowErrno("cannot write to", path_);
		}
		size_ += static_cast<std::uint64_t>(written);
		data.remove_prefix(static_cast<std::size_t>(written));
	}
}

// Sync runs fdatasync.
void
DurableFile::Sync() {
	if (::fdatasync(fd_) != 0)
		ThrowErrno("cannot fdatasync", path_);
}

// Truncate runs ftruncate, then fdatasync.
void
DurableFile::Truncate(std::uint64_t size) {
	if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
		ThrowErrno("cannot truncate", path_);
	size_ = size;
	Sync();
}

// ReadAt loops over pread until length bytes or the end of the file.
std::string
DurableFile::ReadAt(std::uint64_t offset, std::size_t length) const {
	std::string data(length, '\0');
	std::size_t done = 0;
	while (done < length) {
		ssize_t got = ::pread(fd_, data.data() + done, length - done, static_cast<off_t>(offset + done));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			ThrowErrno("cannot read", path_);
		}
		if (got == 0)
			break;
		done += static_cast<std::size_t>(got);
	}
	data.resize(done);
	return data;
}

// FindLastLine reads chunks from the end of the file, each with the byte before it (to see whether a match starts
// a line) and the prefix's length after it (so that a match straddling two chunks is found); every match that
// starts a line is read on its own, up to its newline.
std::optional<FoundLine>
FindLastLine(const DurableFile &file, std::string_view prefix, const std::function<bool(std::string_view)> &accept) {
	std::uint64_t size = file.Size();
	for (std::uint64_t end = size; end > 0;) {
		std::uint64_t start = end > kScanChunkBytes ? end - kScanChunkBytes : 0;
		std::uint64_t from = start > 0 ? start - 1 : 0;
		std::uint64_t to = std::min<std::uint64_t>(size, end + prefix.size());
		std::string chunk = file.ReadAt(from, static_cast<std::size_t>(to - from));
		// Matches at file offsets [start, end): positions [start - from, end - from) of chunk.
		std::size_t pos = static_cast<std::size_t>(end - from);
		while (pos > start - from) {
			pos = chunk.rfind(prefix, pos - 1);
			if (pos == std::string::npos || pos < start - from)
				break;
			if (pos > 0 ? chunk[pos - 1] != '\n' : from != 0)
				continue;
			std::uint64_t line_at = from + pos;
			std::string line = file.ReadAt(line_at, kMaxFoundLineBytes + 1);
			std::size_t newline = line.find('\n');
			if (newline == std::string::npos)
				continue;
			line.resize(newline);
			if (accept(line))
				return FoundLine{line_at + newline + 1, std::move(line)};
		}
		end = start;
	}
	return std::nullopt;
}

// SyncDirectory opens the directory read-only and fsyncs it.
void
SyncDirectory(const std::string &path) {
	int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		ThrowErrno("cannot open directory", path);
	if (::fsync(fd) != 0) {
		int saved = errno;
		::close(fd);
		errno = saved;
		ThrowErrno("cannot fsync directory", path);
	}
	::close(fd);
}

} // namespace mosta::sidecar
