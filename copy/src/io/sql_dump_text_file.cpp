/*
 * sql_dump_text_file.cpp
 *     Buffered output, staged text files with part files, and the line reader (sql_dump_text_file.hpp).
 */
#include "io/sql_dump_text_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace mosta::copy {

namespace {

// kInputChunk is the size of the reads of a backup file (the line buffer grows past it for a longer line).
constexpr std::size_t kInputChunk = 1 << 20;

// WriteAll writes data to fd; throws CopyError naming path.
void
WriteAll(int fd, const char *data, std::size_t size, const std::string &path) {
	while (size > 0) {
		ssize_t n = ::write(fd, data, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw CopyError("cannot write " + path + ": " + std::strerror(errno));
		}
		data += n;
		size -= static_cast<std::size_t>(n);
	}
}

} // namespace

// ---- OutputFile ----

OutputFile::~OutputFile() {
	if (fd_ >= 0)
		::close(fd_);
}

void
OutputFile::Open(const std::string &path) {
	path_ = path;
	fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd_ < 0)
		throw CopyError("cannot create " + path + ": " + std::strerror(errno));
	buffer_.reserve(kOutputChunk + kOutputChunk / 4);
}

void
OutputFile::Flush() {
	if (buffer_.empty())
		return;
	WriteAll(fd_, buffer_.data(), buffer_.size(), path_);
	buffer_.clear();
}

void
OutputFile::AppendFile(const std::string &path) {
	Flush();
	int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (in < 0)
		throw CopyError("cannot read " + path + ": " + std::strerror(errno));
	// copy_file_range copies inside the kernel; a file system that cannot falls back to read and write
	bool kernel_copy = true;
	std::vector<char> chunk;
	for (;;) {
		ssize_t n;
		if (kernel_copy) {
			n = ::copy_file_range(in, nullptr, fd_, nullptr, 1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
				kernel_copy = false;
				chunk.resize(kOutputChunk);
				continue;
			}
		} else {
			n = ::read(in, chunk.data(), chunk.size());
			if (n > 0) {
				try {
					WriteAll(fd_, chunk.data(), static_cast<std::size_t>(n), path_);
				} catch (...) {
					::close(in);
					throw;
				}
			}
		}
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			::close(in);
			throw CopyError("cannot append " + path + " to " + path_ + ": " + std::strerror(saved));
		}
	}
	::close(in);
}

void
OutputFile::Close() {
	if (fd_ < 0)
		return;
	Flush();
	int fd = fd_;
	fd_ = -1;
	if (::close(fd) != 0)
		throw CopyError("cannot write " + path_ + ": " + std::strerror(errno));
}

// ---- StagedTextFile ----

class StagedTextFile::DirectBlock : public StagedTextFile::Block {
  public:
	explicit DirectBlock(StagedTextFile &file) : file_(file) {}
	~DirectBlock() override {
		if (!ended_) {
			std::lock_guard<std::mutex> lock(file_.mutex_);
			file_.direct_open_ = false;
		}
	}
	std::string &
	Buffer() noexcept override {
		return file_.out_.Buffer();
	}
	void
	MaybeFlush() override {
		file_.out_.MaybeFlush();
	}
	void
	End() override {
		std::lock_guard<std::mutex> lock(file_.mutex_);
		file_.direct_open_ = false;
		++file_.blocks_in_file_;
		ended_ = true;
	}

  private:
	StagedTextFile &file_;
	bool ended_ = false;
};

class StagedTextFile::PartBlock : public StagedTextFile::Block {
  public:
	PartBlock(StagedTextFile &file, std::size_t order, const std::string &path) : file_(file), order_(order) {
		out_.Open(path);
	}
	std::string &
	Buffer() noexcept override {
		return out_.Buffer();
	}
	void
	MaybeFlush() override {
		out_.MaybeFlush();
	}
	void
	End() override {
		out_.Close();
		std::lock_guard<std::mutex> lock(file_.mutex_);
		file_.pending_[order_] = out_.Path();
	}

  private:
	StagedTextFile &file_;
	std::size_t order_;
	OutputFile out_;
};

StagedTextFile::StagedTextFile(std::string final_path, bool parts, std::string separator)
	: staged_(std::move(final_path)), parts_(parts), separator_(std::move(separator)) {}

StagedTextFile::~StagedTextFile() {
	if (!committed_)
		Abort();
}

