/*
 * sql_dump_bench_test.cpp
 *     Speed of the SQL dump and JSON export destinations and sources alone (no PostgreSQL): 1,000,000 rows of
 *     bench/e2e.sh's table written and read back in batches of 1000. Disabled (a measure, not a test): run with
 *     copy_tests --gtest_also_run_disabled_tests --gtest_filter='*Bench*'; prints the figures. It still checks
 *     that every row comes back.
 */
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "io/open.hpp"
#include "sql_dump_fixtures.hpp"

namespace mosta::copy {
namespace {

using namespace mosta::copy::testing;

constexpr std::size_t kBenchRows = 1000000;
constexpr std::size_t kBatchRows = 1000;

TableDef
BenchTable() {
	TableDef table;
	table.schema = "public";
	table.name = "bench_rows";
	table.columns = {Column("id", "bigint"),
					 Column("n", "integer"),
					 Column("label", "text"),
					 Column("amount", "numeric(14,2)"),
					 Column("at", "timestamp with time zone"),
					 Column("doc", "jsonb"),
					 Column("flag", "boolean")};
	return table;
}

RowBatch
BenchBatch(std::size_t first, ValueForm form) {
	RowBatch batch(7, form);
	for (std::size_t id = first; id < first + kBatchRows; ++id) {
		batch.AddField(std::to_string(id));
		batch.AddField(std::to_string(id % 1000));
		batch.AddField("label " + std::to_string(id));
		batch.AddField(std::to_string(id / 100) + "." + std::to_string(10 + id % 90));
		batch.AddField(form == ValueForm::PgText ? "2024-01-01 00:00:01+00" : "2024-01-01T00:00:01+00:00");
		batch.AddField("{\"k\": " + std::to_string(id) + ", \"s\": \"x" + std::to_string(id) + "\"}");
		batch.AddField(form == ValueForm::PgText ? (id % 2 ? "f" : "t") : (id % 2 ? "false" : "true"));
	}
	return batch;
}

double
Seconds(std::chrono::steady_clock::time_point start) {
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void
Bench(const std::string &kind, int jobs) {
	ScratchDir dir;
	std::string path = dir / ("bench." + kind);
	DestinationOptions options;
	options.jobs = jobs;
	std::unique_ptr<Destination> destination =
		kind == "sql" ? MakeSqlDumpDestination(path, options) : MakeJsonDestination(path, options);
	DatabaseSchema schema;
	schema.tables = {BenchTable()};
	std::vector<RowBatch> batches;
	for (std::size_t i = 0; i < 10; ++i)
		batches.push_back(BenchBatch(i * kBatchRows + 1, destination->Form()));
	auto start = std::chrono::steady_clock::now();
	destination->Begin(schema, ZooSnapshot());
	std::unique_ptr<TableWriter> writer = destination->OpenTable(schema.tables[0]);
	for (std::size_t i = 0; i < kBenchRows / kBatchRows; ++i)
		writer->Write(batches[i % batches.size()]);
	writer->Close(kBenchRows);
	destination->Finish();
	destination->Commit();
	double write_seconds = Seconds(start);
	std::uint64_t bytes = destination->Files()[0].bytes;

	start = std::chrono::steady_clock::now();
	std::unique_ptr<Source> source = kind == "sql" ? MakeSqlDumpSource(path) : MakeJsonSource(path);
	source->Open();
	std::unique_ptr<TableReader> reader = source->OpenTable(source->Schema().tables[0]);
	RowBatch batch(7, reader->Form());
	std::size_t rows = 0;
	while (reader->Next(batch, kBatchRows))
		rows += batch.Rows();
	double read_seconds = Seconds(start);
	EXPECT_EQ(rows, kBenchRows);
	std::printf("%-8s jobs %d: %zu rows, %.1f MB: write %.2f s (%.0f rows/s, %.0f MB/s), read %.2f s (%.0f rows/s)\n",
				kind.c_str(), jobs, kBenchRows, bytes / 1e6, write_seconds, kBenchRows / write_seconds,
				bytes / 1e6 / write_seconds, read_seconds, kBenchRows / read_seconds);
}

TEST(SqlDumpBench, DISABLED_WriteAndReadAMillionRows) {
	Bench("sql", 1);
	Bench("json", 1);
}

} // namespace
} // namespace mosta::copy
