/*
 * topology_tree.hpp
 *     The topology tree: the file a monitor dashboard reads (no database connection needed) to show the projects,
 *     replicas, rules, read routing, lag and status, the twin of the seeds' replicator-tree.json. Its content is
 *     mosta_topology() (docs/sql-api.md section 13: passwords masked by the extension), pretty-printed by the
 *     server. The file is always replaced whole (write a temporary file, fsync, rename, fsync the directory), so a
 *     reader sees the previous tree or the new one, never a torn one, even after a crash.
 */
#pragma once

#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "pg/connection.hpp"

namespace mosta::sidecar {

// WriteTopologyTree runs SELECT jsonb_pretty(mosta_topology()) on conn (an open SQL connection whose search_path
// finds the extension's schema) and replaces the file at path with the result, atomically. With a data_dir, a
// SQLite replica promoted to write target (its file, resolved there, holds a _mosta_promotion row) is shown as
// its project's master (ha/sqlite_promotion.hpp, OverlayPromotions). Throws PgError when the query fails (the
// file is then left as it was) and std::system_error naming the path when the file cannot be written.
boost::asio::awaitable<void> WriteTopologyTree(PgConnection &conn, const std::string &path,
											   const std::string &data_dir = {});

// ReplaceFileAtomically replaces the file at path with content: it writes path + ".tmp.<pid>" in the same
// directory (mode 0644), fdatasyncs it, renames it over path and fsyncs the directory. On any failure it removes
// the temporary file and throws std::system_error naming the file; path then still holds its old content (or is
// still missing) unless only the final directory fsync failed. Two writers of one path in one process must not
// run at once (they would share the temporary name).
void ReplaceFileAtomically(const std::string &path, std::string_view content);

} // namespace mosta::sidecar