std::string
StagedTextFile::PartPath(std::size_t order) const {
	return staged_.Temporary() + ".part" + std::to_string(order);
}

void
StagedTextFile::Begin(std::string_view header) {
	out_.Open(staged_.Temporary());
	out_.Buffer().append(header);
	out_.MaybeFlush();
}

std::unique_ptr<StagedTextFile::Block>
StagedTextFile::OpenBlock(std::size_t order) {
	std::unique_lock<std::mutex> lock(mutex_);
	++blocks_opened_;
	if (!parts_ && !direct_open_) {
		direct_open_ = true;
		if (blocks_in_file_ > 0)
			out_.Buffer().append(separator_);
		return std::make_unique<DirectBlock>(*this);
	}
	std::string path = PartPath(order);
	part_paths_.push_back(path);
	lock.unlock();
	return std::make_unique<PartBlock>(*this, order, path);
}

std::size_t
StagedTextFile::BlockCount() const {
	std::lock_guard<std::mutex> lock(mutex_);
	return blocks_opened_;
}

void
StagedTextFile::Finish(std::string_view footer) {
	std::lock_guard<std::mutex> lock(mutex_);
	if (direct_open_)
		throw CopyError(staged_.Final() + ": a table was still being written when the file was finished");
	for (const auto &[order, path] : pending_) {
		if (blocks_in_file_ > 0)
			out_.Buffer().append(separator_);
		out_.AppendFile(path);
		++blocks_in_file_;
		::unlink(path.c_str());
	}
	pending_.clear();
	if (blocks_in_file_ != blocks_opened_)
		throw CopyError(staged_.Final() + ": " + std::to_string(blocks_opened_ - blocks_in_file_) +
						" table(s) opened but never closed");
	out_.Buffer().append(footer);
	out_.Close();
	crc32c_ = FileCrc32c(staged_.Temporary(), &bytes_);
}

void
StagedTextFile::Commit() {
	staged_.Publish();
	committed_ = true;
}

void
StagedTextFile::Abort() noexcept {
	std::lock_guard<std::mutex> lock(mutex_);
	for (const std::string &path : part_paths_)
		::unlink(path.c_str());
	staged_.Discard();
}

WrittenFile
StagedTextFile::File(const std::string &kind) const {
	return WrittenFile{kind, staged_.Final(), bytes_, crc32c_};
}

// ---- LineReader ----

LineReader::LineReader(const std::string &path, std::uint64_t offset, std::uint64_t line_number)
	: path_(path), file_offset_(offset), line_number_(line_number) {
	fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd_ < 0)
		throw CopyError("cannot open " + path + ": " + std::strerror(errno));
	if (offset > 0 && ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
		int saved = errno;
		::close(fd_);
		throw CopyError("cannot seek in " + path + ": " + std::strerror(saved));
	}
	buffer_.resize(kInputChunk);
}

LineReader::~LineReader() {
	if (fd_ >= 0)
		::close(fd_);
}

bool
LineReader::Fill() {
	if (start_ > 0) {
		std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
		end_ -= start_;
		start_ = 0;
	}
	if (end_ == buffer_.size())
		buffer_.resize(buffer_.size() * 2);
	for (;;) {
		ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw CopyError("cannot read " + path_ + ": " + std::strerror(errno));
		}
		if (n == 0) {
			eof_ = true;
			return false;
		}
		end_ += static_cast<std::size_t>(n);
		file_offset_ += static_cast<std::uint64_t>(n);
		return true;
	}
}

bool
LineReader::Next(std::string_view *line) {
	std::size_t searched = start_;
	for (;;) {
		const char *begin = buffer_.data() + start_;
		const void *nl = std::memchr(buffer_.data() + searched, '\n', end_ - searched);
		if (nl != nullptr) {
			std::size_t length = static_cast<std::size_t>(static_cast<const char *>(nl) - begin);
			*line = std::string_view(begin, length);
			start_ += length + 1;
			++line_number_;
			terminated_ = true;
			return true;
		}
		if (eof_) {
			if (start_ == end_)
				return false;
			*line = std::string_view(begin, end_ - start_);
			start_ = end_;
			++line_number_;
			terminated_ = false;
			return true;
		}
		std::size_t seen = end_ - start_;
		Fill();
		searched = start_ + seen;
	}
}

} // namespace mosta::copy
