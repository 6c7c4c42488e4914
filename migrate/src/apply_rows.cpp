/*
 * apply_rows.cpp
 *     RowConverter (apply_rows.hpp).
 */
#include "apply_rows.hpp"

#include "mosta/common/pg_types.hpp"
#include "sink/pg_row_text.hpp"

namespace mosta::migrate {

using mapping::ColumnRole;

RowConverter::RowConverter(const mapping::TableLayout &layout, std::string field_prefix)
	: layout_(layout), field_prefix_(std::move(field_prefix)) {
	for (const mapping::LayoutColumn &column : layout.columns) {
		// ids, legacy ids and references are texts the applier uses as they are; values and extra are canonical
		bool convert = column.role == ColumnRole::Value || column.role == ColumnRole::Extra;
		convert_.push_back(convert);
		plans_.push_back(convert ? sidecar::PlanPgValue(ClassifyPgType(column.type), SplitPgTypeName(column.type).base)
								 : sidecar::PgValuePlan{});
	}
}

std::string
RowConverter::FieldName(std::size_t i, std::size_t element) const {
	const mapping::LayoutColumn &column = layout_.columns[i];
	std::string path = column.field != nullptr ? column.field->path : column.name;
	if (column.role == ColumnRole::Extra)
		path = column.name;
	if (!layout_.child)
		return path;
	std::string prefix = field_prefix_ + "." + std::to_string(element);
	return path.empty() ? prefix : prefix + "." + path;
}

std::vector<std::string>
RowConverter::Fields(const mapping::MappedRow &row, std::size_t element) {
	std::vector<std::string> fields(layout_.columns.size());
	for (std::size_t i = 0; i < layout_.columns.size(); ++i) {
		const std::optional<std::string> &value = i < row.values.size() ? row.values[i] : std::nullopt;
		if (!value) {
			fields[i] = "\\N";
			continue;
		}
		if (!convert_[i]) {
			sidecar::AppendCopyEscaped(fields[i], *value);
			continue;
		}
		text_.clear();
		try {
			sidecar::AppendPgValue(text_, *value, plans_[i], sidecar::PgValueForm::PgText, scratch_);
		} catch (const sidecar::PgValueError &e) {
			std::string shown = value->size() > 64 ? value->substr(0, 64) + "..." : *value;
			throw FieldValueError(FieldName(i, element), std::string(e.what()) + " (value " + shown + ", column " +
															 layout_.columns[i].name + " " + layout_.columns[i].type +
															 ")");
		}
		sidecar::AppendCopyEscaped(fields[i], text_);
	}
	return fields;
}

std::string
RowConverter::PgText(const std::string &value, std::size_t i) {
	if (!convert_[i])
		return value;
	std::string text;
	sidecar::AppendPgValue(text, value, plans_[i], sidecar::PgValueForm::PgText, scratch_);
	return text;
}

void
JoinCopyLine(std::string &out, const std::vector<std::string> &fields, std::size_t replace, const std::string &value) {
	for (std::size_t i = 0; i < fields.size(); ++i) {
		if (i > 0)
			out += '\t';
		out += i == replace ? value : fields[i];
	}
	out += '\n';
}

} // namespace mosta::migrate
