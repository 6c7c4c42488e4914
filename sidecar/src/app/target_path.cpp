/*
 * target_path.cpp
 *     ResolveTargetPath (see target_path.hpp).
 */
#include "app/target_path.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

#include "mosta/common/conninfo.hpp"
#include "mosta/common/target_uri.hpp"

namespace mosta::sidecar {

namespace fs = std::filesystem;

namespace {

// Inside tells whether path is strictly below directory (both real, lexically normal paths).
bool
Inside(const fs::path &path, const fs::path &directory) {
	auto [end, ignored] = std::mismatch(directory.begin(), directory.end(), path.begin(), path.end());
	if (end != directory.end())
		return false;
	// a trailing "" element (a directory path ending in '/') is not a component
	for (auto rest = ignored; rest != path.end(); ++rest)
		if (!rest->empty())
			return true;
	return false;
}

// DanglingLink returns the first prefix of path that is a symbolic link to nothing: opening through it would
// create its target, wherever that is.
std::optional<fs::path>
DanglingLink(const fs::path &path) {
	fs::path prefix;
	for (const fs::path &part : path) {
		prefix /= part;
		std::error_code error;
		if (fs::is_symlink(fs::symlink_status(prefix, error)) && !fs::exists(prefix, error))
			return prefix;
	}
	return std::nullopt;
}

} // namespace

bool
IsFileDialect(const std::string &dialect) {
	return dialect == "sqlite" || dialect == "sqldump" || dialect == "jsonl";
}

std::string
ResolveTargetPath(const std::string &data_dir, const ReplicaInfo &replica) {
	const std::string who = "replica " + replica.project + "." + replica.name + " (" + replica.dialect + ")";
	std::optional<std::string> written = TargetFilePath(replica.uri);
	if (!written)
		throw TargetPathError(who + ": " + MaskCredentials(replica.uri) + " names no file path");
	if (replica.dialect == "sqlite" && *written == ":memory:")
		return *written;
	std::error_code error;
	fs::path root = fs::canonical(data_dir, error);
	if (error || !fs::is_directory(root))
		throw TargetPathError(who + ": the data directory " + data_dir +
							  " does not exist (create it, or set --data-dir or MOSTA_DATA_DIR)");
	fs::path path = fs::path(*written).is_absolute() ? fs::path(*written) : fs::path(data_dir) / *written;
	path = path.lexically_normal();
	const std::string shown = "\"" + MaskCredentialsInText(*written) + "\"";
	if (std::optional<fs::path> link = DanglingLink(path))
		throw TargetPathError(who + ": path " + shown + " goes through " + link->string() +
							  ", a symbolic link to nothing: refused");
	fs::path real = fs::weakly_canonical(path, error);
	if (error)
		throw TargetPathError(who + ": cannot resolve path " + shown + ": " + error.message());
	real = real.lexically_normal();
	if (!real.has_filename()) // "archive/": the directory itself
		real = real.parent_path();
	if (!Inside(real, root))
		throw TargetPathError(who + ": path " + shown + " (" + real.string() + ") is not inside the data directory " +
							  root.string() + ": file targets live under --data-dir (docs/sidecar.md)");
	return real.string();
}

} // namespace mosta::sidecar
