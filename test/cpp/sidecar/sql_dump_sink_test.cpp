/*
 * sql_dump_sink_test.cpp
 *     Tests of the SQL dump sink in temporary files: literals of each protocol encoding, the statements written,
 *     hostile identifiers, checkpoints, recovery after a crash that cut a transaction, transactions larger than
 *     the spill bound (commit, rollback, a crash in the middle), Rollback, and
 *     SqlDumpReplay.FromDocuments, which test/integration/sql_dump_replay.sh drives (documents in, dump out) to
 *     replay the dump with psql on a real server.
 */
#include "sink/sql_dump_sink.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sink/sql_dump_literal.hpp"
#include "sink/sql_dump_scan.hpp"
#include "sink/spooled_transaction.hpp"

namespace {

using mosta::sidecar::Change;
using mosta::sidecar::Lsn;
using mosta::sidecar::ParseChange;
using mosta::sidecar::ParseLsn;
using mosta::sidecar::RawJson;
using mosta::sidecar::SpooledTransaction;
using mosta::sidecar::SqlDumpDamaged;
using mosta::sidecar::SqlDumpSink;
using mosta::sidecar::SqlLiteral;
using mosta::sidecar::Value;

// TempDir is a fresh temporary directory, removed afterwards.
class TempDir {
  public:
	TempDir() {
		std::string pattern = (std::filesystem::temp_directory_path() / "mosta-sqldump-XXXXXX").string();
		path_ = mkdtemp(pattern.data());
	}
	~TempDir() {
		std::filesystem::remove_all(path_);
	}
	std::string
	File(const std::string &name) const {
		return (path_ / name).string();
	}

  private:
	std::filesystem::path path_;
};

// ReadAll returns the file's content.
std::string
ReadAll(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

// Transaction applies documents as one source transaction ending at end_lsn (commit_lsn = end_lsn - 8).
void
Transaction(SqlDumpSink &sink, Lsn end_lsn, const std::vector<std::string> &documents) {
	sink.BeginTransaction(end_lsn - 8);
	for (const std::string &document : documents)
		sink.Apply(ParseChange(document));
	sink.CommitTransaction(end_lsn - 8, end_lsn);
}

// Row returns an insert into public.big of row id, with a 200-character value.
std::string
Row(int id) {
	return R"({"op":"insert","schema":"public","table":"big","key":["id"],"new":{"id":)" + std::to_string(id) +
		   R"(,"v":")" + std::string(200, 'x') + R"("},"types":{"id":"integer","v":"text"}})";
}

// ApplyUntilSpilled applies rows (ids from 1) to the open transaction until the file at path has grown spills
// times, at least SpooledTransaction::kSpillBytes each; returns the number of rows applied.
int
ApplyUntilSpilled(SqlDumpSink &sink, const std::string &path, int spills) {
	std::uintmax_t size = std::filesystem::file_size(path);
	int rows = 0;
	for (int seen = 0; seen < spills;) {
		if (rows > 10 * spills * static_cast<int>(SpooledTransaction::kSpillBytes / 200)) {
			ADD_FAILURE() << "the file does not grow while the transaction is open";
			break;
		}
		sink.Apply(ParseChange(Row(++rows)));
		std::uintmax_t now = std::filesystem::file_size(path);
		if (now != size) {
			EXPECT_GE(now - size, SpooledTransaction::kSpillBytes);
			size = now;
			++seen;
		}
	}
	return rows;
}

// Count returns how many times needle occurs in text.
std::size_t
Count(const std::string &text, const std::string &needle) {
	std::size_t count = 0;
	for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
		++count;
	return count;
}

const std::string kInsert1 = R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"v":"a"},)"
							 R"("types":{"id":"integer","v":"text"}})";
const std::string kInsert2 = R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":2,"v":"b"},)"
							 R"("types":{"id":"integer","v":"text"}})";

