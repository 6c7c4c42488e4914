/*
 * destination.hpp
 *     Destination: where mosta-copy writes: SQLite (io/sqlite_destination), SQL dump (io/sql_dump_destination),
 *     JSON (io/json_destination), MongoDB (io/mongo_destination), PostgreSQL (io/pg_destination). One copy reads
 *     each table once and hands every batch to every destination (run/copy_run).
 *
 *     Life of a destination, driven by the runner:
 *       Begin(schema, snapshot)         schema holds only the tables copied, in foreign-key order: pre-data (types,
 *                                       sequences, tables, as asked with --create-tables)
 *       OpenTable(table) -> TableWriter  thread-safe: with --jobs N, N tables are written at once, each writer
 *                                       used by one thread: Write(batch)... then Close()
 *       Finish()                        post-data (constraints, indexes, foreign keys, sequence values), flush,
 *                                       fsync: everything durable, still under temporary names
 *       Commit()                        publish (rename over the final names, fsync the directory), only after
 *                                       EVERY destination finished; the manifest is written last of all
 *       Abort()                         anything failed: remove what is not committed, never throws
 *     A file destination never writes under its final name before Commit (docs/copy.md, "Running from cron").
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/source.hpp"
#include "model/row_batch.hpp"
#include "model/schema.hpp"

namespace mosta::copy {

// TableWriter writes one table's rows.
class TableWriter {
  public:
	virtual ~TableWriter() = default;
	// Write writes the rows of batch (in the form the destination asked for: Destination::Form).
	virtual void Write(const RowBatch &batch) = 0;
	// Close ends the table (all its rows written); rows_written is what the runner counted, for a last check.
	virtual void Close(std::uint64_t rows_written) = 0;
};

// One file a destination produced, for the manifest.
struct WrittenFile {
	std::string kind; // "sqlite", "sql-dump", "json", "mongodb", "postgres"
	std::string path; // the final path (a file or a directory); for a database: its URI, credentials masked
	std::uint64_t bytes = 0;
	std::string crc32c; // of the file's bytes, 8 hex digits; "" for a directory or a database
};

class Destination {
  public:
	virtual ~Destination() = default;
	virtual std::string Describe() const = 0;
	// Form returns the form the destination's writers take.
	virtual ValueForm Form() const noexcept = 0;
	virtual void Begin(const DatabaseSchema &schema, const SnapshotInfo &snapshot) = 0;
	virtual std::unique_ptr<TableWriter> OpenTable(const TableDef &table) = 0;
	virtual void Finish() = 0;
	virtual void Commit() = 0;
	virtual void Abort() noexcept = 0;
	// Files returns what Commit published (valid after Commit; the manifest lists them).
	virtual std::vector<WrittenFile> Files() const = 0;
};

} // namespace mosta::copy
