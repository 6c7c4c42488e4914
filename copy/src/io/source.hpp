/*
 * source.hpp
 *     Source: where mosta-copy reads a database from: PostgreSQL (io/pg_source), or a backup it wrote: SQLite
 *     (io/sqlite_source), JSON (io/json_source), SQL dump (io/sql_dump_source), MongoDB (io/mongo_source, for
 *     verify). A source gives the schema model and each table's rows, as a TableReader per table; the runner
 *     (run/copy_run) may open readers for several tables at once from --jobs threads, each reader used by one
 *     thread. Errors are exceptions (CopyError or any std::exception) whose message names the file, table or
 *     value at fault.
 */
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "model/row_batch.hpp"
#include "model/schema.hpp"

namespace mosta::copy {

// CopyError is a failure with a message for the user (no stack of causes: the message says it all).
class CopyError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// TableReader reads one table's rows, in the copied columns' order (TableDef::CopiedColumns).
class TableReader {
  public:
	virtual ~TableReader() = default;
	// Next clears batch and fills it with up to max_rows rows; returns false when the table had no more rows
	// (batch then empty). The batch's form is Form().
	virtual bool Next(RowBatch &batch, std::size_t max_rows) = 0;
	// Form returns the form of the fields Next writes.
	virtual ValueForm Form() const noexcept = 0;
};

class Source {
  public:
	virtual ~Source() = default;
	// Describe returns what the source is for messages, credentials masked ("postgresql://u:***@h/db",
	// "sqlite:/backups/daily.sqlite").
	virtual std::string Describe() const = 0;
	// Open connects or opens the file and reads the schema model (every table the source has, in foreign-key
	// order) and the snapshot info; a PostgreSQL source also takes its snapshot here.
	virtual void Open() = 0;
	virtual const DatabaseSchema &Schema() const = 0;
	virtual const SnapshotInfo &Snapshot() const = 0;
	// OpenTable returns a reader of table's rows (a table of Schema()); thread-safe.
	virtual std::unique_ptr<TableReader> OpenTable(const TableDef &table) = 0;
	// Close ends the snapshot and closes connections and files; called once, after every reader is gone.
	virtual void Close() noexcept = 0;
};

} // namespace mosta::copy
