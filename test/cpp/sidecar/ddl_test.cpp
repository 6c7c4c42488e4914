/*
 * ddl_test.cpp
 *     Tests of mostajs.ddl handling (hand-written messages): parsing, rename detection, the SQLite sink's ALTERs
 *     and the SQL dump's DDL, "fill" (fast defaults), "rewritten" (RecopyNeeded) and "partition_root".
 */
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sink/ddl_message.hpp"
#include "sink/sql_dump_sink.hpp"
#include "sink/sqlite_sink.hpp"

namespace {

using namespace mosta::sidecar;
using Rows = std::vector<std::vector<std::string>>;

// Ddl returns a transactional mostajs.ddl message document with content.
std::string
Ddl(const std::string &content) {
	return R"({"op":"message","xid":1,"lsn":"0/10","transactional":true,"prefix":"mostajs.ddl","content":)" + content +
		   "}";
}

const std::string kCreate = Ddl(
	R"({"command":"CREATE TABLE","schema":"public","table":"t","object_identity":"public.t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"a","type":"text","nullable":true},{"name":"b","type":"numeric","nullable":true}],"key":["id"],"replica_identity":"default"})");
const std::string kAddC = Ddl(
	R"({"command":"ALTER TABLE","schema":"public","table":"t","object_identity":"public.t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"a","type":"text","nullable":true},{"name":"b","type":"numeric","nullable":true},{"name":"c","type":"text","nullable":true,"default":"''::text"}],"key":["id"],"replica_identity":"default"})");
const std::string kRenameA = Ddl(
	R"({"command":"ALTER TABLE","schema":"public","table":"t","object_identity":"public.t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"a2","type":"text","nullable":true},{"name":"b","type":"numeric","nullable":true},{"name":"c","type":"text","nullable":true}],"key":["id"],"replica_identity":"default"})");
const std::string kDropBRetypeC = Ddl(
	R"({"command":"ALTER TABLE","schema":"public","table":"t","object_identity":"public.t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"a2","type":"text","nullable":true},{"name":"c","type":"integer","nullable":true}],"key":["id"],"replica_identity":"default"})");
const std::string kDropped =
	Ddl(R"({"command":"DROP TABLE","schema":"public","table":"t","object_identity":"public.t","dropped":true})");

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

template <typename S>
void
Transaction(S &sink, Lsn end_lsn, const std::vector<std::string> &documents) {
	sink.BeginTransaction(end_lsn - 8);
	for (const std::string &document : documents)
		sink.Apply(ParseChange(document));
	sink.CommitTransaction(end_lsn - 8, end_lsn);
}

TEST(DdlMessage, ParsesContentAndIgnoresOtherMessages) {
	std::optional<DdlMessage> message = ParseDdlMessage(ParseChange(kAddC));
	ASSERT_TRUE(message);
	EXPECT_EQ(message->command, "ALTER TABLE");
	EXPECT_EQ(message->table, "t");
	ASSERT_EQ(message->columns.size(), 4U);
	EXPECT_EQ(message->columns[0].nullable, false);
	EXPECT_EQ(message->columns[3].default_expr.value_or(""), "''::text");
	EXPECT_EQ(message->key, std::vector<std::string>{"id"});
	EXPECT_TRUE(ParseDdlMessage(ParseChange(kDropped))->dropped);
	EXPECT_FALSE(ParseDdlMessage(ParseChange(R"({"op":"message","transactional":true,"prefix":"app","content":"x"})")));
	EXPECT_THROW(ParseDdlMessage(ParseChange(Ddl(R"({"command":"ALTER TABLE","table":"t"})"))), std::runtime_error);
	EXPECT_THROW(ParseDdlMessage(ParseChange(Ddl(R"({"schema":"s","table":"t","columns":[{"name":"x"}]})"))),
				 std::runtime_error);
}

