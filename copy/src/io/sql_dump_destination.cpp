/*
 * sql_dump_destination.cpp
 *     The SQL dump destination: a plain SQL file laid out as pg_dump's plain format (io/sql_dump_layout.hpp,
 *     docs/copy-formats.md), written under its StagedPath temporary and renamed by Commit. Rows arrive as PgText
 *     (PostgreSQL's text output under kSessionSettingsSql) and are written as COPY text lines. With --jobs 1 every
 *     table streams straight into the file; with more, each table's block goes to its own part file and Finish
 *     appends them in schema order (io/sql_dump_text_file.hpp).
 */
#include <memory>

#include "io/open.hpp"
#include "io/copy_text.hpp"
#include "io/sql_dump_layout.hpp"
#include "io/sql_dump_text_file.hpp"

namespace mosta::copy {

namespace {

class SqlDumpTableWriter : public TableWriter {
  public:
	SqlDumpTableWriter(const TableDef &table, std::unique_ptr<StagedTextFile::Block> block, std::string path)
		: table_(table.QualifiedName()), columns_(table.CopiedColumns().size()), block_(std::move(block)),
		  path_(std::move(path)) {
		block_->Buffer() += TableDataHeader(table);
	}

	void
	Write(const RowBatch &batch) override {
		if (batch.Form() != ValueForm::PgText || batch.Columns() != columns_)
			throw CopyError(path_ + ": table " + table_ + ": a batch of " + std::to_string(batch.Columns()) +
							" column(s) in the wrong form was written (expected PgText, " + std::to_string(columns_) +
							" column(s))");
		std::string &out = block_->Buffer();
		std::size_t rows = batch.Rows();
		for (std::size_t row = 0; row < rows; ++row) {
			AppendCopyRow(batch, row, out);
			block_->MaybeFlush();
		}
		rows_ += rows;
	}

	void
	Close(std::uint64_t rows_written) override {
		if (rows_written != rows_)
			throw CopyError(path_ + ": table " + table_ + ": " + std::to_string(rows_) + " rows written, " +
							std::to_string(rows_written) + " counted");
		block_->Buffer() += TableDataTrailer(rows_);
		block_->End();
	}

  private:
	std::string table_;
	std::size_t columns_;
	std::unique_ptr<StagedTextFile::Block> block_;
	std::string path_;
	std::uint64_t rows_ = 0;
};

class SqlDumpDestination : public Destination {
  public:
	SqlDumpDestination(const std::string &path, const DestinationOptions &options)
		: path_(path), options_(options), file_(path, options.jobs > 1, "") {}

	std::string
	Describe() const override {
		return "sql-dump:" + path_;
	}
	ValueForm
	Form() const noexcept override {
		return ValueForm::PgText;
	}

	void
	Begin(const DatabaseSchema &schema, const SnapshotInfo &snapshot) override {
		schema_ = schema;
		RemoveStaleTemporaries(path_);
		file_.Begin(DumpHeader(schema_, snapshot, options_.create_tables));
	}

	std::unique_ptr<TableWriter>
	OpenTable(const TableDef &table) override {
		std::size_t order = 0;
		while (order < schema_.tables.size() &&
			   (schema_.tables[order].schema != table.schema || schema_.tables[order].name != table.name))
			++order;
		if (order == schema_.tables.size())
			throw CopyError(path_ + ": table " + table.QualifiedName() + " is not in the schema the dump began with");
		return std::make_unique<SqlDumpTableWriter>(table, file_.OpenBlock(order), path_);
	}

	void
	Finish() override {
		file_.Finish(DumpFooter(schema_, options_.create_tables));
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
		return {file_.File("sql-dump")};
	}

  private:
	std::string path_;
	DestinationOptions options_;
	StagedTextFile file_;
	DatabaseSchema schema_;
	bool committed_ = false;
};

} // namespace

std::unique_ptr<Destination>
MakeSqlDumpDestination(const std::string &path, const DestinationOptions &options) {
	if (path.empty())
		throw CopyError("an SQL dump destination needs a file: --dest sql-dump --dest-file FILE");
	return std::make_unique<SqlDumpDestination>(path, options);
}

} // namespace mosta::copy
