/*
 * sqlite_sink_test.cpp
 *     Tests of the SQLite sink against the real SQLite library, in ":memory:" and in temporary files read back
 *     through a second connection: row operations, type mapping, table naming and quoting, checkpoints, grouping,
 *     crash atomicity (a killed child process) and idempotent replay; on a bidirectional side, conflicts detected by
 *     value, recorded and resolved.
 */
#include "sink/sqlite_sink.hpp"

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sink/sqlite_capture.hpp"

namespace {

using mosta::sidecar::Change;
using mosta::sidecar::Lsn;
using mosta::sidecar::ParseChange;
using mosta::sidecar::SqliteSink;
using mosta::sidecar::SqliteSinkOptions;
using Rows = std::vector<std::vector<std::string>>;

// Query runs sql on db and returns every row, each value as text ("NULL" for SQL NULL).
Rows
Query(sqlite3 *db, const std::string &sql) {
	mosta::sidecar::SqliteStmtHandle stmt = mosta::sidecar::PrepareSql(db, sql);
	Rows rows;
	while (mosta::sidecar::StepSql(db, stmt.get())) {
		std::vector<std::string> row;
		for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i)
			row.push_back(
				sqlite3_column_type(stmt.get(), i) == SQLITE_NULL ? "NULL" : mosta::sidecar::ColumnText(stmt.get(), i));
		rows.push_back(row);
	}
	return rows;
}

// Transaction applies documents as one source transaction ending at end_lsn (commit_lsn = end_lsn - 8).
void
Transaction(SqliteSink &sink, Lsn end_lsn, const std::vector<std::string> &documents) {
	sink.BeginTransaction(end_lsn - 8);
	for (const std::string &document : documents)
		sink.Apply(ParseChange(document));
	sink.CommitTransaction(end_lsn - 8, end_lsn);
}

// MemoryOptions returns options for an in-memory sink committing every transaction.
SqliteSinkOptions
MemoryOptions() {
	return SqliteSinkOptions{":memory:", "sidecar"};
}

// TempFile is a database path in a fresh temporary directory, removed afterwards.
class TempFile {
  public:
	// TempFile creates the directory.
	TempFile() {
		char pattern[] = "/tmp/mosta_sqlite_sink_XXXXXX";
		dir_ = mkdtemp(pattern);
	}
	// ~TempFile removes the directory and the database files in it.
	~TempFile() {
		std::filesystem::remove_all(dir_);
	}
	// Path returns the database file's path.
	std::string
	Path() const {
		return dir_ + "/target.db";
	}

  private:
	std::string dir_;
};

// ReadBack opens path with a separate connection, as an outside reader would.
mosta::sidecar::SqliteHandle
ReadBack(const std::string &path) {
	return mosta::sidecar::OpenSqlite(path);
}

constexpr const char *kInsert1 =
	R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":1,"item":"apple","qty":3},)js"
	R"js("types":{"id":"integer","item":"text","qty":"integer"}})js";

TEST(SqliteSink, AppliesInsertUpdateDeleteInOrder) {
	SqliteSink sink(MemoryOptions());
	Transaction(sink, 0x1539818, {kInsert1});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT id, item, qty FROM "public.orders")js"), (Rows{{"1", "apple", "3"}}));
	Transaction(
		sink, 0x1539980,
		{R"js({"op":"update","schema":"public","table":"orders","key":["id"],"new":{"id":1,"item":"apple","qty":4}})js",
		 R"js({"op":"update","schema":"public","table":"orders","key":["id"],"new":{"id":2,"item":"apple","qty":4},"old":{"id":1}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT id, item, qty FROM "public.orders")js"), (Rows{{"2", "apple", "4"}}));
	Transaction(sink, 0x1539A00,
				{R"js({"op":"delete","schema":"public","table":"orders","key":["id"],"old":{"id":2}})js"});
	EXPECT_TRUE(Query(sink.Handle(), R"js(SELECT * FROM "public.orders")js").empty());
	EXPECT_EQ(sink.DurableLsn(), 0x1539A00u);
	EXPECT_EQ(Query(sink.Handle(), "SELECT slot, lsn, end_lsn FROM _mosta_checkpoint"),
			  (Rows{{"sidecar", "0/1539A00", std::to_string(0x1539A00)}}));
}

TEST(SqliteSink, KeepsUnchangedToastColumnsAcrossUpdatesAndKeyMoves) {
	SqliteSink sink(MemoryOptions());
	std::string body(12800, 'f');
	Transaction(
		sink, 0x100,
		{R"js({"op":"insert","schema":"public","table":"docs","key":["id"],"new":{"id":1,"title":"a","body":")js" +
		 body + "\"}}"});
	Transaction(
		sink, 0x200,
		{R"js({"op":"update","schema":"public","table":"docs","key":["id"],"new":{"id":1,"title":"b"},"unchanged":["body"]})js",
		 R"js({"op":"update","schema":"public","table":"docs","key":["id"],"new":{"id":2,"title":"b"},"old":{"id":1},"unchanged":["body"]})js"});
	EXPECT_EQ(Query(sink.Handle(),
					R"js(SELECT id, title, length(body), body = printf('%.*c', 12800, 'f') FROM "public.docs")js"),
			  (Rows{{"2", "b", "12800", "1"}}));
}