TEST(SqlDumpLiteral, EncodingsOfProtocolSection8) {
	EXPECT_EQ(SqlLiteral(Value{}, "integer"), "NULL");
	EXPECT_EQ(SqlLiteral(Value{true}, "boolean"), "'true'::boolean");
	EXPECT_EQ(SqlLiteral(Value{std::int64_t{9223372036854775807}}, "bigint"), "'9223372036854775807'::bigint");
	EXPECT_EQ(SqlLiteral(Value{0.1}, "double precision"), "'0.1'::double precision");
	EXPECT_EQ(SqlLiteral(Value{1e300}, "double precision"), "'1e+300'::double precision");
	EXPECT_EQ(SqlLiteral(Value{std::string("NaN")}, "real"), "'NaN'::real");
	EXPECT_EQ(SqlLiteral(Value{std::string("\\x00ff")}, "bytea"), "'\\x00ff'::bytea");
	EXPECT_EQ(SqlLiteral(Value{std::string("it's")}, "text"), "'it''s'::text");
	EXPECT_EQ(SqlLiteral(Value{std::string("a\nb\\")}, "text"), "E'a\\nb\\\\'::text");
	EXPECT_EQ(SqlLiteral(Value{RawJson{R"({"a": [1, "x'"]})"}}, "jsonb"), R"('{"a": [1, "x''"]}'::jsonb)");
	EXPECT_EQ(SqlLiteral(Value{RawJson{"[1,null,3]"}}, "integer[]"), "'{1,NULL,3}'::integer[]");
	EXPECT_EQ(SqlLiteral(Value{RawJson{R"([["a","b"],["c","d \"e\\"]])"}}, "text[]"),
			  R"('{{"a","b"},{"c","d \"e\\"}}'::text[])");
	EXPECT_EQ(SqlLiteral(Value{RawJson{R"([{"k": "}"}, "\u00e9\ud83d\ude00"])"}}, "jsonb[]"),
			  "'{\"{\\\"k\\\": \\\"}\\\"}\",\"\xC3\xA9\xF0\x9F\x98\x80\"}'::jsonb[]");
	EXPECT_EQ(SqlLiteral(Value{RawJson{"[]"}}, "integer[]"), "'{}'::integer[]");
	EXPECT_EQ(SqlLiteral(Value{std::string("-0043-03-15")}, "date"), "'0044-03-15 BC'::date");
	EXPECT_EQ(SqlLiteral(Value{std::string("0000-01-01T00:00:00+00:00")}, "timestamp with time zone"),
			  "'0001-01-01T00:00:00+00:00 BC'::timestamp with time zone");
	EXPECT_EQ(SqlLiteral(Value{std::string("2024-05-01")}, "date"), "'2024-05-01'::date");
	EXPECT_EQ(SqlLiteral(Value{std::string("-0043")}, "text"), "'-0043'::text");
	EXPECT_THROW(mosta::sidecar::JsonArrayToPgArray("[1,"), std::invalid_argument);
}

TEST(SqlDumpSink, WritesStatementsAndCheckpoints) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	SqlDumpSink sink(path);
	EXPECT_EQ(sink.DurableLsn(), mosta::sidecar::kInvalidLsn);
	Transaction(sink, 0x100, {kInsert1});
	Transaction(sink, 0x200,
				{R"({"op":"update","schema":"public","table":"t","key":["id"],"new":{"id":1,"w":5},)"
				 R"("unchanged":["v"],"types":{"id":"integer","w":"integer"}})",
				 R"({"op":"update","schema":"public","table":"t","key":["id"],"new":{"id":3,"v":"c"},"old":{"id":1}})",
				 R"({"op":"delete","schema":"public","table":"t","key":["id"],"old":{"id":3}})",
				 R"({"op":"truncate","tables":[{"schema":"public","table":"t"},{"schema":"o","table":"x"}],)"
				 R"("restart_identity":true})"});
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	std::string text = ReadAll(path);
	for (const char *expected :
		 {"CREATE SCHEMA IF NOT EXISTS \"public\";\n",
		  "CREATE TABLE IF NOT EXISTS \"public\".\"t\" (\"id\" integer, \"v\" text, PRIMARY KEY (\"id\"));\n",
		  "INSERT INTO \"public\".\"t\" (\"id\", \"v\") VALUES ('1'::integer, 'a'::text) ON CONFLICT (\"id\") DO "
		  "UPDATE SET \"v\" = EXCLUDED.\"v\";\n",
		  "COMMIT;\n-- mosta-checkpoint 0/100 crc32c=",
		  "ALTER TABLE \"public\".\"t\" ADD COLUMN IF NOT EXISTS \"w\" integer;\n",
		  "INSERT INTO \"public\".\"t\" (\"id\", \"w\") VALUES ('1'::integer, '5'::integer) ON CONFLICT (\"id\") DO "
		  "UPDATE SET \"w\" = EXCLUDED.\"w\";\n",
		  "UPDATE \"public\".\"t\" SET \"id\" = '3'::integer, \"v\" = 'c'::text WHERE \"id\" = '1'::integer;\n",
		  "DELETE FROM \"public\".\"t\" WHERE \"id\" = '3'::integer;\n",
		  "TRUNCATE \"public\".\"t\" RESTART IDENTITY;\n",
		  "DO $mosta$ BEGIN IF to_regclass('\"o\".\"x\"') IS NOT NULL THEN EXECUTE 'TRUNCATE \"o\".\"x\" RESTART "
		  "IDENTITY'; END IF; END $mosta$;\n",
		  "COMMIT;\n-- mosta-checkpoint 0/200 crc32c="})
		EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
}

TEST(SqlDumpSink, KeylessTablesMatchWholeOldRow) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	SqlDumpSink sink(path);
	Transaction(
		sink, 0x100,
		{R"({"op":"insert","schema":"public","table":"n","new":{"a":1,"b":null},"types":{"a":"int","b":"json"}})",
		 R"({"op":"delete","schema":"public","table":"n","old":{"a":1,"b":null}})"});
	std::string text = ReadAll(path);
	EXPECT_NE(text.find("CREATE TABLE IF NOT EXISTS \"public\".\"n\" (\"a\" int, \"b\" json);\n"), std::string::npos);
	EXPECT_NE(text.find("INSERT INTO \"public\".\"n\" (\"a\", \"b\") VALUES ('1'::int, NULL);\n"), std::string::npos);
	EXPECT_NE(text.find("DELETE FROM \"public\".\"n\" WHERE ctid = (SELECT ctid FROM \"public\".\"n\" WHERE "
						"\"a\"::text IS NOT DISTINCT FROM ('1'::int)::text AND \"b\"::text IS NOT DISTINCT FROM "
						"(NULL)::text LIMIT 1);\n"),
			  std::string::npos)
		<< text;
	// Without "old" a keyless delete cannot be written; the transaction is poisoned until Rollback.
	sink.BeginTransaction(0x200);
	EXPECT_THROW(sink.Apply(ParseChange(R"({"op":"delete","schema":"public","table":"n"})")), std::runtime_error);
	EXPECT_THROW(sink.CommitTransaction(0x200, 0x208), std::logic_error);
	sink.Rollback();
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
}

