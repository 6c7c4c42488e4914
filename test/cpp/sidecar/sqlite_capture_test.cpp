/*
 * sqlite_capture_test.cpp
 *     Tests of change capture in a SQLite replica (sink/sqlite_capture.hpp) against the real SQLite library: a
 *     SqliteSink with capture_guard writes the tables, a second connection writes as an application would, and
 *     the captured documents are read back with the sidecar's own decoder: commit order, full old images and
 *     types, the sink's own writes not captured, the value round trip of every type the sink maps, purge, the
 *     promotion check, and the triggers following a table's shape. SqliteCaptureZoo.FromDocuments is the driver
 *     test/integration/sqlite_capture_zoo.sh runs on documents a real server wrote (the type zoo of copy_zoo.sql).
 */
#include "sink/sqlite_capture.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "sink/sqlite_capture_sql.hpp"
#include "sink/sqlite_sink.hpp"

namespace {

using namespace mosta::sidecar;
using Rows = std::vector<std::vector<std::string>>;

// Query runs sql on db and returns every row, each value as text ("NULL" for SQL NULL).
Rows
Query(sqlite3 *db, const std::string &sql) {
	SqliteStmtHandle stmt = PrepareSql(db, sql);
	Rows rows;
	while (StepSql(db, stmt.get())) {
		std::vector<std::string> row;
		for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i)
			row.push_back(sqlite3_column_type(stmt.get(), i) == SQLITE_NULL ? "NULL" : ColumnText(stmt.get(), i));
		rows.push_back(row);
	}
	return rows;
}

// Transaction applies documents as one source transaction ending at end_lsn, committed at commit_time.
void
Transaction(SqliteSink &sink, Lsn end_lsn, const std::vector<std::string> &documents,
			const std::string &commit_time = "2026-12-07T10:00:00.5+00:00") {
	sink.BeginTransaction(end_lsn - 8);
	sink.NoteCommitTime(commit_time);
	for (const std::string &document : documents)
		sink.Apply(ParseChange(document));
	sink.CommitTransaction(end_lsn - 8, end_lsn);
}

// TempDb is a database path in a fresh temporary directory, removed afterwards.
class TempDb {
  public:
	TempDb() {
		char pattern[] = "/tmp/mosta_sqlite_capture_XXXXXX";
		dir_ = mkdtemp(pattern);
	}
	~TempDb() {
		std::filesystem::remove_all(dir_);
	}
	std::string
	Path() const {
		return dir_ + "/target.db";
	}

  private:
	std::string dir_;
};

// CaptureOptions returns options of a capturing sink on path.
SqliteSinkOptions
CaptureOptions(const std::string &path) {
	SqliteSinkOptions options{path, "sidecar"};
	options.capture_guard = true;
	return options;
}

// Writer opens path as an application would: another connection, no sidecar code.
SqliteHandle
Writer(const std::string &path) {
	SqliteHandle db = OpenSqlite(path);
	sqlite3_busy_timeout(db.get(), 5000);
	return db;
}

const std::string kInsertT =
	R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"a":"x","flag":true},"types":{"id":"integer","a":"text","flag":"boolean"}})";

// FindValue returns the value of column name in row (a test failure when absent).
Value
FindValue(const std::vector<Column> &row, std::string_view name) {
	for (const Column &column : row)
		if (column.name == name)
			return column.value;
	ADD_FAILURE() << "no column " << name;
	return Value{};
}

