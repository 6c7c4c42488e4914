/*
 * json_destination.cpp
 *     The JSON export destination (docs/copy-formats.md, "The JSON export"; io/json_export_format.hpp): one
 *     document per database (a file) or one per table (a directory: the path ends with '/' or is an existing
 *     directory; "<schema>.<table>.json" each, holding the schema document with that table only). Rows arrive
 *     Canonical and are written one per line. A file is written under its StagedPath temporary (with --jobs > 1
 *     each table to a part file appended in schema order by Finish: io/sql_dump_text_file.hpp); a directory is
 *     written as a temporary directory renamed by Commit.
 */
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sys/stat.h>

#include "io/json_export_format.hpp"
#include "io/open.hpp"
#include "io/sql_dump_text_file.hpp"

namespace mosta::copy {

namespace {

namespace fs = std::filesystem;

// Writes one table's rows to a block (a file's or its own document's).
class JsonRowsWriter {
  public:
	JsonRowsWriter(const TableDef &table, std::string path) : table_(table.QualifiedName()), path_(std::move(path)) {
		for (std::size_t index : table.CopiedColumns())
			kinds_.push_back(JsonValueKindOf(table.columns[index]));
	}

	void
	Write(const RowBatch &batch, std::string &out, StagedTextFile::Block *block, OutputFile *file) {
		if (batch.Form() != ValueForm::Canonical || batch.Columns() != kinds_.size())
			throw CopyError(path_ + ": table " + table_ + ": a batch of " + std::to_string(batch.Columns()) +
							" column(s) in the wrong form was written (expected Canonical, " +
							std::to_string(kinds_.size()) + " column(s))");
		std::size_t rows = batch.Rows();
		for (std::size_t row = 0; row < rows; ++row) {
			if (rows_ + row > 0)
				out.append(",\n", 2);
			AppendJsonRow(batch, row, kinds_, out);
			if (block != nullptr)
				block->MaybeFlush();
			else
				file->MaybeFlush();
		}
		rows_ += rows;
	}

	// End appends the table's last line (no line break).
	void
	End(std::uint64_t rows_written, std::string &out) const {
		if (rows_written != rows_)
			throw CopyError(path_ + ": table " + table_ + ": " + std::to_string(rows_) + " rows written, " +
							std::to_string(rows_written) + " counted");
		if (rows_ > 0)
			out += '\n';
		out += TableEndLine(rows_);
	}

  private:
	std::string table_;
	std::string path_;
	std::vector<JsonValueKind> kinds_;
	std::uint64_t rows_ = 0;
};

// A table in a one-file export: a block of the file.
class JsonBlockWriter : public TableWriter {
  public:
	JsonBlockWriter(const TableDef &table, std::unique_ptr<StagedTextFile::Block> block, const std::string &path)
		: rows_(table, path), block_(std::move(block)) {
		block_->Buffer() += TableHeaderLine(table);
	}
	void
	Write(const RowBatch &batch) override {
		rows_.Write(batch, block_->Buffer(), block_.get(), nullptr);
	}
	void
	Close(std::uint64_t rows_written) override {
		rows_.End(rows_written, block_->Buffer());
		block_->End();
	}

  private:
	JsonRowsWriter rows_;
	std::unique_ptr<StagedTextFile::Block> block_;
};

// A table in a directory export: its own document.
class JsonDocumentWriter : public TableWriter {
  public:
	JsonDocumentWriter(const TableDef &table, const std::string &path, const std::string &header,
					   std::atomic<int> &open_documents)
		: rows_(table, path), open_documents_(open_documents) {
		++open_documents_;
		out_.Open(path);
		out_.Buffer() += header;
		out_.Buffer() += TableHeaderLine(table);
	}
	void
	Write(const RowBatch &batch) override {
		rows_.Write(batch, out_.Buffer(), nullptr, &out_);
	}
	void
	Close(std::uint64_t rows_written) override {
		rows_.End(rows_written, out_.Buffer());
		out_.Buffer() += "\n";
		out_.Buffer().append(kExportEnd);
		out_.Buffer() += "\n";
		out_.Close();
		--open_documents_;
	}

  private:
	JsonRowsWriter rows_;
	std::atomic<int> &open_documents_;
	OutputFile out_;
};

// FindOrder returns table's place in schema; throws CopyError when it is not there.
std::size_t
FindOrder(const DatabaseSchema &schema, const TableDef &table, const std::string &path) {
	for (std::size_t order = 0; order < schema.tables.size(); ++order)
		if (schema.tables[order].schema == table.schema && schema.tables[order].name == table.name)
			return order;
	throw CopyError(path + ": table " + table.QualifiedName() + " is not in the schema the export began with");
}

class JsonFileDestination : public Destination {
  public:
	JsonFileDestination(const std::string &path, const DestinationOptions &options)
		: path_(path), file_(path, options.jobs > 1, ",\n") {}

