/*
 * sql_dump_source.cpp
 *     The SQL dump source: reads back a dump mosta-copy wrote (io/sql_dump_layout.hpp). Open reads the file once,
 *     streaming: the schema document from its "-- mosta-copy:schema" line, and the place of each table's COPY
 *     block (byte offset and line number of its first row, the row count after its "\."); it checks that the dump
 *     is whole (every table's block ended, the last line there). Each TableReader then reads its block from its
 *     own file handle, so --jobs readers run at once. Rows come out as PgText (COPY-unescaped).
 */
#include <map>
#include <memory>
#include <optional>

#include "io/open.hpp"
#include "io/copy_text.hpp"
#include "io/sql_dump_layout.hpp"
#include "io/sql_dump_text_file.hpp"
#include "model/ddl.hpp"

namespace mosta::copy {

namespace {

bool
StartsWith(std::string_view text, std::string_view prefix) noexcept {
	return text.substr(0, prefix.size()) == prefix;
}

// Where a table's rows are in the dump.
struct CopyBlock {
	std::uint64_t offset = 0; // of the first row
	std::uint64_t line = 0;	  // its line number
	std::optional<std::uint64_t> rows;
};

class SqlDumpTableReader : public TableReader {
  public:
	SqlDumpTableReader(const std::string &path, const TableDef &table, const CopyBlock &block)
		: reader_(path, block.offset, block.line), table_(table.QualifiedName()),
		  columns_(table.CopiedColumns().size()), expected_rows_(block.rows) {}

	bool
	Next(RowBatch &batch, std::size_t max_rows) override {
		batch.Clear();
		if (done_)
			return false;
		if (batch.Columns() != columns_ || batch.Form() != ValueForm::PgText)
			throw CopyError(Where() + ": a batch of " + std::to_string(batch.Columns()) +
							" column(s) was passed, the "
							"table has " +
							std::to_string(columns_) + " copied column(s)");
		std::string_view line;
		while (batch.Rows() < max_rows) {
			if (!reader_.Next(&line) || !reader_.Terminated())
				throw CopyError(reader_.Path() + ": the file ends after line " + std::to_string(reader_.LineNumber()) +
								", inside the rows of table " + table_ + ": it was cut short (truncated file)");
			if (line == kDumpCopyEnd) {
				done_ = true;
				if (expected_rows_ && *expected_rows_ != rows_ + batch.Rows())
					throw CopyError(reader_.Path() + ": line " + std::to_string(reader_.LineNumber()) + ": table " +
									table_ + ": " + std::to_string(rows_ + batch.Rows()) +
									" rows read, the dump says " + std::to_string(*expected_rows_) +
									" (lines removed or added?)");
				break;
			}
			std::string problem = ParseCopyLine(line, batch);
			if (!problem.empty())
				throw CopyError(Where() + ": " + problem);
		}
		rows_ += batch.Rows();
		return batch.Rows() > 0;
	}

	ValueForm
	Form() const noexcept override {
		return ValueForm::PgText;
	}

  private:
	std::string
	Where() const {
		return reader_.Path() + ": line " + std::to_string(reader_.LineNumber()) + ": table " + table_;
	}

	LineReader reader_;
	std::string table_;
	std::size_t columns_;
	std::optional<std::uint64_t> expected_rows_;
	std::uint64_t rows_ = 0;
	bool done_ = false;
};

class SqlDumpSource : public Source {
  public:
	explicit SqlDumpSource(std::string path) : path_(std::move(path)) {}

	std::string
	Describe() const override {
		return "sql-dump:" + path_;
	}

	void
	Open() override {
		LineReader reader(path_);
		std::string_view line;
		bool have_schema = false;
		// the header: comments, SET lines, then the schema line
		while (!have_schema) {
			if (!reader.Next(&line))
				throw NotOurs(reader.LineNumber());
			if (StartsWith(line, kDumpSchemaPrefix)) {
				ReadSchema(line.substr(kDumpSchemaPrefix.size()), reader.LineNumber());
				have_schema = true;
			} else if (!line.empty() && !StartsWith(line, "--") && !StartsWith(line, "SET ") &&
					   !StartsWith(line, "SELECT pg_catalog.set_config(")) {
				throw NotOurs(reader.LineNumber());
			}
		}
		std::map<std::string, std::size_t, std::less<>> copy_lines;
		for (std::size_t i = 0; i < schema_.tables.size(); ++i)
			copy_lines.emplace(CopyFromStatement(schema_.tables[i]), i);
		bool complete = false;
		while (reader.Next(&line)) {
			if (line == kDumpEndLine && reader.Terminated()) {
				complete = true;
				continue;
			}
			auto found = copy_lines.find(line);
			if (found != copy_lines.end()) {
				SkipBlock(reader, found->second);
				continue;
			}
			if (StartsWith(line, "COPY ") && line.find(" FROM STDIN;") != std::string_view::npos)
				throw CopyError(path_ + ": line " + std::to_string(reader.LineNumber()) +
								": a COPY block of a table the schema document does not list (the dump was edited?): " +
								std::string(line.substr(0, 200)));
		}
		if (!complete)
			throw CopyError(path_ + ": the dump ends after line " + std::to_string(reader.LineNumber()) +
							" without its last line \"" + std::string(kDumpEndLine) +
							"\": it was cut short (an interrupted copy or a truncated file)");
		for (const TableDef &table : schema_.tables)
			if (blocks_.find(table.QualifiedName()) == blocks_.end())
				throw CopyError(path_ + ": the schema document lists table " + table.QualifiedName() +
								" but the dump holds no COPY block for it (the dump was edited?)");
	}