TEST(DdlMessage, RuleCoverage) {
	EXPECT_TRUE(RuleCoversTable({"*"}, "x", "y"));
	EXPECT_TRUE(RuleCoversTable({"public.orders"}, "public", "orders"));
	EXPECT_TRUE(RuleCoversTable({R"("My ""S"""."T.x")"}, R"(My "S")", "T.x"));
	EXPECT_FALSE(RuleCoversTable({"public.orders"}, "other", "orders"));
	EXPECT_FALSE(RuleCoversTable({}, "public", "orders"));
}

TEST(DdlMessage, RenameOnlyWhenUnambiguous) {
	auto shape = [](std::vector<std::string> names) {
		std::vector<DdlColumn> columns;
		for (auto &name : names)
			columns.push_back({name, "text", true, std::nullopt, std::nullopt, nullptr});
		return columns;
	};
	ColumnDiff rename = DiffColumns({"id", "a", "b"}, shape({"id", "x", "b"}));
	ASSERT_EQ(rename.renamed.size(), 1U);
	EXPECT_EQ(rename.renamed[0], std::make_pair(std::string("a"), std::string("x")));
	EXPECT_TRUE(rename.dropped.empty() && rename.added.empty());
	// last column: a rename cannot be told from DROP b, ADD x; taken as a rename (keeps the values)
	ColumnDiff last = DiffColumns({"id", "a", "b"}, shape({"id", "a", "x"}));
	ASSERT_EQ(last.renamed.size(), 1U);
	EXPECT_EQ(last.renamed[0], std::make_pair(std::string("b"), std::string("x")));
	EXPECT_TRUE(last.dropped.empty() && last.added.empty());
	ColumnDiff drop_add = DiffColumns({"id", "a", "b"}, shape({"id", "b", "x"}));
	EXPECT_TRUE(drop_add.renamed.empty());
	EXPECT_EQ(drop_add.dropped, std::vector<std::string>{"a"});
}

TEST(SqliteDdl, FollowsTheShapeInOrder) {
	SqliteSinkOptions options{":memory:", "s"};
	options.ddl_collections = {"public.t"};
	SqliteSink sink(options);
	Transaction(sink, 100, {kCreate});
	EXPECT_EQ(Query(sink.Handle(), "SELECT name, type, pk FROM pragma_table_info('public.t') ORDER BY cid"),
			  (Rows{{"id", "INTEGER", "1"}, {"a", "TEXT", "0"}, {"b", "TEXT", "0"}}));
	Transaction(
		sink, 200,
		{R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"a":"x","b":"1.5"},"types":{"id":"integer","a":"text","b":"numeric"}})",
		 kAddC,
		 R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":2,"a":"y","b":"2","c":"z"},"types":{"id":"integer","a":"text","b":"numeric","c":"text"}})",
		 kRenameA,
		 R"({"op":"update","schema":"public","table":"t","key":["id"],"new":{"id":1,"a2":"x2","b":"1.5","c":null},"types":{"id":"integer","a2":"text","b":"numeric","c":"text"}})",
		 kDropBRetypeC});
	EXPECT_EQ(Query(sink.Handle(), "SELECT name FROM pragma_table_info('public.t') ORDER BY cid"),
			  (Rows{{"id"}, {"a2"}, {"c"}}));
	EXPECT_EQ(Query(sink.Handle(), "SELECT * FROM \"public.t\" ORDER BY id"),
			  (Rows{{"1", "x2", "NULL"}, {"2", "y", "z"}}));
	// a message about a table the sink does not hold nor cover is ignored; DROP removes a held table
	Transaction(
		sink, 300,
		{Ddl(R"({"command":"CREATE TABLE","schema":"public","table":"other","columns":[{"name":"id","type":"integer","nullable":false}],"key":["id"]})"),
		 kDropped});
	EXPECT_EQ(Query(sink.Handle(), "SELECT count(*) FROM sqlite_master WHERE name IN ('public.t', 'public.other')"),
			  (Rows{{"0"}}));
	EXPECT_EQ(sink.DurableLsn(), 300U);
}

TEST(SqlDumpDdl, WritesPostgresDdlInsideTheTransaction) {
	std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ddl_test_" + std::to_string(getpid()));
	std::filesystem::create_directories(dir);
	std::string path = (dir / "dump.sql").string();
	{
		SqlDumpSink sink(path, {"public.t"});
		Transaction(sink, 100, {kCreate});
		Transaction(
			sink, 200,
			{R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"a":"x","b":"1.5"},"types":{"id":"integer","a":"text","b":"numeric"}})",
			 kAddC, kRenameA, kDropBRetypeC});
		Transaction(sink, 300, {kDropped});
	}
	std::ifstream in(path);
	std::stringstream text;
	text << in.rdbuf();
	std::string dump = text.str();
	auto at = [&](const std::string &needle) {
		std::size_t pos = dump.find(needle);
		EXPECT_NE(pos, std::string::npos) << needle << "\n" << dump;
		return pos;
	};
	std::size_t create =
		at(R"(CREATE TABLE IF NOT EXISTS "public"."t" ("id" integer, "a" text, "b" numeric, PRIMARY KEY ("id"));)");
	std::size_t insert = at(R"(INSERT INTO "public"."t")");
	std::size_t add = at(R"(ALTER TABLE "public"."t" ADD COLUMN IF NOT EXISTS "c" text;)");
	std::size_t rename = at(R"(ALTER TABLE "public"."t" RENAME COLUMN "a" TO "a2";)");
	std::size_t drop = at(R"(ALTER TABLE "public"."t" DROP COLUMN IF EXISTS "b";)");
	std::size_t retype = at(R"(ALTER TABLE "public"."t" ALTER COLUMN "c" TYPE integer USING "c"::integer;)");
	std::size_t drop_table = at(R"(DROP TABLE IF EXISTS "public"."t";)");
	EXPECT_LT(create, insert);
	EXPECT_LT(insert, add);
	EXPECT_LT(add, rename);
	EXPECT_LT(rename, drop);
	EXPECT_LT(drop, retype);
	EXPECT_LT(retype, drop_table);
	EXPECT_LT(drop_table, dump.rfind("-- mosta-checkpoint 0/12C"));
	std::filesystem::remove_all(dir);
}

// An ALTER adding d with a fill of 42 and e with a fill of "x y" (and a column f without fill).
const std::string kAddFilled = Ddl(
	R"({"command":"ALTER TABLE","schema":"public","table":"t","object_identity":"public.t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"a","type":"text","nullable":true},{"name":"b","type":"numeric","nullable":true},{"name":"d","type":"bigint","nullable":true,"default":"42","fill":42},{"name":"e","type":"text","nullable":true,"default":"'x y'::text","fill":"x y"},{"name":"f","type":"integer","nullable":true}],"key":["id"],"replica_identity":"default"})");
// An ALTER whose command rewrote the table, adding r (a volatile default: no fill).
const std::string kAddVolatile = Ddl(
	R"json({"command":"ALTER TABLE","schema":"public","table":"t","object_identity":"public.t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"a","type":"text","nullable":true},{"name":"b","type":"numeric","nullable":true},{"name":"r","type":"double precision","nullable":true,"default":"random()"}],"key":["id"],"replica_identity":"default","rewritten":true})json");
const std::string kRow1 =
	R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"a":"x","b":"1.5"},"types":{"id":"integer","a":"text","b":"numeric"}})";

TEST(DdlMessage, ReadsFillRewrittenAndPartitionRoot) {
	std::optional<DdlMessage> filled = ParseDdlMessage(ParseChange(kAddFilled));
	ASSERT_TRUE(filled);
	EXPECT_FALSE(filled->rewritten);
	EXPECT_EQ(filled->columns[3].fill, std::optional<Value>(Value(std::int64_t{42})));
	EXPECT_EQ(filled->columns[4].fill, std::optional<Value>(Value(std::string("x y"))));
	EXPECT_FALSE(filled->columns[5].fill);
	EXPECT_FALSE(NeedsRecopy(*filled, {"d", "e", "f"})) << "not rewritten: f is NULL, as in the source";
	std::optional<DdlMessage> volatile_default = ParseDdlMessage(ParseChange(kAddVolatile));
	ASSERT_TRUE(volatile_default);
	EXPECT_TRUE(volatile_default->rewritten);
	EXPECT_TRUE(NeedsRecopy(*volatile_default, {"r"}));
	EXPECT_FALSE(NeedsRecopy(*volatile_default, {})) << "a rewrite that adds nothing the sink lacks";
	std::optional<DdlMessage> partition = ParseDdlMessage(ParseChange(Ddl(
		R"({"command":"CREATE TABLE","schema":"public","table":"m_a","columns":[{"name":"id","type":"integer"}],"key":["id"],"partition_root":{"schema":"public","table":"m"}})")));
	ASSERT_TRUE(partition && partition->partition_root);
	EXPECT_EQ(*partition->partition_root, (TableName{"public", "m"}));
}

TEST(SqliteDdl, FillsAddedColumnsAndAsksForARecopyAfterARewrite) {
	SqliteSinkOptions options{":memory:", "s"};
	options.ddl_collections = {"*"};
	SqliteSink sink(options);
	Transaction(sink, 100, {kCreate, kRow1});
	// the row written after the ALTER in the same transaction keeps its own values
	Transaction(
		sink, 200,
		{kAddFilled,
		 R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":2,"a":"y","b":"2","d":7,"e":"own","f":1},"types":{"id":"integer","a":"text","b":"numeric","d":"bigint","e":"text","f":"integer"}})"});
	EXPECT_EQ(Query(sink.Handle(), "SELECT id, d, typeof(d), e, f FROM \"public.t\" ORDER BY id"),
			  (Rows{{"1", "42", "integer", "x y", "NULL"}, {"2", "7", "integer", "own", "1"}}));
	// a second message carrying the same fill (a later ALTER) changes nothing: the columns are held already
	Transaction(
		sink, 300,
		{R"({"op":"update","schema":"public","table":"t","key":["id"],"new":{"id":1,"a":"x","b":"1.5","d":5,"e":"x y","f":null},"types":{"id":"integer","a":"text","b":"numeric","d":"bigint","e":"text","f":"integer"}})",
		 kAddFilled});
	EXPECT_EQ(Query(sink.Handle(), "SELECT d FROM \"public.t\" WHERE id = 1"), (Rows{{"5"}}));
	sink.BeginTransaction(392);
	EXPECT_THROW(sink.Apply(ParseChange(kAddVolatile)), RecopyNeeded);
	sink.Rollback();
	EXPECT_EQ(sink.DurableLsn(), 300U);
	// a partition's own messages are left alone: the sink holds its root
	Transaction(
		sink, 400,
		{Ddl(
			R"({"command":"CREATE TABLE","schema":"public","table":"m_a","columns":[{"name":"id","type":"integer","nullable":false}],"key":["id"],"partition_root":{"schema":"public","table":"m"}})")});
	EXPECT_EQ(Query(sink.Handle(), "SELECT count(*) FROM sqlite_master WHERE name = 'public.m_a'"), (Rows{{"0"}}));
}

TEST(SqlDumpDdl, FillsAddedColumnsAndAsksForARecopyAfterARewrite) {
	std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ddl_fill_test_" + std::to_string(getpid()));
	std::filesystem::create_directories(dir);
	std::string path = (dir / "dump.sql").string();
	{
		SqlDumpSink sink(path, {"public.t"});
		Transaction(sink, 100, {kCreate, kRow1});
		Transaction(sink, 200, {kAddFilled});
		sink.BeginTransaction(292);
		EXPECT_THROW(sink.Apply(ParseChange(kAddVolatile)), RecopyNeeded);
		sink.Rollback();
	}
	{
		// reopened: the dump no longer knows its columns; the fill is guarded by a DO block
		SqlDumpSink sink(path, {"public.t"});
		Transaction(
			sink, 300,
			{Ddl(
				R"({"command":"ALTER TABLE","schema":"public","table":"t","columns":[{"name":"id","type":"integer","nullable":false},{"name":"g","type":"integer","nullable":true,"default":"3","fill":3}],"key":["id"],"replica_identity":"default"})")});
	}
	std::ifstream in(path);
	std::stringstream text;
	text << in.rdbuf();
	std::string dump = text.str();
	std::size_t add = dump.find(R"(ALTER TABLE "public"."t" ADD COLUMN IF NOT EXISTS "d" bigint;)");
	std::size_t fill_d = dump.find(R"(UPDATE "public"."t" SET "d" = '42'::bigint;)");
	std::size_t fill_e = dump.find(R"(UPDATE "public"."t" SET "e" = 'x y'::text;)");
	EXPECT_NE(add, std::string::npos) << dump;
	EXPECT_NE(fill_d, std::string::npos) << dump;
	EXPECT_NE(fill_e, std::string::npos) << dump;
	EXPECT_LT(add, fill_d);
	EXPECT_EQ(dump.find(R"(SET "f" =)"), std::string::npos) << "no fill, no UPDATE";
	EXPECT_EQ(dump.find("random()"), std::string::npos) << "the rolled back transaction is cut";
	EXPECT_NE(
		dump.find(
			R"(AND attname = 'g' AND NOT attisdropped) THEN ALTER TABLE "public"."t" ADD COLUMN "g" integer; UPDATE "public"."t" SET "g" = '3'::integer; END IF;)"),
		std::string::npos)
		<< dump;
	std::filesystem::remove_all(dir);
}

} // namespace
