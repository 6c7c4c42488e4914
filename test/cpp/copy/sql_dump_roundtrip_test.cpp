/*
 * sql_dump_roundtrip_test.cpp
 *     The SQL dump destination and source: every kind of value reads back exactly (NULL apart from '' and "\N",
 *     COPY's escapes), 0 rows and no copied columns, --jobs ordering, the layout psql reads (SET lines, schema
 *     line, DDL or data only), the temporary name until Commit, Abort, and a truncated or altered dump refused
 *     naming the file and line.
 */
#include <gtest/gtest.h>

#include "io/open.hpp"
#include "io/copy_text.hpp"
#include "io/staged_path.hpp"
#include "sql_dump_fixtures.hpp"

namespace mosta::copy {
namespace {

using namespace mosta::copy::testing;

std::unique_ptr<Destination>
Dump(const std::string &path, bool create_tables, int jobs = 1) {
	DestinationOptions options;
	options.create_tables = create_tables;
	options.jobs = jobs;
	return MakeSqlDumpDestination(path, options);
}

// WriteDump writes the zoo to path and commits.
void
WriteDump(const std::string &path, bool create_tables = true, int jobs = 1) {
	std::unique_ptr<Destination> dump = Dump(path, create_tables, jobs);
	WriteZoo(*dump, ZooSchema(), jobs > 1);
	dump->Commit();
}

TEST(SqlDumpCopyText, EscapesAndUnescapes) {
	RowBatch batch(4, ValueForm::PgText);
	batch.AddField("a\\b\tc\nd\re");
	batch.AddNull();
	batch.AddField("");
	batch.AddField("\\N");
	std::string line;
	AppendCopyRow(batch, 0, line);
	EXPECT_EQ(line, "a\\\\b\\tc\\nd\\re\t\\N\t\t\\\\N\n");
	RowBatch back(4, ValueForm::PgText);
	EXPECT_EQ(ParseCopyLine(std::string_view(line).substr(0, line.size() - 1), back), "");
	EXPECT_EQ(*back.Field(0, 0), "a\\b\tc\nd\re");
	EXPECT_FALSE(back.Field(0, 1).has_value());
	EXPECT_EQ(*back.Field(0, 2), "");
	EXPECT_EQ(*back.Field(0, 3), "\\N");
	// what COPY FROM reads besides: octal, hex, \b \f \v, any other escaped character
	RowBatch other(1, ValueForm::PgText);
	EXPECT_EQ(ParseCopyLine("\\101\\x42\\b\\f\\v\\q", other), "");
	EXPECT_EQ(*other.Field(0, 0), "AB\b\f\vq");
	RowBatch wrong(2, ValueForm::PgText);
	EXPECT_NE(ParseCopyLine("only one", wrong).find("1 field(s)"), std::string::npos);
	RowBatch wrong2(2, ValueForm::PgText);
	EXPECT_NE(ParseCopyLine("a\tb\tc", wrong2).find("3 fields"), std::string::npos);
}

TEST(SqlDump, EveryValueReadsBack) {
	ScratchDir dir;
	WriteDump(dir / "zoo.sql");
	std::unique_ptr<Source> source = MakeSqlDumpSource(dir / "zoo.sql");
	ExpectZooReadsBack(*source, ValueForm::PgText);
}

TEST(SqlDump, LayoutIsPgDumpsPlainFormat) {
	ScratchDir dir;
	WriteDump(dir / "zoo.sql");
	std::string text = ReadFile(dir / "zoo.sql");
	for (const char *part :
		 {"SET statement_timeout = 0;\n", "SET client_encoding = 'UTF8';\n", "SET standard_conforming_strings = on;\n",
		  "SELECT pg_catalog.set_config('search_path', '', false);\n", "SET check_function_bodies = false;\n",
		  "SET DateStyle = 'ISO, YMD';\n", "SET IntervalStyle = 'iso_8601';\n", "SET extra_float_digits = 1;\n",
		  "SET bytea_output = 'hex';\n", "\n-- mosta-copy:schema {\"version\":1,", "-- Dumped by mosta-copy version ",
		  "-- Snapshot: LSN 0/16B3748 at 2026-12-07T02:00:00.123456+00:00\n",
		  "-- Source: postgresql://u:***@h/db (PostgreSQL 15.19)\n", "CREATE TABLE \"zoo\".\"values\"",
		  "COPY \"zoo\".\"Mixed Case\" (\"Key\", \"select\", \"a,b\") FROM STDIN;\n1\tfrom\tc\n2\t\\N\td\"e\n"
		  "3\t\\\\N\ttab\\tx\n\\.\n-- mosta-copy:rows 3\n",
		  "COPY \"zoo\".\"only_generated\" FROM STDIN;\n\n\n\n\\.\n", "setval(", "PRIMARY KEY (id);",
		  "\n-- mosta-copy dump complete\n--\n"})
		EXPECT_NE(text.find(part), std::string::npos) << part;
	// the schema line is one line, before any statement
	EXPECT_LT(text.find("-- mosta-copy:schema"), text.find("CREATE "));
	// tables in schema order; constraints after the data
	EXPECT_LT(text.find("COPY \"zoo\".\"values\""), text.find("COPY \"zoo\".\"empty\""));
	EXPECT_LT(text.find("COPY \"zoo\".\"Mixed Case\""), text.rfind("PRIMARY KEY (id);"));
	// the generated column is never copied
	EXPECT_EQ(text.find("\"twice_q\") FROM STDIN"), std::string::npos);
}

TEST(SqlDump, DataOnlyHasNoDdlButTheSequenceValues) {
	ScratchDir dir;
	WriteDump(dir / "data.sql", false);
	std::string text = ReadFile(dir / "data.sql");
	std::size_t schema_line = text.find("-- mosta-copy:schema");
	text.erase(schema_line, text.find('\n', schema_line) - schema_line); // the schema document names constraints
	EXPECT_EQ(text.find("CREATE "), std::string::npos);
	EXPECT_EQ(text.find("PRIMARY KEY"), std::string::npos);
	EXPECT_NE(text.find("SELECT pg_catalog.setval("), std::string::npos);
	EXPECT_NE(text.find("-- Contents: data only"), std::string::npos);
	std::unique_ptr<Source> source = MakeSqlDumpSource(dir / "data.sql");
	ExpectZooReadsBack(*source, ValueForm::PgText);
}

TEST(SqlDump, JobsWriteTablesInSchemaOrder) {
	ScratchDir sequential, parallel;
	WriteDump(sequential / "zoo.sql", true, 1);
	WriteDump(parallel / "zoo.sql", true, 4);
	// tables written from four threads in reverse order: the same file
	EXPECT_EQ(ReadFile(parallel / "zoo.sql"), ReadFile(sequential / "zoo.sql"));
	EXPECT_EQ(parallel.Names(), std::vector<std::string>{"zoo.sql"}); // no part file left
	std::unique_ptr<Source> source = MakeSqlDumpSource(parallel / "zoo.sql");
	ExpectZooReadsBack(*source, ValueForm::PgText);
}

TEST(SqlDump, TemporaryUntilCommitAndFilesListed) {
	ScratchDir dir;
	std::string path = dir / "zoo.sql";
	std::unique_ptr<Destination> dump = Dump(path, true, 2);
	dump->Begin(ZooSchema(), ZooSnapshot());
	DatabaseSchema schema = ZooSchema();
	WriteTable(*dump, schema.tables[3], MixedRows());
	EXPECT_FALSE(std::filesystem::exists(path));
	std::vector<std::string> names = dir.Names();
	ASSERT_EQ(names.size(), 2u); // the temporary and one part file
	EXPECT_EQ(names[0].rfind("zoo.sql.mosta-tmp.", 0), 0u) << names[0];
	EXPECT_NE(names[1].find(".part3"), std::string::npos) << names[1];
	for (std::size_t i = 0; i < 3; ++i)
		WriteTable(*dump, schema.tables[i], ZooRows(schema.tables[i], ValueForm::PgText));
	dump->Finish();
	EXPECT_FALSE(std::filesystem::exists(path));
	dump->Commit();
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"zoo.sql"});
	std::vector<WrittenFile> files = dump->Files();
	ASSERT_EQ(files.size(), 1u);
	EXPECT_EQ(files[0].kind, "sql-dump");
	EXPECT_EQ(files[0].path, path);
	std::uint64_t bytes = 0;
	EXPECT_EQ(files[0].crc32c, FileCrc32c(path, &bytes));
	EXPECT_EQ(files[0].bytes, bytes);
	EXPECT_EQ(files[0].bytes, std::filesystem::file_size(path));
}

