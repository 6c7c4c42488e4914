/*
 * store_zoo.hpp
 *     The rows of test/integration/lib/copy_zoo.sql's zoo.values in canonical form (docs/verification.md section 1),
 *     for the SQLite and MongoDB backup tests (sqlite_backup_test.cpp, mongo_backup_test.cpp): every value kind,
 *     NaN, infinities, -0, BC dates, JSON null apart from SQL NULL, bytes, arrays, an enum and domains, NULLs, and a
 *     generated column that is never copied.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mosta/common/canonical_row.hpp"
#include "model/row_batch.hpp"
#include "model/schema.hpp"

namespace mosta::copy::test {

using ZooRow = std::vector<std::optional<std::string>>;

// ZooColumn returns a column of name, declared type and base type.
inline ColumnDef
ZooColumn(std::string name, std::string type, std::string base = "") {
	ColumnDef column;
	column.name = std::move(name);
	column.base_type = base.empty() ? type : std::move(base);
	column.type = std::move(type);
	return column;
}

// ZooValuesTable returns zoo.values as the schema model describes it.
inline TableDef
ZooValuesTable() {
	TableDef table;
	table.schema = "zoo";
	table.name = "values";
	table.columns = {ZooColumn("id", "integer"),
					 ZooColumn("n", "numeric"),
					 ZooColumn("n2", "numeric(12,4)"),
					 ZooColumn("f4", "real"),
					 ZooColumn("f8", "double precision"),
					 ZooColumn("i2", "smallint"),
					 ZooColumn("i8", "bigint"),
					 ZooColumn("b", "boolean"),
					 ZooColumn("t", "text"),
					 ZooColumn("c", "character(4)"),
					 ZooColumn("ts", "timestamp without time zone"),
					 ZooColumn("tstz", "timestamp with time zone"),
					 ZooColumn("d", "date"),
					 ZooColumn("iv", "interval"),
					 ZooColumn("by", "bytea"),
					 ZooColumn("u", "uuid"),
					 ZooColumn("j", "json"),
					 ZooColumn("jb", "jsonb"),
					 ZooColumn("ia", "integer[]"),
					 ZooColumn("ta", "text[]"),
					 ZooColumn("ma", "integer[]"),
					 ZooColumn("jba", "jsonb[]"),
					 ZooColumn("moods", "zoo.mood[]"),
					 ZooColumn("mood", "zoo.mood"),
					 ZooColumn("q", "zoo.qty", "integer"),
					 ZooColumn("code", "zoo.code", "character varying(8)"),
					 ZooColumn("ip", "inet"),
					 ZooColumn("twice_q", "integer")};
	table.columns.back().generated = "(q * 2)";
	table.primary_key = {"id"};
	return table;
}

// ZooValuesRows returns its rows (copied columns: all but twice_q), canonical.
inline std::vector<ZooRow>
ZooValuesRows() {
	auto v = [](const char *text) { return std::optional<std::string>(text); };
	std::optional<std::string> null;
	return {
		{v("1"),
		 v("12.500"),
		 v("1.5000"),
		 v("3.14"),
		 v("0.1"),
		 v("1"),
		 v("9223372036854775807"),
		 v("true"),
		 v("plain"),
		 v("ab  "),
		 v("2024-05-01T12:30:00"),
		 v("2024-05-01T08:30:00.5+00:00"),
		 v("2024-05-01"),
		 v("P1Y2M3DT4H5M6.5S"),
		 v("\\x00ff10"),
		 v("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		 v("{\"a\":\n 1,  \"a\": 2}"),
		 v("{\"a\": null, \"b\": [1, \"x\"]}"),
		 v("[1,null,3]"),
		 v("[\"a,b\",\"q\\\"uote\",\"back\\\\slash\",\"{brace}\",null,\"NULL\",\"\"]"),
		 v("[[1,2],[3,4]]"),
		 v("[null,\"null\",\"{\\\"k\\\": 1}\"]"),
		 v("[\"happy\",\"sad\"]"),
		 v("happy"),
		 v("5"),
		 v("ADA"),
		 v("192.168.0.1/24")},
		{v("2"),
		 v("NaN"),
		 v("-0.0001"),
		 v("NaN"),
		 v("-Infinity"),
		 v("-32768"),
		 v("-9223372036854775808"),
		 v("false"),
		 v("tab\there\nnewline\r\\back \\N \xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"),
		 v("x   "),
		 v("-infinity"),
		 v("infinity"),
		 v("-0043-03-15"),
		 v("P-1DT-2H"),
		 v("\\x"),
		 v("00000000-0000-0000-0000-000000000000"),
		 v("null"),
		 v("null"),
		 v("[]"),
		 v("[]"),
		 v("[]"),
		 v("[]"),
		 v("[]"),
		 v("sad"),
		 v("0"),
		 v(""),
		 v("::1")},
		{v("3"),
		 v("Infinity"),
		 v("99999999.9999"),
		 v("-0"),
		 v("1e-07"),
		 null,
		 v("0"),
		 null,
		 v(""),
		 null,
		 v("10000-01-01T00:00:00"),
		 v("0000-01-01T00:00:00+00:00"),
		 v("infinity"),
		 v("PT0S"),
		 v("\\x0a0d5c09"),
		 null,
		 v("\"a string\""),
		 v("\"a string\""),
		 v("[-1]"),
		 v("[\"\"]"),
		 v("[[null]]"),
		 v("[\"[1, 2]\"]"),
		 null,
		 null,
		 v("7"),
		 null,
		 null},
		{v("4"), null, null, null, v("1e+300"), null, null, null, null, null, null,	  null, null, null,
		 null,	 null, null, null, null,		null, null, null, null, null, v("1"), null, null},
	};
}

// ZooBatch returns rows as a canonical batch.
inline RowBatch
ZooBatch(const std::vector<ZooRow> &rows, std::size_t columns) {
	RowBatch batch(columns, ValueForm::Canonical);
	for (const ZooRow &row : rows)
		for (const std::optional<std::string> &field : row)
			if (field)
				batch.AddField(*field);
			else
				batch.AddNull();
	return batch;
}

// ZooChecksum returns the canonical checksum of rows of table's copied columns (what the manifest holds).
inline std::string
ZooChecksum(const TableDef &table, const std::vector<ZooRow> &rows) {
	std::vector<std::size_t> copied = table.CopiedColumns();
	ChecksumState state;
	for (const ZooRow &row : rows) {
		std::vector<CanonicalColumn> columns;
		for (std::size_t i = 0; i < copied.size(); ++i)
			columns.push_back({table.columns[copied[i]].name, row[i]});
		std::string encoded = EncodeCanonicalRow(std::move(columns));
		state.Add(CanonicalRowHash(encoded.data(), encoded.size()));
	}
	return state.Text();
}

} // namespace mosta::copy::test