TEST(SqliteSink, TruncatesListedTablesOnly) {
	SqliteSink sink(MemoryOptions());
	Transaction(sink, 0x100,
				{R"js({"op":"insert","schema":"public","table":"a","key":["id"],"new":{"id":1}})js",
				 R"js({"op":"insert","schema":"public","table":"b","key":["id"],"new":{"id":1}})js"});
	Transaction(
		sink, 0x200,
		{R"js({"op":"truncate","tables":[{"schema":"public","table":"a"},{"schema":"public","table":"never_seen"}],"cascade":false,"restart_identity":true})js"});
	EXPECT_EQ(
		Query(sink.Handle(), R"js(SELECT (SELECT count(*) FROM "public.a"), (SELECT count(*) FROM "public.b"))js"),
		(Rows{{"0", "1"}}));
	sink.BeginTransaction(0x300);
	EXPECT_THROW(
		sink.Apply(ParseChange(
			R"js({"op":"truncate","tables":[{"schema":"public","table":"b","partition":{"schema":"public","table":"b_1"}}]})js")),
		std::runtime_error);
	sink.Rollback();
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT count(*) FROM "public.b")js"), (Rows{{"1"}}));
}

TEST(SqliteSink, AddsColumnsTheTableLacks) {
	SqliteSink sink(MemoryOptions());
	Transaction(sink, 0x100, {kInsert1});
	Transaction(
		sink, 0x200,
		{R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":2,"item":"pear","qty":1,"price":"9.90"},"types":{"price":"numeric(6,2)"}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT id, price, typeof(price) FROM "public.orders" ORDER BY id)js"),
			  (Rows{{"1", "NULL", "null"}, {"2", "9.90", "text"}}));
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT type FROM pragma_table_info('public.orders') WHERE name = 'price')js"),
			  (Rows{{"TEXT"}}));
}

TEST(SqliteSink, SwitchesTablesAndColumnShapesChangeByChange) {
	SqliteSink sink(MemoryOptions());
	Transaction(
		sink, 0x100,
		{kInsert1, R"js({"op":"insert","schema":"other","table":"orders","key":["id"],"new":{"id":7,"item":"fig"}})js",
		 R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":2,"item":"kiwi","qty":5},)js"
		 R"js("types":{"id":"integer","item":"text","qty":"integer"}})js",
		 R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":3,"item":"lime","qty":6,"note":"n"},)js"
		 R"js("types":{"id":"integer","item":"text","qty":"integer","note":"text"}})js",
		 R"js({"op":"insert","schema":"other","table":"orders","key":["id"],"new":{"id":8,"item":"date","qty":2}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT id, item, qty, note FROM "public.orders" ORDER BY id)js"),
			  (Rows{{"1", "apple", "3", "NULL"}, {"2", "kiwi", "5", "NULL"}, {"3", "lime", "6", "n"}}));
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT id, item, qty FROM "other.orders" ORDER BY id)js"),
			  (Rows{{"7", "fig", "NULL"}, {"8", "date", "2"}}));
}

TEST(SqliteSink, MatchesKeylessRowsByTheWholeOldRow) {
	SqliteSink sink(MemoryOptions());
	const char *insert = R"js({"op":"insert","schema":"public","table":"nokey","new":{"a":1,"b":"x","c":null}})js";
	Transaction(sink, 0x100, {insert, insert});
	EXPECT_TRUE(Query(sink.Handle(), R"js(SELECT name FROM pragma_table_info('public.nokey') WHERE pk > 0)js").empty());
	Transaction(
		sink, 0x200,
		{R"js({"op":"update","schema":"public","table":"nokey","new":{"a":1,"b":"y","c":null},"old":{"a":1,"b":"x","c":null}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT a, b FROM "public.nokey" ORDER BY b)js"),
			  (Rows{{"1", "x"}, {"1", "y"}}));
	Transaction(sink, 0x300,
				{R"js({"op":"delete","schema":"public","table":"nokey","old":{"a":1,"b":"x","c":null}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT a, b FROM "public.nokey")js"), (Rows{{"1", "y"}}));
}

