/*
 * copy_text.hpp
 *     COPY's text format, the one codec of mosta-copy: what COPY ... TO STDOUT sends the PostgreSQL source, what
 *     the SQL dump's data lines hold (docs/copy-formats.md, "The SQL dump") and what the PostgreSQL destination
 *     sends to COPY ... FROM STDIN: one row per line, fields separated by a tab, NULL as \N, and in a value
 *     backslash, newline, carriage return and tab written \\, \n, \r and \t. The reader also takes every other
 *     escape COPY FROM reads (\b \f \v, octal \ooo, hex \xhh, a backslash before any other character), so a data
 *     line edited by hand reads as psql would read it.
 */
#pragma once

#include <string>
#include <string_view>

#include "model/row_batch.hpp"

namespace mosta::copy {

// AppendCopyRow appends row of batch (PgText) as one COPY text line, "\n" included.
void AppendCopyRow(const RowBatch &batch, std::size_t row, std::string &out);

// AppendCopyField appends value COPY-escaped.
void AppendCopyField(std::string_view value, std::string &out);

// ParseCopyLine appends the fields of line (without its "\n") to batch as one row; returns "" or what is wrong
// with the line (the caller names the file and line).
std::string ParseCopyLine(std::string_view line, RowBatch &batch);

} // namespace mosta::copy