TEST(SqliteCapture, CapturesAnyConnectionsWritesInCommitOrderWithFullOldImages) {
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	Transaction(sink, 0x100, {kInsertT});
	EXPECT_TRUE(CaptureInstalled(sink.Handle()));
	EXPECT_TRUE(ReadCaptured(sink.Handle(), 0, 100).empty()) << "the sink's own write is not captured";

	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(INSERT INTO "public.t" (id, a, flag) VALUES (2, 'it''s "q"', 0))");
	ExecSql(app.get(), R"(BEGIN; UPDATE "public.t" SET a = 'y' WHERE id = 1; UPDATE "public.t" SET id = 3 WHERE id = 2;
						   COMMIT)");
	ExecSql(app.get(), R"(DELETE FROM "public.t" WHERE id = 1)");

	std::vector<CapturedChange> changes = ReadCaptured(sink.Handle(), 0, 100);
	ASSERT_EQ(changes.size(), 4U);
	for (std::size_t i = 1; i < changes.size(); ++i)
		EXPECT_LT(changes[i - 1].seq, changes[i].seq);
	EXPECT_EQ(changes[0].at.size(), 24U) << changes[0].at;
	EXPECT_EQ(changes[0].at.back(), 'Z');

	ParsedChange insert = ParseChange(changes[0].document);
	EXPECT_EQ(insert->op, Op::Insert);
	EXPECT_EQ(insert->Schema(), "public");
	EXPECT_EQ(insert->Table(), "t");
	EXPECT_EQ(insert->Key(), std::vector<std::string>{"id"});
	EXPECT_EQ(FindValue(insert->new_row, "a"), Value{std::string_view("it's \"q\"")});
	EXPECT_EQ(FindValue(insert->new_row, "flag"), Value{false});
	EXPECT_EQ(insert->TypeOf("flag"), "boolean");

	ParsedChange update = ParseChange(changes[1].document);
	EXPECT_EQ(update->op, Op::Update);
	ASSERT_TRUE(update->has_old);
	EXPECT_EQ(update->old_row.size(), 3U) << "a full old image";
	EXPECT_EQ(FindValue(update->old_row, "a"), Value{std::string_view("x")});
	EXPECT_EQ(FindValue(update->old_row, "flag"), Value{true});
	EXPECT_EQ(FindValue(update->new_row, "a"), Value{std::string_view("y")});

	ParsedChange moved = ParseChange(changes[2].document);
	EXPECT_EQ(FindValue(moved->old_row, "id"), Value{std::int64_t{2}});
	EXPECT_EQ(FindValue(moved->new_row, "id"), Value{std::int64_t{3}});

	ParsedChange removed = ParseChange(changes[3].document);
	EXPECT_EQ(removed->op, Op::Delete);
	EXPECT_FALSE(removed->has_new);
	EXPECT_EQ(removed->old_row.size(), 3U);

	// Row times: the application's writes carry its UTC time, a delete forgets the row, a move re-keys it.
	EXPECT_EQ(Query(sink.Handle(), "SELECT key, length(at), substr(at, -1) FROM _mosta_row_times ORDER BY key"),
			  (Rows{{"[3]", "24", "Z"}}));
}

TEST(SqliteCapture, TheSinksOwnWritesAreNotCapturedAndTheGuardIsZeroOutsideThem) {
	TempDb file;
	SqliteSinkOptions options = CaptureOptions(file.Path());
	options.group_max_transactions = 2;
	SqliteSink sink(options);
	Transaction(sink, 0x100, {kInsertT});
	Transaction(
		sink, 0x200,
		{R"({"op":"update","schema":"public","table":"t","key":["id"],"new":{"id":1,"a":"z","flag":false},"old":{"id":1,"a":"x","flag":true},"types":{"id":"integer","a":"text","flag":"boolean"}})"});
	sink.Flush();
	Transaction(sink, 0x300,
				{R"({"op":"delete","schema":"public","table":"t","key":["id"],"old":{"id":1,"a":"z","flag":false}})"});
	sink.Flush();
	EXPECT_TRUE(ReadCaptured(sink.Handle(), 0, 100).empty());
	SqliteHandle app = Writer(file.Path());
	EXPECT_EQ(Query(app.get(), "SELECT active FROM _mosta_apply_guard"), (Rows{{"0"}}));
	ExecSql(app.get(), R"(INSERT INTO "public.t" (id, a, flag) VALUES (5, 'app', 1))");
	EXPECT_EQ(ReadCaptured(sink.Handle(), 0, 100).size(), 1U);
	// The sink's row times are the source's commit times.
	Transaction(sink, 0x400, {kInsertT}, "2026-12-07T09:00:00.25+00:00");
	EXPECT_EQ(Query(sink.Handle(), "SELECT at FROM _mosta_row_times WHERE key = '[1]'"),
			  (Rows{{"2026-12-07T09:00:00.25+00:00"}}));
	// A key move re-keys the row time; a delete forgets it.
	Transaction(
		sink, 0x500,
		{R"({"op":"update","schema":"public","table":"t","key":["id"],"new":{"id":7,"a":"x","flag":true},"old":{"id":1,"a":"x","flag":true}})"},
		"2026-12-07T09:30:00+00:00");
	EXPECT_EQ(Query(sink.Handle(), "SELECT key, at FROM _mosta_row_times WHERE tbl = 'public.t' ORDER BY key"),
			  (Rows{{"[5]", Query(sink.Handle(), "SELECT at FROM _mosta_row_times WHERE key = '[5]'")[0][0]},
					{"[7]", "2026-12-07T09:30:00+00:00"}}));
	Transaction(sink, 0x600,
				{R"({"op":"delete","schema":"public","table":"t","key":["id"],"old":{"id":7,"a":"x","flag":true}})"});
	EXPECT_EQ(Query(sink.Handle(), "SELECT key FROM _mosta_row_times WHERE tbl = 'public.t'"), (Rows{{"[5]"}}));
}