TEST(SqlDump, AbortLeavesNothing) {
	for (int jobs : {1, 3}) {
		ScratchDir dir;
		std::unique_ptr<Destination> dump = Dump(dir / "zoo.sql", true, jobs);
		DatabaseSchema schema = ZooSchema();
		dump->Begin(schema, ZooSnapshot());
		WriteTable(*dump, schema.tables[0], ZooValuesPgText());
		std::unique_ptr<TableWriter> open_writer = dump->OpenTable(schema.tables[3]); // never closed
		open_writer->Write(MakeBatch(MixedRows(), 3, ValueForm::PgText));
		EXPECT_FALSE(dir.Names().empty());
		dump->Abort();
		EXPECT_EQ(dir.Names(), std::vector<std::string>{}) << "jobs " << jobs;
	}
}

TEST(SqlDump, DestroyedUncommittedLeavesNothing) {
	ScratchDir dir;
	{
		std::unique_ptr<Destination> dump = Dump(dir / "zoo.sql", true, 3);
		DatabaseSchema schema = ZooSchema();
		dump->Begin(schema, ZooSnapshot());
		WriteTable(*dump, schema.tables[3], MixedRows());
		EXPECT_EQ(dir.Names().size(), 2u);
	}
	EXPECT_EQ(dir.Names(), std::vector<std::string>{});
}

