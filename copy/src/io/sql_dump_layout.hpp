/*
 * sql_dump_layout.hpp
 *     The text around the rows of an SQL dump mosta-copy writes (docs/copy-formats.md, "The SQL dump"), laid out as
 *     pg_dump's plain format so that `psql -v ON_ERROR_STOP=1 -f FILE` restores it into an empty database:
 *       header comments (tool version, source with credentials masked, snapshot LSN and time),
 *       SET lines (pg_dump's, then mosta-copy's value settings: the COPY texts read back exactly),
 *       "-- mosta-copy:schema {...}" (the schema document on one line: mosta-copy reads and verifies the dump alone),
 *       pre-data statements (with --create-tables; model/ddl.hpp),
 *       per table: a comment, "COPY s.t (cols) FROM STDIN;", the rows (copy_text.hpp), "\.",
 *         "-- mosta-copy:rows N",
 *       post-data statements (with --create-tables; else only the sequence values, as pg_dump --data-only),
 *       "-- mosta-copy dump complete" (a dump without it was cut short).
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/schema.hpp"

namespace mosta::copy {

inline constexpr std::string_view kDumpSchemaPrefix = "-- mosta-copy:schema ";
inline constexpr std::string_view kDumpRowsPrefix = "-- mosta-copy:rows ";
inline constexpr std::string_view kDumpEndLine = "-- mosta-copy dump complete";
inline constexpr std::string_view kDumpCopyEnd = "\\.";

// DumpHeader returns everything before the first table's data: comments, SET lines, the schema line and (with
// create_tables) the pre-data statements.
std::string DumpHeader(const DatabaseSchema &schema, const SnapshotInfo &snapshot, bool create_tables);

// TableDataHeader returns the lines before table's rows, its COPY statement last.
std::string TableDataHeader(const TableDef &table);

// TableDataTrailer returns the lines after table's rows: "\." and the row count.
std::string TableDataTrailer(std::uint64_t rows);

// DumpFooter returns everything after the last table's data: post-data statements (create_tables) or the
// sequence values, then the end line.
std::string DumpFooter(const DatabaseSchema &schema, bool create_tables);

// CommentText returns text fit for a "--" comment line: line breaks as spaces.
std::string CommentText(std::string_view text);

} // namespace mosta::copy