// The type zoo (test/integration/lib/copy_zoo.sql's zoo.values, as the plugin encodes it in version 2).
const std::string kZooTypes =
	R"js("types":{"id":"integer","n":"numeric","n2":"numeric(12,4)","f4":"real","f8":"double precision","i2":"smallint","i8":"bigint","b":"boolean","t":"text","c":"character(4)","vc":"character varying(10)","ts":"timestamp without time zone","tstz":"timestamp with time zone","d":"date","iv":"interval","tm":"time without time zone","by":"bytea","u":"uuid","j":"json","jb":"jsonb","ia":"integer[]","ta":"text[]","ma":"integer[]","jba":"jsonb[]","moods":"zoo.mood[]","q":"zoo.qty","ip":"inet","o":"oid","m":"zoo.mood"})js";
const std::vector<std::string> kZooRows = {
	R"({"id":1,"n":"12.500","n2":"1.5000","f4":3.14,"f8":0.1,"i2":1,"i8":9223372036854775807,"b":true,"t":"plain","c":"ab  ","vc":"x","ts":"2024-05-01T12:30:00","tstz":"2024-05-01T08:30:00.5+00:00","d":"2024-05-01","iv":"P1Y2M3DT4H5M6.5S","tm":"12:34:56.789","by":"\\x00ff10","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","j":"{\"a\":\n 1,  \"a\": 2}","jb":"{\"a\": null, \"b\": [1, \"x\"]}","ia":[1,null,3],"ta":["a,b","q\"uote","back\\slash","{brace}",null,"NULL",""],"ma":[[1,2],[3,4]],"jba":[null,"null","{\"k\": 1}"],"moods":["happy","sad"],"q":5,"ip":"192.168.0.1/24","o":4294967295,"m":"happy"})",
	R"({"id":2,"n":"NaN","n2":"-0.0001","f4":"NaN","f8":"-Infinity","i2":-32768,"i8":-9223372036854775808,"b":false,"t":"tab\there\nnewline\r\\back \\N é 日本 \u0001","c":"x   ","vc":"","ts":"-infinity","tstz":"infinity","d":"-0043-03-15","iv":"P-1DT-2H","tm":"00:00:00","by":"\\x","u":"00000000-0000-0000-0000-000000000000","j":"null","jb":"null","ia":[],"ta":[],"ma":[],"jba":[],"moods":[],"q":0,"ip":"::1","o":0,"m":"sad"})",
	R"({"id":3,"n":"Infinity","n2":"99999999.9999","f4":1e-07,"f8":1e+300,"i2":null,"i8":0,"b":null,"t":"","c":null,"vc":null,"ts":"10000-01-01T00:00:00","tstz":"-0000-01-01T00:00:00+00:00","d":"infinity","iv":"PT0S","tm":null,"by":"\\x0a0d5c09","u":null,"j":"\"a string\"","jb":"\"a string\"","ia":[-1],"ta":[""],"ma":[[null]],"jba":["[1, 2]"],"moods":null,"q":7,"ip":null,"o":null,"m":null})",
	R"({"id":4,"n":null,"n2":null,"f4":3.4028235e+38,"f8":3.141592653589793,"i2":null,"i8":null,"b":null,"t":null,"c":null,"vc":null,"ts":null,"tstz":null,"d":null,"iv":null,"tm":null,"by":null,"u":null,"j":null,"jb":null,"ia":null,"ta":null,"ma":null,"jba":null,"moods":null,"q":1,"ip":null,"o":null,"m":null})",
	R"({"id":5,"n":"0","n2":"0.0000","f4":-1.5e-45,"f8":0.30000000000000004,"i2":0,"i8":1,"b":true,"t":"x","c":"x   ","vc":"y","ts":null,"tstz":null,"d":null,"iv":null,"tm":null,"by":"\\xdeadbeef","u":null,"j":"[1, 2.50]","jb":"{}","ia":[0],"ta":["é"],"ma":[],"jba":[],"moods":[],"q":2,"ip":null,"o":1,"m":null,"f8b":1e-05})",
};