	const DatabaseSchema &
	Schema() const override {
		return schema_;
	}
	const SnapshotInfo &
	Snapshot() const override {
		return snapshot_;
	}

	std::unique_ptr<TableReader>
	OpenTable(const TableDef &table) override {
		auto found = blocks_.find(table.QualifiedName());
		if (found == blocks_.end())
			throw CopyError(path_ + ": no COPY block for table " + table.QualifiedName());
		return std::make_unique<SqlDumpTableReader>(path_, table, found->second);
	}

	void
	Close() noexcept override {}

  private:
	CopyError
	NotOurs(std::uint64_t line) const {
		return CopyError(path_ + ": line " + std::to_string(line) +
						 ": not a mosta-copy dump (no \"-- mosta-copy:schema\" line before the first statement); "
						 "restore a pg_dump file with psql");
	}

	void
	ReadSchema(std::string_view json, std::uint64_t line) {
		try {
			schema_ = SchemaFromJson(json, &snapshot_);
		} catch (const SchemaError &e) {
			throw CopyError(path_ + ": line " + std::to_string(line) + ": the schema document: " + e.what());
		}
	}

	// SkipBlock records where table index's rows start and reads past them and their row count line.
	void
	SkipBlock(LineReader &reader, std::size_t index) {
		const TableDef &table = schema_.tables[index];
		std::uint64_t start_line = reader.LineNumber();
		CopyBlock block{reader.Offset(), start_line + 1, std::nullopt};
		std::string_view line;
		for (;;) {
			if (!reader.Next(&line) || !reader.Terminated())
				throw CopyError(path_ + ": the file ends after line " + std::to_string(reader.LineNumber()) +
								", inside the rows of table " + table.QualifiedName() + " (from line " +
								std::to_string(start_line) +
								"), before their end \"\\.\": it was cut short (truncated file)");
			if (line == kDumpCopyEnd)
				break;
		}
		std::uint64_t end_line = reader.LineNumber();
		bool have_count = reader.Next(&line) && StartsWith(line, kDumpRowsPrefix);
		std::string digits = have_count ? std::string(line.substr(kDumpRowsPrefix.size())) : std::string();
		char *end = nullptr;
		unsigned long long rows = std::strtoull(digits.c_str(), &end, 10);
		if (!have_count || digits.empty() || *end != '\0')
			throw CopyError(path_ + ": line " + std::to_string(end_line + 1) + ": expected \"" +
							std::string(kDumpRowsPrefix) + "N\" after the rows of table " + table.QualifiedName() +
							" (the dump was edited or cut short?)");
		block.rows = rows;
		{
			if (rows != end_line - start_line - 1)
				throw CopyError(path_ + ": line " + std::to_string(reader.LineNumber()) + ": table " +
								table.QualifiedName() + ": the dump says " + std::to_string(rows) + " rows, lines " +
								std::to_string(start_line + 1) + " to " + std::to_string(end_line - 1) + " hold " +
								std::to_string(end_line - start_line - 1) + " (lines removed or added?)");
		}
		if (!blocks_.emplace(table.QualifiedName(), block).second)
			throw CopyError(path_ + ": line " + std::to_string(start_line) + ": a second COPY block for table " +
							table.QualifiedName());
	}

	std::string path_;
	DatabaseSchema schema_;
	SnapshotInfo snapshot_;
	std::map<std::string, CopyBlock> blocks_; // by QualifiedName
};

} // namespace

std::unique_ptr<Source>
MakeSqlDumpSource(const std::string &path) {
	if (path.empty())
		throw CopyError("an SQL dump source needs a file: --source sql-dump:FILE");
	return std::make_unique<SqlDumpSource>(path);
}

} // namespace mosta::copy
