/*
 * verify_pg.cpp
 *     ReadPgTarget (see verify_pg.hpp).
 */
#include "app/verify_pg.hpp"

#include <optional>
#include <vector>

#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/pg_target_table.hpp"
#include "sink/pg_value_text.hpp"

namespace mosta::sidecar {

namespace {

// kFetchRows is how many rows one FETCH of the cursor reads.
constexpr int kFetchRows = 10000;

} // namespace

VerifyTargetRows
ReadPgTarget(PgSession &session, const SourceTable &source, const std::set<std::string> &wanted) {
	VerifyTargetRows target;
	std::optional<PgTargetTable> table = LoadPgTargetTable(session, source.schema, source.table);
	if (!table)
		return target;
	target.exists = true;
	// a column the target lacks reads as NULL
	std::string select;
	std::vector<PgValuePlan> plans;
	for (const SourceColumn &column : source.columns) {
		bool held = !table->TypeOf(column.name).empty();
		// the output function's text (a cast to text differs: char(n) loses its padding, inet shows its netmask)
		select += (select.empty() ? "" : ", ") + (held ? QuoteIdentifier(column.name) : std::string("NULL"));
		plans.push_back(PlanPgValue(ClassifyPgType(column.type_name), SplitPgTypeName(column.type_name).base));
	}
	session.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; DECLARE mosta_verify NO SCROLL CURSOR FOR SELECT " +
					 (select.empty() ? std::string("1") : select) + " FROM " + table->quoted,
				 "reading " + table->quoted);
	TargetRowsBuilder builder(source, wanted, target);
	PgValueScratch scratch;
	for (;;) {
		PgResultHandle rows =
			session.Query("FETCH " + std::to_string(kFetchRows) + " FROM mosta_verify", {}, "reading " + table->quoted);
		int count = PQntuples(rows.get());
		for (int r = 0; r < count; ++r) {
			std::vector<CanonicalColumn> row;
			row.reserve(source.columns.size());
			for (std::size_t i = 0; i < source.columns.size(); ++i) {
				int field = static_cast<int>(i);
				if (PQgetisnull(rows.get(), r, field)) {
					row.push_back({source.columns[i].name, std::nullopt});
					continue;
				}
				std::string canonical;
				std::string_view text = PQgetvalue(rows.get(), r, field);
				try {
					AppendPgValue(canonical, text, plans[i], PgValueForm::Canonical, scratch);
				} catch (const PgValueError &) {
					canonical.assign(text); // shown as it is: the comparison reports the difference
				}
				row.push_back({source.columns[i].name, std::move(canonical)});
			}
			builder.Add(std::move(row));
		}
		if (count < kFetchRows)
			break;
	}
	session.Exec("COMMIT", "reading " + table->quoted);
	builder.Finish();
	return target;
}

} // namespace mosta::sidecar