TEST(SqliteCapture, EveryMappedTypeRoundTripsFromTheSinksStorageToTheDocuments) {
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	std::vector<std::string> inserts;
	for (const std::string &row : kZooRows)
		inserts.push_back(R"({"op":"insert","schema":"zoo","table":"values","key":["id"],"new":)" + row + "," +
						  (row.find("f8b") != std::string::npos
							   ? kZooTypes.substr(0, kZooTypes.size() - 1) + R"(,"f8b":"double precision"})"
							   : kZooTypes) +
						  "}");
	Transaction(sink, 0x100, inserts);

	// Another connection touches every row without changing it: the captured images are the rows as stored.
	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(UPDATE "zoo.values" SET id = id)");
	std::vector<CapturedChange> changes = ReadCaptured(sink.Handle(), 0, 100);
	ASSERT_EQ(changes.size(), kZooRows.size());
	for (std::size_t i = 0; i < changes.size(); ++i) {
		ParsedChange source = ParseChange(inserts[i]);
		ParsedChange captured = ParseChange(changes[i].document);
		ASSERT_EQ(captured->op, Op::Update);
		for (const Column &column : source->new_row) {
			Value back = FindValue(captured->new_row, column.name);
			EXPECT_EQ(back, column.value)
				<< "row " << i + 1 << " column " << column.name << ": " << changes[i].document;
			EXPECT_EQ(FindValue(captured->old_row, column.name), column.value) << "old, column " << column.name;
			if (!source->TypeOf(column.name).empty()) {
				EXPECT_EQ(captured->TypeOf(column.name), source->TypeOf(column.name));
			}
		}
	}
}

TEST(SqliteCapture, HostileNamesAreQuotedInTheTriggersAndEscapedInTheDocuments) {
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	Transaction(
		sink, 0x100,
		{R"js({"op":"insert","schema":"we\"ird.s","table":"x'y; --","key":["@X\"'"],"new":{"@X\"'":1,"a\\b\n":"v"},"types":{"@X\"'":"integer","a\\b\n":"text"}})js"});
	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(UPDATE "we""ird\.s.x'y; --" SET "a\b
" = 'w')");
	std::vector<CapturedChange> changes = ReadCaptured(app.get(), 0, 10);
	ASSERT_EQ(changes.size(), 1U);
	ParsedChange update = ParseChange(changes[0].document);
	EXPECT_EQ(update->Schema(), "we\"ird.s");
	EXPECT_EQ(update->Table(), "x'y; --");
	EXPECT_EQ(update->Key(), std::vector<std::string>{"@X\"'"});
	EXPECT_EQ(FindValue(update->new_row, "@X\"'"), Value{std::int64_t{1}});
	EXPECT_EQ(FindValue(update->new_row, "a\\b\n"), Value{std::string_view("w")});
	EXPECT_EQ(FindValue(update->old_row, "a\\b\n"), Value{std::string_view("v")});
}

