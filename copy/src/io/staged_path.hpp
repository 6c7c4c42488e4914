/*
 * staged_path.hpp
 *     StagedPath: a file or directory written under a temporary name next to its final one
 *     ("daily.sqlite" → "daily.sqlite.mosta-tmp.<pid>") and published by one rename, so that a reader, cron's next
 *     run, or a crash never sees half a backup under the final name (docs/copy.md, "Running from cron").
 *     Publish fsyncs what was written and the directory; a StagedPath neither published nor kept removes its
 *     temporary on destruction. RemoveStaleTemporaries removes what a killed run (kill -9, power loss) left:
 *     temporaries of final whose pid is not a live process.
 */
#pragma once

#include <cstdint>
#include <string>

namespace mosta::copy {

class StagedPath {
  public:
	// StagedPath names the temporary of final (nothing is created); directory: the final path is a directory.
	explicit StagedPath(std::string final_path, bool directory = false);
	~StagedPath();
	StagedPath(const StagedPath &) = delete;
	StagedPath &operator=(const StagedPath &) = delete;

	const std::string &
	Temporary() const noexcept {
		return temporary_;
	}
	const std::string &
	Final() const noexcept {
		return final_;
	}
	// Publish fsyncs the temporary (a directory: each file in it, then itself), renames it over the final name
	// (a directory already there is moved aside first and removed after) and fsyncs the parent directory; throws
	// CopyError naming the path.
	void Publish();
	// Discard removes the temporary (what Abort does); never throws.
	void Discard() noexcept;

  private:
	std::string final_;
	std::string temporary_;
	bool directory_;
	bool published_ = false;
};

// RemoveStaleTemporaries removes the temporaries of final_path left by processes that no longer run; returns
// how many it removed.
int RemoveStaleTemporaries(const std::string &final_path);

// FileCrc32c returns the CRC-32C of a file's bytes as 8 hex digits, and its size in *bytes; throws CopyError.
std::string FileCrc32c(const std::string &path, std::uint64_t *bytes);

} // namespace mosta::copy
