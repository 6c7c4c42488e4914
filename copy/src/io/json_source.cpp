/*
 * json_source.cpp
 *     The JSON export source: reads back a file or a directory the JSON destination wrote
 *     (io/json_export_format.hpp, docs/copy-formats.md), streaming: Open reads each document once, line by line,
 *     for the schema document of its first line and the place of each table's rows (and checks the layout: a
 *     reformatted or cut document is refused naming the line); each TableReader then reads its table's row lines
 *     from its own file handle and parses each with simdjson. Rows come out Canonical: numbers as written, strings'
 *     contents, arrays as their JSON text.
 */
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>

#include "io/json_export_format.hpp"
#include "io/open.hpp"
#include "io/sql_dump_text_file.hpp"

namespace mosta::copy {

namespace {

namespace fs = std::filesystem;

// Where a table's rows are.
struct RowsBlock {
	std::string path;
	std::uint64_t offset = 0; // of the first row line
	std::uint64_t line = 0;	  // its number
	std::uint64_t rows = 0;
};

bool
IsRowLine(std::string_view line) noexcept {
	return !line.empty() && line.front() == '[';
}

// RowText returns a row line without the "," that follows all rows but the last.
std::string_view
RowText(std::string_view line, bool *more) noexcept {
	*more = !line.empty() && line.back() == ',';
	if (*more)
		line.remove_suffix(1);
	return line;
}

class JsonTableReader : public TableReader {
  public:
	JsonTableReader(const TableDef &table, const RowsBlock &block)
		: reader_(block.path, block.offset, block.line), table_(table.QualifiedName()),
		  columns_(table.CopiedColumns().size()) {}

	bool
	Next(RowBatch &batch, std::size_t max_rows) override {
		batch.Clear();
		if (done_)
			return false;
		if (batch.Columns() != columns_ || batch.Form() != ValueForm::Canonical)
			throw CopyError(Where() + ": a batch of " + std::to_string(batch.Columns()) +
							" column(s) was passed, the table has " + std::to_string(columns_) + " copied column(s)");
		std::string_view line;
		while (batch.Rows() < max_rows) {
			if (!reader_.Next(&line))
				throw CopyError(reader_.Path() + ": the file ends after line " + std::to_string(reader_.LineNumber()) +
								", inside the rows of table " + table_ + ": it was cut short (truncated file)");
			if (!IsRowLine(line)) {
				done_ = true;
				break;
			}
			bool more = false;
			std::string problem = ParseJsonRow(RowText(line, &more), batch);
			if (!problem.empty())
				throw CopyError(Where() + ": " + problem);
		}
		return batch.Rows() > 0;
	}

	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}

  private:
	std::string
	Where() const {
		return reader_.Path() + ": line " + std::to_string(reader_.LineNumber()) + ": table " + table_;
	}

	LineReader reader_;
	std::string table_;
	std::size_t columns_;
	bool done_ = false;
};

class JsonSource : public Source {
  public:
	explicit JsonSource(std::string path) : path_(std::move(path)) {}

	std::string
	Describe() const override {
		return "json:" + path_;
	}

	void
	Open() override {
		std::error_code ec;
		if (!fs::is_directory(path_, ec)) {
			schema_ = ReadDocument(path_, &snapshot_);
		} else {
			std::vector<std::string> files;
			for (const fs::directory_entry &entry : fs::directory_iterator(path_, ec)) {
				std::string name = entry.path().filename().string();
				if (entry.is_regular_file(ec) && name.size() > 5 && name.substr(name.size() - 5) == ".json")
					files.push_back(entry.path().string());
			}
			if (ec)
				throw CopyError("cannot list " + path_ + ": " + ec.message());
			std::sort(files.begin(), files.end());
			for (const std::string &file : files)
				Merge(ReadDocument(file, files.front() == file ? &snapshot_ : nullptr));
			SortByForeignKeys(schema_.tables);
		}
		for (const TableDef &table : schema_.tables)
			if (blocks_.find(table.QualifiedName()) == blocks_.end())
				throw CopyError(path_ + ": the schema document lists table " + table.QualifiedName() +
								" but the export holds no rows block for it (the file was edited?)");
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
			throw CopyError(path_ + ": no rows for table " + table.QualifiedName());
		return std::make_unique<JsonTableReader>(table, found->second);
	}

	void
	Close() noexcept override {}

