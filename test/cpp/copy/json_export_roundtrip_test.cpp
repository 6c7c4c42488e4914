/*
 * json_export_roundtrip_test.cpp
 *     The JSON export destination and source: the values' JSON encoding (docs/protocol.md section 8), every kind of
 *     value reading back exactly (SQL NULL apart from the JSON null and ''), one valid JSON document laid out one
 *     item a line, one file per table in a directory, --jobs ordering, the temporary name until Commit, Abort, and
 *     a truncated, altered, reformatted or newer document refused naming the line.
 */
#include <gtest/gtest.h>

#include "io/json_export_format.hpp"
#include "io/open.hpp"
#include "io/staged_path.hpp"
#include "mosta/common/canonical_row.hpp"
#include "sql_dump_fixtures.hpp"
#include "util/json_text.hpp"

namespace mosta::copy {
namespace {

using namespace mosta::copy::testing;

std::unique_ptr<Destination>
Export(const std::string &path, int jobs = 1) {
	DestinationOptions options;
	options.jobs = jobs;
	return MakeJsonDestination(path, options);
}

void
WriteExport(const std::string &path, int jobs = 1) {
	std::unique_ptr<Destination> destination = Export(path, jobs);
	WriteZoo(*destination, ZooSchema(), jobs > 1);
	destination->Commit();
}

// ExpectValidJson parses the whole text as one JSON document.
void
ExpectValidJson(const std::string &text) {
	try {
		sidecar::JsonParse parse(text);
		std::string compact;
		sidecar::AppendCompactJson(parse.Document().get_value().value(), compact);
		parse.ExpectEnd();
	} catch (const simdjson::simdjson_error &e) {
		ADD_FAILURE() << "not valid JSON: " << e.what();
	}
}

std::vector<std::string>
Lines(const std::string &text) {
	std::vector<std::string> lines;
	std::size_t start = 0;
	while (start < text.size()) {
		std::size_t end = text.find('\n', start);
		lines.push_back(text.substr(start, end - start));
		start = end + 1;
	}
	return lines;
}

TEST(JsonExport, ValuesAreTheOutputPluginsEncoding) {
	ScratchDir dir;
	WriteExport(dir / "zoo.json");
	std::vector<std::string> lines = Lines(ReadFile(dir / "zoo.json"));
	ASSERT_GE(lines.size(), 6u);
	EXPECT_EQ(lines[0].rfind("{\"format\":\"mostajs.export\",\"version\":1,\"schema\":{\"version\":1,", 0), 0u);
	EXPECT_EQ(lines[0].substr(lines[0].size() - 11), ",\"tables\":[");
	EXPECT_EQ(lines[1], "{\"schema\":\"zoo\",\"name\":\"values\",\"columns\":[\"id\",\"i8\",\"f4\",\"f8\",\"n\",\"b\","
						"\"t\",\"by\",\"tstz\",\"iv\",\"j\",\"jb\",\"ia\",\"ta\",\"jba\",\"moods\",\"m\",\"q\",\"u\"],"
						"\"rows\":[");
	EXPECT_EQ(lines[2], "[1,9223372036854775807,3.14,0.1,\"12.5000\",true,\"plain\",\"\\\\x00ff10\","
						"\"2024-05-01T08:30:00.5+00:00\",\"P1Y2M3DT4H5M6.5S\",\"{\\\"a\\\":\\n 1,  \\\"a\\\": 2}\","
						"\"{\\\"a\\\": null, \\\"b\\\": [1, \\\"x\\\"]}\",[1,null,3],"
						"[\"a,b\",\"q\\\"uote\",\"back\\\\slash\",\"{brace}\",null,\"NULL\",\"\"],"
						"[null,\"null\",\"{\\\"k\\\": 1}\"],[\"happy\",\"sad\"],\"happy\",5,"
						"\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"],");
	// NaN and infinities as strings, the JSON null as "null", SQL NULL as null, a domain over integer bare
	EXPECT_NE(lines[3].find("[2,-9223372036854775808,\"NaN\",\"-Infinity\",\"NaN\",false,"), std::string::npos);
	EXPECT_NE(lines[3].find("\"null\",\"null\",[],[],[],[],\"sad\",0,"), std::string::npos);
	EXPECT_NE(lines[4].find("[3,0,-0,1e+300,\"Infinity\",null,\"\","), std::string::npos);
	EXPECT_EQ(lines[5], "[4,null,1e-07,null,null,null,\"null\",null,null,null,null,null,null,null,null,null,null,null,"
						"null]");
	EXPECT_EQ(lines[6], "],\"row_count\":4},");
	EXPECT_EQ(lines.back(), "]}");
	// a table without copied columns: a row is []
	std::string text = ReadFile(dir / "zoo.json");
	EXPECT_NE(text.find("\"name\":\"only_generated\",\"columns\":[],\"rows\":[\n[],\n[],\n[]\n],\"row_count\":3},\n"),
			  std::string::npos);
	EXPECT_NE(text.find("\"name\":\"empty\",\"columns\":[\"id\",\"note\"],\"rows\":[\n],\"row_count\":0},\n"),
			  std::string::npos);
	ExpectValidJson(text);
}

TEST(JsonExport, EveryValueReadsBack) {
	ScratchDir dir;
	WriteExport(dir / "zoo.json");
	std::unique_ptr<Source> source = MakeJsonSource(dir / "zoo.json");
	ExpectZooReadsBack(*source, ValueForm::Canonical);
}

TEST(JsonExport, TextsThatCannotStandBareAreStrings) {
	// a number column holding a text that is not a JSON number reads back the same as a string
	TableDef table;
	table.schema = "s";
	table.name = "t";
	table.columns = {Column("a", "integer"), Column("b", "boolean"), Column("c", "integer[]"), Column("d", "real")};
	RowBatch batch(4, ValueForm::Canonical);
	batch.AddField("12abc");
	batch.AddField("t");
	batch.AddField("{1,2}");
	batch.AddField("1.");
	std::vector<JsonValueKind> kinds;
	for (const ColumnDef &column : table.columns)
		kinds.push_back(JsonValueKindOf(column));
	std::string line;
	AppendJsonRow(batch, 0, kinds, line);
	EXPECT_EQ(line, "[\"12abc\",\"t\",\"{1,2}\",\"1.\"]");
	RowBatch back(4, ValueForm::Canonical);
	EXPECT_EQ(ParseJsonRow(line, back), "");
	for (std::size_t i = 0; i < 4; ++i)
		EXPECT_EQ(*back.Field(0, i), *batch.Field(0, i));
	EXPECT_TRUE(IsJsonNumber("-0.5e+10"));
	EXPECT_FALSE(IsJsonNumber("01"));
	EXPECT_FALSE(IsJsonNumber("NaN"));
	RowBatch wrong(2, ValueForm::Canonical);
	EXPECT_NE(ParseJsonRow("[1,{\"a\":1}]", wrong).find("JSON object"), std::string::npos);
	RowBatch count(2, ValueForm::Canonical);
	EXPECT_NE(ParseJsonRow("[1]", count).find("1 value(s)"), std::string::npos);
	RowBatch broken(1, ValueForm::Canonical);
	EXPECT_NE(ParseJsonRow("[\"a]", broken), "");
}

TEST(JsonExport, JobsWriteTablesInSchemaOrder) {
	ScratchDir sequential, parallel;
	WriteExport(sequential / "zoo.json", 1);
	WriteExport(parallel / "zoo.json", 4);
	EXPECT_EQ(ReadFile(parallel / "zoo.json"), ReadFile(sequential / "zoo.json"));
	EXPECT_EQ(parallel.Names(), std::vector<std::string>{"zoo.json"});
	std::unique_ptr<Source> source = MakeJsonSource(parallel / "zoo.json");
	ExpectZooReadsBack(*source, ValueForm::Canonical);
}

TEST(JsonExport, NoTables) {
	ScratchDir dir;
	std::unique_ptr<Destination> destination = Export(dir / "none.json");
	WriteZoo(*destination, DatabaseSchema{});
	destination->Commit();
	std::string text = ReadFile(dir / "none.json");
	EXPECT_EQ(text.substr(text.size() - 15), ",\"tables\":[\n]}\n");
	ExpectValidJson(text);
	std::unique_ptr<Source> source = MakeJsonSource(dir / "none.json");
	source->Open();
	EXPECT_TRUE(source->Schema().tables.empty());
}

TEST(JsonExport, OneFilePerTableInADirectory) {
	ScratchDir dir;
	std::string path = dir / "zoo/";
	std::unique_ptr<Destination> destination = Export(path, 2);
	WriteZoo(*destination, ZooSchema(), true);
	EXPECT_FALSE(std::filesystem::exists(dir / "zoo"));
	destination->Commit();
	std::vector<std::string> names;
	for (const auto &entry : std::filesystem::directory_iterator(dir / "zoo"))
		names.push_back(entry.path().filename().string());
	std::sort(names.begin(), names.end());
	EXPECT_EQ(names, (std::vector<std::string>{"zoo.Mixed Case.json", "zoo.empty.json", "zoo.only_generated.json",
											   "zoo.values.json"}));
	std::string one = ReadFile(dir / "zoo/zoo.values.json");
	ExpectValidJson(one);
	EXPECT_EQ(one.find("\"name\":\"empty\""), std::string::npos); // the schema document holds this table only
	std::vector<WrittenFile> files = destination->Files();
	ASSERT_EQ(files.size(), 1u);
	EXPECT_EQ(files[0].path, dir / "zoo");
	EXPECT_GT(files[0].bytes, one.size());

	std::unique_ptr<Source> source = MakeJsonSource(dir / "zoo");
	source->Open();
	DatabaseSchema expected = ZooSchema();
	SortByForeignKeys(expected.tables);
	EXPECT_EQ(SchemaToJson(source->Schema(), source->Snapshot()), SchemaToJson(expected, ZooSnapshot()));
	for (const TableDef &table : source->Schema().tables)
		EXPECT_EQ(ReadTable(*source, table), ZooRows(table, ValueForm::Canonical)) << table.QualifiedName();

	// a second export replaces the directory; a directory holding other files is refused
	WriteExport(dir / "zoo");
	EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "zoo"), {}), 4);
	WriteFile(dir / "zoo/daily.sqlite", "x");
	std::unique_ptr<Destination> refused = Export(dir / "zoo");
	ExpectThrowsWith([&] { refused->Begin(ZooSchema(), ZooSnapshot()); },
					 {"daily.sqlite", "not part of a JSON export"});
	refused->Abort();
}

