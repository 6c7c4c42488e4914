/*
 * pg_row_text.hpp
 *     The PostgreSQL sink's value texts: a change document's Value (docs/protocol.md section 8) as PostgreSQL
 *     input text (through pg_value_text.hpp's Canonical → PgText), as a field of COPY's text format, and row
 *     images as JSON objects in the documents' encoding (what a ConflictRecord carries), including a row read
 *     back from the target as PostgreSQL text.
 */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "decode/change.hpp"
#include "sink/pg_value_text.hpp"

namespace mosta::sidecar {

// PgValueWriter converts values of change documents to PostgreSQL's input text (the declared types are classified
// once per relation by the decoder; the writer keeps only scratch buffers).
class PgValueWriter {
  public:
	// AppendText appends value (of column, which may be null) as PostgreSQL input text; returns false, appending
	// nothing, for SQL NULL. Throws std::runtime_error naming the column and the value when it cannot be
	// converted.
	bool AppendText(std::string &out, const Column &column);

	// AppendCopyField appends column's value as one field of COPY's text format (\N for NULL, escapes).
	void AppendCopyField(std::string &out, const Column &column);

  private:
	PgValueScratch scratch_;
	std::string field_;
};

// AppendCopyEscaped appends text escaped for COPY's text format (backslash, tab, newline, carriage return).
void AppendCopyEscaped(std::string &out, std::string_view text);

// AppendJsonValue appends value in the documents' encoding (null, true, 12, 1.5, "text", raw JSON).
void AppendJsonValue(std::string &out, const Value &value);

// RowJson returns a row image as a JSON object {"column": value, ...}.
std::string RowJson(const std::vector<Column> &row);

// KeyJson returns the key columns of row (looked up by name) as a JSON object.
std::string KeyJson(const std::vector<Column> &row, const std::vector<std::string> &key);

// AppendPgTextAsJson appends a value read from PostgreSQL as text (under the session settings) for a column of
// type (format_type's spelling) in the documents' encoding: numbers and booleans bare, arrays as JSON arrays,
// everything else a JSON string of its canonical text. Throws PgValueError.
void AppendPgTextAsJson(std::string &out, std::string_view text, std::string_view type);

} // namespace mosta::sidecar
