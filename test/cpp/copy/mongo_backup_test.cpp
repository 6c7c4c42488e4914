/*
 * mongo_backup_test.cpp
 *     The MongoDB destination and source against mosta-test-mongod through the real mongo-c-driver (a real server
 *     with MOSTA_TEST_MONGO_URI): the zoo's rows written and read back (exact but for the values the mapping cannot
 *     hold, which the destination counts), the checksum the destination reports equals the one the source reads,
 *     mosta-sidecar verify reads the collections, nothing under the final collection before Commit, Abort leaves
 *     nothing, Commit replaces an older copy, a table without a key, several tables at once, stale temporaries of a
 *     dead process dropped.
 */
#include <gtest/gtest.h>

#include <chrono>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "app/verify_mongo.hpp"
#include "io/mongo_backup_destination.hpp"
#include "io/open.hpp"
#include "mosta/common/canonical_row.hpp"
#include "sink/mongo_sink.hpp"
#include "store_zoo.hpp"
#include "../support/test_mongod.hpp"

namespace mosta::copy {
namespace {

using test::ZooRow;

class MongoBackupTest : public ::testing::Test {
  protected:
	static void
	SetUpTestSuite() {
		mongoc_init();
		std::string error;
		server_ = mosta::test::TestMongoUri(MOSTA_TEST_MONGOD_BIN, &pid_, &error);
		ASSERT_FALSE(server_.empty()) << error;
	}
	static void
	TearDownTestSuite() {
		if (pid_ > 0) {
			mosta::test::StopTestMongod(pid_);
			pid_ = -1;
		}
	}

	void
	SetUp() override {
		database_ = "mosta_copy_test_" + std::to_string(::getpid()) + "_" +
					::testing::UnitTest::GetInstance()->current_test_info()->name();
		uri_ = server_ + "/" + database_;
		client_.reset(mongoc_client_new(uri_.c_str()));
		ASSERT_TRUE(client_);
		DropDatabase();
	}
	void
	TearDown() override {
		DropDatabase();
	}

	void
	DropDatabase() {
		mongoc_database_t *db = mongoc_client_get_database(client_.get(), database_.c_str());
		bson_error_t error;
		mongoc_database_drop(db, &error);
		mongoc_database_destroy(db);
	}
	// Collections returns the collection names of the test's database, sorted.
	std::vector<std::string>
	Collections() {
		mongoc_database_t *db = mongoc_client_get_database(client_.get(), database_.c_str());
		bson_error_t error;
		char **names = mongoc_database_get_collection_names_with_opts(db, nullptr, &error);
		mongoc_database_destroy(db);
		std::vector<std::string> result;
		for (char **name = names; name != nullptr && *name != nullptr; ++name)
			result.emplace_back(*name);
		bson_strfreev(names);
		std::sort(result.begin(), result.end());
		return result;
	}
	std::int64_t
	Count(const std::string &collection) {
		mongoc_collection_t *handle =
			mongoc_client_get_collection(client_.get(), database_.c_str(), collection.c_str());
		bson_t filter = BSON_INITIALIZER;
		bson_error_t error;
		std::int64_t n = mongoc_collection_count_documents(handle, &filter, nullptr, nullptr, nullptr, &error);
		mongoc_collection_destroy(handle);
		return n;
	}

	// ReadAll reads every row of table through a MongoDB source.
	std::vector<ZooRow>
	ReadAll(const DatabaseSchema &schema, const TableDef &table) {
		std::unique_ptr<Source> source = MakeMongoSource(uri_, schema);
		source->Open();
		std::unique_ptr<TableReader> reader = source->OpenTable(table);
		EXPECT_EQ(reader->Form(), ValueForm::Canonical);
		std::vector<ZooRow> rows;
		RowBatch batch(table.CopiedColumns().size(), ValueForm::Canonical);
		while (reader->Next(batch, 3))
			for (std::size_t row = 0; row < batch.Rows(); ++row) {
				ZooRow values;
				for (std::size_t column = 0; column < batch.Columns(); ++column) {
					std::optional<std::string_view> field = batch.Field(row, column);
					values.push_back(field ? std::optional<std::string>(std::string(*field)) : std::nullopt);
				}
				rows.push_back(std::move(values));
			}
		source->Close();
		return rows;
	}

