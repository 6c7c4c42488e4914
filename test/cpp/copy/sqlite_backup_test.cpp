/*
 * sqlite_backup_test.cpp
 *     The SQLite destination and source: the zoo's rows written and read back equal (canonical text, and the
 *     checksum mosta-sidecar verify's reader computes on the file), the sink's layout (names, declared types,
 *     primary key, storage classes), nothing under the final name before Commit, Abort leaves nothing, several
 *     tables written at once (--jobs), and a file that is not a mosta-copy backup refused.
 */
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <unistd.h>

#include "app/verify_read.hpp"
#include "io/open.hpp"
#include "io/staged_path.hpp"
#include "sink/sqlite_db.hpp"
#include "store_zoo.hpp"

namespace mosta::copy {
namespace {

namespace fs = std::filesystem;
using test::ZooRow;

class SqliteBackupTest : public ::testing::Test {
  protected:
	void
	SetUp() override {
		dir_ = fs::temp_directory_path() / ("mosta_sqlite_backup_" + std::to_string(::getpid()) + "_" +
											::testing::UnitTest::GetInstance()->current_test_info()->name());
		fs::remove_all(dir_);
		fs::create_directories(dir_);
		path_ = (dir_ / "daily.sqlite").string();
	}
	void
	TearDown() override {
		fs::remove_all(dir_);
	}

	// ReadAll reads every row of table from the backup at path_.
	std::vector<ZooRow>
	ReadAll(Source &source, const TableDef &table, std::size_t batch_rows = 2) {
		std::unique_ptr<TableReader> reader = source.OpenTable(table);
		EXPECT_EQ(reader->Form(), ValueForm::Canonical);
		std::vector<ZooRow> rows;
		RowBatch batch(table.CopiedColumns().size(), ValueForm::Canonical);
		while (reader->Next(batch, batch_rows)) {
			EXPECT_LE(batch.Rows(), batch_rows);
			for (std::size_t row = 0; row < batch.Rows(); ++row) {
				ZooRow values;
				for (std::size_t column = 0; column < batch.Columns(); ++column) {
					std::optional<std::string_view> field = batch.Field(row, column);
					values.push_back(field ? std::optional<std::string>(std::string(*field)) : std::nullopt);
				}
				rows.push_back(std::move(values));
			}
		}
		return rows;
	}