	std::string
	Describe() const override {
		return "json:" + path_;
	}
	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}
	void
	Begin(const DatabaseSchema &schema, const SnapshotInfo &snapshot) override {
		schema_ = schema;
		RemoveStaleTemporaries(path_);
		file_.Begin(DocumentHeaderLine(schema_, snapshot));
	}
	std::unique_ptr<TableWriter>
	OpenTable(const TableDef &table) override {
		return std::make_unique<JsonBlockWriter>(table, file_.OpenBlock(FindOrder(schema_, table, path_)), path_);
	}
	void
	Finish() override {
		std::string footer = file_.BlockCount() > 0 ? "\n" : "";
		footer.append(kExportEnd);
		footer += '\n';
		file_.Finish(footer);
	}
	void
	Commit() override {
		file_.Commit();
		committed_ = true;
	}
	void
	Abort() noexcept override {
		if (!committed_)
			file_.Abort();
	}
	std::vector<WrittenFile>
	Files() const override {
		return {file_.File("json")};
	}

  private:
	std::string path_;
	StagedTextFile file_;
	DatabaseSchema schema_;
	bool committed_ = false;
};

class JsonDirectoryDestination : public Destination {
  public:
	explicit JsonDirectoryDestination(const std::string &path) : path_(path), staged_(path, true) {}

	std::string
	Describe() const override {
		return "json:" + path_ + "/";
	}
	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}
	void
	Begin(const DatabaseSchema &schema, const SnapshotInfo &snapshot) override {
		schema_ = schema;
		snapshot_ = snapshot;
		RemoveStaleTemporaries(path_);
		RefuseForeignFiles();
		if (::mkdir(staged_.Temporary().c_str(), 0777) != 0)
			throw CopyError("cannot create directory " + staged_.Temporary() + ": " + std::strerror(errno));
	}
	std::unique_ptr<TableWriter>
	OpenTable(const TableDef &table) override {
		DatabaseSchema one;
		one.types = schema_.types;
		one.sequences = schema_.sequences;
		one.tables.push_back(schema_.tables[FindOrder(schema_, table, path_)]);
		std::string file = staged_.Temporary() + "/" + ExportFileName(table);
		return std::make_unique<JsonDocumentWriter>(table, file, DocumentHeaderLine(one, snapshot_), open_documents_);
	}
	void
	Finish() override {
		if (open_documents_ != 0)
			throw CopyError(path_ + ": " + std::to_string(open_documents_.load()) +
							" table(s) opened but never closed");
		bytes_ = 0;
		std::error_code ec;
		for (const fs::directory_entry &entry : fs::directory_iterator(staged_.Temporary(), ec))
			bytes_ += entry.file_size(ec);
		if (ec)
			throw CopyError("cannot list " + staged_.Temporary() + ": " + ec.message());
	}
	void
	Commit() override {
		staged_.Publish();
		committed_ = true;
	}
	void
	Abort() noexcept override {
		if (!committed_)
			staged_.Discard();
	}
	std::vector<WrittenFile>
	Files() const override {
		return {WrittenFile{"json", path_, bytes_, ""}};
	}

  private:
	// RefuseForeignFiles throws when the directory already holds anything but a JSON export's files: Commit
	// replaces the whole directory.
	void
	RefuseForeignFiles() const {
		std::error_code ec;
		for (const fs::directory_entry &entry : fs::directory_iterator(path_, ec)) {
			std::string name = entry.path().filename().string();
			if (!entry.is_regular_file(ec) || name.size() < 5 || name.substr(name.size() - 5) != ".json")
				throw CopyError(path_ + " holds " + name +
								", which is not part of a JSON export: a JSON export to a "
								"directory replaces the whole directory; name an empty or new one");
		}
	}

	std::string path_;
	StagedPath staged_;
	DatabaseSchema schema_;
	SnapshotInfo snapshot_;
	std::uint64_t bytes_ = 0;
	std::atomic<int> open_documents_{0};
	bool committed_ = false;
};

} // namespace

std::unique_ptr<Destination>
MakeJsonDestination(const std::string &path, const DestinationOptions &options) {
	if (path.empty())
		throw CopyError("a JSON destination needs a file or a directory: --dest json --dest-file PATH");
	std::error_code ec;
	if (path.back() == '/' || fs::is_directory(path, ec)) {
		std::string directory = path;
		while (directory.size() > 1 && directory.back() == '/')
			directory.pop_back();
		return std::make_unique<JsonDirectoryDestination>(directory);
	}
	return std::make_unique<JsonFileDestination>(path, options);
}

} // namespace mosta::copy