	static std::string server_;
	static pid_t pid_;
	std::string database_;
	std::string uri_;
	std::unique_ptr<mongoc_client_t, decltype(&mongoc_client_destroy)> client_{nullptr, &mongoc_client_destroy};
};

std::string MongoBackupTest::server_;
pid_t MongoBackupTest::pid_ = -1;

// Write writes rows into table through destination (Begin with schema, to Finish).
void
Write(Destination &destination, const DatabaseSchema &schema, const std::vector<std::vector<ZooRow>> &rows) {
	destination.Begin(schema, SnapshotInfo{});
	for (std::size_t t = 0; t < schema.tables.size(); ++t) {
		std::unique_ptr<TableWriter> writer = destination.OpenTable(schema.tables[t]);
		writer->Write(test::ZooBatch(rows[t], schema.tables[t].CopiedColumns().size()));
		writer->Close(rows[t].size());
	}
	destination.Finish();
}

DatabaseSchema
ZooSchema() {
	DatabaseSchema schema;
	schema.tables.push_back(test::ZooValuesTable());
	return schema;
}

// Checksum returns the canonical checksum of rows of table's copied columns.
std::string
Checksum(const TableDef &table, const std::vector<ZooRow> &rows) {
	return test::ZooChecksum(table, rows);
}

TEST_F(MongoBackupTest, ZooRoundTripsButForWhatTheMappingCannotHold) {
	DatabaseSchema schema = ZooSchema();
	const TableDef &table = schema.tables[0];
	std::unique_ptr<Destination> destination = MakeMongoDestination(uri_, DestinationOptions{});
	EXPECT_EQ(destination->Form(), ValueForm::Canonical);
	Write(*destination, schema, {test::ZooValuesRows()});
	EXPECT_EQ(Collections(), std::vector<std::string>{"zoo.values.mosta-tmp." + std::to_string(::getpid())})
		<< "only the temporary before Commit";
	destination->Commit();
	EXPECT_EQ(Collections(), std::vector<std::string>{"zoo.values"});
	EXPECT_EQ(Count("zoo.values"), 4);
	ASSERT_EQ(destination->Files().size(), 1u);
	EXPECT_EQ(destination->Files()[0].kind, "mongodb");
	EXPECT_EQ(destination->Files()[0].path, uri_);

	const std::vector<MongoStoredTable> *stored = MongoStoredTables(*destination);
	ASSERT_NE(stored, nullptr);
	ASSERT_EQ(stored->size(), 1u);
	EXPECT_EQ((*stored)[0].table, "zoo.values");
	EXPECT_EQ((*stored)[0].rows, 4u);
	// json keeps the text as typed (duplicate keys, spacing); a jsonb[] JSON-null element reads as NULL
	EXPECT_EQ((*stored)[0].inexact_columns, (std::vector<std::string>{"j", "jba"}));
	EXPECT_EQ((*stored)[0].inexact_rows, 1u);

	std::vector<ZooRow> expected = test::ZooValuesRows();
	std::vector<ZooRow> read = ReadAll(schema, table);
	ASSERT_EQ(read.size(), expected.size());
	EXPECT_EQ(Checksum(table, read), (*stored)[0].checksum) << "the destination's checksum is what the source reads";
	std::sort(read.begin(), read.end());
	std::vector<std::size_t> copied = table.CopiedColumns();
	for (std::size_t row = 0; row < expected.size(); ++row)
		for (std::size_t column = 0; column < copied.size(); ++column) {
			const std::string &name = table.columns[copied[column]].name;
			if (row == 0 && (name == "j" || name == "jba"))
				continue;
			EXPECT_EQ(read[row][column], expected[row][column]) << "row " << row << " column " << name;
		}
	EXPECT_EQ(read[0][16], "{\"a\": 1, \"a\": 2}") << "a json column reads back as jsonb prints the document";
}

TEST_F(MongoBackupTest, SidecarVerifyReadsTheCollections) {
	// the zoo without the columns the mapping cannot hold exactly: verify finds the source's checksum
	DatabaseSchema schema = ZooSchema();
	TableDef &table = schema.tables[0];
	std::vector<ZooRow> rows = test::ZooValuesRows();
	for (const char *drop : {"jba", "j"}) {
		auto at = std::find_if(table.columns.begin(), table.columns.end(),
							   [&](const ColumnDef &column) { return column.name == drop; });
		std::size_t index = static_cast<std::size_t>(at - table.columns.begin());
		table.columns.erase(at);
		for (ZooRow &row : rows)
			row.erase(row.begin() + static_cast<std::ptrdiff_t>(index));
	}
	std::unique_ptr<Destination> destination = MakeMongoDestination(uri_, DestinationOptions{});
	Write(*destination, schema, {rows});
	destination->Commit();
	EXPECT_EQ((*MongoStoredTables(*destination))[0].inexact_rows, 0u);
	EXPECT_EQ((*MongoStoredTables(*destination))[0].checksum, Checksum(table, rows));

	std::vector<sidecar::VerifyColumn> columns;
	for (std::size_t index : table.CopiedColumns())
		columns.push_back({table.columns[index].name, table.columns[index].base_type});
	sidecar::MongoVerifyTarget target(uri_, "");
	sidecar::VerifyTargetRows read = target.Read("zoo", "values", columns, {"id"});
	EXPECT_TRUE(read.exists);
	EXPECT_EQ(read.rows, 4);
	EXPECT_EQ(read.checksum, Checksum(table, rows));
	EXPECT_EQ(read.hashes.count("1"), 1u) << "documents keyed by the primary key";
}

TEST_F(MongoBackupTest, AbortLeavesNothing) {
	DatabaseSchema schema = ZooSchema();
	std::unique_ptr<Destination> destination = MakeMongoDestination(uri_, DestinationOptions{});
	destination->Begin(schema, SnapshotInfo{});
	std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[0]);
	writer->Write(test::ZooBatch(test::ZooValuesRows(), schema.tables[0].CopiedColumns().size()));
	EXPECT_EQ(Collections().size(), 1u);
	destination->Abort();
	EXPECT_TRUE(Collections().empty());
	EXPECT_THROW(writer->Write(test::ZooBatch(test::ZooValuesRows(), schema.tables[0].CopiedColumns().size())),
				 CopyError)
		<< "a writer still running after Abort stops";
	EXPECT_TRUE(Collections().empty()) << "and does not create the temporary again";
}

TEST_F(MongoBackupTest, CommitReplacesTheOlderCopyOnlyThen) {
	DatabaseSchema schema = ZooSchema();
	std::vector<ZooRow> all = test::ZooValuesRows();
	{
		std::unique_ptr<Destination> first = MakeMongoDestination(uri_, DestinationOptions{});
		Write(*first, schema, {all});
		first->Commit();
	}
	std::unique_ptr<Destination> second = MakeMongoDestination(uri_, DestinationOptions{});
	Write(*second, schema, {std::vector<ZooRow>(all.begin(), all.begin() + 1)});
	EXPECT_EQ(Count("zoo.values"), 4) << "the older copy stays whole until Commit";
	second->Commit();
	EXPECT_EQ(Count("zoo.values"), 1);
	EXPECT_EQ(Collections(), std::vector<std::string>{"zoo.values"});
}

TEST_F(MongoBackupTest, TableWithoutKeyAndEmptyTable) {
	DatabaseSchema schema;
	TableDef events;
	events.schema = "public";
	events.name = "events";
	events.columns = {test::ZooColumn("at", "timestamp with time zone"), test::ZooColumn("kind", "text"),
					  test::ZooColumn("payload", "jsonb")};
	TableDef empty;
	empty.schema = "zoo";
	empty.name = "empty";
	empty.columns = {test::ZooColumn("id", "integer"), test::ZooColumn("note", "text")};
	empty.primary_key = {"id"};
	schema.tables = {events, empty};
	std::vector<ZooRow> rows = {{"2024-01-01T00:00:00+00:00", "a", "{\"x\": 1}"},
								{"2024-01-01T00:00:00+00:00", "a", "{\"x\": 1}"},
								{std::nullopt, std::nullopt, std::nullopt}};
	std::unique_ptr<Destination> destination = MakeMongoDestination(uri_, DestinationOptions{});
	Write(*destination, schema, {rows, {}});
	destination->Commit();
	EXPECT_EQ(Collections(), (std::vector<std::string>{"events", "zoo.empty"})) << "public tables lose the schema";
	std::vector<ZooRow> read = ReadAll(schema, events);
	EXPECT_EQ(Checksum(events, read), Checksum(events, rows)) << "duplicate rows kept (generated ObjectIds)";
	EXPECT_TRUE(ReadAll(schema, empty).empty());
}

TEST_F(MongoBackupTest, SeveralTablesAtOnce) {
	constexpr int kTables = 3;
	constexpr int kBatches = 20;
	constexpr int kRowsPerBatch = 50;
	DatabaseSchema schema;
	for (int t = 0; t < kTables; ++t) {
		TableDef table;
		table.schema = "public";
		table.name = "t" + std::to_string(t);
		table.columns = {test::ZooColumn("id", "bigint"), test::ZooColumn("v", "text")};
		table.primary_key = {"id"};
		schema.tables.push_back(table);
	}
	DestinationOptions options;
	options.jobs = kTables;
	std::unique_ptr<Destination> destination = MakeMongoDestination(uri_, options);
	destination->Begin(schema, SnapshotInfo{});
	std::vector<std::string> errors(kTables);
	std::vector<std::thread> threads;
	for (int t = 0; t < kTables; ++t)
		threads.emplace_back([&, t] {
			try {
				std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[t]);
				for (int b = 0; b < kBatches; ++b) {
					RowBatch batch(2, ValueForm::Canonical);
					for (int r = 0; r < kRowsPerBatch; ++r) {
						batch.AddField(std::to_string(b * kRowsPerBatch + r));
						batch.AddField("t" + std::to_string(t));
					}
					writer->Write(batch);
				}
				writer->Close(kBatches * kRowsPerBatch);
			} catch (const std::exception &error) {
				errors[t] = error.what();
			}
		});
	for (std::thread &thread : threads)
		thread.join();
	for (const std::string &error : errors)
		EXPECT_EQ(error, "");
	destination->Finish();
	destination->Commit();
	for (int t = 0; t < kTables; ++t)
		EXPECT_EQ(Count("t" + std::to_string(t)), kBatches * kRowsPerBatch);
	EXPECT_EQ(MongoStoredTables(*destination)->size(), static_cast<std::size_t>(kTables));
}