TEST(JsonExport, DirectoryFinishRefusesATableNeverClosed) {
	ScratchDir dir;
	std::unique_ptr<Destination> destination = Export(dir / "tables/");
	DatabaseSchema schema = ZooSchema();
	destination->Begin(schema, ZooSnapshot());
	std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[3]);
	writer->Write(MakeBatch(MixedRows(), 3, ValueForm::Canonical));
	writer.reset();
	ExpectThrowsWith([&] { destination->Finish(); }, {"tables", "1 table(s) opened but never closed"});
	destination->Abort();
	EXPECT_EQ(dir.Names(), std::vector<std::string>{});
}

TEST(JsonExport, FileNamesEscapeWhatAFileNameCannotHold) {
	TableDef table;
	table.schema = "a.b";
	table.name = "x/y%z\n";
	EXPECT_EQ(ExportFileName(table), "a%2Eb.x%2Fy%25z%0A.json");
	table.schema = ".hidden";
	table.name = "t.u";
	EXPECT_EQ(ExportFileName(table), "%2Ehidden.t.u.json");
}

TEST(JsonExport, TemporaryUntilCommitAndAbortLeavesNothing) {
	for (int jobs : {1, 3}) {
		ScratchDir dir;
		std::string path = dir / "zoo.json";
		std::unique_ptr<Destination> destination = Export(path, jobs);
		DatabaseSchema schema = ZooSchema();
		WriteZoo(*destination, schema);
		EXPECT_FALSE(std::filesystem::exists(path));
		ASSERT_EQ(dir.Names().size(), 1u);
		EXPECT_EQ(dir.Names()[0].rfind("zoo.json.mosta-tmp.", 0), 0u);
		destination->Abort();
		EXPECT_EQ(dir.Names(), std::vector<std::string>{});

		std::unique_ptr<Destination> second = Export(path, jobs);
		second->Begin(schema, ZooSnapshot());
		WriteTable(*second, schema.tables[1], {});
		std::unique_ptr<TableWriter> open_writer = second->OpenTable(schema.tables[3]);
		open_writer->Write(MakeBatch(MixedRows(), 3, ValueForm::Canonical));
		second->Abort();
		EXPECT_EQ(dir.Names(), std::vector<std::string>{}) << "jobs " << jobs;

		std::unique_ptr<Destination> directory = Export(dir / "tables/");
		directory->Begin(schema, ZooSnapshot());
		WriteTable(*directory, schema.tables[3], MixedRows());
		EXPECT_FALSE(std::filesystem::exists(dir / "tables"));
		directory->Abort();
		EXPECT_EQ(dir.Names(), std::vector<std::string>{});
	}
}