TEST(SqliteCapture, PurgeDeletesUpToAPositionAndSequenceNumbersAreNeverReused) {
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	Transaction(sink, 0x100, {kInsertT});
	SqliteHandle app = Writer(file.Path());
	for (int i = 10; i < 15; ++i)
		ExecSql(app.get(), "INSERT INTO \"public.t\" (id, a, flag) VALUES (" + std::to_string(i) + ", 'a', 1)");
	std::vector<CapturedChange> all = ReadCaptured(sink.Handle(), 0, 100);
	ASSERT_EQ(all.size(), 5U);
	EXPECT_EQ(ReadCaptured(sink.Handle(), all[1].seq, 2).size(), 2U);
	EXPECT_EQ(ReadCaptured(sink.Handle(), all[1].seq, 2).front().seq, all[2].seq);
	EXPECT_EQ(PurgeCaptured(sink.Handle(), all[2].seq), 3);
	EXPECT_EQ(ReadCaptured(sink.Handle(), 0, 100).front().seq, all[3].seq);
	EXPECT_EQ(PurgeCaptured(sink.Handle(), all[4].seq), 2);
	ExecSql(app.get(), R"(DELETE FROM "public.t" WHERE id = 10)");
	std::vector<CapturedChange> after = ReadCaptured(sink.Handle(), 0, 100);
	ASSERT_EQ(after.size(), 1U);
	EXPECT_GT(after[0].seq, all[4].seq);
	EXPECT_EQ(SeqLsn(after[0].seq), static_cast<Lsn>(after[0].seq));
}

TEST(SqliteCapture, PromotionIsARowInMostaPromotion) {
	SqliteHandle db = OpenSqlite(":memory:");
	EXPECT_FALSE(SqliteTargetIsPromoted(db.get()));
	ExecSql(db.get(), "CREATE TABLE _mosta_promotion (project TEXT PRIMARY KEY, replica TEXT NOT NULL, state TEXT NOT "
					  "NULL CHECK (state IN ('master','switching-back')), promoted_at TEXT NOT NULL)");
	EXPECT_FALSE(SqliteTargetIsPromoted(db.get()));
	ExecSql(db.get(), "INSERT INTO _mosta_promotion VALUES ('shop', 'lite', 'master', '2026-12-07T10:00:00Z')");
	EXPECT_TRUE(SqliteTargetIsPromoted(db.get()));
	EXPECT_TRUE(ReadCaptured(db.get(), 0, 10).empty()) << "no capture table: nothing captured";
	EXPECT_EQ(PurgeCaptured(db.get(), 10), 0);
}

// DdlAlter returns a mostajs.ddl ALTER TABLE message giving public.t columns (a JSON array).
std::string
DdlAlter(const std::string &columns) {
	return R"({"op":"message","xid":1,"lsn":"0/10","transactional":true,"prefix":"mostajs.ddl","content":{"command":"ALTER TABLE","schema":"public","table":"t","object_identity":"public.t","columns":)" +
		   columns + R"(,"key":["id"],"replica_identity":"default"}})";
}

const std::string kRenameA = DdlAlter(
	R"([{"name":"id","type":"integer","nullable":false},{"name":"b","type":"text","nullable":true},{"name":"flag","type":"boolean","nullable":true}])");
const std::string kAddTags = DdlAlter(
	R"([{"name":"id","type":"integer","nullable":false},{"name":"b","type":"text","nullable":true},{"name":"flag","type":"boolean","nullable":true},{"name":"tags","type":"text[]","nullable":true}])");