TEST(SqliteSink, RejectsChangesWithoutOldThatNeedIt) {
	SqliteSink sink(MemoryOptions());
	Transaction(sink, 0x100,
				{R"js({"op":"insert","schema":"public","table":"nothing_t","key":["id"],"new":{"id":1,"a":"x"}})js"});
	sink.BeginTransaction(0x1F8);
	try {
		sink.Apply(ParseChange(R"js({"op":"delete","schema":"public","table":"nothing_t","key":["id"]})js"));
		FAIL() << "no exception";
	} catch (const std::runtime_error &error) {
		EXPECT_NE(std::string(error.what()).find("public.nothing_t"), std::string::npos) << error.what();
		EXPECT_NE(std::string(error.what()).find("REPLICA IDENTITY FULL"), std::string::npos) << error.what();
	}
	EXPECT_THROW(sink.CommitTransaction(0x1F8, 0x200), std::logic_error);
	sink.Rollback();
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
	Transaction(sink, 0x300,
				{R"js({"op":"delete","schema":"public","table":"nothing_t","key":["id"],"old":{"id":1}})js"});
	EXPECT_EQ(sink.DurableLsn(), 0x300u);
}

TEST(SqliteSink, KeepsSchemasApartAndQuotesEveryName) {
	SqliteSink sink(MemoryOptions());
	const std::string evil = R"js(x\"; drop table y; --)js";
	Transaction(sink, 0x100,
				{R"js({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"v":"public"}})js",
				 R"js({"op":"insert","schema":"other","table":"t","key":["id"],"new":{"id":1,"v":"other"}})js",
				 R"js({"op":"insert","schema":"a.b","table":"c","key":["id"],"new":{"id":1,"v":"a.b|c"}})js",
				 R"js({"op":"insert","schema":"a","table":"b.c","key":["id"],"new":{"id":1,"v":"a|b.c"}})js",
				 R"js({"op":"insert","schema":")js" + evil + R"js(","table":")js" + evil + R"js(","key":[")js" + evil +
					 R"js("],"new":{")js" + evil + R"js(":1,"it's":"ok"},"types":{")js" + evil + R"js(":"integer"}})js",
				 R"js({"op":"update","schema":")js" + evil + R"js(","table":")js" + evil + R"js(","key":[")js" + evil +
					 R"js("],"new":{")js" + evil + R"js(":2,"it's":"moved"},"old":{")js" + evil + R"js(":1}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT v FROM "public.t")js"), (Rows{{"public"}}));
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT v FROM "other.t")js"), (Rows{{"other"}}));
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT v FROM "a\.b.c")js"), (Rows{{"a.b|c"}}));
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT v FROM "a.b.c")js"), (Rows{{"a|b.c"}}));
	EXPECT_EQ(Query(sink.Handle(),
					R"js(SELECT "x""; drop table y; --", "it's" FROM "x""; drop table y; --.x""; drop table y; --")js"),
			  (Rows{{"2", "moved"}}));
	Transaction(sink, 0x200,
				{R"js({"op":"delete","schema":")js" + evil + R"js(","table":")js" + evil + R"js(","key":[")js" + evil +
				 R"js("],"old":{")js" + evil + R"js(":2}})js"});
	EXPECT_EQ(Query(sink.Handle(), R"js(SELECT count(*) FROM "x""; drop table y; --.x""; drop table y; --")js"),
			  (Rows{{"0"}}));
	EXPECT_EQ(Query(sink.Handle(), "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"), (Rows{{"6"}}));
}

TEST(SqliteSink, NamesTablesBySchemaAndTable) {
	EXPECT_EQ(mosta::sidecar::SqliteTableName("public", "orders"), "public.orders");
	EXPECT_EQ(mosta::sidecar::SqliteTableName("a.b", "c"), R"js(a\.b.c)js");
	EXPECT_EQ(mosta::sidecar::SqliteTableName("a", "b.c"), "a.b.c");
	EXPECT_EQ(mosta::sidecar::SqliteTableName(R"js(a\)js", "b"), R"js(a\\.b)js");
	EXPECT_NE(mosta::sidecar::SqliteTableName(R"js(a\)js", "b"), mosta::sidecar::SqliteTableName("a", R"js(\.b)js"));
}

