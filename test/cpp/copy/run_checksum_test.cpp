/*
 * run_checksum_test.cpp
 *     run/table_checksum's fast encoding equals mosta::EncodeCanonicalRow + CanonicalRowHash + ChecksumState on
 *     every kind of value: NULL, empty, ASCII, UTF-8, bytes below 0x20 and NUL, long values (lengths over 255 and
 *     65535), JSON and array texts; column names sorted bytewise (upper case, UTF-8, prefixes); generated columns
 *     left out; batches split anywhere.
 */
#include <gtest/gtest.h>

#include "mosta/common/canonical_row.hpp"
#include "run/table_checksum.hpp"
#include "run_fakes.hpp"

namespace mosta::copy {
namespace {

using testing::Row;

std::string
Reference(const TableDef &table, const std::vector<Row> &rows) {
	ChecksumState state;
	std::vector<std::size_t> copied = table.CopiedColumns();
	for (const Row &row : rows) {
		std::vector<CanonicalColumn> columns;
		for (std::size_t i = 0; i < copied.size(); ++i)
			columns.push_back({table.columns[copied[i]].name, row[i]});
		std::string encoded = EncodeCanonicalRow(columns);
		state.Add(CanonicalRowHash(encoded.data(), encoded.size()));
	}
	return state.Text();
}

std::string
Fast(const TableDef &table, const std::vector<Row> &rows, std::size_t batch_rows) {
	TableChecksum checksum(table);
	std::size_t columns = table.CopiedColumns().size();
	for (std::size_t start = 0; start < rows.size(); start += batch_rows) {
		RowBatch batch(columns, ValueForm::Canonical);
		for (std::size_t r = start; r < std::min(rows.size(), start + batch_rows); ++r) {
			if (columns == 0)
				batch.AddEmptyRow();
			for (const auto &field : rows[r])
				if (field)
					batch.AddField(*field);
				else
					batch.AddNull();
		}
		checksum.Add(batch);
	}
	EXPECT_EQ(checksum.Rows(), rows.size());
	return checksum.Text();
}

TEST(RunChecksum, EqualsEncodeCanonicalRowOnEveryKindOfValue) {
	TableDef table;
	table.schema = "zoo";
	table.name = "t";
	// names in table order, deliberately not sorted: bytewise order puts "B" < "a" < "ab" < "b" < "é"
	for (const char *name : {"b", "é", "ab", "a", "B", "gen", "z\x01"}) {
		ColumnDef column{name, "text", "text", false, "", "", '\0', ""};
		if (std::string(name) == "gen")
			column.generated = "(a || b)"; // never copied, never hashed
		table.columns.push_back(column);
	}
	std::string nul("a\0b", 3);
	std::string long300(300, 'x');
	std::string long70k(70'000, 'y');
	std::vector<Row> rows = {
		{"1", "2", "3", "4", "5", "6"},
		{std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
		{"", "", "", "", "", ""},
		{"héllo wörld ✓", "\n\t\"\\", nul, long300, long70k, "\x7f\x80\xff"},
		{"{\"k\": [1, null, \"s\"]}", "[1,null,3]", "null", "true", "2024-05-01T10:30:00.5+00:00", "\\x00ff"},
		{"NaN", "-Infinity", "1e+30", "0.1", "-0", "12345678901234567890.000000001"},
	};
	std::string reference = Reference(table, rows);
	for (std::size_t batch_rows : {1, 2, 4, 100})
		EXPECT_EQ(Fast(table, rows, batch_rows), reference) << batch_rows;
	// a different value gives a different checksum (the test could fail)
	std::vector<Row> changed = rows;
	changed[3][2] = std::string("a\0c", 3);
	EXPECT_NE(Fast(table, changed, 3), reference);
	// swapping two columns' values changes it too (names are part of the encoding)
	std::vector<Row> swapped = rows;
	std::swap(swapped[0][0], swapped[0][1]);
	EXPECT_NE(Fast(table, swapped, 3), reference);
}

TEST(RunChecksum, EmptyTablesAndTablesWithoutColumns) {
	TableDef none;
	none.schema = "s";
	none.name = "none";
	EXPECT_EQ(Fast(none, {}, 10), Reference(none, {}));
	EXPECT_EQ(Fast(none, {{}, {}, {}}, 2), Reference(none, {{}, {}, {}}));
	TableDef one = testing::MakeTable("s", "one", {"v"});
	EXPECT_EQ(Fast(one, {}, 10), ChecksumState().Text());
}

TEST(RunChecksum, RefusesPgTextBatches) {
	TableDef one = testing::MakeTable("s", "one", {"v"});
	TableChecksum checksum(one);
	RowBatch batch(1, ValueForm::PgText);
	batch.AddField("x");
	EXPECT_THROW(checksum.Add(batch), CopyError);
}

} // namespace
} // namespace mosta::copy