TEST(SqlDumpSink, QuotesHostileIdentifiers) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	SqlDumpSink sink(path);
	Transaction(sink, 0x100,
				{R"({"op":"insert","schema":"s p;","table":"we\"ird'); DROP TABLE x; --","key":["c\"ol"],)"
				 R"("new":{"c\"ol":"x'); DROP TABLE y; --"},"types":{"c\"ol":"text"}})"});
	std::string text = ReadAll(path);
	EXPECT_NE(text.find("CREATE TABLE IF NOT EXISTS \"s p;\".\"we\"\"ird'); DROP TABLE x; --\" (\"c\"\"ol\" text, "
						"PRIMARY KEY (\"c\"\"ol\"));\n"),
			  std::string::npos)
		<< text;
	EXPECT_NE(text.find("VALUES ('x''); DROP TABLE y; --'::text)"), std::string::npos) << text;
	sink.BeginTransaction(0x200);
	EXPECT_THROW(sink.Apply(ParseChange(R"({"op":"insert","schema":"public","table":"a\n-- mosta-checkpoint 0/999",)"
										R"("new":{"c":1},"types":{"c":"int"}})")),
				 std::invalid_argument);
	sink.Rollback();
	EXPECT_EQ(ReadAll(path), text);
}

TEST(SqlDumpSink, ReopenResumesAfterLastCheckpoint) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	{
		SqlDumpSink sink(path);
		Transaction(sink, 0x100, {kInsert1});
	}
	std::string first = ReadAll(path);
	{
		SqlDumpSink sink(path);
		EXPECT_EQ(sink.DurableLsn(), 0x100u);
		EXPECT_EQ(ReadAll(path), first);
		Transaction(sink, 0x200, {kInsert2});
		EXPECT_EQ(sink.DurableLsn(), 0x200u);
	}
	std::string both = ReadAll(path);
	EXPECT_EQ(both.substr(0, first.size()), first);
	// After a reopen the table may exist with fewer columns: every column is declared again with IF NOT EXISTS.
	EXPECT_NE(both.find("ALTER TABLE \"public\".\"t\" ADD COLUMN IF NOT EXISTS \"id\" integer;\n", first.size()),
			  std::string::npos);
}