TEST(SqliteSink, MapsPostgresTypes) {
	using mosta::sidecar::SqliteDeclaredType;
	EXPECT_EQ(SqliteDeclaredType("integer"), "INTEGER");
	EXPECT_EQ(SqliteDeclaredType("bigint"), "INTEGER");
	EXPECT_EQ(SqliteDeclaredType("smallint"), "INTEGER");
	EXPECT_EQ(SqliteDeclaredType("oid"), "INTEGER");
	EXPECT_EQ(SqliteDeclaredType("boolean"), "INTEGER");
	EXPECT_EQ(SqliteDeclaredType("real"), "REAL");
	EXPECT_EQ(SqliteDeclaredType("double precision"), "REAL");
	EXPECT_EQ(SqliteDeclaredType("numeric"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("numeric(10,3)"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("bytea"), "BLOB");
	EXPECT_EQ(SqliteDeclaredType("jsonb"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("integer[]"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("public.mood[]"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("character varying(10)"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("timestamp(3) with time zone"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("uuid"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("public.qty"), "");
	EXPECT_EQ(SqliteDeclaredType(R"js("My Schema"."My Type")js"), "");
	EXPECT_EQ(mosta::sidecar::DecodeByteaHex(R"js(\x00ff10)js"), std::string("\0\xff\x10", 3));
	EXPECT_EQ(mosta::sidecar::DecodeByteaHex(R"js(\x)js"), std::string());
	EXPECT_FALSE(mosta::sidecar::DecodeByteaHex(R"js(\x0)js"));
	EXPECT_FALSE(mosta::sidecar::DecodeByteaHex(R"js(\xzz)js"));
	EXPECT_FALSE(mosta::sidecar::DecodeByteaHex("00ff"));
}

TEST(SqliteSink, StoresValuesByTheirType) {
	SqliteSink sink(MemoryOptions());
	Transaction(
		sink, 0x100,
		{R"js({"op":"insert","schema":"public","table":"v","key":["id"],"new":{"id":1,"i8":9223372036854775807,)js"
		 R"js("f8":0.1,"f4":"NaN","n":"12.500","b":true,"nb":false,"j":{"a":  1},"by":"\\x00ff10","arr":[1,null,3],)js"
		 R"js("q":7,"m":"happy","t":"tab\t\"q\" é"},"types":{"id":"integer","i8":"bigint","f8":"double precision",)js"
		 R"js("f4":"real","n":"numeric(10,3)","b":"boolean","nb":"boolean","j":"json","by":"bytea","arr":"integer[]",)js"
		 R"js("q":"public.qty","m":"public.mood","t":"text"}})js"});
	EXPECT_EQ(Query(sink.Handle(),
					R"js(SELECT i8, typeof(i8), f8, typeof(f8), f4, typeof(f4), n, typeof(n) FROM "public.v")js"),
			  (Rows{{"9223372036854775807", "integer", "0.1", "real", "NaN", "text", "12.500", "text"}}));
	EXPECT_EQ(Query(sink.Handle(),
					R"js(SELECT b, typeof(b), nb, j, hex(by), typeof(by), arr, q, typeof(q), m, t FROM "public.v")js"),
			  (Rows{{"1", "integer", "0", R"js({"a":  1})js", "00FF10", "blob", "[1,null,3]", "7", "integer", "happy",
					 "tab\t\"q\" é"}}));
	EXPECT_EQ(
		Query(sink.Handle(), R"js(SELECT group_concat(name || ':' || type, ' ') FROM pragma_table_info('public.v'))js"),
		(Rows{{"id:INTEGER i8:INTEGER f8:REAL f4:REAL n:TEXT b:INTEGER nb:INTEGER j:TEXT by:BLOB arr:TEXT q: m: "
			   "t:TEXT"}}));
	Transaction(sink, 0x200, {R"js({"op":"delete","schema":"public","table":"v","key":["id"],"old":{"id":1}})js"});
	sink.BeginTransaction(0x300);
	EXPECT_THROW(sink.Apply(ParseChange(
					 R"js({"op":"insert","schema":"public","table":"v","key":["id"],"new":{"id":2,"by":"zz"}})js")),
				 std::runtime_error);
	sink.Rollback();
}

TEST(SqliteSink, UsesWalAndFullSyncOnFiles) {
	TempFile file;
	SqliteSink sink(SqliteSinkOptions{file.Path(), "sidecar"});
	EXPECT_EQ(Query(sink.Handle(), "PRAGMA journal_mode"), (Rows{{"wal"}}));
	EXPECT_EQ(Query(sink.Handle(), "PRAGMA synchronous"), (Rows{{"2"}}));
	EXPECT_EQ(sink.DurableLsn(), 0u);
	EXPECT_EQ(sink.Name(), "sqlite:" + file.Path());
}

TEST(SqliteSink, LeavesNothingOfAnUncommittedTransaction) {
	TempFile file;
	{
		SqliteSink sink(SqliteSinkOptions{file.Path(), "sidecar"});
		Transaction(sink, 0x1539818, {kInsert1});
		sink.BeginTransaction(0x1539950);
		sink.Apply(ParseChange(
			R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":2,"item":"pear","qty":1}})js"));
		sink.Apply(ParseChange(R"js({"op":"insert","schema":"public","table":"fresh","key":["id"],"new":{"id":1}})js"));
	}
	SqliteSink reopened(SqliteSinkOptions{file.Path(), "sidecar"});
	EXPECT_EQ(reopened.DurableLsn(), 0x1539818u);
	EXPECT_EQ(Query(reopened.Handle(), R"js(SELECT id FROM "public.orders")js"), (Rows{{"1"}}));
	EXPECT_TRUE(Query(reopened.Handle(), "SELECT name FROM sqlite_schema WHERE name = 'public.fresh'").empty());
}

TEST(SqliteSink, KilledProcessLeavesBothOrNeither) {
	TempFile file;
	for (bool commit : {true, false}) {
		pid_t child = fork();
		ASSERT_GE(child, 0);
		if (child == 0) {
			// The child dies by SIGKILL in the middle of its work, as kill -9 would stop the daemon.
			try {
				SqliteSink sink(SqliteSinkOptions{file.Path(), "sidecar"});
				Lsn end = commit ? 0x200 : 0x300;
				sink.BeginTransaction(end - 8);
				sink.Apply(ParseChange(R"js({"op":"insert","schema":"public","table":"k","key":["id"],"new":{"id":)js" +
									   std::to_string(end) + "}}"));
				if (commit)
					sink.CommitTransaction(end - 8, end);
				raise(SIGKILL);
			} catch (...) {
				_exit(3);
			}
		}
		int status = 0;
		waitpid(child, &status, 0);
		ASSERT_TRUE(WIFSIGNALED(status));
	}
	SqliteSink reopened(SqliteSinkOptions{file.Path(), "sidecar"});
	EXPECT_EQ(reopened.DurableLsn(), 0x200u);
	EXPECT_EQ(Query(reopened.Handle(), R"js(SELECT id FROM "public.k")js"), (Rows{{std::to_string(0x200)}}));
}

TEST(SqliteSink, GroupsTransactionsAndReportsOnlyWhatIsCommitted) {
	TempFile file;
	SqliteSinkOptions options{file.Path(), "sidecar"};
	options.group_max_transactions = 3;
	options.group_max_delay = std::chrono::hours(1);
	{
		SqliteSink sink(options);
		auto reader = ReadBack(file.Path());
		auto insert = [](int id) {
			return R"js({"op":"insert","schema":"public","table":"g","key":["id"],"new":{"id":)js" +
				   std::to_string(id) + "}}";
		};
		Transaction(sink, 0x100, {insert(1)});
		Transaction(sink, 0x200, {insert(2)});
		EXPECT_EQ(sink.DurableLsn(), 0u);
		EXPECT_TRUE(Query(reader.get(), "SELECT * FROM _mosta_checkpoint").empty());
		Transaction(sink, 0x300, {insert(3)});
		EXPECT_EQ(sink.DurableLsn(), 0x300u);
		EXPECT_EQ(Query(reader.get(), R"js(SELECT count(*) FROM "public.g")js"), (Rows{{"3"}}));
		Transaction(sink, 0x400, {insert(4)});
		sink.BeginTransaction(0x4F8);
		EXPECT_THROW(sink.Flush(), std::logic_error);
		sink.Apply(ParseChange(insert(5)));
		sink.CommitTransaction(0x4F8, 0x500);
		sink.Flush();
		EXPECT_EQ(sink.DurableLsn(), 0x500u);
		Transaction(sink, 0x600, {insert(6)});
	}
	SqliteSink reopened(options);
	EXPECT_EQ(reopened.DurableLsn(), 0x500u);
	EXPECT_EQ(Query(reopened.Handle(), R"js(SELECT max(id), count(*) FROM "public.g")js"), (Rows{{"5", "5"}}));
}

TEST(SqliteSink, CommitsAGroupOnceItsTimeBudgetIsSpent) {
	SqliteSinkOptions options = MemoryOptions();
	options.group_max_transactions = 1000;
	options.group_max_delay = std::chrono::milliseconds(0);
	SqliteSink sink(options);
	Transaction(sink, 0x100, {kInsert1});
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
}

TEST(SqliteSink, ReplaysIdempotentlyAndNeverMovesTheCheckpointBack) {
	const std::vector<std::pair<Lsn, std::vector<std::string>>> stream = {
		{0x100,
		 {kInsert1,
		  R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":2,"item":"pear","qty":1}})js"}},
		{0x200,
		 {R"js({"op":"update","schema":"public","table":"orders","key":["id"],"new":{"id":3,"item":"apple","qty":9},"old":{"id":1}})js",
		  R"js({"op":"delete","schema":"public","table":"orders","key":["id"],"old":{"id":2}})js"}},
		{0x300,
		 {R"js({"op":"insert","schema":"public","table":"orders","key":["id"],"new":{"id":1,"item":"kiwi","qty":2}})js"}},
	};
	TempFile file;
	SqliteSink sink(SqliteSinkOptions{file.Path(), "sidecar"});
	for (const auto &[end, documents] : stream)
		Transaction(sink, end, documents);
	const char *state = R"js(SELECT id, item, qty FROM "public.orders" ORDER BY id)js";
	Rows expected = Query(sink.Handle(), state);
	EXPECT_EQ(expected, (Rows{{"1", "kiwi", "2"}, {"3", "apple", "9"}}));
	for (int round = 0; round < 2; ++round)
		for (const auto &[end, documents] : stream)
			Transaction(sink, end, documents);
	EXPECT_EQ(Query(sink.Handle(), state), expected);
	EXPECT_EQ(sink.DurableLsn(), 0x300u);
	EXPECT_EQ(Query(sink.Handle(), "SELECT lsn, end_lsn FROM _mosta_checkpoint"), (Rows{{"0/300", "768"}}));
}

TEST(SqliteSink, RewindMovesTheCheckpointBackOnce) {
	TempFile file;
	{
		SqliteSink sink(SqliteSinkOptions{file.Path(), "sidecar"});
		Transaction(sink, 0x300, {kInsert1});
		// a copy at a new slot's consistent point, behind what the target held (a failover)
		sink.Rewind();
		Transaction(sink, 0x100, {kInsert1});
		EXPECT_EQ(sink.DurableLsn(), 0x100u);
		Transaction(sink, 0x80, {kInsert1}); // a replay behind it: the checkpoint does not move back again
		EXPECT_EQ(sink.DurableLsn(), 0x100u);
	}
	SqliteSink reopened(SqliteSinkOptions{file.Path(), "sidecar"});
	EXPECT_EQ(reopened.DurableLsn(), 0x100u);
	EXPECT_EQ(Query(reopened.Handle(), "SELECT lsn, end_lsn FROM _mosta_checkpoint"), (Rows{{"0/100", "256"}}));
}

TEST(SqliteSink, DeliversMessagesAsCheckpointsOnly) {
	SqliteSink sink(MemoryOptions());
	Lsn lsn = 0x15F6AB8;
	sink.BeginTransaction(lsn);
	sink.Apply(ParseChange(
		R"js({"op":"message","lsn":"0/15F6AB8","transactional":false,"prefix":"mostajs.heartbeat","content":{"ts":"x"}})js"));
	sink.CommitTransaction(lsn, lsn);
	EXPECT_EQ(sink.DurableLsn(), lsn);
	EXPECT_EQ(Query(sink.Handle(), "SELECT count(*) FROM sqlite_schema"), (Rows{{"2"}}));
}

TEST(SqliteSink, EnforcesTheCallingSequence) {
	SqliteSink sink(MemoryOptions());
	EXPECT_THROW(sink.Apply(ParseChange(kInsert1)), std::logic_error);
	EXPECT_THROW(sink.CommitTransaction(1, 2), std::logic_error);
	sink.BeginTransaction(0x10);
	EXPECT_THROW(sink.BeginTransaction(0x10), std::logic_error);
	EXPECT_THROW(sink.Apply(ParseChange(R"js({"op":"begin"})js")), std::invalid_argument);
	sink.Rollback();
	sink.BeginTransaction(0x10);
	EXPECT_THROW(sink.CommitTransaction(0x11, 0x20), std::logic_error);
	EXPECT_THROW(sink.CommitTransaction(0x10, 0), std::invalid_argument);
	sink.CommitTransaction(0x10, 0x20);
	EXPECT_EQ(sink.DurableLsn(), 0x20u);
	EXPECT_THROW(SqliteSink(SqliteSinkOptions{":memory:", ""}), std::invalid_argument);
	EXPECT_THROW(SqliteSink(SqliteSinkOptions{"/nonexistent-dir/x.db", "s"}), mosta::sidecar::SqliteError);
}

// Conflicts (on_conflict): a bidirectional side's checks by value, the handler's records and each resolution.

using mosta::sidecar::ConflictError;
using mosta::sidecar::ConflictKind;
using mosta::sidecar::ConflictRecord;
using mosta::sidecar::Resolution;
using mosta::sidecar::Side;

// The commit time the conflict tests' source transactions carry.
constexpr const char *kSourceTime = "2026-12-07T10:00:00.5+00:00";

// Row returns the JSON object of a row of public.c.
std::string
CRow(int id, const std::string &a) {
	return R"js({"id":)js" + std::to_string(id) + R"js(,"a":")js" + a + R"js(","n":7})js";
}

// CChange returns a change document of public.c (new and old rows as CRow gives, "" for none).
std::string
CChange(const std::string &op, const std::string &new_row, const std::string &old_row) {
	std::string document = R"js({"op":")js" + op + R"js(","schema":"public","table":"c","key":["id"])js";
	if (!new_row.empty())
		document += R"js(,"new":)js" + new_row;
	if (!old_row.empty())
		document += R"js(,"old":)js" + old_row;
	return document + R"js(,"types":{"id":"integer","a":"text","n":"integer"}})js";
}

// ConflictSide is a file sink on a bidirectional side (capture and conflict checks) whose handler records each
// conflict and answers `answer`, and an application connection to the same file.
class ConflictSide {
  public:
	ConflictSide() {
		SqliteSinkOptions options{file_.Path(), "sidecar"};
		options.capture_guard = true;
		options.incoming_side = Side::Target;
		options.on_conflict = [this](const ConflictRecord &record) {
			records.push_back(record);
			return answer;
		};
		sink = std::make_unique<SqliteSink>(options);
		app = mosta::sidecar::OpenSqlite(file_.Path());
		sqlite3_busy_timeout(app.get(), 5000);
	}

	// Apply applies documents as one source transaction ending at end_lsn, committed at kSourceTime.
	void
	Apply(Lsn end_lsn, const std::vector<std::string> &documents) {
		sink->BeginTransaction(end_lsn - 8);
		sink->NoteCommitTime(kSourceTime);
		for (const std::string &document : documents)
			sink->Apply(ParseChange(document));
		sink->CommitTransaction(end_lsn - 8, end_lsn);
	}

	// Rows returns public.c's rows (id, a) in id order.
	Rows
	Stored() {
		return Query(app.get(), R"js(SELECT id, a FROM "public.c" ORDER BY id)js");
	}

	// Local runs sql as the application.
	void
	Local(const std::string &sql) {
		mosta::sidecar::ExecSql(app.get(), sql);
	}

	Resolution answer = Resolution::ApplyIncoming;
	std::vector<ConflictRecord> records;
	std::unique_ptr<SqliteSink> sink;
	mosta::sidecar::SqliteHandle app;

  private:
	TempFile file_;
};

TEST(SqliteSinkConflicts, InsertExistsIsRecordedWithBothImagesAndResolved) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), "")});
	side.Local(R"js(UPDATE "public.c" SET a = 'local' WHERE id = 1)js");
	side.answer = Resolution::KeepLocal;
	side.Apply(0x200, {CChange("insert", CRow(2, "other"), ""), CChange("insert", CRow(1, "y"), "")});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}, {"2", "other"}}));
	ASSERT_EQ(side.records.size(), 1U);
	const ConflictRecord &record = side.records[0];
	EXPECT_EQ(record.kind, ConflictKind::InsertExists);
	EXPECT_EQ(record.incoming_side, Side::Target);
	EXPECT_EQ(record.schema, "public");
	EXPECT_EQ(record.table, "c");
	EXPECT_EQ(record.key_json, R"js({"id":1})js");
	EXPECT_EQ(record.local_json, CRow(1, "local"));
	EXPECT_EQ(record.incoming_json, CRow(1, "y"));
	EXPECT_EQ(record.local_time.size(), 24U) << "the application's write time: " << record.local_time;
	EXPECT_EQ(record.local_time.back(), 'Z');
	EXPECT_EQ(record.incoming_time, kSourceTime);
	EXPECT_EQ(record.incoming_commit_lsn, 0x200u - 8);
	EXPECT_EQ(record.change_index, 1);

	side.answer = Resolution::ApplyIncoming;
	side.Apply(0x300, {CChange("insert", CRow(1, "z"), "")});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "z"}, {"2", "other"}}));
	ASSERT_EQ(side.records.size(), 2U);
	EXPECT_EQ(side.records[1].change_index, 0);
	EXPECT_EQ(Query(side.app.get(), "SELECT at FROM _mosta_row_times WHERE tbl = 'public.c' AND key = '[1]'"),
			  (Rows{{kSourceTime}}))
		<< "an applied change takes the source's commit time";
	// Only the application's write was captured, not the sink's.
	EXPECT_EQ(mosta::sidecar::ReadCaptured(side.app.get(), 0, 100).size(), 1U);
}

