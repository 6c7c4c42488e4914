/*
 * pg_sink_test.cpp
 *     The PostgreSQL sink. Without a server: values of change documents as PostgreSQL input text and COPY fields,
 *     row images as JSON. Against a real server (MOSTA_PG_SINK_TEST_CONNINFO, set by
 *     test/integration/pg_target.sh; skipped otherwise): bulk apply (runs with a repeated key, a key that moves, a
 *     keyless table), the origin's position and the skipping of a transaction applied before, and conflict mode
 *     (each kind, each resolution, ConflictError, the record's fields, the missing old image).
 */
#include "sink/pg_sink.hpp"

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "decode/change.hpp"
#include "pg/errors.hpp"
#include "sink/pg_row_text.hpp"
#include "sink/pg_session.hpp"

namespace {

using mosta::sidecar::Change;
using mosta::sidecar::ConflictError;
using mosta::sidecar::ConflictKind;
using mosta::sidecar::ConflictRecord;
using mosta::sidecar::Lsn;
using mosta::sidecar::ParseChange;
using mosta::sidecar::PgSession;
using mosta::sidecar::PgSink;
using mosta::sidecar::PgSinkOptions;
using mosta::sidecar::PgValueWriter;
using mosta::sidecar::Resolution;

// PgText returns the PostgreSQL input text of column name of the document's new row ("NULL" for SQL NULL).
std::string
PgText(const std::string &document, const std::string &name) {
	auto change = ParseChange(document);
	PgValueWriter writer;
	for (const auto &column : change->new_row)
		if (column.name == name) {
			std::string out;
			return writer.AppendText(out, column) ? out : std::string("NULL");
		}
	return "(no column)";
}

// Doc returns an insert document of public.t with one column c of type and value (JSON).
std::string
Doc(const std::string &type, const std::string &value) {
	return R"js({"op":"insert","schema":"public","table":"t","key":["c"],"new":{"c":)js" + value +
		   R"js(},"types":{"c":")js" + type + R"js("}})js";
}

TEST(PgValueText, ScalarsBecomePostgresInputText) {
	EXPECT_EQ(PgText(Doc("boolean", "true"), "c"), "t");
	EXPECT_EQ(PgText(Doc("boolean", "false"), "c"), "f");
	EXPECT_EQ(PgText(Doc("bigint", "-9223372036854775808"), "c"), "-9223372036854775808");
	EXPECT_EQ(PgText(Doc("double precision", "1e300"), "c"), "1e+300");
	EXPECT_EQ(PgText(Doc("double precision", "0.1"), "c"), "0.1");
	EXPECT_EQ(PgText(Doc("double precision", "\"NaN\""), "c"), "NaN");
	EXPECT_EQ(PgText(Doc("numeric", "\"12.500\""), "c"), "12.500");
	EXPECT_EQ(PgText(Doc("text", "null"), "c"), "NULL");
	EXPECT_EQ(PgText(Doc("bytea", "\"\\\\x00ff\""), "c"), "\\x00ff");
	EXPECT_EQ(PgText(Doc("jsonb", "\"{\\\"a\\\": 1}\""), "c"), "{\"a\": 1}");
	EXPECT_EQ(PgText(Doc("jsonb", "\"null\""), "c"), "null"); // a JSON null, not SQL NULL
}

TEST(PgValueText, AstronomicalYearsBecomeBc) {
	EXPECT_EQ(PgText(Doc("date", "\"-0043-03-15\""), "c"), "0044-03-15 BC");
	EXPECT_EQ(PgText(Doc("date", "\"2024-05-01\""), "c"), "2024-05-01");
	EXPECT_EQ(PgText(Doc("timestamp with time zone", "\"0000-01-01T00:00:00+00:00\""), "c"),
			  "0001-01-01 00:00:00+00 BC");
	EXPECT_EQ(PgText(Doc("timestamp without time zone", "\"2024-05-01T12:30:00\""), "c"), "2024-05-01 12:30:00");
	EXPECT_EQ(PgText(Doc("date", "\"infinity\""), "c"), "infinity");
}

TEST(PgValueText, JsonArraysBecomeArrayLiteralsByElementType) {
	EXPECT_EQ(PgText(Doc("integer[]", "[1,null,3]"), "c"), "{1,NULL,3}");
	EXPECT_EQ(PgText(Doc("integer[]", "[[1,2],[3,4]]"), "c"), "{{1,2},{3,4}}");
	EXPECT_EQ(PgText(Doc("boolean[]", "[true,false]"), "c"), "{t,f}");
	EXPECT_EQ(PgText(Doc("text[]", R"(["a,b","q\"uote","NULL","",null])"), "c"), R"({"a,b","q\"uote","NULL","",NULL})");
	EXPECT_EQ(PgText(Doc("date[]", R"(["-0043-03-15"])"), "c"), R"({"0044-03-15 BC"})");
	EXPECT_EQ(PgText(Doc("jsonb[]", R"(["{\"k\": 1}","null"])"), "c"), R"({"{\"k\": 1}","null"})"); // JSON null, quoted
	EXPECT_EQ(PgText(Doc("integer[]", "[]"), "c"), "{}");
}

TEST(PgValueText, CopyFieldsAreEscaped) {
	auto change = ParseChange(Doc("text", R"("tab\there\nnew \\N back\\")"));
	PgValueWriter writer;
	std::string field;
	writer.AppendCopyField(field, change->new_row[0]);
	EXPECT_EQ(field, "tab\\there\\nnew \\\\N back\\\\");
	auto null_change = ParseChange(Doc("text", "null"));
	field.clear();
	writer.AppendCopyField(field, null_change->new_row[0]);
	EXPECT_EQ(field, "\\N");
}

TEST(PgValueText, RowImagesAreJsonInTheDocumentsEncoding) {
	auto change = ParseChange(
		R"js({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"b":true,"s":"x\"y","a":[1,null],"n":null},"types":{"id":"integer","b":"boolean","s":"text","a":"integer[]","n":"text"}})js");
	EXPECT_EQ(mosta::sidecar::RowJson(change->new_row), R"({"id":1,"b":true,"s":"x\"y","a":[1,null],"n":null})");
	EXPECT_EQ(mosta::sidecar::KeyJson(change->new_row, {"id"}), R"({"id":1})");
	std::string out;
	mosta::sidecar::AppendPgTextAsJson(out, "t", "boolean");
	out += ',';
	mosta::sidecar::AppendPgTextAsJson(out, "{1,NULL}", "integer[]");
	out += ',';
	mosta::sidecar::AppendPgTextAsJson(out, "0044-03-15 BC", "date");
	out += ',';
	mosta::sidecar::AppendPgTextAsJson(out, "NaN", "double precision");
	EXPECT_EQ(out, R"(true,[1,null],"-0043-03-15","NaN")");
}

// ----- against a real server -----

// ServerTest connects to MOSTA_PG_SINK_TEST_CONNINFO (skips without it) and gives each test fresh tables.
class PgSinkOnPostgres : public ::testing::Test {
  protected:
	void
	SetUp() override {
		const char *conninfo = std::getenv("MOSTA_PG_SINK_TEST_CONNINFO");
		if (conninfo == nullptr || *conninfo == '\0')
			GTEST_SKIP() << "MOSTA_PG_SINK_TEST_CONNINFO is not set (test/integration/pg_target.sh sets it)";
		conninfo_ = conninfo;
		db_ = std::make_unique<PgSession>(conninfo_);
		db_->Exec("DROP SCHEMA IF EXISTS sinktest CASCADE; CREATE SCHEMA sinktest", "setting up");
		DropOrigin();
	}