TEST(SqlDumpSink, RecoversFromATransactionCutByACrash) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	std::size_t after_first = 0;
	{
		SqlDumpSink sink(path);
		Transaction(sink, 0x100, {kInsert1});
		after_first = ReadAll(path).size();
		Transaction(sink, 0x200, {kInsert2});
	}
	std::string full = ReadAll(path);
	for (std::size_t cut : {after_first + 3, full.size() - 2, full.size() - 12}) {
		std::filesystem::resize_file(path, cut);
		SqlDumpSink sink(path);
		EXPECT_EQ(sink.DurableLsn(), 0x100u) << "cut at " << cut;
		EXPECT_EQ(std::filesystem::file_size(path), after_first) << "cut at " << cut;
		Transaction(sink, 0x200, {kInsert2});
		EXPECT_EQ(sink.DurableLsn(), 0x200u);
	}
	// A file cut before any checkpoint starts over with only the header.
	std::filesystem::resize_file(path, 20);
	SqlDumpSink sink(path);
	EXPECT_EQ(sink.DurableLsn(), mosta::sidecar::kInvalidLsn);
	EXPECT_EQ(ReadAll(path).find("-- mostajs SQL dump"), 0u);
}

TEST(SqlDumpSink, RollbackCutsAndDurableLsnNeverMovesBack) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	SqlDumpSink sink(path);
	Transaction(sink, 0x200, {kInsert1});
	std::string durable = ReadAll(path);
	sink.BeginTransaction(0x2f8);
	sink.Apply(ParseChange(kInsert2));
	sink.Rollback();
	EXPECT_EQ(ReadAll(path), durable);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	// The daemon skips what is at or below DurableLsn(); were a lower end LSN committed, it would not move back.
	Transaction(sink, 0x180, {kInsert2});
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_THROW(sink.CommitTransaction(1, 2), std::logic_error);
	sink.BeginTransaction(0x300);
	EXPECT_THROW(sink.CommitTransaction(0x301, 0x308), std::logic_error);
}

TEST(SqlDumpSink, StreamsATransactionLargerThanTheSpillBound) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	int rows = 0;
	{
		SqlDumpSink sink(path);
		Transaction(sink, 0x100, {kInsert1});
		sink.BeginTransaction(0x1f8);
		rows = ApplyUntilSpilled(sink, path, 3); // spilled, neither synced nor counted yet
		EXPECT_EQ(sink.DurableLsn(), 0x100u);
		sink.CommitTransaction(0x1f8, 0x200);
		EXPECT_EQ(sink.DurableLsn(), 0x200u);
	}
	std::string text = ReadAll(path);
	EXPECT_EQ(Count(text, "INSERT INTO \"public\".\"big\""), static_cast<std::size_t>(rows));
	EXPECT_EQ(Count(text, "CREATE TABLE IF NOT EXISTS \"public\".\"big\""), 1u);
	std::string end = "DO UPDATE SET \"v\" = EXCLUDED.\"v\";\nCOMMIT;\n-- mosta-checkpoint 0/200 crc32c=";
	EXPECT_EQ(text.substr(text.size() - end.size() - 9, end.size()), end);
	SqlDumpSink sink(path);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_EQ(ReadAll(path), text);
}

