/*
 * target_path.hpp
 *     The target-path policy (docs/sidecar.md, "Where file targets live"): the sidecar writes file targets
 *     (sqlite, sqldump, jsonl) only under its data directory (--data-dir, MOSTA_DATA_DIR, default
 *     /var/lib/mosta). A relative path resolves there; an absolute path is accepted only inside it; a path
 *     whose real location (symlinks and ".." resolved) is outside it, or a dangling symlink, is refused. Whoever
 *     may declare a replica (mosta_admin) thus cannot make the sidecar write anywhere else its OS user can.
 *     The sinks refuse on open what they did not create (the sink headers); both refusals are target errors.
 */
#pragma once

#include <stdexcept>
#include <string>

#include "app/catalog.hpp"

namespace mosta::sidecar {

// TargetPathError is a file target the policy refuses; what() names the replica and the path.
class TargetPathError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// IsFileDialect tells whether dialect's targets are files under the data directory (sqlite, sqldump, jsonl).
bool IsFileDialect(const std::string &dialect);

// ResolveTargetPath returns the real path of a file target inside data_dir (":memory:" for an in-memory SQLite
// target); throws TargetPathError when the URI names no path, data_dir does not exist, or the path leads out.
std::string ResolveTargetPath(const std::string &data_dir, const ReplicaInfo &replica);

} // namespace mosta::sidecar