TEST(SqliteCapture, TriggersFollowTheTablesShape) {
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	Transaction(sink, 0x100, {kInsertT});
	// A DDL message renames a, adds an array column: SQLite refuses to alter a column a trigger reads, so the
	// sink drops the triggers around the ALTERs and installs them for the new shape.
	Transaction(sink, 0x200, {kRenameA, kAddTags});
	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(UPDATE "public.t" SET tags = '["p","q"]' WHERE id = 1)");
	std::vector<CapturedChange> changes = ReadCaptured(sink.Handle(), 0, 100);
	ASSERT_EQ(changes.size(), 1U);
	ParsedChange update = ParseChange(changes[0].document);
	EXPECT_EQ(FindValue(update->new_row, "b"), Value{std::string_view("x")});
	EXPECT_EQ(FindValue(update->new_row, "tags"), Value{RawJson{R"(["p","q"])"}});
	EXPECT_EQ(FindValue(update->old_row, "tags"), Value{});
	EXPECT_EQ(update->TypeOf("tags"), "text[]");

	// A column the source adds in a change (no DDL message) is captured from the next write on.
	Transaction(
		sink, 0x300,
		{R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":2,"b":"n","flag":false,"tags":null,"extra":7},"types":{"id":"integer","b":"text","flag":"boolean","tags":"text[]","extra":"bigint"}})"});
	ExecSql(app.get(), R"(DELETE FROM "public.t" WHERE id = 2)");
	changes = ReadCaptured(sink.Handle(), changes[0].seq, 100);
	ASSERT_EQ(changes.size(), 1U);
	EXPECT_EQ(FindValue(ParseChange(changes[0].document)->old_row, "extra"), Value{std::int64_t{7}});

	// A reopened sink finds the triggers as it would install them, and the types recorded.
	EXPECT_EQ(Query(sink.Handle(), "SELECT type FROM _mosta_columns WHERE tbl = 'public.t' AND col = 'flag'"),
			  (Rows{{"boolean"}}));
	Rows triggers = Query(sink.Handle(), "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY name");
	ASSERT_EQ(triggers.size(), 3U);
	{
		SqliteSink reopened(CaptureOptions(file.Path() + ""));
		static_cast<void>(reopened);
	}
	EXPECT_EQ(Query(app.get(), "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"), triggers);
	Rows version = Query(app.get(), "PRAGMA schema_version");
	InstallCapture(app.get(), {"public.t"});
	EXPECT_EQ(Query(app.get(), "PRAGMA schema_version"), version) << "triggers already in shape are left alone";

	// A dropped table takes its triggers, recorded types and row times along.
	Transaction(sink, 0x400, {kInsertT});
	Transaction(
		sink, 0x500,
		{R"({"op":"message","xid":1,"lsn":"0/10","transactional":true,"prefix":"mostajs.ddl","content":{"command":"DROP TABLE","schema":"public","table":"t","object_identity":"public.t","dropped":true}})"});
	EXPECT_EQ(Query(app.get(), "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'), (SELECT count(*) "
							   "FROM _mosta_columns), (SELECT count(*) FROM _mosta_row_times)"),
			  (Rows{{"0", "0", "0"}}));
	Transaction(sink, 0x600, {kInsertT});
	EXPECT_EQ(Query(app.get(), "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), (Rows{{"3"}}));

	// RemoveCapture drops the triggers and keeps what was captured.
	RemoveCapture(app.get());
	EXPECT_FALSE(CaptureInstalled(app.get()));
	ExecSql(app.get(), R"(DELETE FROM "public.t")");
	EXPECT_EQ(ReadCaptured(app.get(), 0, 100).size(), 2U);
	EXPECT_EQ(Query(app.get(), "SELECT count(*) FROM \"public.t\""), (Rows{{"0"}}));
}

TEST(SqliteCapture, ARetypedColumnIsReadByItsNewType) {
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	Transaction(sink, 0x100, {kInsertT});
	Transaction(
		sink, 0x200,
		{DdlAlter(R"([{"name":"id","type":"integer","nullable":false},{"name":"a","type":"text","nullable":true},)"
				  R"({"name":"flag","type":"integer","nullable":true}])")});
	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(UPDATE "public.t" SET flag = 5 WHERE id = 1)");
	std::vector<CapturedChange> changes = ReadCaptured(app.get(), 0, 10);
	ASSERT_EQ(changes.size(), 1U);
	ParsedChange update = ParseChange(changes[0].document);
	EXPECT_EQ(update->TypeOf("flag"), "integer");
	EXPECT_EQ(FindValue(update->old_row, "flag"), Value{std::int64_t{1}}) << "no longer read as a boolean";
	EXPECT_EQ(FindValue(update->new_row, "flag"), Value{std::int64_t{5}});
}

TEST(SqliteCapture, InstallCaptureOnAFileWithoutRecordedTypesReadsDeclaredTypes) {
	SqliteHandle db = OpenSqlite(":memory:");
	ExecSql(db.get(), R"(CREATE TABLE "s.t" (id INTEGER PRIMARY KEY, r REAL, b BLOB, x TEXT, u))");
	InstallCapture(db.get(), {"s.t"});
	ExecSql(db.get(), R"(INSERT INTO "s.t" VALUES (1, 2.5, x'00ff', 'x', 3))");
	std::vector<CapturedChange> changes = ReadCaptured(db.get(), 0, 10);
	ASSERT_EQ(changes.size(), 1U);
	ParsedChange insert = ParseChange(changes[0].document);
	EXPECT_EQ(FindValue(insert->new_row, "b"), Value{std::string_view("\\x00ff")});
	EXPECT_EQ(FindValue(insert->new_row, "r"), Value{2.5});
	EXPECT_EQ(FindValue(insert->new_row, "u"), Value{std::int64_t{3}});
	EXPECT_EQ(insert->TypeOf("b"), "bytea");
	EXPECT_EQ(insert->TypeOf("id"), "bigint");
	EXPECT_THROW(InstallCapture(db.get(), {"s.missing"}), SqliteError);
	EXPECT_THROW(InstallCapture(db.get(), {"_mosta_changes"}), std::runtime_error);
}

TEST(SqliteCapture, APlainSinkOnACapturingFileKeepsItsWritesOutOfTheCapture) {
	TempDb file;
	{
		SqliteSink capturing(CaptureOptions(file.Path()));
		Transaction(capturing, 0x100, {kInsertT});
	}
	SqliteSink plain(SqliteSinkOptions{file.Path(), "sidecar"});
	Transaction(
		plain, 0x200,
		{R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":2,"a":"p","flag":true,"more":1},"types":{"id":"integer","a":"text","flag":"boolean","more":"integer"}})"});
	EXPECT_TRUE(ReadCaptured(plain.Handle(), 0, 10).empty());
	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(DELETE FROM "public.t" WHERE id = 2)");
	std::vector<CapturedChange> changes = ReadCaptured(app.get(), 0, 10);
	ASSERT_EQ(changes.size(), 1U);
	EXPECT_EQ(FindValue(ParseChange(changes[0].document)->old_row, "more"), Value{std::int64_t{1}})
		<< "the plain sink reinstalled the triggers for the column it added";
}

TEST(SqliteCapture, WideTablesStayWithinSqlitesExpressionDepth) {
	std::string columns = R"("id":1)";
	std::string types = R"("id":"integer")";
	for (int i = 0; i < 600; ++i) {
		columns += ",\"c" + std::to_string(i) + "\":" + std::to_string(i);
		types += ",\"c" + std::to_string(i) + "\":\"integer\"";
	}
	TempDb file;
	SqliteSink sink(CaptureOptions(file.Path()));
	Transaction(sink, 0x100,
				{R"({"op":"insert","schema":"public","table":"wide","key":["id"],"new":{)" + columns +
				 R"(},"types":{)" + types + "}}"});
	SqliteHandle app = Writer(file.Path());
	ExecSql(app.get(), R"(UPDATE "public.wide" SET c599 = 0)");
	std::vector<CapturedChange> changes = ReadCaptured(app.get(), 0, 10);
	ASSERT_EQ(changes.size(), 1U);
	ParsedChange update = ParseChange(changes[0].document);
	EXPECT_EQ(update->new_row.size(), 601U);
	EXPECT_EQ(FindValue(update->old_row, "c599"), Value{std::int64_t{599}});
}

// KeyText returns the JSON array of change's key values in row ("" for a keyless table).
std::string
KeyText(const Change &change, const std::vector<Column> &row) {
	if (change.Key().empty())
		return "";
	std::string text = "[";
	for (const std::string &name : change.Key()) {
		if (text.size() > 1)
			text += ',';
		AppendValueJson(text, FindValue(row, name));
	}
	return text + "]";
}

// SameValue tells whether actual is expected read back, allowing the one documented loss: a float -0 reads back as
// 0 (SQLite stores an integral REAL as an integer).
bool
SameValue(const Value &expected, const Value &actual) {
	if (expected == actual)
		return true;
	const double *zero = std::get_if<double>(&expected);
	return zero != nullptr && *zero == 0.0 && std::signbit(*zero) && actual == Value{std::int64_t{0}};
}

// SameRow tells whether every column of expected has its value in actual (and says which does not).
bool
SameRow(const std::vector<Column> &expected, const std::vector<Column> &actual, std::string &why) {
	for (const Column &column : expected) {
		auto found = std::find_if(actual.begin(), actual.end(), [&](const Column &c) { return c.name == column.name; });
		if (found == actual.end() || !SameValue(column.value, found->value)) {
			why = "column " + std::string(column.name);
			return false;
		}
	}
	return expected.size() == actual.size() || (why = "column count", false);
}

// Driven by test/integration/sqlite_capture_zoo.sh: the documents a server wrote (format version 2 with types)
// are applied by a capturing sink into MOSTA_CAPTURE_DB; another connection then touches every row of every
// table without changing it, and each captured image must equal, value for value, the row's last image from the
// server. Prints "compared N rows".
TEST(SqliteCaptureZoo, FromDocuments) {
	const char *documents = std::getenv("MOSTA_CAPTURE_DOCUMENTS");
	const char *path = std::getenv("MOSTA_CAPTURE_DB");
	if (documents == nullptr || path == nullptr)
		GTEST_SKIP() << "MOSTA_CAPTURE_DOCUMENTS and MOSTA_CAPTURE_DB are not set";
	std::vector<ParsedChange> changes;
	std::map<std::string, std::map<std::string, const std::vector<Column> *>> keyed; // table -> key -> row
	std::map<std::string, std::vector<const std::vector<Column> *>> keyless;
	{
		SqliteSink sink(CaptureOptions(path));
		std::ifstream in(documents);
		std::string line;
		while (std::getline(in, line)) {
			if (line.empty())
				continue;
			changes.push_back(ParseChange(line));
			const Change &change = *changes.back();
			if (change.op == Op::Begin) {
				sink.BeginTransaction(change.commit_lsn);
				if (!change.ts.empty())
					sink.NoteCommitTime(change.ts);
				continue;
			}
			if (change.op == Op::Commit) {
				sink.CommitTransaction(change.lsn, change.end_lsn);
				continue;
			}
			sink.Apply(change);
			if (!IsRowChange(change.op))
				continue;
			std::string table = SqliteTableName(change.Schema(), change.Table());
			if (change.Key().empty()) {
				ASSERT_NE(change.op, Op::Update) << "the driver follows inserts only into keyless tables";
				if (change.op == Op::Insert)
					keyless[table].push_back(&change.new_row);
				continue;
			}
			if (change.has_old)
				keyed[table].erase(KeyText(change, change.old_row));
			if (change.op != Op::Delete)
				keyed[table][KeyText(change, change.new_row)] = &change.new_row;
		}
		sink.Flush();
	}
	SqliteHandle app = Writer(path);
	for (const std::string &table : ReplicatedTables(app.get())) {
		std::string first = Query(app.get(), "SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid")[0][0];
		ExecSql(app.get(), "UPDATE \"" + table + "\" SET \"" + first + "\" = \"" + first + "\"");
	}
	std::size_t compared = 0;
	std::int64_t after = 0;
	for (std::vector<CapturedChange> batch; !(batch = ReadCaptured(app.get(), after, 1000)).empty();) {
		for (const CapturedChange &captured : batch) {
			after = captured.seq;
			ParsedChange change = ParseChange(captured.document);
			ASSERT_EQ(change->op, Op::Update) << captured.document;
			std::string table = SqliteTableName(change->Schema(), change->Table());
			std::string why;
			EXPECT_TRUE(SameRow(change->old_row, change->new_row, why)) << why << ": " << captured.document;
			if (change->Key().empty()) {
				std::vector<const std::vector<Column> *> &rows = keyless[table];
				auto match = std::find_if(rows.begin(), rows.end(), [&](const std::vector<Column> *row) {
					return SameRow(*row, change->new_row, why);
				});
				ASSERT_NE(match, rows.end()) << "no source row like " << captured.document;
				rows.erase(match);
			} else {
				auto found = keyed[table].find(KeyText(*change, change->new_row));
				ASSERT_NE(found, keyed[table].end()) << "no source row with the key of " << captured.document;
				EXPECT_TRUE(SameRow(*found->second, change->new_row, why)) << why << ": " << captured.document;
				keyed[table].erase(found);
			}
			++compared;
		}
	}
	for (const auto &[table, rows] : keyed)
		EXPECT_TRUE(rows.empty()) << rows.size() << " rows of " << table << " not captured";
	for (const auto &[table, rows] : keyless)
		EXPECT_TRUE(rows.empty()) << rows.size() << " rows of " << table << " not captured";
	std::printf("compared %zu rows\n", compared);
}

} // namespace