TEST(SqlDumpSink, RollbackAfterSpillsRestoresTheFile) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	SqlDumpSink sink(path);
	Transaction(sink, 0x100, {kInsert1});
	std::string durable = ReadAll(path);
	sink.BeginTransaction(0x1f8);
	ApplyUntilSpilled(sink, path, 2);
	sink.Rollback();
	EXPECT_EQ(ReadAll(path), durable);
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
	// A failed Apply after spills poisons the transaction: no commit until Rollback, which cuts the spills.
	sink.BeginTransaction(0x1f8);
	ApplyUntilSpilled(sink, path, 1);
	EXPECT_THROW(sink.Apply(ParseChange(R"({"op":"delete","schema":"public","table":"big","key":["id"]})")),
				 std::runtime_error);
	EXPECT_THROW(sink.Apply(ParseChange(Row(1))), std::logic_error);
	EXPECT_THROW(sink.CommitTransaction(0x1f8, 0x200), std::logic_error);
	sink.Rollback();
	EXPECT_EQ(ReadAll(path), durable);
	// The table declared by the rolled-back transactions is forgotten and declared again (the cut dropped its DDL).
	Transaction(sink, 0x200, {Row(1)});
	std::string text = ReadAll(path);
	EXPECT_EQ(text.substr(0, durable.size()), durable);
	EXPECT_NE(text.find("CREATE TABLE IF NOT EXISTS \"public\".\"big\"", durable.size()), std::string::npos) << text;
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
}

TEST(SqlDumpSink, RecoversFromACrashInTheMiddleOfSpills) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	std::string crashed = dir.File("crashed.sql");
	std::size_t after_first = 0;
	{
		SqlDumpSink sink(path);
		Transaction(sink, 0x100, {kInsert1});
		after_first = ReadAll(path).size();
		sink.BeginTransaction(0x1f8);
		ApplyUntilSpilled(sink, path, 3);
		std::filesystem::copy_file(path, crashed); // the file as a crash would leave it: a long partial tail
	}
	std::ofstream(crashed, std::ios::app) << "INSERT INTO \"public\".\"big\" (\"id\""; // cut in mid-statement
	ASSERT_GT(std::filesystem::file_size(crashed), after_first + 3 * SpooledTransaction::kSpillBytes);
	SqlDumpSink sink(crashed);
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
	EXPECT_EQ(std::filesystem::file_size(crashed), after_first);
	Transaction(sink, 0x200, {Row(1)});
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
}

// TypeMessage returns a mostajs.type message document with these definitions (subject: the changed type, or "").
std::string
TypeMessage(const std::string &subject, const std::string &types) {
	return R"({"op":"message","transactional":true,"prefix":"mostajs.type","content":{"command":"ALTER TYPE",)" +
		   (subject.empty() ? std::string() : R"("type":")" + subject + R"(",)") + R"("types":[)" + types + "]}}";
}

const std::string kMood =
	R"({"oid":700,"type":"public.mood","schema":"public","name":"mood","kind":"enum","labels":["sad","happy"]})";
const std::string kQty = R"x({"oid":701,"type":"public.qty","schema":"public","name":"qty","kind":"domain",)x"
						 R"x("base":"integer[]","not_null":true,"constraints":[{"name":"c1","definition":)x"
						 R"x("CHECK ((VALUE IS NOT NULL))","validated":true,"portable":true},{"name":"c2",)x"
						 R"x("definition":"CHECK (f(VALUE)) NOT VALID","validated":false,"portable":false}]})x";
const std::string kPair = R"({"oid":702,"type":"public.pair","schema":"public","name":"pair","kind":"composite",)"
						  R"("attributes":[{"name":"m","type":"public.mood"},{"name":"b","type":"text",)"
						  R"("collation":"pg_catalog.\"C\""}]})";
const std::string kRange = R"({"oid":703,"type":"public.fr","schema":"public","name":"fr","kind":"range",)"
						   R"("subtype":"double precision","subtype_diff":"pg_catalog.float8mi",)"
						   R"("multirange":"public.frm"})";
const std::string kCitext = R"({"oid":704,"type":"public.citext","schema":"public","name":"citext",)"
							R"("kind":"extension","extension":"citext"})";