	fs::path dir_;
	std::string path_;
};

// WriteZoo writes the zoo's values table (and an empty table) through destination, up to Finish.
void
WriteZoo(Destination &destination, const DatabaseSchema &schema) {
	destination.Begin(schema,
					  SnapshotInfo{"0/1", "2026-12-07T02:00:00+00:00", "postgresql://u:***@h/db", "", "", false});
	for (const TableDef &table : schema.tables) {
		std::unique_ptr<TableWriter> writer = destination.OpenTable(table);
		std::uint64_t rows = 0;
		if (table.name == "values") {
			std::vector<ZooRow> all = test::ZooValuesRows();
			// two batches
			std::vector<ZooRow> first(all.begin(), all.begin() + 2), second(all.begin() + 2, all.end());
			writer->Write(test::ZooBatch(first, table.CopiedColumns().size()));
			writer->Write(test::ZooBatch(second, table.CopiedColumns().size()));
			rows = all.size();
		}
		writer->Close(rows);
	}
	destination.Finish();
}

DatabaseSchema
ZooSchema() {
	DatabaseSchema schema;
	schema.tables.push_back(test::ZooValuesTable());
	TableDef empty;
	empty.schema = "zoo";
	empty.name = "empty";
	empty.columns = {test::ZooColumn("id", "integer"), test::ZooColumn("note", "text")};
	empty.primary_key = {"id"};
	schema.tables.push_back(empty);
	return schema;
}

TEST_F(SqliteBackupTest, ZooRoundTripsExactly) {
	DatabaseSchema schema = ZooSchema();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	EXPECT_EQ(destination->Form(), ValueForm::Canonical);
	WriteZoo(*destination, schema);
	EXPECT_FALSE(fs::exists(path_)) << "nothing under the final name before Commit";
	destination->Commit();
	ASSERT_TRUE(fs::exists(path_));
	std::vector<WrittenFile> files = destination->Files();
	ASSERT_EQ(files.size(), 1u);
	EXPECT_EQ(files[0].kind, "sqlite");
	EXPECT_EQ(files[0].path, path_);
	EXPECT_EQ(files[0].bytes, fs::file_size(path_));
	std::uint64_t bytes = 0;
	EXPECT_EQ(files[0].crc32c, FileCrc32c(path_, &bytes));
	destination.reset();
	EXPECT_TRUE(fs::exists(path_)) << "a committed backup stays when the destination goes";

	std::unique_ptr<Source> source = MakeSqliteSource(path_);
	source->Open();
	ASSERT_EQ(source->Schema().tables.size(), 2u);
	EXPECT_EQ(source->Snapshot().lsn, "0/1");
	const TableDef &values = source->Schema().tables[0];
	EXPECT_EQ(values.QualifiedName(), "zoo.values");
	std::vector<ZooRow> expected = test::ZooValuesRows();
	std::vector<ZooRow> read = ReadAll(*source, values);
	ASSERT_EQ(read.size(), expected.size());
	std::vector<std::size_t> copied = values.CopiedColumns();
	for (std::size_t row = 0; row < expected.size(); ++row)
		for (std::size_t column = 0; column < copied.size(); ++column)
			EXPECT_EQ(read[row][column], expected[row][column])
				<< "row " << row << " column " << values.columns[copied[column]].name;
	EXPECT_TRUE(ReadAll(*source, source->Schema().tables[1]).empty());
	source->Close();
}

TEST_F(SqliteBackupTest, SidecarVerifyReadsTheFileAsATarget) {
	DatabaseSchema schema = ZooSchema();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	WriteZoo(*destination, schema);
	destination->Commit();

	const TableDef &table = schema.tables[0];
	sidecar::SourceTable source{"zoo", "values", {}, {"id"}, 0, {}, {}, {}, {}};
	for (std::size_t index : table.CopiedColumns()) {
		const ColumnDef &column = table.columns[index];
		source.columns.push_back({column.name, sidecar::CanonicalFormOfType(column.base_type), column.base_type});
	}
	sidecar::SqliteHandle db = sidecar::OpenSqlite(path_);
	sidecar::VerifyTargetRows target = sidecar::ReadSqliteTarget(db.get(), source);
	EXPECT_TRUE(target.exists);
	EXPECT_EQ(target.rows, 4);
	EXPECT_EQ(target.checksum, test::ZooChecksum(table, test::ZooValuesRows()));
}

TEST_F(SqliteBackupTest, LayoutIsTheSinks) {
	DatabaseSchema schema = ZooSchema();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	WriteZoo(*destination, schema);
	destination->Commit();
	sidecar::SqliteHandle db = sidecar::OpenSqlite(path_);
	auto scalar = [&](const std::string &sql) {
		sidecar::SqliteStmtHandle stmt = sidecar::PrepareSql(db.get(), sql);
		EXPECT_TRUE(sidecar::StepSql(db.get(), stmt.get())) << sql;
		return sidecar::ColumnText(stmt.get(), 0);
	};
	EXPECT_EQ(scalar("SELECT group_concat(name || ':' || type || ':' || pk, ',') FROM pragma_table_info('zoo.values')"),
			  "id:INTEGER:1,n:TEXT:0,n2:TEXT:0,f4:REAL:0,f8:REAL:0,i2:INTEGER:0,i8:INTEGER:0,b:INTEGER:0,t:TEXT:0,"
			  "c:TEXT:0,ts:TEXT:0,tstz:TEXT:0,d:TEXT:0,iv:TEXT:0,by:BLOB:0,u:TEXT:0,j:TEXT:0,jb:TEXT:0,ia:TEXT:0,"
			  "ta:TEXT:0,ma:TEXT:0,jba:TEXT:0,moods:TEXT:0,mood::0,q::0,code::0,ip:TEXT:0");
	EXPECT_EQ(scalar("SELECT typeof(b) || b || typeof(by) || hex(by) || typeof(q) || typeof(f8) || typeof(mood) "
					 "FROM \"zoo.values\" WHERE id = 1"),
			  "integer1blob00FF10integerrealtext");
	EXPECT_EQ(scalar("SELECT typeof(f4) || ':' || f4 || ':' || typeof(f8) || ':' || f8 FROM \"zoo.values\" "
					 "WHERE id = 2"),
			  "text:NaN:text:-Infinity");
	EXPECT_EQ(scalar("SELECT typeof(f4) FROM \"zoo.values\" WHERE id = 3"), "blob");
	EXPECT_EQ(scalar("SELECT count(*) FROM \"zoo.empty\""), "0");
	EXPECT_EQ(scalar("SELECT version FROM mosta_copy_schema"), "1");
	EXPECT_EQ(scalar("PRAGMA page_size"), "16384");
	EXPECT_EQ(scalar("PRAGMA journal_mode"), "delete") << "the published file is an ordinary SQLite database";
	EXPECT_EQ(SchemaFromJson(scalar("SELECT document FROM mosta_copy_schema")).tables.size(), 2u);
}

TEST_F(SqliteBackupTest, AbortLeavesNothing) {
	DatabaseSchema schema = ZooSchema();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	destination->Begin(schema, SnapshotInfo{});
	std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[0]);
	writer->Write(test::ZooBatch(test::ZooValuesRows(), schema.tables[0].CopiedColumns().size()));
	EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1) << "the temporary";
	EXPECT_FALSE(fs::exists(path_));
	writer.reset();
	std::unique_ptr<TableWriter> other = destination->OpenTable(schema.tables[1]); // another job's table
	destination->Abort();
	EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0);
	RowBatch batch(2, ValueForm::Canonical);
	batch.AddField("1");
	batch.AddNull();
	EXPECT_THROW(other->Write(batch), CopyError) << "a writer still running after Abort stops";
	EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0);
}

