/*
 * pg_destination_test.cpp
 *     The PostgreSQL destination (io/pg_destination.cpp) driven with batches built here, against a live server:
 *     each test restores into a database of its own, created and dropped around it. Runs when MOSTA_COPY_TEST_PG
 *     is set and the PG* variables point at a server where the user may create databases
 *     (scripts/pg-cluster run -- env MOSTA_COPY_TEST_PG=1 build/test/cpp/copy/copy_tests; copy_restore.sh does).
 */
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include <libpq-fe.h>

#include "io/open.hpp"
#include "pg/handles.hpp"

namespace mosta::copy {
namespace {

// Db is a throwaway database: created by the constructor, dropped by the destructor.
class Db {
  public:
	explicit Db(const std::string &name) : name_(name) {
		Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
		Admin("CREATE DATABASE " + name_);
		conn_.reset(PQconnectdb(Conninfo().c_str()));
		if (PQstatus(conn_.get()) != CONNECTION_OK)
			throw std::runtime_error(PQerrorMessage(conn_.get()));
	}
	~Db() {
		conn_.reset();
		Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
	}
	std::string
	Conninfo() const {
		return "dbname=" + name_;
	}
	// Scalar returns the first field of sql's first row ("<null>" for NULL, "<error: ...>" on failure).
	std::string
	Scalar(const std::string &sql) {
		sidecar::PgResultHandle result(PQexec(conn_.get(), sql.c_str()));
		if (PQresultStatus(result.get()) == PGRES_COMMAND_OK)
			return "";
		if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
			return std::string("<error: ") + PQresultErrorMessage(result.get()) + ">";
		if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0))
			return "<null>";
		return PQgetvalue(result.get(), 0, 0);
	}

  private:
	static void
	Admin(const std::string &sql) {
		sidecar::PgConnHandle admin(PQconnectdb("dbname=postgres"));
		sidecar::PgResultHandle result(PQexec(admin.get(), sql.c_str()));
		if (PQresultStatus(result.get()) != PGRES_COMMAND_OK)
			throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
	}
	std::string name_;
	sidecar::PgConnHandle conn_;
};

ColumnDef
Column(std::string name, std::string type, bool not_null = false) {
	ColumnDef column;
	column.name = std::move(name);
	column.type = type;
	column.base_type = std::move(type);
	column.not_null = not_null;
	return column;
}

// Model returns two tables: "shop"."Kinds" (id, label) and shop.items (id serial, kind_id → Kinds, note,
// twice generated), with their primary keys, an index and the foreign key.
DatabaseSchema
Model() {
	DatabaseSchema schema;
	TableDef kinds;
	kinds.schema = "shop";
	kinds.name = "Kinds";
	kinds.columns = {Column("id", "integer", true), Column("label", "text")};
	kinds.post_data = {"ALTER TABLE ONLY shop.\"Kinds\" ADD CONSTRAINT kinds_pkey PRIMARY KEY (id);"};
	SequenceDef seq;
	seq.schema = "shop";
	seq.name = "items_id_seq";
	seq.last_value = 3;
	seq.is_called = true;
	seq.owned_by_table = "shop.items";
	seq.owned_by_column = "id";
	TableDef items;
	items.schema = "shop";
	items.name = "items";
	items.columns = {Column("id", "bigint", true), Column("kind_id", "integer"), Column("note", "text"),
					 Column("twice", "bigint")};
	items.columns[0].default_expr = "nextval('shop.items_id_seq'::regclass)";
	items.columns[3].generated = "(id * 2)";
	items.references = {"shop.Kinds"};
	items.post_data = {"ALTER TABLE ONLY shop.items ADD CONSTRAINT items_pkey PRIMARY KEY (id);",
					   "CREATE INDEX items_note_idx ON shop.items (note);"};
	items.foreign_keys = {"ALTER TABLE ONLY shop.items ADD CONSTRAINT items_kind_fkey FOREIGN KEY (kind_id) "
						  "REFERENCES shop.\"Kinds\"(id);"};
	schema.sequences = {seq};
	schema.tables = {kinds, items};
	return schema;
}

RowBatch
KindsRows() {
	RowBatch batch(2, ValueForm::PgText);
	for (const char *field : {"1", "one", "2", "tab\there \\ new\nline"})
		batch.AddField(field);
	return batch;
}

RowBatch
ItemsRows(const char *bad_kind = "2") {
	RowBatch batch(3, ValueForm::PgText);
	batch.AddField("1");
	batch.AddField("1");
	batch.AddField("first");
	batch.AddField("2");
	batch.AddNull();
	batch.AddField("\\N is text");
	batch.AddField("3");
	batch.AddField(bad_kind);
	batch.AddField("");
	return batch;
}