TEST(SqlDumpSink, CreatesUserTypesOnceAndFollowsTheirChanges) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	std::string all = kMood + "," + kQty + "," + kPair + "," + kRange + "," + kCitext;
	{
		SqlDumpSink sink(path);
		Transaction(sink, 0x100,
					{TypeMessage("", all), // the initial copy's announcement
					 R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"q":[1,2]},)"
					 R"("types":{"id":"integer","q":"public.qty"}})"});
		Transaction(sink, 0x200, {TypeMessage("", all)}); // held and unchanged: nothing
	}
	std::string text = ReadAll(path);
	for (const char *expected :
		 {"DO $mosta$ BEGIN IF to_regtype('\"public\".\"mood\"') IS NULL THEN CREATE TYPE \"public\".\"mood\" AS ENUM "
		  "('sad', 'happy'); END IF; END $mosta$;\n-- mosta-type {\"oid\":700,",
		  "CREATE DOMAIN \"public\".\"qty\" AS integer[] NOT NULL CONSTRAINT \"c1\" CHECK ((VALUE IS NOT NULL));",
		  "-- mosta: constraint \"c2\" of domain \"public\".\"qty\" is left out: it calls a function",
		  "CREATE TYPE \"public\".\"pair\" AS (\"m\" public.mood, \"b\" text COLLATE pg_catalog.\"C\");",
		  "CREATE TYPE \"public\".\"fr\" AS RANGE (SUBTYPE = double precision, SUBTYPE_DIFF = pg_catalog.float8mi, "
		  "MULTIRANGE_TYPE_NAME = public.frm);",
		  "-- mosta: type public.citext belongs to extension citext: run CREATE EXTENSION \"citext\"",
		  "'{1,2}'::public.qty"}) // a domain over an array takes its base type's literal form
		EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
	EXPECT_EQ(Count(text, "-- mosta-type "), 5u);
	std::string mood2 = kMood;
	mood2.replace(mood2.find(R"(["sad","happy"])"), 15, R"(["sad","calm","happy"])");
	std::string mood3 = mood2;
	mood3.replace(mood3.find(R"("sad")"), 5, R"("blue")");
	std::string pair2 = kPair;
	pair2.replace(pair2.find("]}"), 2, R"(,{"name":"x","type":"integer"}]})");
	{
		SqlDumpSink sink(path); // the held types come back from the record lines
		Transaction(sink, 0x300, {TypeMessage("public.mood", mood2)});
		Transaction(sink, 0x400, {TypeMessage("public.mood", mood3), TypeMessage("public.pair", mood3 + "," + pair2)});
		// a type the dump does not hold is not written
		Transaction(sink, 0x500,
					{TypeMessage("public.other", R"({"oid":799,"type":"public.other","schema":"public",)"
												 R"("name":"other","kind":"enum","labels":["a"]})")});
		// a rolled-back change is forgotten: the same change is written again
		sink.BeginTransaction(0x5f8);
		sink.Apply(ParseChange(TypeMessage("public.mood2",
										   R"({"oid":700,"type":"public.mood2","schema":"public",)"
										   R"("name":"mood2","kind":"enum","labels":["blue","calm","happy"]})")));
		sink.Rollback();
	}
	text = ReadAll(path);
	for (const char *expected : {"ALTER TYPE \"public\".\"mood\" ADD VALUE IF NOT EXISTS 'calm' AFTER 'sad';\n",
								 "ALTER TYPE \"public\".\"mood\" RENAME VALUE 'sad' TO 'blue';\n",
								 "ALTER TYPE \"public\".\"pair\" ADD ATTRIBUTE \"x\" integer;\n"})
		EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
	EXPECT_EQ(Count(text, "CREATE TYPE \"public\".\"mood\""), 1u);
	EXPECT_EQ(text.find("other"), std::string::npos);
	EXPECT_EQ(text.find("mood2"), std::string::npos);
	SqlDumpSink sink(path);
	Transaction(sink, 0x600,
				{TypeMessage("public.mood2", R"({"oid":700,"type":"public.mood2","schema":"public","name":"mood2",)"
											 R"("kind":"enum","labels":["blue","calm","happy"]})")});
	EXPECT_NE(ReadAll(path).find("ALTER TYPE \"public\".\"mood\" RENAME TO \"mood2\";\n"), std::string::npos);
}

