/*
 * value_text.cpp
 *     The conversions between PgText and Canonical (see value_text.hpp). Under kSessionSettingsSql PostgreSQL
 *     already writes most types as the output plugin does (docs/protocol.md section 8): integers, floats (the
 *     shortest round-trip digits with extra_float_digits >= 1, the plugin's float_to_shortest_decimal_buf),
 *     numeric, bytea (hex), json, jsonb, interval (iso_8601 is the plugin's EncodeInterval style), uuid, enums and
 *     every other type. What differs, and is rewritten here:
 *       - boolean: t / f against true / false;
 *       - timestamptz, timestamp, date: ISO "2024-05-01 08:30:00.5+00" against the plugin's XSD form
 *         "2024-05-01T08:30:00.5+00:00", and " BC" years against astronomical years ("0044-03-15 BC" is
 *         "-0043-03-15", "0001 BC" is "0000");
 *       - arrays: PostgreSQL's array literal ("{1,NULL,3}", "[0:2]={...}", quoted elements) against the plugin's
 *         JSON array, nested per dimension, lower bounds dropped, each element by its own type (numbers and
 *         booleans bare, NaN and infinities of floats as strings, everything else a JSON string of its
 *         canonical text, NULL as null); int2vector and oidvector ("1 2") are arrays for the plugin too ([1,2]).
 *
 *     The conversion is sidecar/src/sink/pg_value_text's (one owner, shared with the PostgreSQL sink); this file
 *     adds the column-aware messages and the batch walk.
 *
 *     ConvertBatch classifies each column once and writes straight into the new batch's buffer: a value that
 *     needs no rewrite is one append.
 */
#include "model/value_text.hpp"

#include <cstring>
#include <vector>

#include "io/source.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/pg_types.hpp"
#include "sink/pg_value_text.hpp"

namespace mosta::copy {

namespace {

// PlanOf classifies column (the conversion itself is sidecar/src/sink/pg_value_text's).
sidecar::PgValuePlan
PlanOf(const ColumnDef &column) {
	return sidecar::PlanPgValue(column.Classified(),
								SplitPgTypeName(column.base_type.empty() ? column.type : column.base_type).base);
}

// Form returns the conversion's form of to.
sidecar::PgValueForm
Form(ValueForm to) noexcept {
	return to == ValueForm::Canonical ? sidecar::PgValueForm::Canonical : sidecar::PgValueForm::PgText;
}

// ValueMessage returns the message of a value of column that cannot be converted.
std::string
ValueMessage(const ColumnDef &column, std::string_view value, ValueForm to, std::string_view problem) {
	constexpr std::size_t kShown = 200;
	std::string shown(value.substr(0, kShown));
	if (value.size() > kShown)
		shown += "...";
	return "column \"" + column.name + "\" (" + column.type + "): cannot convert \"" + shown + "\" to " +
		   (to == ValueForm::Canonical ? "canonical text" : "PostgreSQL text") + ": " + std::string(problem);
}

// Convert converts one value, throwing CopyError naming the column.
std::string
Convert(const ColumnDef &column, std::string_view value, ValueForm to) {
	sidecar::PgValuePlan plan = PlanOf(column);
	sidecar::PgValueScratch scratch;
	std::string out;
	out.reserve(value.size() + 8);
	try {
		sidecar::AppendPgValue(out, value, plan, Form(to), scratch);
	} catch (const sidecar::PgValueError &error) {
		throw CopyError(ValueMessage(column, value, to, error.what()));
	}
	return out;
}

} // namespace

std::string
PgTextToCanonical(const ColumnDef &column, std::string_view text) {
	return Convert(column, text, ValueForm::Canonical);
}

std::string
CanonicalToPgText(const ColumnDef &column, std::string_view canonical) {
	return Convert(column, canonical, ValueForm::PgText);
}

RowBatch
ConvertBatch(const RowBatch &batch, const TableDef &table, ValueForm to) {
	std::vector<std::size_t> copied = table.CopiedColumns();
	if (copied.size() != batch.Columns())
		throw CopyError("table " + table.QualifiedName() + ": a batch of " + std::to_string(batch.Columns()) +
						" columns, but the table has " + std::to_string(copied.size()) + " copied columns");
	RowBatch out(batch.Columns(), to);
	std::size_t rows = batch.Rows();
	if (batch.Columns() == 0) {
		for (std::size_t r = 0; r < rows; ++r)
			out.AddEmptyRow();
		return out;
	}
	// StartField hands out the buffer: reserve once (a little more than the source's bytes) without adding a field.
	out.StartField().reserve(batch.Bytes() + batch.Bytes() / 8 + 64);
	if (batch.Form() == to) {
		for (std::size_t r = 0; r < rows; ++r)
			for (std::size_t c = 0; c < batch.Columns(); ++c) {
				auto field = batch.Field(r, c);
				field ? out.AddField(*field) : out.AddNull();
			}
		return out;
	}
	std::vector<sidecar::PgValuePlan> plans;
	plans.reserve(copied.size());
	for (std::size_t index : copied)
		plans.push_back(PlanOf(table.columns[index]));
	sidecar::PgValueScratch scratch;
	for (std::size_t r = 0; r < rows; ++r)
		for (std::size_t c = 0; c < plans.size(); ++c) {
			auto field = batch.Field(r, c);
			if (!field) {
				out.AddNull();
				continue;
			}
			if (plans[c].conversion == sidecar::PgValueConversion::AsIs) {
				out.AddField(*field);
				continue;
			}
			std::string &bytes = out.StartField();
			try {
				sidecar::AppendPgValue(bytes, *field, plans[c], Form(to), scratch);
			} catch (const sidecar::PgValueError &error) {
				throw CopyError("table " + table.QualifiedName() + ", row " + std::to_string(r + 1) +
								" of the batch: " + ValueMessage(table.columns[copied[c]], *field, to, error.what()));
			}
			out.FinishField();
		}
	return out;
}

} // namespace mosta::copy
