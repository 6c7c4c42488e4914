/*
 * run_fakes.hpp
 *     A fake Source and a fake Destination for the tests of run/ (run_*_test.cpp): in memory, thread-safe, with
 *     failures on demand, recording every call of the destination life cycle.
 */
#pragma once

#include <atomic>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/destination.hpp"
#include "io/source.hpp"
#include "io/staged_path.hpp"

namespace mosta::copy::testing {

using Row = std::vector<std::optional<std::string>>;

// MakeTable returns a table schema.name with text columns named columns.
inline TableDef
MakeTable(const std::string &schema, const std::string &name, const std::vector<std::string> &columns,
		  std::int64_t estimated_rows = -1) {
	TableDef table;
	table.schema = schema;
	table.name = name;
	for (const std::string &column : columns)
		table.columns.push_back({column, "text", "text", false, "", "", '\0', ""});
	table.estimated_rows = estimated_rows;
	return table;
}

class FakeSource final : public Source {
  public:
	DatabaseSchema schema;
	SnapshotInfo snapshot{"0/16B3748", "2026-12-07T02:00:00+00:00", "postgresql://u:secret@h/db", "15", "UTF8", false};
	std::map<std::string, std::vector<Row>> rows; // by "schema.name"
	ValueForm form = ValueForm::Canonical;
	std::string fail_table; // OpenTable's reader throws after its first batch
	int rendezvous = 0;		// each reader's first Next waits (up to 10 s) until this many readers are open
	std::atomic<int> readers_open{0};
	std::atomic<int> max_readers_open{0};
	bool opened = false;
	bool closed = false;

	std::string
	Describe() const override {
		return "fake";
	}
	void
	Open() override {
		opened = true;
	}
	const DatabaseSchema &
	Schema() const override {
		return schema;
	}
	const SnapshotInfo &
	Snapshot() const override {
		return snapshot;
	}
	std::unique_ptr<TableReader> OpenTable(const TableDef &table) override;
	void
	Close() noexcept override {
		closed = true;
	}
};

class FakeReader final : public TableReader {
  public:
	FakeReader(FakeSource &source, const std::vector<Row> &rows, bool fail)
		: source_(source), rows_(rows), fail_(fail) {
		int open = ++source_.readers_open;
		int seen = source_.max_readers_open.load();
		while (open > seen && !source_.max_readers_open.compare_exchange_weak(seen, open)) {
		}
	}
	~FakeReader() override {
		--source_.readers_open;
	}
	bool
	Next(RowBatch &batch, std::size_t max_rows) override {
		batch.Clear();
		if (next_ == 0 && source_.rendezvous > 0) {
			auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
			while (source_.max_readers_open.load() < source_.rendezvous && std::chrono::steady_clock::now() < deadline)
				std::this_thread::sleep_for(std::chrono::milliseconds(1)); // --allow-sleep: between polls
		}
		if (fail_ && next_ > 0)
			throw CopyError("fake read failure");
		while (next_ < rows_.size() && batch.Rows() < max_rows) {
			const Row &row = rows_[next_++];
			if (row.empty())
				batch.AddEmptyRow();
			for (const auto &field : row)
				if (field)
					batch.AddField(*field);
				else
					batch.AddNull();
		}
		return next_ < rows_.size() || (fail_ && batch.Rows() > 0);
	}
	ValueForm
	Form() const noexcept override {
		return source_.form;
	}

  private:
	FakeSource &source_;
	const std::vector<Row> &rows_;
	bool fail_;
	std::size_t next_ = 0;
};

inline std::unique_ptr<TableReader>
FakeSource::OpenTable(const TableDef &table) {
	return std::make_unique<FakeReader>(*this, rows[table.QualifiedName()], table.QualifiedName() == fail_table);
}

// Journal is the calls of several destinations in one order (to check that every Finish comes before any
// Commit).
struct Journal {
	std::mutex mutex;
	std::vector<std::string> calls;
	void
	Add(const std::string &call) {
		std::lock_guard lock(mutex);
		calls.push_back(call);
	}
	// Index returns the position of call, or -1.
	int
	Index(const std::string &call) {
		std::lock_guard lock(mutex);
		for (std::size_t i = 0; i < calls.size(); ++i)
			if (calls[i] == call)
				return static_cast<int>(i);
		return -1;
	}
};

// FakeDestination records what it was given; Commit writes a real file (its rows as text) under a StagedPath
// when path is set, so that manifests and --keep can be tested on real files.
class FakeDestination final : public Destination {
  public:
	explicit FakeDestination(ValueForm form_ = ValueForm::Canonical, std::string path_ = "",
							 std::string kind_ = "sqlite")
		: form(form_), path(std::move(path_)), kind(std::move(kind_)) {}