// Dump3 writes a dump of three transactions (ids 1, 2, 3) and returns its text.
std::string
Dump3(const std::string &path) {
	SqlDumpSink sink(path);
	for (int id = 1; id <= 3; ++id)
		Transaction(sink, 0x100 * id,
					{R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":)" + std::to_string(id) +
					 R"(,"v":"value )" + std::to_string(id) + R"("},"types":{"id":"integer","v":"text"}})"});
	return ReadAll(path);
}

// Write replaces the file at path with text.
void
Write(const std::string &path, const std::string &text) {
	std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// ExpectDamaged expects opening path to fail with SqlDumpDamaged naming where, and the file to stay as it is.
void
ExpectDamaged(const std::string &path, const std::string &where, const std::string &label) {
	std::string before = ReadAll(path);
	try {
		SqlDumpSink sink(path);
		ADD_FAILURE() << label << ": opened";
	} catch (const SqlDumpDamaged &error) {
		EXPECT_NE(std::string(error.what()).find(where), std::string::npos) << label << ": " << error.what();
		EXPECT_NE(std::string(error.what()).find("Move the file away"), std::string::npos) << label;
	}
	EXPECT_EQ(ReadAll(path), before) << label << ": the file changed";
}

TEST(SqlDumpSink, DetectsDamageInTheMiddle) {
	TempDir dir;
	std::string path = dir.File("dump.sql");
	const std::string good = Dump3(path);
	std::size_t second = good.find("'value 2'");
	std::size_t second_line = good.rfind('\n', second) + 1;
	std::size_t second_begin = good.rfind("BEGIN;\n", second);
	std::size_t third_begin = good.find("BEGIN;\n", second);
	std::size_t third = good.find("'value 3'");
	ASSERT_NE(third, std::string::npos);
	auto line_of = [&](std::size_t offset) {
		return "line " + std::to_string(1 + std::count(good.begin(), good.begin() + offset, '\n'));
	};
	std::string text = good;
	text[second + 3] = 'X'; // 'valXe 2': a changed byte, the structure intact
	Write(path, text);
	ExpectDamaged(path, "CRC", "a changed byte");
	std::size_t statement_end = good.find('\n', second) + 1;
	Write(path, good.substr(0, second_line) + good.substr(statement_end)); // the INSERT line removed
	ExpectDamaged(path, "CRC", "a line removed");
	Write(path, good.substr(0, statement_end) + good.substr(third_begin)); // a block cut: it lost its end
	ExpectDamaged(path, "byte " + std::to_string(statement_end + 0) + " (" + line_of(statement_end) + "): \"BEGIN;\"",
				  "a block cut");
	Write(path, good.substr(0, second + 5) + good.substr(third - 3)); // a cut that joins two blocks' lines
	ExpectDamaged(path, "CRC", "two blocks joined");
	Write(path, good.substr(0, second_begin) + good.substr(third_begin)); // a whole block removed
	ExpectDamaged(path, "CRC", "a block removed");
	text = good;
	text[third + 2] = 'X'; // in the last block: its complete checkpoint line no longer matches
	Write(path, text);
	ExpectDamaged(path, "CRC", "the last block changed");
	text = good;
	text[good.find("-- mosta-checkpoint 0/200") + 3] = 'X'; // a checkpoint line's text
	Write(path, text);
	ExpectDamaged(path, "after \"COMMIT;\"", "a checkpoint line changed");
	text = good;
	text[5] = 'X'; // the header
	Write(path, text);
	ExpectDamaged(path, "header", "the header changed");
	// Intact again: it opens, and a cut in its last line is a tail cut back to the checkpoint before.
	Write(path, good.substr(0, good.size() - 4));
	SqlDumpSink sink(path);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_EQ(ReadAll(path), good.substr(0, third_begin));
}

TEST(SqlDumpSink, OpensADumpWithoutCrcsAndAppendsWithThem) {
	// mostajs 0.1.0 wrote checkpoint lines without a CRC: they are checked for structure only
	TempDir dir;
	std::string path = dir.File("dump.sql");
	std::string text = Dump3(path);
	for (std::size_t at = text.find(" crc32c="); at != std::string::npos; at = text.find(" crc32c="))
		text.erase(at, 16);
	Write(path, text);
	{
		SqlDumpSink sink(path);
		EXPECT_EQ(sink.DurableLsn(), 0x300u);
		Transaction(sink, 0x400, {kInsert1});
	}
	std::string appended = ReadAll(path);
	EXPECT_EQ(appended.substr(0, text.size()), text);
	EXPECT_NE(appended.find(" crc32c=", text.size()), std::string::npos);
	SqlDumpSink sink(path);
	EXPECT_EQ(sink.DurableLsn(), 0x400u);
	// after a line with a CRC, a checkpoint line without one is damage
	std::string stripped = appended + "BEGIN;\nCOMMIT;\n-- mosta-checkpoint 0/500\n";
	Write(path, stripped);
	ExpectDamaged(path, "without its CRC", "a CRC removed");
}

TEST(SqlDumpSink, ChecksDumpsLargerThanTheScanChunk) {
	// The scan reads 1 MiB at a time: damage right after a chunk boundary is found, and a clean file opens.
	TempDir dir;
	std::string path = dir.File("dump.sql");
	{
		SqlDumpSink sink(path);
		sink.BeginTransaction(0x1f8);
		ApplyUntilSpilled(sink, path, 3);
		sink.CommitTransaction(0x1f8, 0x200);
		Transaction(sink, 0x300, {kInsert1});
	}
	const std::string good = ReadAll(path);
	ASSERT_GT(good.size(), std::size_t{3} << 20);
	for (std::size_t at : {std::size_t{1} << 20, (std::size_t{1} << 20) + 1, (std::size_t{2} << 20) - 1}) {
		std::string text = good;
		text[at] = text[at] == 'x' ? 'y' : 'x';
		Write(path, text);
		ExpectDamaged(path, "CRC", "byte " + std::to_string(at));
	}
	Write(path, good);
	SqlDumpSink sink(path);
	EXPECT_EQ(sink.DurableLsn(), 0x300u);
}

// Not a test (run with --gtest_also_run_disabled_tests): how long opening a dump of about 100 MB takes.
TEST(SqlDumpSink, DISABLED_OpenTimeOfA100MBDump) {
	TempDir dir;
	const char *keep = std::getenv("MOSTA_SQL_DUMP_BENCH_OUT"); // where to leave the file, e.g. to time -O2 builds
	std::string path = keep != nullptr ? keep : dir.File("dump.sql");
	{
		SqlDumpSink sink(path);
		for (Lsn lsn = 0x1000; std::filesystem::file_size(path) < (std::size_t{100} << 20); lsn += 0x1000) {
			sink.BeginTransaction(lsn - 8);
			for (int row = 0; row < 1000; ++row)
				sink.Apply(ParseChange(Row(row)));
			sink.CommitTransaction(lsn - 8, lsn);
		}
	}
	auto start = std::chrono::steady_clock::now();
	SqlDumpSink sink(path);
	auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	std::printf("opened %ju bytes in %.3f s\n", static_cast<std::uintmax_t>(std::filesystem::file_size(path)), elapsed);
}

// Driven by test/integration/sql_dump_replay.sh: MOSTA_SQL_DUMP_DOCUMENTS names a file of change documents
// (one per line, read with include-lsn), MOSTA_SQL_DUMP_OUT the dump to write. Skipped when they are not set.
TEST(SqlDumpReplay, FromDocuments) {
	const char *documents = std::getenv("MOSTA_SQL_DUMP_DOCUMENTS");
	const char *out = std::getenv("MOSTA_SQL_DUMP_OUT");
	if (documents == nullptr || out == nullptr)
		GTEST_SKIP() << "MOSTA_SQL_DUMP_DOCUMENTS and MOSTA_SQL_DUMP_OUT are not set";
	SqlDumpSink sink(out);
	std::ifstream in(documents);
	std::string line;
	while (std::getline(in, line)) {
		if (line.empty())
			continue;
		mosta::sidecar::ParsedChange change = ParseChange(line);
		if (change->op == mosta::sidecar::Op::Begin)
			sink.BeginTransaction(change->commit_lsn);
		else if (change->op == mosta::sidecar::Op::Commit)
			sink.CommitTransaction(change->lsn, change->end_lsn);
		else
			sink.Apply(change);
	}
	EXPECT_NE(sink.DurableLsn(), mosta::sidecar::kInvalidLsn);
}

} // namespace
