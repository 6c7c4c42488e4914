/*
 * sql_dump_scan.hpp
 *     ScanSqlDump: the check an SQL dump passes before the sink appends to it (docs/sidecar.md, "SQL dump"). One
 *     forward pass over the file in 1 MiB chunks, so memory stays bounded and the cost is linear in its size:
 *
 *       - the file starts with the sink's header;
 *       - then come transaction blocks, each "BEGIN;", whole statements (lines ending with ';') or comment lines
 *         ("-- "), "COMMIT;", and a checkpoint line "-- mosta-checkpoint <LSN> crc32c=<8 hex digits>";
 *       - the CRC-32C of a checkpoint line is the running CRC of every byte of the file before its " crc32c=",
 *         so a changed, removed or added byte anywhere before it (a line removed, a block cut, a block removed
 *         whole) fails the check. Checkpoint lines without the CRC (dumps of mostajs 0.1.0) are checked for
 *         structure only, and only before the first line with one.
 *
 *     What follows the last good checkpoint line is a partial transaction left by a crash (a tail), which the
 *     sink cuts, unless it holds a complete checkpoint line: a damaged block in the middle, or a last block whose
 *     checkpoint line is complete but does not match, is not a tail. Damage throws SqlDumpDamaged, which names
 *     the byte offset and line of the first problem and how much of the file is intact; nothing is written.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pg/lsn.hpp"
#include "sink/durable_file.hpp"

namespace mosta::sidecar {

// kSqlDumpHeader is the first lines of every dump.
inline constexpr std::string_view kSqlDumpHeader =
	"-- mostajs SQL dump (docs/protocol.md): replay with psql -X -v ON_ERROR_STOP=1 -f\n"
	"SET client_encoding = 'UTF8';\n"
	"SET standard_conforming_strings = on;\n";

// kSqlDumpCrcField separates a checkpoint line's LSN from its CRC.
inline constexpr std::string_view kSqlDumpCrcField = " crc32c=";

// kSqlDumpTypePrefix starts a type record line: the definition of a user type the dump holds (sql_dump_types.cpp).
inline constexpr std::string_view kSqlDumpTypePrefix = "-- mosta-type ";

// kMaxSqlDumpRecordBytes bounds a type record line.
inline constexpr std::size_t kMaxSqlDumpRecordBytes = std::size_t{1} << 20;

// What ScanSqlDump found in a dump that passed.
struct SqlDumpScan {
	bool empty = true;				  // the file is empty or a partial header: the sink writes it anew
	std::uint64_t good_end = 0;		  // the offset just past the last checkpoint line (past the header if none)
	std::optional<Lsn> lsn;			  // that checkpoint's LSN
	std::uint32_t crc = 0;			  // the running CRC-32C of the bytes before good_end
	std::vector<std::string> records; // the type record lines' JSON, of complete transactions, in file order
};

// SqlDumpDamaged is the error of a dump that fails the check.
class SqlDumpDamaged : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// ScanSqlDump checks file (see above) and returns where it ends; throws SqlDumpDamaged, or std::system_error
// when it cannot be read.
SqlDumpScan ScanSqlDump(const DurableFile &file);

// FormatSqlDumpCrc returns the " crc32c=xxxxxxxx" field of a checkpoint line.
std::string FormatSqlDumpCrc(std::uint32_t crc);

} // namespace mosta::sidecar