	ValueForm form;
	std::string path;
	std::string kind;
	std::string fail_table;			// Write throws for this table
	std::string fail_at;			// "begin", "finish" or "commit" throws
	Journal *journal = nullptr;		// also receives "KIND CALL" (begin, finish, commit, abort)
	std::vector<std::string> calls; // "begin", "open T", "close T N", "finish", "commit", "abort"
	std::map<std::string, std::vector<Row>> written;
	std::set<ValueForm> forms_seen;
	std::set<const RowBatch *> batches_seen; // to prove one batch is shared by destinations of a form
	std::atomic<int> tables_open{0};
	std::atomic<int> max_tables_open{0};
	std::mutex mutex;

	std::string
	Describe() const override {
		return "fake " + kind;
	}
	ValueForm
	Form() const noexcept override {
		return form;
	}
	void
	Begin(const DatabaseSchema &, const SnapshotInfo &) override {
		Record("begin");
		if (fail_at == "begin")
			throw CopyError("fake begin failure");
	}
	std::unique_ptr<TableWriter> OpenTable(const TableDef &table) override;
	void
	Finish() override {
		Record("finish");
		if (fail_at == "finish")
			throw CopyError("fake finish failure");
	}
	void
	Commit() override {
		Record("commit");
		if (fail_at == "commit")
			throw CopyError("fake commit failure");
		if (path.empty())
			return;
		StagedPath staged(path);
		{
			std::ofstream out(staged.Temporary());
			for (const auto &[table, rows] : written)
				out << table << " " << rows.size() << "\n";
		}
		staged.Publish();
		committed_file = path;
	}
	void
	Abort() noexcept override {
		Record("abort");
	}
	std::vector<WrittenFile>
	Files() const override {
		if (committed_file.empty())
			return {};
		WrittenFile file{kind, committed_file, 0, ""};
		file.crc32c = FileCrc32c(committed_file, &file.bytes);
		return {file};
	}
	void
	Record(const std::string &call) {
		{
			std::lock_guard lock(mutex);
			calls.push_back(call);
		}
		if (journal != nullptr && call.find(' ') == std::string::npos)
			journal->Add(kind + " " + call);
	}
	bool
	Called(const std::string &call) {
		std::lock_guard lock(mutex);
		for (const std::string &c : calls)
			if (c == call)
				return true;
		return false;
	}

	std::string committed_file;
};

class FakeWriter final : public TableWriter {
  public:
	FakeWriter(FakeDestination &destination, std::string table) : destination_(destination), table_(std::move(table)) {
		int open = ++destination_.tables_open;
		int seen = destination_.max_tables_open.load();
		while (open > seen && !destination_.max_tables_open.compare_exchange_weak(seen, open)) {
		}
	}
	~FakeWriter() override {
		--destination_.tables_open;
	}
	void
	Write(const RowBatch &batch) override {
		if (table_ == destination_.fail_table)
			throw CopyError("fake write failure in " + table_);
		std::lock_guard lock(destination_.mutex);
		destination_.forms_seen.insert(batch.Form());
		destination_.batches_seen.insert(&batch);
		std::vector<Row> &rows = destination_.written[table_];
		for (std::size_t r = 0; r < batch.Rows(); ++r) {
			Row row;
			for (std::size_t c = 0; c < batch.Columns(); ++c) {
				auto field = batch.Field(r, c);
				row.push_back(field ? std::optional<std::string>(std::string(*field)) : std::nullopt);
			}
			rows.push_back(row);
		}
	}
	void
	Close(std::uint64_t rows) override {
		destination_.Record("close " + table_ + " " + std::to_string(rows));
	}

  private:
	FakeDestination &destination_;
	std::string table_;
};

inline std::unique_ptr<TableWriter>
FakeDestination::OpenTable(const TableDef &table) {
	Record("open " + table.QualifiedName());
	return std::make_unique<FakeWriter>(*this, table.QualifiedName());
}

// TempDir is a fresh directory removed at the end of a test.
class TempDir {
  public:
	TempDir() {
		char name[] = "/tmp/mosta-copy-test.XXXXXX";
		path_ = ::mkdtemp(name);
	}
	~TempDir() {
		std::error_code error;
		std::filesystem::remove_all(path_, error);
	}
	const std::string &
	Path() const noexcept {
		return path_;
	}
	std::string
	operator/(const std::string &name) const {
		return path_ + "/" + name;
	}

  private:
	std::string path_;
};

} // namespace mosta::copy::testing
