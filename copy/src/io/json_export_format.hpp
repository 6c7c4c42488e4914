/*
 * json_export_format.hpp
 *     The JSON export's format (docs/copy-formats.md, "The JSON export"): one JSON document, laid out one line per
 *     item so that it is written and read line by line, never whole:
 *
 *       {"format":"mostajs.export","version":1,"schema":<schema document>,"tables":[
 *       {"schema":"public","name":"t","columns":["id","name"],"rows":[
 *       [1,"a"],
 *       [2,null]
 *       ],"row_count":2},
 *       {"schema":"public","name":"u","columns":["id"],"rows":[
 *       ],"row_count":0}
 *       ]}
 *
 *     A row is a JSON array of the copied columns' values in the output plugin's encoding (docs/protocol.md
 *     section 8), computed from the canonical text and the column's type: integers and floats bare (NaN and the
 *     infinities as strings), booleans true/false, arrays as their JSON text, everything else a string (so a json
 *     column's JSON null is "null" and SQL NULL is null). Reading back gives the canonical texts exactly: a
 *     number as written, a string's content, an array's text. Any text the writer could not put bare is written
 *     as a string, which reads back as the same text.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/row_batch.hpp"
#include "model/schema.hpp"

namespace mosta::copy {

inline constexpr std::string_view kExportFormat = "mostajs.export";
// kExportVersion is the version of the layout this build writes and reads.
inline constexpr int kExportVersion = 1;
inline constexpr std::string_view kExportEnd = "]}";

// How a column's values are written.
enum class JsonValueKind { Number, Float, Boolean, Array, String };

// JsonValueKindOf returns how column's values are written (a domain: as its base type).
JsonValueKind JsonValueKindOf(const ColumnDef &column);

// AppendJsonRow appends row of batch (Canonical) as a JSON array, no line break; kinds: per copied column.
void AppendJsonRow(const RowBatch &batch, std::size_t row, const std::vector<JsonValueKind> &kinds, std::string &out);

// ParseJsonRow appends the values of the row text (one JSON array) to batch; returns "" or what is wrong.
std::string ParseJsonRow(std::string_view text, RowBatch &batch);

// IsJsonNumber tells whether text is a JSON number token.
bool IsJsonNumber(std::string_view text) noexcept;

// DocumentHeaderLine returns the document's first line, "\n" included.
std::string DocumentHeaderLine(const DatabaseSchema &schema, const SnapshotInfo &snapshot);

// TableHeaderLine returns the first line of table's block, "\n" included.
std::string TableHeaderLine(const TableDef &table);

// TableEndLine returns the last line of a table's block, without line break.
std::string TableEndLine(std::uint64_t rows);

// ParseDocumentHeader reads the first line: the schema and snapshot; throws CopyError saying what is wrong
// (a version this build does not read, a line that is not the header) without naming the file.
DatabaseSchema ParseDocumentHeader(std::string_view line, SnapshotInfo *snapshot);

// What a table header line names.
struct TableHeader {
	std::string schema;
	std::string name;
	std::vector<std::string> columns;
};

// IsTableHeader tells whether line starts a table's block.
bool IsTableHeader(std::string_view line) noexcept;

// ParseTableHeader reads a table header line; throws CopyError.
TableHeader ParseTableHeader(std::string_view line);

// ParseTableEnd reads a table's end line ("],"row_count":N}" with or without the "," that follows it); sets
// *more to whether a "," follows; throws CopyError.
std::uint64_t ParseTableEnd(std::string_view line, bool *more);

// CopiedColumnNames returns the names of table's copied columns.
std::vector<std::string> CopiedColumnNames(const TableDef &table);

// ExportFileName returns the file name of table's document in a directory export: "<schema>.<table>.json", each
// byte a file name cannot hold (/, %, \, control characters, a leading '.', a '.' in the schema) written %XX.
std::string ExportFileName(const TableDef &table);

} // namespace mosta::copy
