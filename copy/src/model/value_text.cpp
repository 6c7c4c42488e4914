/*
 * value_text.cpp
 *     PLACEHOLDER until the value-text part lands: conversions that only handle types whose two forms are equal.
 */
#include "model/value_text.hpp"

#include "io/source.hpp"

namespace mosta::copy {

std::string
PgTextToCanonical(const ColumnDef &column, std::string_view text) {
	static_cast<void>(column);
	return std::string(text);
}

std::string
CanonicalToPgText(const ColumnDef &column, std::string_view canonical) {
	static_cast<void>(column);
	return std::string(canonical);
}

RowBatch
ConvertBatch(const RowBatch &batch, const TableDef &table, ValueForm to) {
	static_cast<void>(table);
	RowBatch out(batch.Columns(), to);
	for (std::size_t r = 0; r < batch.Rows(); ++r)
		for (std::size_t c = 0; c < batch.Columns(); ++c) {
			auto field = batch.Field(r, c);
			if (field)
				out.AddField(*field);
			else
				out.AddNull();
		}
	return out;
}

} // namespace mosta::copy
