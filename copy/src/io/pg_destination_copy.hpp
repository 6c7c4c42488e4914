/*
 * pg_destination_copy.hpp
 *     A batch's rows in COPY's text format (PostgreSQL docs, COPY, "Text Format"): fields separated by a tab,
 *     rows ended by a newline, NULL written \N, and in a field's bytes a backslash, tab, newline or carriage return
 *     written as \\, \t, \n, \r. Nothing else is escaped: the bytes are the PgText form (model/row_batch.hpp),
 *     what PostgreSQL's input functions read.
 */
#pragma once

#include <string>
#include <string_view>

#include "model/row_batch.hpp"

namespace mosta::copy {

// AppendCopyField appends field's bytes to out, escaped for COPY's text format.
void AppendCopyField(std::string_view field, std::string &out);

// AppendCopyRows appends rows [first, end) of batch to out as COPY text rows; a batch without columns gives one
// empty line per row.
void AppendCopyRows(const RowBatch &batch, std::size_t first, std::size_t end, std::string &out);

} // namespace mosta::copy