void
WriteTable(Destination &destination, const TableDef &table, const RowBatch &batch) {
	std::unique_ptr<TableWriter> writer = destination.OpenTable(table);
	writer->Write(batch);
	writer->Close(batch.Rows());
}

class PgDestinationTest : public ::testing::Test {
  protected:
	void
	SetUp() override {
		if (std::getenv("MOSTA_COPY_TEST_PG") == nullptr)
			GTEST_SKIP() << "MOSTA_COPY_TEST_PG is not set (test/integration/copy_restore.sh sets it)";
		db_ = std::make_unique<Db>("mosta_copy_dest_test");
	}
	std::unique_ptr<Destination>
	Open(bool create_tables, int jobs) {
		DestinationOptions options;
		options.create_tables = create_tables;
		options.jobs = jobs;
		return MakePgDestination(db_->Conninfo(), options);
	}
	// CheckRestored asserts the rows, the generated column, the constraints and the sequence of Model().
	void
	CheckRestored() {
		EXPECT_EQ(db_->Scalar("SELECT string_agg(id || ':' || coalesce(kind_id::text, '-') || ':' || note || ':' || "
							  "twice, ',' ORDER BY id) FROM shop.items"),
				  "1:1:first:2,2:-:\\N is text:4,3:2::6");
		EXPECT_EQ(db_->Scalar("SELECT label FROM shop.\"Kinds\" WHERE id = 2"), "tab\there \\ new\nline");
		EXPECT_EQ(db_->Scalar("SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE "
							  "connamespace = 'shop'::regnamespace"),
				  "items_kind_fkey,items_pkey,kinds_pkey");
		EXPECT_EQ(db_->Scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'items_note_idx'"), "1");
		EXPECT_EQ(db_->Scalar("SELECT nextval('shop.items_id_seq')"), "4");
		EXPECT_EQ(db_->Scalar("SELECT pg_get_serial_sequence('shop.items', 'id')"), "shop.items_id_seq");
	}
	std::unique_ptr<Db> db_;
};

TEST_F(PgDestinationTest, CreatesLoadsAndFinishesInOneTransaction) {
	DatabaseSchema schema = Model();
	auto destination = Open(true, 1);
	EXPECT_EQ(destination->Form(), ValueForm::PgText);
	destination->Begin(schema, SnapshotInfo{});
	WriteTable(*destination, schema.tables[0], KindsRows());
	WriteTable(*destination, schema.tables[1], ItemsRows());
	destination->Finish();
	// nothing is visible before Commit
	EXPECT_EQ(db_->Scalar("SELECT to_regclass('shop.items') IS NULL"), "t");
	destination->Commit();
	CheckRestored();
	ASSERT_EQ(destination->Files().size(), 1u);
	EXPECT_EQ(destination->Files()[0].kind, "postgres");
	EXPECT_EQ(destination->Files()[0].path, db_->Conninfo());
}

TEST_F(PgDestinationTest, WritesTablesAtOnceWithJobs) {
	DatabaseSchema schema = Model();
	auto destination = Open(true, 2);
	destination->Begin(schema, SnapshotInfo{});
	// both writers open at once, from two threads
	std::unique_ptr<TableWriter> kinds, items;
	std::thread first([&] { kinds = destination->OpenTable(schema.tables[0]); });
	std::thread second([&] { items = destination->OpenTable(schema.tables[1]); });
	first.join();
	second.join();
	RowBatch items_rows = ItemsRows(), kinds_rows = KindsRows();
	items->Write(items_rows);
	kinds->Write(kinds_rows);
	items->Close(items_rows.Rows());
	kinds->Close(kinds_rows.Rows());
	items.reset();
	kinds.reset();
	destination->Finish();
	destination->Commit();
	CheckRestored();
}

TEST_F(PgDestinationTest, AFailedRestoreLeavesNothingWithOneJob) {
	DatabaseSchema schema = Model();
	auto destination = Open(true, 1);
	destination->Begin(schema, SnapshotInfo{});
	WriteTable(*destination, schema.tables[0], KindsRows());
	try {
		WriteTable(*destination, schema.tables[1], ItemsRows("not a number"));
		FAIL() << "a value the target refuses was loaded";
	} catch (const CopyError &error) {
		std::string message = error.what();
		EXPECT_NE(message.find("loading table shop.items"), std::string::npos) << message;
		EXPECT_NE(message.find("invalid input syntax for type integer"), std::string::npos) << message;
		EXPECT_NE(message.find("line 3"), std::string::npos) << message;
	}
	destination->Abort();
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"), "0");
}

TEST_F(PgDestinationTest, AbortWithJobsDropsWhatBeginCreated) {
	DatabaseSchema schema = Model();
	db_->Scalar("CREATE TABLE public.keep (x int)");
	schema.tables[0].schema = "public"; // a table in a schema that existed stays... its schema
	schema.tables[1].references = {"public.Kinds"};
	schema.tables[0].post_data.clear();
	schema.tables[1].foreign_keys.clear();
	auto destination = Open(true, 2);
	destination->Begin(schema, SnapshotInfo{});
	EXPECT_EQ(db_->Scalar("SELECT to_regclass('shop.items') IS NOT NULL"), "t"); // committed by Begin
	WriteTable(*destination, schema.tables[0], KindsRows());
	destination->Abort();
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"), "0");
	EXPECT_EQ(db_->Scalar("SELECT to_regclass('public.\"Kinds\"') IS NULL"), "t");
	EXPECT_EQ(db_->Scalar("SELECT to_regclass('public.keep') IS NOT NULL"), "t");
}

TEST_F(PgDestinationTest, RefusesATableThatHoldsRows) {
	db_->Scalar("CREATE SCHEMA shop; CREATE TABLE shop.\"Kinds\" (id integer, label text); INSERT INTO "
				"shop.\"Kinds\" VALUES (9, 'there')");
	for (bool create_tables : {false, true}) {
		auto destination = Open(create_tables, 1);
		try {
			destination->Begin(Model(), SnapshotInfo{});
			FAIL() << "a table with rows was accepted";
		} catch (const CopyError &error) {
			std::string message = error.what();
			EXPECT_NE(message.find("table shop.Kinds"), std::string::npos) << message;
			EXPECT_NE(message.find("already holds rows"), std::string::npos) << message;
			EXPECT_NE(message.find("TRUNCATE"), std::string::npos) << message;
		}
		destination->Abort();
	}
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM shop.\"Kinds\""), "1");
}