TEST(SqliteSinkConflicts, UpdateDiffersWhenTheRowIsNotTheOldImage) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), ""), CChange("insert", CRow(2, "x"), "")});
	side.Local(R"js(UPDATE "public.c" SET a = 'local')js");
	side.answer = Resolution::KeepLocal;
	side.Apply(0x200, {CChange("update", CRow(1, "y"), CRow(1, "x"))});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}, {"2", "local"}}));
	side.answer = Resolution::ApplyIncoming;
	side.Apply(0x300, {CChange("update", CRow(2, "y"), CRow(2, "x"))});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}, {"2", "y"}}));
	ASSERT_EQ(side.records.size(), 2U);
	for (const ConflictRecord &record : side.records) {
		EXPECT_EQ(record.kind, ConflictKind::UpdateDiffers);
		EXPECT_EQ(record.local_json.find(R"js("a":"local")js") != std::string::npos, true) << record.local_json;
	}
	EXPECT_EQ(side.records[1].incoming_json, CRow(2, "y"));
	// An update whose old image matches is no conflict; nor one whose result the row already holds.
	side.Apply(0x400, {CChange("update", CRow(2, "w"), CRow(2, "y")), CChange("update", CRow(2, "w"), CRow(2, "v"))});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}, {"2", "w"}}));
	EXPECT_EQ(side.records.size(), 2U);
}