TEST(SqlDump, BeginRemovesWhatAKilledRunLeft) {
	ScratchDir dir;
	// a temporary and a part file of a process that no longer runs (pids never reach 999999999)
	WriteFile(dir / "zoo.sql.mosta-tmp.999999999", "half");
	WriteFile(dir / "zoo.sql.mosta-tmp.999999999.part2", "part");
	WriteFile(dir / "zoo.sql.other", "not ours");
	WriteDump(dir / "zoo.sql");
	EXPECT_EQ(dir.Names(), (std::vector<std::string>{"zoo.sql", "zoo.sql.other"}));
}

TEST(SqlDump, FinishRefusesATableNeverClosed) {
	ScratchDir dir;
	std::unique_ptr<Destination> dump = Dump(dir / "zoo.sql", true);
	DatabaseSchema schema = ZooSchema();
	dump->Begin(schema, ZooSnapshot());
	std::unique_ptr<TableWriter> writer = dump->OpenTable(schema.tables[3]);
	ExpectThrowsWith([&] { dump->Finish(); }, {"zoo.sql", "still being written"});
	writer.reset();
	ExpectThrowsWith([&] { dump->Finish(); }, {"zoo.sql", "never closed"});
	dump->Abort();
	EXPECT_EQ(dir.Names(), std::vector<std::string>{});
}

TEST(SqlDump, AbortAfterFinishLeavesNothingAndKeepsTheOldFile) {
	ScratchDir dir;
	WriteFile(dir / "zoo.sql", "yesterday's dump\n");
	std::unique_ptr<Destination> dump = Dump(dir / "zoo.sql", true);
	WriteZoo(*dump, ZooSchema());
	dump->Abort();
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"zoo.sql"});
	EXPECT_EQ(ReadFile(dir / "zoo.sql"), "yesterday's dump\n");
}

TEST(SqlDump, WrongBatchOrCountIsRefused) {
	ScratchDir dir;
	std::unique_ptr<Destination> dump = Dump(dir / "zoo.sql", true);
	DatabaseSchema schema = ZooSchema();
	dump->Begin(schema, ZooSnapshot());
	std::unique_ptr<TableWriter> writer = dump->OpenTable(schema.tables[3]);
	ExpectThrowsWith([&] { writer->Write(MakeBatch(MixedRows(), 3, ValueForm::Canonical)); }, {"Mixed Case", "PgText"});
	writer->Write(MakeBatch(MixedRows(), 3, ValueForm::PgText));
	ExpectThrowsWith([&] { writer->Close(4); }, {"3 rows written, 4 counted"});
	dump->Abort();
}

// Dumped returns the text of the zoo's dump, to alter.
std::string
Dumped(const ScratchDir &dir) {
	WriteDump(dir / "zoo.sql");
	return ReadFile(dir / "zoo.sql");
}

// ReadAllTables opens path as a dump and reads every table.
void
ReadAllTables(const std::string &path) {
	std::unique_ptr<Source> source = MakeSqlDumpSource(path);
	source->Open();
	for (const TableDef &table : source->Schema().tables)
		ReadTable(*source, table);
}

TEST(SqlDump, TruncatedDumpIsRefused) {
	ScratchDir dir;
	std::string text = Dumped(dir);
	std::string path = dir / "cut.sql";
	// cut inside the rows of zoo.values, after a few lines of them
	std::size_t inside = text.find("\n", text.find("COPY \"zoo\".\"values\"")) + 40;
	WriteFile(path, text.substr(0, inside));
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "ends after line ", "zoo.values", "cut short"});
	// cut before the post-data
	WriteFile(path, text.substr(0, text.find("SELECT pg_catalog.setval(")));
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "-- mosta-copy dump complete", "cut short"});
	// the last line without its end
	WriteFile(path, text.substr(0, text.size() - 10));
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "cut short"});
}

TEST(SqlDump, AlteredDumpIsRefusedNamingTheLine) {
	ScratchDir dir;
	std::string text = Dumped(dir);
	std::string path = dir / "altered.sql";
	// a row line removed
	std::size_t first_row = text.find("\n", text.find("COPY \"zoo\".\"Mixed Case\"")) + 1;
	std::size_t second_row = text.find("\n", first_row) + 1;
	WriteFile(path, text.substr(0, first_row) + text.substr(second_row));
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "line ", "zoo.Mixed Case", "says 3 rows"});
	// a field removed from a row
	std::string fewer = text;
	fewer.replace(first_row, 8, "1\tfrom\n");
	fewer.erase(first_row + 7, 1);
	WriteFile(path, fewer);
	std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + first_row, '\n'));
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "line " + std::to_string(line) + ":", "2 field(s)"});
	// the schema line damaged
	std::string schema = text;
	schema.replace(schema.find("\"version\":1"), 11, "\"version\":7");
	WriteFile(path, schema);
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "the schema document"});
	// a pg_dump file
	WriteFile(path, "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\nCREATE TABLE public.t (id "
					"integer);\n");
	ExpectThrowsWith([&] { ReadAllTables(path); }, {path, "not a mosta-copy dump", "restore a pg_dump file with psql"});
	ExpectThrowsWith([&] { ReadAllTables(dir / "missing.sql"); }, {"missing.sql"});
}

} // namespace
} // namespace mosta::copy