TEST_F(MongoBackupTest, DropsTemporariesOfDeadProcesses) {
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(0);
	int status = 0;
	waitpid(child, &status, 0);
	std::string stale = "zoo.values.mosta-tmp." + std::to_string(child);
	mongoc_collection_t *handle = mongoc_client_get_collection(client_.get(), database_.c_str(), stale.c_str());
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_INT32(&doc, "_id", 1);
	bson_error_t error;
	ASSERT_TRUE(mongoc_collection_insert_one(handle, &doc, nullptr, nullptr, &error)) << error.message;
	bson_destroy(&doc);
	mongoc_collection_destroy(handle);
	std::unique_ptr<Destination> destination = MakeMongoDestination(uri_, DestinationOptions{});
	destination->Begin(ZooSchema(), SnapshotInfo{});
	EXPECT_EQ(Collections(), std::vector<std::string>{"zoo.values.mosta-tmp." + std::to_string(::getpid())});
	destination->Abort();
}

TEST_F(MongoBackupTest, UriWithoutDatabaseOrServerIsAClearError) {
	try {
		MakeMongoDestination(server_ + "/", DestinationOptions{});
		FAIL() << "accepted a URI naming no database";
	} catch (const CopyError &error) {
		EXPECT_NE(std::string(error.what()).find("names no database"), std::string::npos) << error.what();
	}
	std::unique_ptr<Destination> unreachable =
		MakeMongoDestination("mongodb://u:secret@127.0.0.1:1/db?serverSelectionTimeoutMS=200", DestinationOptions{});
	try {
		unreachable->Begin(ZooSchema(), SnapshotInfo{});
		FAIL() << "began on an unreachable server";
	} catch (const CopyError &error) {
		EXPECT_EQ(std::string(error.what()).find("secret"), std::string::npos) << error.what();
		EXPECT_NE(std::string(error.what()).find("cannot reach"), std::string::npos) << error.what();
	}
}