  private:
	// ReadDocument reads one document's header and scans its tables' blocks; returns its schema.
	DatabaseSchema
	ReadDocument(const std::string &path, SnapshotInfo *snapshot) {
		LineReader reader(path);
		std::string_view line;
		auto fail = [&](const std::string &what) {
			return CopyError(path + ": line " + std::to_string(reader.LineNumber()) + ": " + what);
		};
		auto ended = [&](const std::string &where) {
			return CopyError(path + ": the file ends after line " + std::to_string(reader.LineNumber()) + ", " + where +
							 ": it was cut short (truncated file)");
		};
		if (!reader.Next(&line))
			throw CopyError(path + ": empty file: not a mosta-copy JSON export");
		DatabaseSchema schema;
		try {
			schema = ParseDocumentHeader(line, snapshot);
		} catch (const CopyError &e) {
			throw fail(e.what());
		}
		bool more_tables = true, first = true;
		for (;;) {
			if (!reader.Next(&line))
				throw ended("before the export's last line ]}");
			if (line == kExportEnd) {
				if (more_tables && !first)
					throw fail("expected another table after \"},\"");
				break;
			}
			if (!more_tables)
				throw fail("expected the export's last line ]}");
			first = false;
			TableHeader header;
			try {
				header = ParseTableHeader(line);
			} catch (const CopyError &e) {
				throw fail(std::string(e.what()) + " or the export's last line ]}");
			}
			const TableDef *table = schema.FindTable(header.schema, header.name);
			if (table == nullptr)
				throw fail("table " + header.schema + "." + header.name + " is not in the schema document");
			if (header.columns != CopiedColumnNames(*table))
				throw fail("the columns of table " + table->QualifiedName() +
						   " are not the copied columns of the schema document, in its order");
			RowsBlock block{path, reader.Offset(), reader.LineNumber() + 1, 0};
			bool more_rows = true;
			for (;;) {
				if (!reader.Next(&line))
					throw ended("inside the rows of table " + table->QualifiedName());
				if (!IsRowLine(line))
					break;
				if (!more_rows)
					throw fail("a row follows the last row (\",\" missing at the end of the line before)");
				RowText(line, &more_rows);
				++block.rows;
			}
			if (more_rows && block.rows > 0)
				throw fail("the table's last row ends with \",\"");
			std::uint64_t count = 0;
			try {
				count = ParseTableEnd(line, &more_tables);
			} catch (const CopyError &e) {
				throw fail(e.what());
			}
			if (count != block.rows)
				throw fail("table " + table->QualifiedName() + ": row_count says " + std::to_string(count) + ", " +
						   std::to_string(block.rows) + " rows are there (lines removed or added?)");
			if (!blocks_.emplace(table->QualifiedName(), block).second)
				throw fail("a second block for table " + table->QualifiedName());
		}
		while (reader.Next(&line))
			if (!line.empty())
				throw fail("text after the export's last line ]}");
		return schema;
	}

	// Merge adds a directory document's schema: its tables, and the types and sequences not seen yet.
	void
	Merge(DatabaseSchema part) {
		for (TypeDef &type : part.types) {
			bool seen = std::any_of(schema_.types.begin(), schema_.types.end(),
									[&](const TypeDef &t) { return t.schema == type.schema && t.name == type.name; });
			if (!seen)
				schema_.types.push_back(std::move(type));
		}
		for (SequenceDef &sequence : part.sequences) {
			bool seen = std::any_of(schema_.sequences.begin(), schema_.sequences.end(), [&](const SequenceDef &s) {
				return s.schema == sequence.schema && s.name == sequence.name;
			});
			if (!seen)
				schema_.sequences.push_back(std::move(sequence));
		}
		for (TableDef &table : part.tables)
			schema_.tables.push_back(std::move(table));
	}

	std::string path_;
	DatabaseSchema schema_;
	SnapshotInfo snapshot_;
	std::map<std::string, RowsBlock> blocks_; // by QualifiedName
};

} // namespace

std::unique_ptr<Source>
MakeJsonSource(const std::string &path) {
	if (path.empty())
		throw CopyError("a JSON source needs a file or a directory: --source json:PATH");
	std::string trimmed = path;
	while (trimmed.size() > 1 && trimmed.back() == '/')
		trimmed.pop_back();
	return std::make_unique<JsonSource>(trimmed);
}

} // namespace mosta::copy