void
ReadAll(const std::string &path) {
	std::unique_ptr<Source> source = MakeJsonSource(path);
	source->Open();
	for (const TableDef &table : source->Schema().tables)
		ReadTable(*source, table);
}

TEST(JsonExport, TruncatedOrAlteredDocumentIsRefusedNamingTheLine) {
	ScratchDir dir;
	WriteExport(dir / "zoo.json");
	std::string text = ReadFile(dir / "zoo.json");
	std::string path = dir / "bad.json";
	// cut short, in the rows or before the end
	WriteFile(path, text.substr(0, text.find("[3,0,")));
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "ends after line 4", "zoo.values", "cut short"});
	WriteFile(path, text.substr(0, text.size() - 3));
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "cut short"});
	// a row removed
	std::vector<std::string> lines = Lines(text);
	std::string removed;
	for (std::size_t i = 0; i < lines.size(); ++i)
		if (i != 3)
			removed += lines[i] + "\n";
	WriteFile(path, removed);
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "line 6:", "row_count says 4, 3 rows"});
	// a damaged row
	std::string damaged = text;
	damaged.replace(damaged.find("[4,null,1e-07"), 13, "[4,null,1e-07}");
	WriteFile(path, damaged);
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "line 6:", "zoo.values"});
	// a version this build does not read
	std::string newer = text;
	newer.replace(0, 40, "{\"format\":\"mostajs.export\",\"version\":2,");
	WriteFile(path, newer);
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "line 1:", "version 2", "reads (1)"});
	// reformatted by a pretty printer
	WriteFile(path, "{\n    \"format\": \"mostajs.export\",\n    \"version\": 1,\n");
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "line 1:", "pretty printer"});
	// not an export at all
	WriteFile(path, "[1,2,3]\n");
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "line 1:", "not a mosta-copy JSON export"});
	// a row after the last one (a missing comma: the document would not be JSON)
	std::string comma = text;
	comma.replace(comma.find("\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"],"), 40,
				  "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]");
	WriteFile(path, comma);
	ExpectThrowsWith([&] { ReadAll(path); }, {path, "line 4:", "\",\" missing"});
}

} // namespace
} // namespace mosta::copy