	// DropOrigin drops the test's origin, polling while the backend of a closed sink still holds it (it exits
	// once it reads the end of its connection).
	void
	DropOrigin() {
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
		for (;;) {
			try {
				db_->Exec("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = "
						  "'sinktest'",
						  "dropping the origin");
				return;
			} catch (const mosta::sidecar::PgError &) {
				if (std::chrono::steady_clock::now() > deadline)
					throw;
				std::this_thread::sleep_for(std::chrono::milliseconds(20)); // --allow-sleep: poll interval
			}
		}
	}

	void
	TearDown() override {
		sink_.reset(); // closes the connection that holds the origin
		if (db_) {
			db_->Exec("DROP SCHEMA IF EXISTS sinktest CASCADE", "cleaning up");
			DropOrigin();
		}
	}

	// Open opens a sink with origin "sinktest" (conflict mode when handler is set).
	PgSink &
	Open(mosta::sidecar::ConflictHandler handler = {}) {
		sink_.reset();
		PgSinkOptions options;
		options.conninfo = conninfo_;
		options.origin = "sinktest";
		options.ddl_collections = {"*"};
		options.on_conflict = std::move(handler);
		sink_ = std::make_unique<PgSink>(options);
		return *sink_;
	}

	// Transaction applies documents as one source transaction ending at end_lsn, committed with that time.
	void
	Transaction(PgSink &sink, Lsn end_lsn, const std::vector<std::string> &documents, bool flush = true) {
		sink.BeginTransaction(end_lsn - 8);
		sink.NoteCommitTime("2026-12-07T10:00:00.5+00:00");
		for (const std::string &document : documents)
			sink.Apply(ParseChange(document));
		sink.CommitTransaction(end_lsn - 8, end_lsn);
		if (flush)
			sink.Flush();
	}

