/*
 * copy_pg_probe.cpp
 *     A test-only driver of the PostgreSQL source and the value conversions (no gtest; built as
 *     build/test/cpp/copy/copy_pg_probe, used by test/integration/copy_pg_source.sh and for measurements):
 *
 *       copy_pg_probe checksums URI JOBS [SQL]   read every table (JOBS threads, one snapshot), convert each batch
 *                                                to Canonical (and back: it must give PostgreSQL's text again, or
 *                                                the probe fails naming the value) and print, sorted, one line per
 *                                                table and per copied
 *                                                column: "schema.table<TAB>column|*<TAB>rows<TAB>checksum" (the
 *                                                mosta_checksum encoding); SQL, when given, runs on a connection of
 *                                                its own right after the snapshot is taken (it must not be seen)
 *       copy_pg_probe schema URI                 print the schema document
 *       copy_pg_probe abandon URI JOBS TABLE     stop reading TABLE after 10 rows, then read every table: print each
 *                                                one's row count or error
 *       copy_pg_probe bench URI TABLE BATCH      read TABLE (PgText), convert every batch to Canonical and back;
 *                                                print rows, bytes and the seconds of each step
 */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include "io/open.hpp"
#include "io/pg_source_conn.hpp"
#include "model/value_text.hpp"
#include "mosta/common/canonical_row.hpp"

