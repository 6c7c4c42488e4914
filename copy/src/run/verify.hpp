/*
 * verify.hpp
 *     mosta-copy verify MANIFEST [--against URI] [--jobs N]: checks a backup against its manifest.
 *       For every file the manifest lists: its size and CRC-32C (a directory or a database has none), then every
 *       table read back through the file's Source (OpenSource of its kind; MongoDB with the manifest's schema):
 *       row count and canonical checksum against the manifest's.
 *       With --against URI: the live PostgreSQL database read the same way (PgSource); a table changed since the
 *       backup differs ("differs since the backup").
 *     One line per file and per table on out: "ok ..." or "MISMATCH ..." with both values; the return is the exit
 *     status: 0 when everything agrees, 1 otherwise (or on a failure to read), 2 for a manifest that cannot be
 *     read as one.
 */
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>

#include "io/source.hpp"
#include "run/copy_command.hpp"
#include "run/options.hpp"

namespace mosta::copy {

// RunVerifyCommand runs verify; out receives the report lines, err the errors and the summary.
int RunVerifyCommand(const Options &options, std::FILE *out, std::FILE *err, const std::atomic<bool> *stop,
					 const std::function<std::unique_ptr<Source>(const Endpoint &, const DatabaseSchema &)> &open = {});

} // namespace mosta::copy