	// Scalar returns the first value of sql's result ("NULL" for NULL, "" for no row).
	std::string
	Scalar(const std::string &sql) {
		auto result = db_->Query(sql, {}, "reading");
		if (PQntuples(result.get()) == 0)
			return "";
		return PQgetisnull(result.get(), 0, 0) ? "NULL" : PQgetvalue(result.get(), 0, 0);
	}

	std::string conninfo_;
	std::unique_ptr<PgSession> db_;
	std::unique_ptr<PgSink> sink_;
};

// Row documents of sinktest.k (id integer key, v text) and sinktest.nk (keyless, REPLICA IDENTITY FULL).
const std::string kTypes = R"js("types":{"id":"integer","v":"text"})js";
std::string
Insert(const std::string &table, int id, const std::string &v) {
	return R"js({"op":"insert","schema":"sinktest","table":")js" + table + R"js(","key":)js" +
		   (table == "k" ? R"(["id"])" : "[]") + R"js(,"new":{"id":)js" + std::to_string(id) + R"js(,"v":")js" + v +
		   R"js("},)js" + kTypes + "}";
}
std::string
Update(const std::string &table, int old_id, const std::string &old_v, int id, const std::string &v) {
	return R"js({"op":"update","schema":"sinktest","table":")js" + table + R"js(","key":)js" +
		   (table == "k" ? R"(["id"])" : "[]") + R"js(,"new":{"id":)js" + std::to_string(id) + R"js(,"v":")js" + v +
		   R"js("},"old":{"id":)js" + std::to_string(old_id) + R"js(,"v":")js" + old_v + R"js("},)js" + kTypes + "}";
}
std::string
Delete(const std::string &table, int id, const std::string &v) {
	return R"js({"op":"delete","schema":"sinktest","table":")js" + table + R"js(","key":)js" +
		   (table == "k" ? R"(["id"])" : "[]") + R"js(,"old":{"id":)js" + std::to_string(id) + R"js(,"v":")js" + v +
		   R"js("},)js" + kTypes + "}";
}

TEST_F(PgSinkOnPostgres, BulkRunsKeepTheTransactionsOrder) {
	PgSink &sink = Open();
	EXPECT_EQ(sink.DurableLsn(), mosta::sidecar::kInvalidLsn);
	Transaction(
		sink, 1000,
		{Insert("k", 1, "a"), Insert("k", 2, "b"), Insert("k", 3, "c"), Insert("nk", 1, "x"), Insert("nk", 1, "x")});
	// a run of updates where a key repeats, a key that moves, deletes, keyless changes
	Transaction(sink, 2000,
				{Update("k", 1, "a", 1, "a1"), Update("k", 2, "b", 2, "b1"), Update("k", 1, "a1", 1, "a2"),
				 Update("k", 3, "c", 30, "c1"), Delete("k", 2, "b1"), Update("nk", 1, "x", 1, "y"),
				 Delete("nk", 1, "x")});
	EXPECT_EQ(Scalar("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM sinktest.k"), "1=a2,30=c1");
	EXPECT_EQ(Scalar("SELECT string_agg(id || '=' || v, ',' ORDER BY v) FROM sinktest.nk"), "1=y");
	EXPECT_EQ(sink.DurableLsn(), 2000U);
	EXPECT_EQ(Scalar("SELECT pg_replication_origin_progress('sinktest', true)"), "0/7D0");
	EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = 'sinktest' "
					 "AND table_name = 'k' AND constraint_type = 'PRIMARY KEY'"),
			  "1");
}

TEST_F(PgSinkOnPostgres, CommittedTransactionsAreNeverAppliedTwice) {
	PgSink &sink = Open();
	Transaction(sink, 1000, {Insert("nk", 1, "x")});
	Transaction(sink, 2000, {Insert("nk", 2, "y")}, false); // committed in the target, the group not yet durable
	sink.Rollback();										// (the daemon lost its stream, say)
	EXPECT_EQ(sink.DurableLsn(), 2000U) << "the rollback found the transaction committed and made it durable";
	Transaction(sink, 2000, {Insert("nk", 2, "y")}); // delivered again all the same: ignored
	Transaction(sink, 3000, {Insert("nk", 3, "z")});
	EXPECT_EQ(Scalar("SELECT string_agg(v, ',' ORDER BY v) FROM sinktest.nk"), "x,y,z");
	PgSink &reopened = Open();
	EXPECT_EQ(reopened.DurableLsn(), 3000U);
	EXPECT_EQ(Scalar("SELECT remote_lsn FROM pg_replication_origin_status WHERE external_id = 'sinktest'"), "0/BB8");
}