// DriverWarnings collects what mongo-c-driver logs at warning level or worse while it lives.
class DriverWarnings {
  public:
	DriverWarnings() {
		mongoc_log_set_handler(&DriverWarnings::Collect, this);
	}
	~DriverWarnings() {
		mongoc_log_set_handler(mongoc_log_default_handler, nullptr);
	}
	DriverWarnings(const DriverWarnings &) = delete;
	DriverWarnings &operator=(const DriverWarnings &) = delete;

	const std::string &
	Text() const noexcept {
		return text_;
	}

  private:
	static void
	Collect(mongoc_log_level_t level, const char *domain, const char *message, void *self) {
		if (level <= MONGOC_LOG_LEVEL_WARNING)
			static_cast<DriverWarnings *>(self)->text_ += std::string(domain) + ": " + message + "\n";
	}
	std::string text_;
};

// A mapped mirror's URI (mosta_mapping=FILE): the driver never sees the option (no "unsupported URI option"
// warning); a source reads the collections as they are, a destination refuses to write tables into the mirror.
TEST(MongoBackupMappedUri, SourceStripsTheMappingDestinationRefusesIt) {
	DriverWarnings warnings;
	const std::string uri = "mongodb://127.0.0.1:1/shop?serverSelectionTimeoutMS=200&mosta_mapping=/etc/mosta/"
							"shop.mapping.json";
	EXPECT_NO_THROW(MakeMongoSource(uri, DatabaseSchema{}));
	try {
		MakeMongoDestination(uri, DestinationOptions{});
		FAIL() << "a destination accepted a mapped mirror's URI";
	} catch (const CopyError &error) {
		std::string what = error.what();
		EXPECT_NE(what.find("mosta_mapping=/etc/mosta/shop.mapping.json"), std::string::npos) << what;
		EXPECT_NE(what.find("hint"), std::string::npos) << what;
	}
	EXPECT_EQ(warnings.Text(), "");
}

} // namespace
} // namespace mosta::copy