TEST(SqliteSinkConflicts, UpdateMissingAndKeyMoves) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), ""), CChange("insert", CRow(2, "x"), "")});
	side.Local(R"js(DELETE FROM "public.c")js");
	side.answer = Resolution::KeepLocal;
	side.Apply(0x200, {CChange("update", CRow(1, "y"), CRow(1, "x"))});
	EXPECT_TRUE(side.Stored().empty());
	side.answer = Resolution::ApplyIncoming;
	side.Apply(0x300, {CChange("update", CRow(2, "y"), CRow(2, "x"))});
	EXPECT_EQ(side.Stored(), (Rows{{"2", "y"}}));
	ASSERT_EQ(side.records.size(), 2U);
	EXPECT_EQ(side.records[0].kind, ConflictKind::UpdateMissing);
	EXPECT_EQ(side.records[0].local_json, "") << "no local row";
	EXPECT_EQ(side.records[0].local_time, "") << "a deleted row keeps no time";
	EXPECT_EQ(side.records[1].kind, ConflictKind::UpdateMissing);

	// A key move of a row equal to the old image is no conflict, nor is its replay.
	side.Apply(0x400, {CChange("update", CRow(3, "y"), CRow(2, "y"))});
	side.Apply(0x500, {CChange("update", CRow(3, "y"), CRow(2, "y"))});
	EXPECT_EQ(side.Stored(), (Rows{{"3", "y"}}));
	EXPECT_EQ(side.records.size(), 2U);
	EXPECT_EQ(Query(side.app.get(), "SELECT key FROM _mosta_row_times WHERE tbl = 'public.c'"), (Rows{{"[3]"}}));
}

