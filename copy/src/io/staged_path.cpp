/*
 * staged_path.cpp
 *     Temporary names, fsync and rename for StagedPath (staged_path.hpp).
 */
#include "io/staged_path.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <system_error>
#include <unistd.h>
#include <fcntl.h>

#include "io/source.hpp"
#include "sink/durable_file.hpp"
#include "util/crc32c.hpp"

namespace mosta::copy {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kTemporaryInfix = ".mosta-tmp.";

std::string
ParentOf(const std::string &path) {
	fs::path parent = fs::path(path).parent_path();
	return parent.empty() ? std::string(".") : parent.string();
}

// SyncPath fsyncs one file or directory.
void
SyncPath(const std::string &path) {
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw CopyError("cannot open " + path + " to fsync it: " + std::strerror(errno));
	int rc = ::fsync(fd);
	int saved = errno;
	::close(fd);
	if (rc != 0)
		throw CopyError("cannot fsync " + path + ": " + std::strerror(saved));
}

} // namespace

StagedPath::StagedPath(std::string final_path, bool directory)
	: final_(std::move(final_path)), temporary_(final_ + std::string(kTemporaryInfix) + std::to_string(::getpid())),
	  directory_(directory) {}

StagedPath::~StagedPath() {
	if (!published_)
		Discard();
}

void
StagedPath::Publish() {
	std::error_code ec;
	if (directory_) {
		for (const fs::directory_entry &entry : fs::directory_iterator(temporary_, ec))
			if (entry.is_regular_file())
				SyncPath(entry.path().string());
		if (ec)
			throw CopyError("cannot list " + temporary_ + ": " + ec.message());
	}
	SyncPath(temporary_);
	std::string aside;
	if (directory_ && fs::exists(final_, ec)) {
		// rename(2) does not replace a non-empty directory: move the old one aside, then remove it.
		aside = final_ + std::string(kTemporaryInfix) + "old." + std::to_string(::getpid());
		fs::remove_all(aside, ec);
		if (::rename(final_.c_str(), aside.c_str()) != 0)
			throw CopyError("cannot move " + final_ + " aside: " + std::strerror(errno));
	}
	if (::rename(temporary_.c_str(), final_.c_str()) != 0)
		throw CopyError("cannot rename " + temporary_ + " to " + final_ + ": " + std::strerror(errno));
	published_ = true;
	sidecar::SyncDirectory(ParentOf(final_));
	if (!aside.empty())
		fs::remove_all(aside, ec);
}

void
StagedPath::Discard() noexcept {
	std::error_code ec;
	fs::remove_all(temporary_, ec);
}

int
RemoveStaleTemporaries(const std::string &final_path) {
	fs::path final_fs(final_path);
	std::string prefix = final_fs.filename().string() + std::string(kTemporaryInfix);
	std::error_code ec;
	int removed = 0;
	for (const fs::directory_entry &entry : fs::directory_iterator(ParentOf(final_path), ec)) {
		std::string name = entry.path().filename().string();
		if (name.rfind(prefix, 0) != 0)
			continue;
		std::string rest = name.substr(prefix.size());
		if (rest.rfind("old.", 0) == 0)
			rest = rest.substr(4);
		char *end = nullptr;
		long pid = std::strtol(rest.c_str(), &end, 10);
		if (end == rest.c_str() || (*end != '\0' && *end != '.') || pid <= 0) // ".part3": a part file
			continue;
		if (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
			std::error_code remove_ec;
			fs::remove_all(entry.path(), remove_ec);
			if (!remove_ec)
				++removed;
		}
	}
	return removed;
}

std::string
FileCrc32c(const std::string &path, std::uint64_t *bytes) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw CopyError("cannot read " + path + ": " + std::strerror(errno));
	std::uint32_t crc = 0;
	std::uint64_t total = 0;
	std::string buffer(1 << 20, '\0');
	while (in) {
		in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
		std::streamsize got = in.gcount();
		if (got <= 0)
			break;
		crc = sidecar::Crc32cExtend(crc, std::string_view(buffer.data(), static_cast<std::size_t>(got)));
		total += static_cast<std::uint64_t>(got);
	}
	if (in.bad())
		throw CopyError("cannot read " + path);
	if (bytes != nullptr)
		*bytes = total;
	char hex[9];
	std::snprintf(hex, sizeof hex, "%08x", crc);
	return hex;
}

} // namespace mosta::copy