namespace {

using mosta::copy::RowBatch;
using mosta::copy::TableDef;
using mosta::copy::ValueForm;

constexpr std::size_t kBatchRows = 1000;

// TableChecksums reads one table and returns its lines.
std::vector<std::string>
TableChecksums(mosta::copy::Source &source, const TableDef &table) {
	std::vector<std::size_t> copied = table.CopiedColumns();
	mosta::ChecksumState all;
	std::vector<mosta::ChecksumState> per_column(copied.size());
	auto reader = source.OpenTable(table);
	RowBatch batch(copied.size(), reader->Form());
	while (reader->Next(batch, kBatchRows)) {
		RowBatch canonical = mosta::copy::ConvertBatch(batch, table, ValueForm::Canonical);
		RowBatch back = mosta::copy::ConvertBatch(canonical, table, ValueForm::PgText);
		for (std::size_t r = 0; r < batch.Rows(); ++r)
			for (std::size_t c = 0; c < copied.size(); ++c)
				if (back.Field(r, c) != batch.Field(r, c))
					throw std::runtime_error(table.QualifiedName() + "." + table.columns[copied[c]].name + ": \"" +
											 std::string(batch.Field(r, c).value_or("NULL")) + "\" came back as \"" +
											 std::string(back.Field(r, c).value_or("NULL")) + "\" from \"" +
											 std::string(canonical.Field(r, c).value_or("NULL")) + "\"");
		for (std::size_t r = 0; r < canonical.Rows(); ++r) {
			std::vector<mosta::CanonicalColumn> row;
			for (std::size_t c = 0; c < copied.size(); ++c) {
				auto field = canonical.Field(r, c);
				mosta::CanonicalColumn column{table.columns[copied[c]].name,
											  field ? std::optional<std::string>(std::string(*field)) : std::nullopt};
				std::string one = mosta::EncodeCanonicalRow({column});
				per_column[c].Add(mosta::CanonicalRowHash(one.data(), one.size()));
				row.push_back(std::move(column));
			}
			std::string encoded = mosta::EncodeCanonicalRow(std::move(row));
			all.Add(mosta::CanonicalRowHash(encoded.data(), encoded.size()));
		}
		if (copied.empty())
			for (std::size_t r = 0; r < canonical.Rows(); ++r) {
				std::string encoded = mosta::EncodeCanonicalRow({});
				all.Add(mosta::CanonicalRowHash(encoded.data(), encoded.size()));
			}
	}
	std::string name = table.QualifiedName();
	std::vector<std::string> lines;
	lines.push_back(name + "\t*\t" + std::to_string(all.rows) + "\t" + all.Text());
	for (std::size_t c = 0; c < copied.size(); ++c)
		lines.push_back(name + "\t" + table.columns[copied[c]].name + "\t" + std::to_string(per_column[c].rows) + "\t" +
						per_column[c].Text());
	return lines;
}

int
Checksums(const std::string &uri, int jobs, const char *after_open) {
	auto source = mosta::copy::MakePgSource(uri, jobs);
	source->Open();
	if (after_open != nullptr) {
		auto conn = mosta::copy::PgConnect(uri, "the probe's other connection");
		mosta::copy::PgExec(conn.get(), after_open, "running the SQL given");
	}
	const auto &tables = source->Schema().tables;
	std::vector<std::string> lines;
	std::mutex mutex;
	std::atomic<std::size_t> next{0};
	std::exception_ptr failure;
	auto work = [&] {
		try {
			for (std::size_t i = next++; i < tables.size(); i = next++) {
				auto table_lines = TableChecksums(*source, tables[i]);
				std::lock_guard lock(mutex);
				lines.insert(lines.end(), table_lines.begin(), table_lines.end());
			}
		} catch (...) {
			std::lock_guard lock(mutex);
			failure = std::current_exception();
		}
	};
	std::vector<std::thread> threads;
	for (int t = 0; t < jobs; ++t)
		threads.emplace_back(work);
	for (auto &thread : threads)
		thread.join();
	source->Close();
	if (failure)
		std::rethrow_exception(failure);
	std::sort(lines.begin(), lines.end());
	for (const auto &line : lines)
		std::cout << line << "\n";
	return 0;
}

int
Bench(const std::string &uri, const std::string &table_name, std::size_t batch_rows) {
	auto source = mosta::copy::MakePgSource(uri, 1);
	source->Open();
	const TableDef *table = nullptr;
	for (const auto &candidate : source->Schema().tables)
		if (candidate.QualifiedName() == table_name)
			table = &candidate;
	if (table == nullptr)
		throw std::runtime_error("no table " + table_name);
	using Clock = std::chrono::steady_clock;
	auto reader = source->OpenTable(*table);
	RowBatch batch(table->CopiedColumns().size(), ValueForm::PgText);
	std::size_t rows = 0, bytes = 0;
	double read_seconds = 0, convert_seconds = 0, back_seconds = 0;
	auto start = Clock::now();
	while (reader->Next(batch, batch_rows)) {
		auto read_end = Clock::now();
		read_seconds += std::chrono::duration<double>(read_end - start).count();
		rows += batch.Rows();
		bytes += batch.Bytes();
		RowBatch canonical = mosta::copy::ConvertBatch(batch, *table, ValueForm::Canonical);
		auto convert_end = Clock::now();
		convert_seconds += std::chrono::duration<double>(convert_end - read_end).count();
		RowBatch back = mosta::copy::ConvertBatch(canonical, *table, ValueForm::PgText);
		start = Clock::now();
		back_seconds += std::chrono::duration<double>(start - convert_end).count();
	}
	reader.reset();
	source->Close();
	std::printf("rows %zu bytes %zu read_seconds %.3f convert_seconds %.3f back_seconds %.3f\n", rows, bytes,
				read_seconds, convert_seconds, back_seconds);
	return 0;
}

// Abandon stops reading table after one batch of 10 rows, then reads every table again: prints what each read
// gave ("schema.table rows", or "schema.table error: ...").
int
Abandon(const std::string &uri, int jobs, const std::string &table_name) {
	auto source = mosta::copy::MakePgSource(uri, jobs);
	source->Open();
	for (const auto &table : source->Schema().tables)
		if (table.QualifiedName() == table_name) {
			auto reader = source->OpenTable(table);
			RowBatch batch(table.CopiedColumns().size(), reader->Form());
			reader->Next(batch, 10);
			std::cout << "abandoned " << table_name << " after " << batch.Rows() << " rows\n";
		}
	for (const auto &table : source->Schema().tables) {
		try {
			auto reader = source->OpenTable(table);
			RowBatch batch(table.CopiedColumns().size(), reader->Form());
			std::size_t rows = 0;
			while (reader->Next(batch, kBatchRows))
				rows += batch.Rows();
			std::cout << table.QualifiedName() << " " << rows << "\n";
		} catch (const std::exception &error) {
			std::cout << table.QualifiedName() << " error: " << error.what() << "\n";
		}
	}
	source->Close();
	return 0;
}

} // namespace

int
main(int argc, char **argv) {
	try {
		std::string mode = argc > 1 ? argv[1] : "";
		if (mode == "checksums" && (argc == 4 || argc == 5))
			return Checksums(argv[2], std::atoi(argv[3]), argc == 5 ? argv[4] : nullptr);
		if (mode == "schema" && argc == 3) {
			auto source = mosta::copy::MakePgSource(argv[2], 1);
			source->Open();
			std::cout << mosta::copy::SchemaToJson(source->Schema(), source->Snapshot()) << "\n";
			source->Close();
			return 0;
		}
		if (mode == "abandon" && argc == 5)
			return Abandon(argv[2], std::atoi(argv[3]), argv[4]);
		if (mode == "bench" && argc == 5)
			return Bench(argv[2], argv[3], static_cast<std::size_t>(std::atol(argv[4])));
		std::cerr << "usage: copy_pg_probe checksums URI JOBS [SQL] | schema URI | abandon URI JOBS TABLE | bench URI "
					 "TABLE BATCH\n";
		return 2;
	} catch (const std::exception &error) {
		std::cerr << "copy_pg_probe: " << error.what() << "\n";
		return 1;
	}
}