TEST(SqliteSinkConflicts, AKeyMoveOverAChangedRowMovesItWhenApplied) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), ""), CChange("insert", CRow(2, "x"), "")});
	side.Local(R"js(UPDATE "public.c" SET a = 'local')js");
	side.answer = Resolution::KeepLocal;
	side.Apply(0x200, {CChange("update", CRow(10, "x"), CRow(1, "x"))});
	side.answer = Resolution::ApplyIncoming;
	side.Apply(0x300, {CChange("update", CRow(20, "x"), CRow(2, "x"))});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}, {"20", "x"}}));
	ASSERT_EQ(side.records.size(), 2U);
	EXPECT_EQ(side.records[1].kind, ConflictKind::UpdateDiffers);
	EXPECT_EQ(side.records[1].key_json, R"js({"id":2})js") << "the key the row was found by: the old one";
	EXPECT_EQ(Query(side.app.get(), "SELECT key FROM _mosta_row_times WHERE tbl = 'public.c' ORDER BY key"),
			  (Rows{{"[1]"}, {"[20]"}}));
}

TEST(SqliteSinkConflicts, DeleteDiffersAndDeletesOfMissingRows) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), ""), CChange("insert", CRow(2, "x"), ""),
					   CChange("insert", CRow(3, "x"), "")});
	side.Local(R"js(UPDATE "public.c" SET a = 'local' WHERE id IN (1, 2))js");
	side.answer = Resolution::KeepLocal;
	side.Apply(0x200, {CChange("delete", "", CRow(1, "x"))});
	side.answer = Resolution::ApplyIncoming;
	side.Apply(0x300, {CChange("delete", "", CRow(2, "x")), CChange("delete", "", CRow(3, "x")),
					   CChange("delete", "", CRow(4, "x"))});
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}}));
	ASSERT_EQ(side.records.size(), 2U) << "the matching delete and the missing row are no conflicts";
	EXPECT_EQ(side.records[0].kind, ConflictKind::DeleteDiffers);
	EXPECT_EQ(side.records[0].incoming_json, CRow(1, "x")) << "a delete's incoming image is its old row";
	EXPECT_EQ(side.records[1].key_json, R"js({"id":2})js");
	EXPECT_EQ(Query(side.app.get(), "SELECT key FROM _mosta_row_times WHERE tbl = 'public.c' ORDER BY key"),
			  (Rows{{"[1]"}}));
}