TEST_F(SqliteBackupTest, ReplacesAnOlderBackupOnlyAtCommit) {
	{
		std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
		WriteZoo(*destination, ZooSchema());
		destination->Commit();
	}
	std::uint64_t bytes = 0;
	std::string before = FileCrc32c(path_, &bytes);
	DatabaseSchema schema = ZooSchema();
	schema.tables.pop_back();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	WriteZoo(*destination, schema);
	EXPECT_EQ(FileCrc32c(path_, &bytes), before) << "the old backup is untouched until Commit";
	destination->Commit();
	std::unique_ptr<Source> source = MakeSqliteSource(path_);
	source->Open();
	EXPECT_EQ(source->Schema().tables.size(), 1u);
}

TEST_F(SqliteBackupTest, SeveralTablesAtOnce) {
	constexpr int kTables = 4;
	constexpr int kBatches = 50;
	constexpr int kRowsPerBatch = 100;
	DatabaseSchema schema;
	for (int t = 0; t < kTables; ++t) {
		TableDef table;
		table.schema = "public";
		table.name = "t" + std::to_string(t);
		table.columns = {test::ZooColumn("id", "bigint"), test::ZooColumn("v", "text"), test::ZooColumn("f", "real")};
		table.primary_key = {"id"};
		schema.tables.push_back(table);
	}
	DestinationOptions options;
	options.jobs = kTables;
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, options);
	destination->Begin(schema, SnapshotInfo{});
	std::vector<std::thread> threads;
	std::vector<std::string> errors(kTables);
	for (int t = 0; t < kTables; ++t)
		threads.emplace_back([&, t] {
			try {
				std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[t]);
				for (int b = 0; b < kBatches; ++b) {
					RowBatch batch(3, ValueForm::Canonical);
					for (int r = 0; r < kRowsPerBatch; ++r) {
						int id = b * kRowsPerBatch + r;
						batch.AddField(std::to_string(id));
						batch.AddField("table " + std::to_string(t) + " row " + std::to_string(id));
						batch.AddField(std::to_string(id) + ".5");
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

	std::unique_ptr<Source> source = MakeSqliteSource(path_);
	source->Open();
	for (int t = 0; t < kTables; ++t) {
		std::vector<ZooRow> rows = ReadAll(*source, source->Schema().tables[t], 1000);
		ASSERT_EQ(rows.size(), static_cast<std::size_t>(kBatches * kRowsPerBatch));
		EXPECT_EQ(rows[4321][1], "table " + std::to_string(t) + " row 4321");
		EXPECT_EQ(rows[4321][2], "4321.5");
	}
}

TEST_F(SqliteBackupTest, RefusesAFileThatIsNotABackup) {
	{
		sidecar::SqliteHandle db = sidecar::OpenSqlite(path_);
		sidecar::ExecSql(db.get(), "CREATE TABLE \"public.t\" (id INTEGER); CREATE TABLE _mosta_checkpoint (x)");
	}
	std::unique_ptr<Source> source = MakeSqliteSource(path_);
	try {
		source->Open();
		FAIL() << "opened a file that is not a mosta-copy backup";
	} catch (const CopyError &error) {
		EXPECT_NE(std::string(error.what()).find("not a mosta-copy backup"), std::string::npos) << error.what();
	}
	std::unique_ptr<Source> missing = MakeSqliteSource((dir_ / "missing.sqlite").string());
	EXPECT_THROW(missing->Open(), CopyError);
}

TEST_F(SqliteBackupTest, BadValueNamesTheColumn) {
	DatabaseSchema schema = ZooSchema();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	destination->Begin(schema, SnapshotInfo{});
	std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[1]);
	RowBatch batch(2, ValueForm::Canonical);
	batch.AddField("twelve");
	batch.AddNull();
	try {
		writer->Write(batch);
		FAIL() << "wrote a non-integer into an integer column";
	} catch (const CopyError &error) {
		EXPECT_NE(std::string(error.what()).find("\"id\""), std::string::npos) << error.what();
		EXPECT_NE(std::string(error.what()).find("twelve"), std::string::npos) << error.what();
	}
	writer.reset();
	destination->Abort();
	EXPECT_FALSE(fs::exists(path_));
}

// WriteRate writes MOSTA_COPY_BENCH_ROWS rows shaped as bench/e2e.sh's bench_rows (skipped without it) and prints
// the rate: the SQLite destination's own cost, without a source (docs: the figures in the lead's report).
TEST_F(SqliteBackupTest, WriteRate) {
	const char *wanted = std::getenv("MOSTA_COPY_BENCH_ROWS");
	if (wanted == nullptr)
		GTEST_SKIP() << "set MOSTA_COPY_BENCH_ROWS to measure";
	const long rows = std::atol(wanted);
	constexpr long kBatch = 1000;
	TableDef table;
	table.schema = "public";
	table.name = "bench_rows";
	table.columns = {test::ZooColumn("id", "bigint"),
					 test::ZooColumn("n", "integer"),
					 test::ZooColumn("label", "text"),
					 test::ZooColumn("amount", "numeric(14,2)"),
					 test::ZooColumn("at", "timestamp with time zone"),
					 test::ZooColumn("doc", "jsonb"),
					 test::ZooColumn("flag", "boolean")};
	table.primary_key = {"id"};
	DatabaseSchema schema;
	schema.tables = {table};
	std::vector<RowBatch> batches;
	auto start = std::chrono::steady_clock::now();
	std::unique_ptr<Destination> destination = MakeSqliteDestination(path_, DestinationOptions{});
	destination->Begin(schema, SnapshotInfo{});
	std::unique_ptr<TableWriter> writer = destination->OpenTable(table);
	RowBatch batch(7, ValueForm::Canonical);
	double building = 0;
	for (long first = 1; first <= rows; first += kBatch) {
		auto built = std::chrono::steady_clock::now();
		batch.Clear();
		for (long g = first; g < first + kBatch && g <= rows; ++g) {
			batch.AddField(std::to_string(g));
			batch.AddField(std::to_string(g % 1000));
			batch.AddField("row " + std::to_string(g) + " of the decoding benchmark");
			char amount[32];
			std::snprintf(amount, sizeof amount, "%.2f", static_cast<double>(g) * 1.37);
			batch.AddField(amount);
			batch.AddField("2024-01-12T13:46:40+00:00");
			batch.AddField("{\"k\": " + std::to_string(g) +
						   ", \"tag\": \"bench\", \"even\": " + (g % 2 == 0 ? "true" : "false") + "}");
			batch.AddField(g % 3 == 0 ? "true" : "false");
		}
		building += std::chrono::duration<double>(std::chrono::steady_clock::now() - built).count();
		writer->Write(batch);
	}
	writer->Close(static_cast<std::uint64_t>(rows));
	writer.reset();
	destination->Finish();
	destination->Commit();
	double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - building;
	std::printf("SQLite destination: %ld rows in %.2f s (%.0f rows/s; batches built apart: %.2f s), %llu bytes\n", rows,
				seconds, static_cast<double>(rows) / seconds, building,
				static_cast<unsigned long long>(std::filesystem::file_size(path_)));
	std::unique_ptr<Source> source = MakeSqliteSource(path_);
	source->Open();
	auto reading = std::chrono::steady_clock::now();
	std::unique_ptr<TableReader> reader = source->OpenTable(source->Schema().tables[0]);
	long read = 0;
	while (reader->Next(batch, 10000))
		read += static_cast<long>(batch.Rows());
	EXPECT_EQ(read, rows);
	std::printf("SQLite source: %ld rows read back in %.2f s\n", read,
				std::chrono::duration<double>(std::chrono::steady_clock::now() - reading).count());
}

} // namespace
} // namespace mosta::copy
