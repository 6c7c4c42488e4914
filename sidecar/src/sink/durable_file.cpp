/*
 * durable_file.cpp
 *     DurableFile and SyncDirectory on POSIX file descriptors (open, pwrite, fdatasync, ftruncate, fsync).
 */
#include "sink/durable_file.hpp"

#include <cerrno>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mosta::sidecar {

namespace {

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