TEST_F(PgDestinationTest, WithoutCreateTablesTheTablesMustExist) {
	auto destination = Open(false, 1);
	try {
		destination->Begin(Model(), SnapshotInfo{});
		FAIL() << "a missing table was accepted";
	} catch (const CopyError &error) {
		std::string message = error.what();
		EXPECT_NE(message.find("table shop.Kinds does not exist"), std::string::npos) << message;
		EXPECT_NE(message.find("--create-tables"), std::string::npos) << message;
	}
	destination->Abort();
	db_->Scalar("CREATE SCHEMA shop; CREATE TABLE shop.\"Kinds\" (id integer PRIMARY KEY)");
	destination = Open(false, 1);
	try {
		destination->Begin(Model(), SnapshotInfo{});
		FAIL() << "a missing column was accepted";
	} catch (const CopyError &error) {
		std::string message = error.what();
		EXPECT_NE(message.find("table shop.Kinds"), std::string::npos) << message;
		EXPECT_NE(message.find("no column \"label\""), std::string::npos) << message;
	}
	destination->Abort();
}

TEST_F(PgDestinationTest, LoadsExistingTablesAndSetsTheirSequences) {
	db_->Scalar("CREATE SCHEMA shop; CREATE TABLE shop.\"Kinds\" (id integer PRIMARY KEY, label text); "
				"CREATE TABLE shop.items (id bigserial PRIMARY KEY, kind_id integer REFERENCES shop.\"Kinds\", "
				"note text, twice bigint GENERATED ALWAYS AS (id * 2) STORED)");
	DatabaseSchema schema = Model();
	SequenceDef absent;
	absent.schema = "shop";
	absent.name = "not_there";
	schema.sequences.push_back(absent);
	auto destination = Open(false, 1);
	destination->Begin(schema, SnapshotInfo{});
	WriteTable(*destination, schema.tables[0], KindsRows());
	WriteTable(*destination, schema.tables[1], ItemsRows());
	destination->Finish();
	destination->Commit();
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM shop.items"), "3");
	EXPECT_EQ(db_->Scalar("SELECT nextval('shop.items_id_seq')"), "4");
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM pg_indexes WHERE schemaname = 'shop'"), "2"); // theirs only
}

TEST_F(PgDestinationTest, AbortWithJobsTruncatesExistingTablesItLoaded) {
	db_->Scalar("CREATE SCHEMA shop; CREATE TABLE shop.\"Kinds\" (id integer, label text); "
				"CREATE SEQUENCE shop.items_id_seq; CREATE TABLE shop.items (id bigint, kind_id integer, note text, "
				"twice bigint)");
	DatabaseSchema schema = Model();
	auto destination = Open(false, 2);
	destination->Begin(schema, SnapshotInfo{});
	WriteTable(*destination, schema.tables[0], KindsRows());
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM shop.\"Kinds\""), "2"); // committed on its own
	destination->Abort();
	EXPECT_EQ(db_->Scalar("SELECT count(*) FROM shop.\"Kinds\""), "0");
	EXPECT_EQ(db_->Scalar("SELECT to_regclass('shop.items') IS NOT NULL"), "t");
}

} // namespace
} // namespace mosta::copy