TEST(SqliteSinkConflicts, NoConflictWhenTheRowAlreadyHoldsTheResult) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), "")});
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), "")}); // a replay
	side.Local(R"js(UPDATE "public.c" SET a = 'y' WHERE id = 1)js");
	side.Apply(0x200, {CChange("update", CRow(1, "y"), CRow(1, "x"))}); // the same change made on both sides
	EXPECT_EQ(side.Stored(), (Rows{{"1", "y"}}));
	EXPECT_TRUE(side.records.empty());
}

TEST(SqliteSinkConflicts, PolicyErrorThrowsConflictErrorAndLeavesTheRow) {
	ConflictSide side;
	side.Apply(0x100, {CChange("insert", CRow(1, "x"), "")});
	side.Local(R"js(UPDATE "public.c" SET a = 'local' WHERE id = 1)js");
	side.answer = Resolution::Fail;
	side.sink->BeginTransaction(0x1F8);
	side.sink->NoteCommitTime(kSourceTime);
	try {
		side.sink->Apply(ParseChange(CChange("update", CRow(1, "y"), CRow(1, "x"))));
		ADD_FAILURE() << "no ConflictError";
	} catch (const ConflictError &e) {
		EXPECT_NE(std::string(e.what()).find("update_differs on public.c key {\"id\":1}"), std::string::npos)
			<< e.what();
	}
	EXPECT_THROW(side.sink->CommitTransaction(0x1F8, 0x200), std::logic_error);
	side.sink->Rollback();
	EXPECT_EQ(side.sink->DurableLsn(), 0x100u);
	EXPECT_EQ(side.Stored(), (Rows{{"1", "local"}}));
	ASSERT_EQ(side.records.size(), 1U);
}

} // namespace
