/*
 * apply_rows.hpp
 *     The Applier's COPY fields: each value of a MappedRow (canonical text, mapping/transform.hpp) converted to
 *     PostgreSQL's input text (sink/pg_value_text.hpp, classified once per column) and escaped for COPY's text
 *     format. A value that cannot be converted names its field: the document is rejected, not the batch.
 */
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "mapping/transform.hpp"
#include "sink/pg_value_text.hpp"

namespace mosta::migrate {

// FieldValueError is a value of a row its column cannot take; field is the document's dotted path.
class FieldValueError : public std::runtime_error {
  public:
	FieldValueError(std::string field_path, const std::string &message)
		: std::runtime_error(message), field(std::move(field_path)) {}
	std::string field;
};

// RowConverter converts the rows of one table layout.
class RowConverter {
  public:
	// RowConverter classifies layout's columns; field_prefix names a child table's array ("items") for messages.
	RowConverter(const mapping::TableLayout &layout, std::string field_prefix);

	// Fields returns row's COPY fields in layout order (escaped; "\N" for NULL); element is the array index of a
	// child row (for messages). Throws FieldValueError.
	std::vector<std::string> Fields(const mapping::MappedRow &row, std::size_t element = 0);

	// PgText returns value (the canonical text of layout column i) as PostgreSQL's input text; throws
	// PgValueError.
	std::string PgText(const std::string &value, std::size_t i);

	// FieldName returns the dotted path of layout column i ("items.3.qty" for element 3 of a child row).
	std::string FieldName(std::size_t i, std::size_t element = 0) const;

  private:
	const mapping::TableLayout &layout_;
	std::string field_prefix_;
	std::vector<bool> convert_;
	std::vector<sidecar::PgValuePlan> plans_;
	sidecar::PgValueScratch scratch_;
	std::string text_;
};

// JoinCopyLine appends fields as one COPY line, with fields[replace] replaced by value (the row's uuid).
void JoinCopyLine(std::string &out, const std::vector<std::string> &fields, std::size_t replace,
				  const std::string &value);

} // namespace mosta::migrate
