/*
 * target_uri.hpp
 *     The file path a file target's URI names (sqlite, sqldump, jsonl), read the way mosta.check_uri accepts it:
 *     a path, "file:[//[localhost]]/path" (percent-decoded; a SQLite URI's query is dropped) or "sqlite://path".
 *
 * Regime: plain C++17, no PostgreSQL header; nothing throws except std::bad_alloc.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mosta {

// TargetFilePath returns the path uri names, relative or absolute as written ("" never: nullopt instead), or
// nullopt when uri is no file URI mosta.check_uri would accept (another host, a bad escape, no path).
std::optional<std::string> TargetFilePath(std::string_view uri);

} // namespace mosta