TEST_F(PgSinkOnPostgres, ConflictsAreDetectedByValueAndResolved) {
	std::vector<ConflictRecord> seen;
	Resolution answer = Resolution::ApplyIncoming;
	PgSink &sink = Open([&](const ConflictRecord &record) {
		seen.push_back(record);
		return answer;
	});
	db_->Exec("CREATE TABLE sinktest.k (id integer PRIMARY KEY, v text); INSERT INTO sinktest.k VALUES (1, 'local'), "
			  "(2, 'b'), (3, 'c'), (4, 'local4')",
			  "preparing");
	// no conflict: an update whose old image matches, an insert equal to the row held, a delete of a missing row
	Transaction(sink, 1000, {Update("k", 2, "b", 2, "b1"), Delete("k", 9, "gone")});
	EXPECT_TRUE(seen.empty());
	// insert_exists, applied
	Transaction(sink, 2000, {Insert("k", 1, "incoming")});
	ASSERT_EQ(seen.size(), 1U);
	EXPECT_EQ(seen[0].kind, ConflictKind::InsertExists);
	EXPECT_EQ(seen[0].key_json, R"({"id":1})");
	EXPECT_EQ(seen[0].local_json, R"({"id":1,"v":"local"})");
	EXPECT_EQ(seen[0].incoming_json, R"({"id":1,"v":"incoming"})");
	EXPECT_EQ(seen[0].incoming_time, "2026-12-07T10:00:00.5+00:00");
	EXPECT_EQ(seen[0].incoming_commit_lsn, 1992U);
	EXPECT_EQ(seen[0].change_index, 0);
	EXPECT_EQ(Scalar("SELECT v FROM sinktest.k WHERE id = 1"), "incoming");
	// update_differs, kept
	answer = Resolution::KeepLocal;
	Transaction(sink, 3000, {Insert("k", 7, "n"), Update("k", 3, "not c", 3, "c1")});
	ASSERT_EQ(seen.size(), 2U);
	EXPECT_EQ(seen[1].kind, ConflictKind::UpdateDiffers);
	EXPECT_EQ(seen[1].change_index, 1);
	EXPECT_EQ(Scalar("SELECT v FROM sinktest.k WHERE id = 3"), "c");
	// update_missing, applied as an insert
	answer = Resolution::ApplyIncoming;
	Transaction(sink, 4000, {Update("k", 5, "e", 5, "e1")});
	ASSERT_EQ(seen.size(), 3U);
	EXPECT_EQ(seen[2].kind, ConflictKind::UpdateMissing);
	EXPECT_EQ(seen[2].local_json, "");
	EXPECT_EQ(Scalar("SELECT v FROM sinktest.k WHERE id = 5"), "e1");
	// delete_differs, applied
	Transaction(sink, 5000, {Delete("k", 4, "not local4")});
	ASSERT_EQ(seen.size(), 4U);
	EXPECT_EQ(seen[3].kind, ConflictKind::DeleteDiffers);
	EXPECT_EQ(Scalar("SELECT count(*) FROM sinktest.k WHERE id = 4"), "0");
	// an update whose result the row already holds is no conflict
	Transaction(sink, 6000, {Update("k", 5, "other", 5, "e1")});
	EXPECT_EQ(seen.size(), 4U);
	// error: ConflictError, nothing of the transaction kept
	answer = Resolution::Fail;
	sink.BeginTransaction(6992);
	sink.Apply(ParseChange(Insert("k", 8, "new")));
	EXPECT_THROW(sink.Apply(ParseChange(Insert("k", 1, "again"))), ConflictError);
	sink.Rollback();
	EXPECT_EQ(Scalar("SELECT count(*) FROM sinktest.k WHERE id = 8"), "0");
	EXPECT_EQ(sink.DurableLsn(), 6000U);
}

TEST_F(PgSinkOnPostgres, ConflictModeNeedsTheFullOldImage) {
	PgSink &sink = Open([](const ConflictRecord &) { return Resolution::ApplyIncoming; });
	db_->Exec("CREATE TABLE sinktest.k (id integer PRIMARY KEY, v text); INSERT INTO sinktest.k VALUES (1, 'a')",
			  "preparing");
	sink.BeginTransaction(992);
	try {
		sink.Apply(ParseChange(
			R"js({"op":"delete","schema":"sinktest","table":"k","key":["id"],"old":{"id":1},"types":{"id":"integer","v":"text"}})js"));
		FAIL() << "a delete without the full old row was applied";
	} catch (const std::exception &e) {
		EXPECT_NE(std::string(e.what()).find("REPLICA IDENTITY FULL"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("sinktest.k"), std::string::npos) << e.what();
	}
	sink.Rollback();
}

} // namespace
