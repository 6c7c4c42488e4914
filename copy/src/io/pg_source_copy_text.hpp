/*
 * pg_source_copy_text.hpp
 *     COPY's text format, read: one row (as PQgetCopyData hands it, the final newline included) split at tabs,
 *     \N as NULL, backslash escapes undone (\\ \b \f \n \r \t \v, \ and 1 to 3 octal digits, \x and 1 or 2 hex
 *     digits, any other escaped byte as itself), written straight into a RowBatch's buffer (PgText form).
 */
#pragma once

#include <string_view>

#include "model/row_batch.hpp"

namespace mosta::copy {

// AppendCopyTextRow appends the row line (one line of COPY ... TO STDOUT's text format) to batch; throws
// CopyError when the line does not hold batch.Columns() fields.
void AppendCopyTextRow(std::string_view line, RowBatch &batch);

} // namespace mosta::copy
