/*
 * sql_dump_sink.hpp
 *     SqlDumpSink: appends the stream to one file of PostgreSQL SQL that replays with
 *       psql -X -v ON_ERROR_STOP=1 -f dump.sql
 *     into an empty database to the same content (values as sql_dump_literal.hpp writes them).
 *
 *     Layout: a header (client_encoding UTF8, standard_conforming_strings on), then per source transaction
 *       BEGIN;
 *       <statements>
 *       COMMIT;
 *       -- mosta-checkpoint <end_lsn> crc32c=<the file's running CRC-32C before " crc32c=">
 *     The first time this process sees a table it writes CREATE SCHEMA IF NOT EXISTS and CREATE TABLE IF NOT
 *     EXISTS "schema"."table" (columns with their types from "types", PRIMARY KEY from "key"); a column seen later
 *     gets ALTER TABLE ... ADD COLUMN IF NOT EXISTS (after a reopen or a Rollback, for every column, as the table
 *     may already exist with fewer). Without "types" (include-types off) a new column cannot be declared: throws.
 *
 *     Statements: insert and update are upserts, INSERT ... ON CONFLICT (key) DO UPDATE SET of the columns
 *     present (an "unchanged" TOAST column keeps its value); an update that moves the key is UPDATE ... WHERE old
 *     key; delete is by the key in "old"; truncate is TRUNCATE of each table (RESTART IDENTITY when asked; a table
 *     the dump may not hold is truncated through a DO block only if it exists). Keyless tables: plain INSERT, and
 *     update/delete of one row (ctid) whose columns all match "old" (REPLICA IDENTITY FULL) by their text form,
 *     IS NOT DISTINCT FROM (so NULLs and types without "=" match). Messages are not written, except mostajs.ddl
 *     messages, written as the PostgreSQL DDL that gives the table the message's shape (sql_dump_ddl.cpp), and
 *     the user types they and mostajs.type messages define (sql_dump_types.cpp).
 *
 *     Durability (SpooledTransaction): a transaction's SQL is buffered up to SpooledTransaction::kSpillBytes and
 *     then appended to the file unsynced, so a transaction of any size is streamed with bounded memory; at
 *     CommitTransaction the rest, COMMIT and the checkpoint line are appended, then fdatasync'd; DurableLsn() is
 *     the last checkpoint synced. Opening checks the whole file (ScanSqlDump, sql_dump_scan.hpp: damage anywhere
 *     throws and nothing is written) and recovers: the file is cut after its last good checkpoint line (a crash
 *     may have left a partial transaction of any length), and DurableLsn() is that checkpoint. Rollback drops the
 * buffer, cuts anything written past the last checkpoint and forgets the tables declared (their DDL may be cut too). A
 * failed Apply poisons the transaction until Rollback, also when part of it is already in the file. The daemon's
 * skipping of transactions at or below DurableLsn() is what keeps the dump free of duplicates (keyless inserts are not
 *     idempotent). Identifiers and type names with a line break are refused, so every checkpoint line is a real
 *     one.
 */
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sink/sink_core.hpp"
#include "sink/spooled_transaction.hpp"
#include "sink/type_definition.hpp"

namespace mosta::sidecar {

// What the dump has declared of one table in this process.
struct SqlDumpTable {
	std::string quoted;									   // "schema"."table"
	std::vector<std::string> key;						   // primary key columns, empty for a keyless table
	std::map<std::string, std::string, std::less<>> types; // column -> declared type, for every declared column
	std::vector<std::string> order;						   // the declared columns in declaration order
	std::map<std::string, std::string, std::less<>>
		bases; // column -> the base type of its domain type (values take its form)
};

// SqlDumpSink writes one replayable SQL file.
class SqlDumpSink final : public SinkCore {
  public:
	// SqlDumpSink opens or creates path, recovers its last checkpoint and cuts a partial tail; throws
	// std::system_error or std::runtime_error.
	// ddl_collections: a mostajs.ddl message is applied to the tables these cover (RuleCoversTable), and to the
	// tables declared by this process.
	explicit SqlDumpSink(std::string path, std::vector<std::string> ddl_collections = {});

	// ~SqlDumpSink discards what is not durable.
	~SqlDumpSink() override;

	SqlDumpSink(const SqlDumpSink &) = delete;
	SqlDumpSink &operator=(const SqlDumpSink &) = delete;

	std::string_view Name() const noexcept override;

	// kCheckpointPrefix starts each checkpoint line.
	static constexpr std::string_view kCheckpointPrefix = "-- mosta-checkpoint ";

  private:
	// The SinkCore hooks (one source transaction per group): BEGIN, the statements, COMMIT and the checkpoint line,
	// fdatasync; DiscardGroup cuts the file back to the last checkpoint and forgets the declared tables.
	void OpenSource(Lsn commit_lsn) override;
	void InsertRow(const Change &change) override;
	void UpdateRow(const Change &change) override;
	void DeleteRow(const Change &change) override;
	void TruncateTables(const Change &change) override;
	void ApplyMessage(const Change &change) override;
	void RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) override;
	void MakeGroupDurable(Lsn pending_lsn) override;
	void DiscardGroup() noexcept override;

	// Recover finds the last checkpoint, cuts the file after it and writes the header into an empty file.
	void Recover();

	// Table returns the declared table of change, writing CREATE/ALTER statements as needed.
	SqlDumpTable &Table(const Change &change);

	// WriteUpsert writes the INSERT (ON CONFLICT DO UPDATE on a keyed table) of row.
	void WriteUpsert(const SqlDumpTable &table, const std::vector<Column> &row);

	// WriteUpdate writes an update (key move, keyless row, or upsert).
	void WriteUpdate(const SqlDumpTable &table, const Change &change);

	// WriteDelete writes the delete of the row "old" identifies.
	void WriteDelete(const SqlDumpTable &table, const Change &change);

	// WriteTruncate writes the truncate of each listed table.
	void WriteTruncate(const Change &change);

	// WriteDdl writes the PostgreSQL DDL of a mostajs.ddl message (sql_dump_ddl.cpp); other messages are ignored.
	void WriteDdl(const Change &change);

	// WriteTypes writes the CREATE or ALTER statements that give the dump these user types, each followed by
	// its record line; a type held with the same definition writes nothing (sql_dump_types.cpp).
	void WriteTypes(const std::vector<TypeDefinition> &types);

	// WriteTypeMessage follows a mostajs.type message (sql_dump_types.cpp).
	void WriteTypeMessage(const Change &change);

	// BaseType returns the base type of type when it is a domain the dump holds (through domains over domains),
	// else "" (sql_dump_types.cpp).
	std::string BaseType(const std::string &type) const;

	// RestoreTypes makes the type record lines of a recovered file the held types (sql_dump_types.cpp).
	void RestoreTypes(const std::vector<std::string> &records);

	std::string path_;
	std::string name_;
	std::vector<std::string> ddl_collections_;
	SpooledTransaction spool_; // the file, and the open source transaction's SQL
	std::map<std::string, SqlDumpTable> tables_;
	std::set<std::string> schemas_;
	std::map<std::uint32_t, TypeDefinition> types_;			  // the user types the dump holds, by oid
	std::map<std::uint32_t, TypeDefinition> committed_types_; // the same, up to the durable checkpoint
	bool types_changed_ = false;							  // the open transaction wrote types
	bool types_stale_ = false; // a Rollback could not restore types_; BeginTransaction does
	bool redeclare_ = false;   // tables may exist already: declare every column with IF NOT EXISTS
};

} // namespace mosta::sidecar
