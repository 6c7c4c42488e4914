/*
 * sql_dump_fixtures.hpp
 *     What the SQL dump and JSON export tests share: a scratch directory, a schema like the type zoo's
 *     (test/integration/lib/copy_zoo.sql) with its values in both forms, writing tables through a destination and
 *     reading them back through a source.
 */
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "io/destination.hpp"
#include "io/source.hpp"
#include "model/row_batch.hpp"
#include "model/schema.hpp"

namespace mosta::copy::testing {

using Field = std::optional<std::string>;
using Row = std::vector<Field>;
using Rows = std::vector<Row>;

// ScratchDir is a fresh directory removed at the end of the test.
class ScratchDir {
  public:
	ScratchDir() {
		static std::atomic<int> counter{0};
		path_ = (std::filesystem::temp_directory_path() /
				 ("mosta-copy-files-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
					.string();
		std::filesystem::remove_all(path_);
		std::filesystem::create_directories(path_);
	}
	~ScratchDir() {
		std::error_code ec;
		std::filesystem::remove_all(path_, ec);
	}
	std::string
	operator/(const std::string &name) const {
		return path_ + "/" + name;
	}
	const std::string &
	Path() const {
		return path_;
	}
	// Names returns the names in the directory, sorted.
	std::vector<std::string>
	Names() const {
		std::vector<std::string> names;
		for (const auto &entry : std::filesystem::directory_iterator(path_))
			names.push_back(entry.path().filename().string());
		std::sort(names.begin(), names.end());
		return names;
	}

  private:
	std::string path_;
};

inline std::string
ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

inline void
WriteFile(const std::string &path, const std::string &text) {
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << text;
}

inline ColumnDef
Column(std::string name, std::string type, std::string base_type = "") {
	ColumnDef column;
	column.name = std::move(name);
	column.type = std::move(type);
	column.base_type = base_type.empty() ? column.type : std::move(base_type);
	return column;
}

// ZooSchema returns zoo.values (one column per kind of value, a generated one), zoo.empty (no rows),
// zoo.only_generated (no copied column), zoo."Mixed Case" (names to quote), an enum, a domain and a sequence.
inline DatabaseSchema
ZooSchema() {
	DatabaseSchema schema;
	TypeDef mood;
	mood.schema = "zoo";
	mood.name = "mood";
	mood.kind = "enum";
	mood.labels = {"sad", "ok", "happy"};
	TypeDef qty;
	qty.schema = "zoo";
	qty.name = "qty";
	qty.kind = "domain";
	qty.base_type = "integer";
	schema.types = {mood, qty};
	SequenceDef seq;
	seq.schema = "zoo";
	seq.name = "values_id_seq";
	seq.data_type = "integer";
	seq.last_value = 4;
	seq.is_called = true;
	seq.owned_by_table = "zoo.values";
	seq.owned_by_column = "id";
	schema.sequences = {seq};

	TableDef values;
	values.schema = "zoo";
	values.name = "values";
	values.columns = {Column("id", "integer"),
					  Column("i8", "bigint"),
					  Column("f4", "real"),
					  Column("f8", "double precision"),
					  Column("n", "numeric(12,4)"),
					  Column("b", "boolean"),
					  Column("t", "text"),
					  Column("by", "bytea"),
					  Column("tstz", "timestamp with time zone"),
					  Column("iv", "interval"),
					  Column("j", "json"),
					  Column("jb", "jsonb"),
					  Column("ia", "integer[]"),
					  Column("ta", "text[]"),
					  Column("jba", "jsonb[]"),
					  Column("moods", "zoo.mood[]"),
					  Column("m", "zoo.mood"),
					  Column("q", "zoo.qty", "integer"),
					  Column("u", "uuid"),
					  Column("twice_q", "integer")};
	values.columns[0].not_null = true;
	values.columns[0].default_expr = "nextval('zoo.values_id_seq'::regclass)";
	values.columns.back().generated = "(q * 2)";
	values.primary_key = {"id"};
	values.post_data = {"ALTER TABLE ONLY zoo.\"values\" ADD CONSTRAINT values_pkey PRIMARY KEY (id);"};

	TableDef empty;
	empty.schema = "zoo";
	empty.name = "empty";
	empty.columns = {Column("id", "integer"), Column("note", "text")};

	TableDef generated;
	generated.schema = "zoo";
	generated.name = "only_generated";
	generated.columns = {Column("one", "integer")};
	generated.columns[0].generated = "1";

	TableDef mixed;
	mixed.schema = "zoo";
	mixed.name = "Mixed Case";
	mixed.columns = {Column("Key", "integer"), Column("select", "text"), Column("a,b", "text")};

	schema.tables = {values, empty, generated, mixed};
	return schema;
}

inline SnapshotInfo
ZooSnapshot() {
	return SnapshotInfo{"0/16B3748", "2026-12-07T02:00:00.123456+00:00", "postgresql://u:***@h/db", "15.19", "UTF8",
						false};
}

// ZooValuesCanonical returns rows of zoo.values (its 19 copied columns) in canonical text.
inline Rows
ZooValuesCanonical() {
	Rows rows;
	rows.push_back({"1", "9223372036854775807", "3.14", "0.1", "12.5000", "true", "plain", "\\x00ff10",
					"2024-05-01T08:30:00.5+00:00", "P1Y2M3DT4H5M6.5S", "{\"a\":\n 1,  \"a\": 2}",
					"{\"a\": null, \"b\": [1, \"x\"]}", "[1,null,3]",
					"[\"a,b\",\"q\\\"uote\",\"back\\\\slash\",\"{brace}\",null,\"NULL\",\"\"]",
					"[null,\"null\",\"{\\\"k\\\": 1}\"]", "[\"happy\",\"sad\"]", "happy", "5",
					"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"});
	rows.push_back({"2", "-9223372036854775808", "NaN", "-Infinity", "NaN", "false",
					"tab\there\nnewline\r\\back \\N \xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \x01\x1f \"q\" \\.", "\\x",
					"-0001-03-15T00:00:00+00:00", "P-1DT-2H", "null", "null", "[]", "[]", "[]", "[]", "sad", "0",
					"00000000-0000-0000-0000-000000000000"});
	rows.push_back({"3", "0", "-0", "1e+300", "Infinity", std::nullopt, "", "\\x0a0d5c09", "infinity", "PT0S",
					"\"a string\"", "\"a string\"", "[[1,2],[3,4]]", "[\"\"]", "[\"[1, 2]\"]", std::nullopt, "ok", "7",
					std::nullopt});
	Row nulls(19, std::nullopt);
	nulls[0] = "4";
	nulls[2] = "1e-07";
	nulls[6] = "null";
	rows.push_back(nulls);
	return rows;
}

// ZooValuesPgText returns rows of zoo.values in PostgreSQL's text output (COPY-unescaped).
inline Rows
ZooValuesPgText() {
	Rows rows;
	rows.push_back(
		{"1", "9223372036854775807", "3.14", "0.1", "12.5000", "t", "plain", "\\x00ff10", "2024-05-01 08:30:00.5+00",
		 "P1Y2M3DT4H5M6.5S", "{\"a\":\n 1,  \"a\": 2}", "{\"a\": null, \"b\": [1, \"x\"]}", "{1,NULL,3}",
		 "{\"a,b\",\"q\\\"uote\",\"back\\\\slash\",\"{brace}\",NULL,\"NULL\",\"\"}",
		 "{NULL,\"null\",\"{\\\"k\\\": 1}\"}", "{happy,sad}", "happy", "5", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"});
	rows.push_back({"2", "-9223372036854775808", "NaN", "-Infinity", "NaN", "f",
					"tab\there\nnewline\r\\back \\N \xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \x01\x1f \"q\" \\.", "\\x",
					"0002-03-15 00:00:00+00 BC", "P-1DT-2H", "null", "null", "{}", "{}", "{}", "{}", "sad", "0",
					"00000000-0000-0000-0000-000000000000"});
	rows.push_back({"3", "0", "-0", "1e+300", "Infinity", std::nullopt, "", "\\x0a0d5c09", "infinity", "PT0S",
					"\"a string\"", "\"a string\"", "{{1,2},{3,4}}", "{\"\"}", "{\"[1, 2]\"}", std::nullopt, "ok", "7",
					std::nullopt});
	Row nulls(19, std::nullopt);
	nulls[0] = "4";
	nulls[2] = "1e-07";
	nulls[6] = "\\.";
	rows.push_back(nulls);
	return rows;
}

inline Rows
MixedRows() {
	return {{"1", "from", "c"}, {"2", std::nullopt, "d\"e"}, {"3", "\\N", "tab\tx"}};
}

inline RowBatch
MakeBatch(const Rows &rows, std::size_t columns, ValueForm form, std::size_t from = 0, std::size_t count = SIZE_MAX) {
	RowBatch batch(columns, form);
	for (std::size_t i = from; i < rows.size() && i - from < count; ++i) {
		if (columns == 0) {
			batch.AddEmptyRow();
			continue;
		}
		for (const Field &field : rows[i]) {
			if (field)
				batch.AddField(*field);
			else
				batch.AddNull();
		}
	}
	return batch;
}

// The rows each zoo table gets.
inline Rows
ZooRows(const TableDef &table, ValueForm form) {
	if (table.name == "values")
		return form == ValueForm::Canonical ? ZooValuesCanonical() : ZooValuesPgText();
	if (table.name == "Mixed Case")
		return MixedRows();
	if (table.name == "only_generated")
		return Rows(3, Row{});
	return {};
}

// WriteTable writes rows to table through destination, in batches of two rows.
inline void
WriteTable(Destination &destination, const TableDef &table, const Rows &rows) {
	std::unique_ptr<TableWriter> writer = destination.OpenTable(table);
	std::size_t columns = table.CopiedColumns().size();
	for (std::size_t from = 0; from < rows.size(); from += 2)
		writer->Write(MakeBatch(rows, columns, destination.Form(), from, 2));
	writer->Close(rows.size());
}

// WriteZoo writes the zoo's tables (Begin, every table, Finish); with threads, from one thread per table, in
// reverse order.
inline void
WriteZoo(Destination &destination, const DatabaseSchema &schema, bool threads = false) {
	destination.Begin(schema, ZooSnapshot());
	if (!threads) {
		for (const TableDef &table : schema.tables)
			WriteTable(destination, table, ZooRows(table, destination.Form()));
	} else {
		std::vector<std::thread> workers;
		std::vector<std::string> errors(schema.tables.size());
		for (std::size_t i = schema.tables.size(); i-- > 0;) {
			workers.emplace_back([&, i] {
				try {
					const TableDef &table = schema.tables[i];
					WriteTable(destination, table, ZooRows(table, destination.Form()));
				} catch (const std::exception &e) {
					errors[i] = e.what();
				}
			});
		}
		for (std::thread &worker : workers)
			worker.join();
		for (const std::string &error : errors)
			ASSERT_EQ(error, "");
	}
	destination.Finish();
}

// ReadTable reads all of table's rows from source, max_rows at a time.
inline Rows
ReadTable(Source &source, const TableDef &table, std::size_t max_rows = 3) {
	std::unique_ptr<TableReader> reader = source.OpenTable(table);
	RowBatch batch(table.CopiedColumns().size(), reader->Form());
	Rows rows;
	while (reader->Next(batch, max_rows)) {
		EXPECT_LE(batch.Rows(), max_rows);
		for (std::size_t row = 0; row < batch.Rows(); ++row) {
			Row values;
			for (std::size_t column = 0; column < batch.Columns(); ++column) {
				std::optional<std::string_view> field = batch.Field(row, column);
				values.push_back(field ? Field(std::string(*field)) : std::nullopt);
			}
			rows.push_back(values);
		}
	}
	return rows;
}

// ExpectZooReadsBack opens source and checks its schema, snapshot and every table's rows.
inline void
ExpectZooReadsBack(Source &source, ValueForm form) {
	source.Open();
	DatabaseSchema expected = ZooSchema();
	EXPECT_EQ(SchemaToJson(source.Schema(), source.Snapshot()), SchemaToJson(expected, ZooSnapshot()));
	for (const TableDef &table : source.Schema().tables)
		EXPECT_EQ(ReadTable(source, table), ZooRows(table, form)) << table.QualifiedName();
	source.Close();
}

// ExpectThrowsWith runs f and checks that it throws CopyError whose message holds each of parts.
template <typename F>
void
ExpectThrowsWith(F f, const std::vector<std::string> &parts) {
	try {
		f();
		ADD_FAILURE() << "no error; expected one with: " << parts.front();
	} catch (const CopyError &e) {
		std::string message = e.what();
		for (const std::string &part : parts)
			EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected: " << part;
	}
}

} // namespace mosta::copy::testing
