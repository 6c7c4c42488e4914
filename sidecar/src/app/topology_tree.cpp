/*
 * topology_tree.cpp
 *     Writing the topology tree (see topology_tree.hpp). C++ regime: POSIX calls through DurableFile, errors as
 *     exceptions.
 */
#include "app/topology_tree.hpp"

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <unistd.h>

#include "ha/sqlite_promotion.hpp"
#include "pg/handles.hpp"
#include "sink/durable_file.hpp"

namespace mosta::sidecar {

namespace {

// kTopologySql asks the server for the whole topology, passwords masked, pretty-printed.
constexpr const char *kTopologySql = "SELECT jsonb_pretty(mosta_topology())";

// DirectoryOf returns the directory holding path ("." for a bare file name).
std::string
DirectoryOf(const std::string &path) {
	std::filesystem::path parent = std::filesystem::path(path).parent_path();
	return parent.empty() ? std::string(".") : parent.string();
}

// WriteTemporary writes content to a fresh file at temp and fdatasyncs it. A leftover of an earlier process that
// had our pid is removed first, so that its content (or a symbolic link in its place) is never reused.
void
WriteTemporary(const std::string &temp, std::string_view content) {
	if (::unlink(temp.c_str()) != 0 && errno != ENOENT)
		throw std::system_error(errno, std::generic_category(), "cannot remove stale " + temp);
	DurableFile file(temp);
	file.Append(content);
	file.Sync();
}

} // namespace

void
ReplaceFileAtomically(const std::string &path, std::string_view content) {
	const std::string temp = path + ".tmp." + std::to_string(::getpid());
	try {
		WriteTemporary(temp, content);
		if (::rename(temp.c_str(), path.c_str()) != 0)
			throw std::system_error(errno, std::generic_category(), "cannot rename " + temp + " to " + path);
	} catch (...) {
		::unlink(temp.c_str()); // best effort: it may never have been created
		throw;
	}
	const std::string directory = DirectoryOf(path);
	try {
		SyncDirectory(directory);
	} catch (const std::system_error &error) {
		// the rename happened, but may not survive a crash: say which file that is
		throw std::system_error(error.code(), "cannot fsync directory " + directory + " after replacing " + path);
	}
}

boost::asio::awaitable<void>
WriteTopologyTree(PgConnection &conn, const std::string &path, const std::string &data_dir) {
	const std::string sql = kTopologySql; // named: no temporary in a co_await expression (GCC 12)
	PgResultHandle result = co_await conn.Exec("reading the topology (mosta_topology())", sql);
	if (PQntuples(result.get()) != 1 || PQnfields(result.get()) != 1 || PQgetisnull(result.get(), 0, 0))
		throw std::runtime_error("mosta_topology() returned no topology; " + path + " was not written");
	std::string tree(PQgetvalue(result.get(), 0, 0), static_cast<std::size_t>(PQgetlength(result.get(), 0, 0)));
	tree += '\n'; // jsonb_pretty ends without one; a text file ends with one
	if (!data_dir.empty())
		tree = ha::OverlayPromotions(tree, data_dir);
	ReplaceFileAtomically(path, tree);
}

} // namespace mosta::sidecar
