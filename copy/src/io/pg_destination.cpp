/*
 * pg_destination.cpp
 *     The PostgreSQL destination (restore): a backup's tables loaded into a database, as pg_restore does it:
 *     pre-data (model/ddl.hpp: schemas, types, sequences, tables) before the rows, the rows with COPY ... FROM
 *     STDIN in text format (io/copy_text.hpp, shared with the SQL dump), post-data (sequence values,
 *     primary keys, unique constraints, indexes, then foreign keys) after them, so that each index is built once
 *     over all the rows.
 *
 *     The target must be empty where the backup goes: with --create-tables every table is created (one that
 *     already exists is refused); without it every table must exist with the backup's copied columns, and only the
 *     sequence values are set afterwards (the tables keep their own constraints and indexes, as pg_restore
 *     --data-only). Either way a table that already holds a row is refused before anything is written.
 *
 *     Atomicity:
 *       --jobs 1: everything (pre-data, every table's COPY, post-data) runs in ONE transaction on one connection,
 *         committed by Commit(): a restore that fails at any point leaves nothing behind.
 *       --jobs N > 1: tables are written at once, each on its own connection (OpenTable is called from several
 *         threads), so there is no single transaction: pre-data is committed by Begin, each table's COPY commits
 *         on its own; Finish builds the tables' keys and indexes at once on up to N connections (as pg_restore -j),
 *         each committed when built, then sets the sequences and adds the foreign keys in a transaction that
 *         Commit() commits. Abort then undoes what was committed: it drops what Begin created (tables, sequences,
 *         types, and the schemas that did not exist before), or, without --create-tables, truncates the tables
 *         that were loaded. That clean-up is best effort (a lost connection leaves what it could not drop); use
 *         --jobs 1 where all or nothing matters more than speed.
 *     Writer connections commit with synchronous_commit off: the final commit (synchronous) flushes the WAL of
 *     every earlier one, so nothing reported as restored can be lost.
 */
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "io/open.hpp"
#include "io/copy_text.hpp"
#include "io/pg_destination_session.hpp"
#include "model/ddl.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"

namespace mosta::copy {

namespace {

// kChunkBytes is how many bytes of COPY text are handed to libpq at once.
constexpr std::size_t kChunkBytes = 64 * 1024;

// kRestoreSettingsSql is what every connection of a restore sets besides kSessionSettingsSql, as pg_restore does:
// no statement, lock or idle timeout of the server's defaults cuts a long load short, and no NOTICE ("schema ...
// already exists, skipping") reaches stderr.
constexpr const char *kRestoreSettingsSql =
	"SET statement_timeout = 0; SET lock_timeout = 0; "
	"SET idle_in_transaction_session_timeout = 0; SET client_min_messages = warning";

// kMaintenanceWorkMemSql is the main connection's maintenance_work_mem, for the post-data index builds (64MB by
// default: a big table's index sorts in fewer passes).
constexpr const char *kMaintenanceWorkMemSql = "SET maintenance_work_mem = '256MB'";

// Excerpt returns a statement's start for a message.
std::string
Excerpt(const std::string &statement) {
	std::string line = statement.substr(0, statement.find('\n'));
	if (line.size() > 120)
		line = line.substr(0, 117) + "...";
	return line;
}

class PgDestination;

// PgTableWriter streams one table's rows into a COPY ... FROM STDIN, on the destination's connection (--jobs 1)
// or on its own.
class PgTableWriter : public TableWriter {
  public:
	PgTableWriter(PgDestination &destination, const TableDef &table, PgSession &session,
				  std::unique_ptr<PgSession> own);
	~PgTableWriter() override;
	void Write(const RowBatch &batch) override;
	void Close(std::uint64_t rows_written) override;

  private:
	void Send();

	PgDestination &destination_;
	const TableDef &table_;
	std::unique_ptr<PgSession> own_; // the writer's own connection (--jobs N), else null
	PgSession &session_;
	std::size_t columns_;
	std::string buffer_;
	bool in_copy_ = false;
};

class PgDestination : public Destination {
  public:
	PgDestination(std::string uri, const DestinationOptions &options)
		: uri_(std::move(uri)), options_(options),
		  described_(uri_.empty() ? std::string("the PostgreSQL database of the PG* variables")
								  : MaskCredentials(uri_)) {}

	~PgDestination() override {
		if (!committed_)
			Abort();
	}

	std::string
	Describe() const override {
		return "postgres " + described_;
	}
	ValueForm
	Form() const noexcept override {
		return ValueForm::PgText;
	}
	void Begin(const DatabaseSchema &schema, const SnapshotInfo &snapshot) override;
	std::unique_ptr<TableWriter> OpenTable(const TableDef &table) override;
	void Finish() override;
	void Commit() override;
	void Abort() noexcept override;
	std::vector<WrittenFile>
	Files() const override {
		WrittenFile file;
		file.kind = "postgres";
		file.path = described_;
		return {file};
	}

	// WriterClosed is called by a writer whose COPY ended (loaded: it committed rows on its own connection).
	void WriterClosed(const TableDef &table, bool loaded);
	const std::string &
	Described() const noexcept {
		return described_;
	}

  private:
	bool
	SingleTransaction() const noexcept {
		return options_.jobs <= 1;
	}
	void CheckTargets();
	bool HasRows(const TableDef &table);
	std::vector<std::string> MissingSchemas();
	void DropCreated(PgSession &session) noexcept;
	void BuildTablesPostData();

	std::string uri_;
	DestinationOptions options_;
	std::string described_;
	DatabaseSchema schema_;
	std::unique_ptr<PgSession> main_; // pre-data, post-data; with --jobs 1 also every COPY
	bool in_transaction_ = false;
	bool committed_ = false;
	bool aborted_ = false;

	std::mutex mutex_;					   // guards what follows (writers close from several threads)
	bool writer_open_ = false;			   // --jobs 1: a COPY runs on main_
	bool created_ = false;				   // --jobs N: Begin committed the pre-data
	std::vector<std::string> new_schemas_; // --jobs N: schemas Begin created
	std::vector<std::string> loaded_;	   // --jobs N: tables whose COPY committed (quoted names)
};

PgTableWriter::PgTableWriter(PgDestination &destination, const TableDef &table, PgSession &session,
							 std::unique_ptr<PgSession> own)
	: destination_(destination), table_(table), own_(std::move(own)), session_(session),
	  columns_(table.CopiedColumns().size()) {
	buffer_.reserve(kChunkBytes + kChunkBytes / 4);
	std::string sql = CopyFromStatement(table);
	sidecar::PgResultHandle result(PQexec(session_.Get(), sql.c_str()));
	if (result == nullptr || PQresultStatus(result.get()) != PGRES_COPY_IN)
		session_.Fail(result.get(), "starting the COPY of table " + table.QualifiedName());
	in_copy_ = true;
}

PgTableWriter::~PgTableWriter() {
	if (!in_copy_)
		return;
	// Not closed: an error elsewhere. End the COPY with a failure so that nothing of it stays.
	PGconn *conn = session_.Get();
	if (PQputCopyEnd(conn, "mosta-copy stopped before the end of the table") == 1)
		while (sidecar::PgResultHandle result{PQgetResult(conn)})
			;
	destination_.WriterClosed(table_, false);
}

void
PgTableWriter::Send() {
	if (buffer_.empty())
		return;
	if (PQputCopyData(session_.Get(), buffer_.data(), static_cast<int>(buffer_.size())) != 1)
		session_.Fail(nullptr, "writing the rows of table " + table_.QualifiedName());
	buffer_.clear();
}

void
PgTableWriter::Write(const RowBatch &batch) {
	if (batch.Form() != ValueForm::PgText)
		throw CopyError("internal error: table " + table_.QualifiedName() +
						": the PostgreSQL destination takes PgText batches");
	if (batch.Columns() != columns_)
		throw CopyError("internal error: table " + table_.QualifiedName() + ": a batch of " +
						std::to_string(batch.Columns()) + " columns for " + std::to_string(columns_) +
						" copied columns");
	const std::size_t rows = batch.Rows();
	for (std::size_t row = 0; row < rows; ++row) {
		AppendCopyRow(batch, row, buffer_);
		if (buffer_.size() >= kChunkBytes)
			Send();
	}
}

void
PgTableWriter::Close(std::uint64_t rows_written) {
	Send();
	PGconn *conn = session_.Get();
	in_copy_ = false;
	if (PQputCopyEnd(conn, nullptr) != 1)
		session_.Fail(nullptr, "ending the COPY of table " + table_.QualifiedName());
	sidecar::PgResultHandle result(PQgetResult(conn));
	// drain: a COPY gives one result, then null
	while (sidecar::PgResultHandle more{PQgetResult(conn)})
		;
	if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
		destination_.WriterClosed(table_, false);
		session_.Fail(result.get(), "loading table " + table_.QualifiedName());
	}
	const char *tuples = PQcmdTuples(result.get());
	if (tuples != nullptr && *tuples != '\0' && std::to_string(rows_written) != tuples) {
		destination_.WriterClosed(table_, false);
		throw CopyError("loading table " + table_.QualifiedName() + " in " + destination_.Described() +
						": COPY loaded " + tuples + " rows, " + std::to_string(rows_written) + " were read");
	}
	destination_.WriterClosed(table_, own_ != nullptr);
}

void
PgDestination::Begin(const DatabaseSchema &schema, const SnapshotInfo &) {
	schema_ = schema;
	main_ = std::make_unique<PgSession>(uri_, described_);
	if (uri_.empty()) {
		// the PG* variables chose the database: name it as libpq resolved it (no password), for messages and the
		// manifest; no writer exists yet to read described_
		PGconn *conn = main_->Get();
		described_ = std::string("host=") + PQhost(conn) + " port=" + PQport(conn) + " dbname=" + PQdb(conn) +
					 " user=" + PQuser(conn);
	}
	main_->Exec(kRestoreSettingsSql, "setting the session up");
	main_->Exec(kMaintenanceWorkMemSql, "setting the session up");
	main_->Exec("BEGIN", "starting the restore");
	in_transaction_ = true;
	CheckTargets();
	if (options_.create_tables) {
		std::vector<std::string> missing;
		if (!SingleTransaction())
			missing = MissingSchemas();
		for (const std::string &statement : PreDataStatements(schema_))
			main_->Exec(statement, "creating the tables (" + Excerpt(statement) + ")");
		if (!SingleTransaction()) {
			main_->Exec("COMMIT", "creating the tables");
			in_transaction_ = false;
			std::lock_guard lock(mutex_);
			created_ = true;
			new_schemas_ = std::move(missing);
		}
	} else if (!SingleTransaction()) {
		main_->Exec("COMMIT", "checking the tables");
		in_transaction_ = false;
	}
}

bool
PgDestination::HasRows(const TableDef &table) {
	sidecar::PgResultHandle result =
		main_->Query("SELECT EXISTS (SELECT FROM " + QuoteQualifiedName(table.schema, table.name) + ")", {},
					 "checking that table " + table.QualifiedName() + " is empty");
	return std::string_view(PQgetvalue(result.get(), 0, 0)) == "t";
}

void
PgDestination::CheckTargets() {
	for (const TableDef &table : schema_.tables) {
		const std::string name = table.QualifiedName();
		sidecar::PgResultHandle result = main_->Query(
			"SELECT a.attname, a.attgenerated <> '' FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_attribute a "
			"ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE c.oid = pg_catalog.to_regclass($1)",
			{QuoteQualifiedName(table.schema, table.name)}, "looking for table " + name);
		const int rows = PQntuples(result.get());
		const bool exists = rows > 0;
		if (exists && HasRows(table))
			throw CopyError("table " + name + " in " + described_ +
							" already holds rows; hint: restore into an empty database, or TRUNCATE the table first");
		if (options_.create_tables) {
			if (exists)
				throw CopyError("table " + name + " already exists in " + described_ +
								"; hint: restore into an empty database, or leave out --create-tables to load into "
								"the existing tables");
			continue;
		}
		if (!exists)
			throw CopyError("table " + name + " does not exist in " + described_ +
							"; hint: create it first, or pass --create-tables");
		std::set<std::string> present, generated;
		for (int row = 0; row < rows; ++row) {
			if (PQgetisnull(result.get(), row, 0))
				continue;
			present.insert(PQgetvalue(result.get(), row, 0));
			if (std::string_view(PQgetvalue(result.get(), row, 1)) == "t")
				generated.insert(PQgetvalue(result.get(), row, 0));
		}
		for (std::size_t index : table.CopiedColumns()) {
			const std::string &column = table.columns[index].name;
			if (present.count(column) == 0)
				throw CopyError("table " + name + " in " + described_ + " has no column \"" + column +
								"\" (a column of the backup); hint: add it, or pass --create-tables to restore "
								"into an empty database");
			if (generated.count(column) != 0)
				throw CopyError("column \"" + column + "\" of table " + name + " in " + described_ +
								" is a generated column, the backup has its values; hint: make it a plain column, "
								"or pass --create-tables to restore into an empty database");
		}
	}
}

std::vector<std::string>
PgDestination::MissingSchemas() {
	std::set<std::string> used;
	for (const TypeDef &type : schema_.types)
		used.insert(type.schema);
	for (const SequenceDef &sequence : schema_.sequences)
		used.insert(sequence.schema);
	for (const TableDef &table : schema_.tables) {
		used.insert(table.schema);
		for (const PartitionDef &partition : table.partitions)
			used.insert(partition.schema);
	}
	std::vector<std::string> missing;
	for (const std::string &name : used) {
		sidecar::PgResultHandle result =
			main_->Query("SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)", {name},
						 "looking for schema " + name);
		if (std::string_view(PQgetvalue(result.get(), 0, 0)) == "t")
			missing.push_back(name);
	}
	return missing;
}

std::unique_ptr<TableWriter>
PgDestination::OpenTable(const TableDef &table) {
	const TableDef *ours = schema_.FindTable(table.schema, table.name);
	if (ours == nullptr)
		throw CopyError("internal error: table " + table.QualifiedName() + " is not in the restored schema");
	if (SingleTransaction()) {
		{
			std::lock_guard lock(mutex_);
			if (writer_open_)
				throw CopyError("internal error: with --jobs 1 the PostgreSQL destination writes one table at a "
								"time");
			writer_open_ = true;
		}
		try {
			return std::make_unique<PgTableWriter>(*this, *ours, *main_, nullptr);
		} catch (...) {
			std::lock_guard lock(mutex_);
			writer_open_ = false;
			throw;
		}
	}
	auto own = std::make_unique<PgSession>(uri_, described_);
	own->Exec(kRestoreSettingsSql, "setting the session up");
	own->Exec("SET synchronous_commit = off", "setting the session up");
	PgSession &session = *own;
	return std::make_unique<PgTableWriter>(*this, *ours, session, std::move(own));
}

void
PgDestination::WriterClosed(const TableDef &table, bool loaded) {
	std::lock_guard lock(mutex_);
	writer_open_ = false;
	if (loaded)
		loaded_.push_back(QuoteQualifiedName(table.schema, table.name));
}

void
PgDestination::BuildTablesPostData() {
	// Each table's primary key, unique constraints and indexes, tables taken largest first by up to --jobs
	// connections, each statement committed on its own (a foreign key needs its referenced key committed).
	std::vector<const TableDef *> tables;
	for (const TableDef &table : schema_.tables)
		if (!table.post_data.empty())
			tables.push_back(&table);
	std::stable_sort(tables.begin(), tables.end(),
					 [](const TableDef *a, const TableDef *b) { return a->estimated_rows > b->estimated_rows; });
	std::atomic<std::size_t> next{0};
	std::atomic<bool> failed{false};
	std::exception_ptr error;
	std::mutex error_mutex;
	auto work = [&] {
		try {
			PgSession session(uri_, described_);
			session.Exec(kRestoreSettingsSql, "setting the session up");
			session.Exec(kMaintenanceWorkMemSql, "setting the session up");
			for (std::size_t i = next++; i < tables.size() && !failed; i = next++)
				for (const std::string &statement : tables[i]->post_data)
					session.Exec(statement, "creating constraints and indexes (" + Excerpt(statement) + ")");
		} catch (...) {
			std::lock_guard lock(error_mutex);
			if (!error)
				error = std::current_exception();
			failed = true;
		}
	};
	const std::size_t count = std::min(tables.size(), static_cast<std::size_t>(options_.jobs));
	std::vector<std::thread> threads;
	for (std::size_t t = 0; t + 1 < count; ++t)
		threads.emplace_back(work);
	if (count > 0)
		work();
	for (std::thread &thread : threads)
		thread.join();
	if (error)
		std::rethrow_exception(error);
}

void
PgDestination::Finish() {
	std::vector<std::string> statements;
	if (options_.create_tables && !SingleTransaction()) {
		// as pg_restore -j: the tables' indexes at once, then the sequences and foreign keys in one transaction
		BuildTablesPostData();
		statements = SequenceValueStatements(schema_);
		for (const TableDef &table : schema_.tables)
			statements.insert(statements.end(), table.foreign_keys.begin(), table.foreign_keys.end());
	} else if (options_.create_tables) {
		statements = PostDataStatements(schema_);
	} else {
		// The tables were there: they keep their own constraints and indexes; set the sequences that exist.
		DatabaseSchema present = schema_;
		present.sequences.clear();
		for (const SequenceDef &sequence : schema_.sequences) {
			if (!sequence.identity) {
				sidecar::PgResultHandle result =
					main_->Query("SELECT pg_catalog.to_regclass($1) IS NOT NULL",
								 {QuoteQualifiedName(sequence.schema, sequence.name)},
								 "looking for sequence " + sequence.schema + "." + sequence.name);
				if (std::string_view(PQgetvalue(result.get(), 0, 0)) != "t")
					continue;
			}
			present.sequences.push_back(sequence);
		}
		statements = SequenceValueStatements(present);
	}
	if (!SingleTransaction()) {
		main_->Exec("BEGIN", "starting the post-data");
		in_transaction_ = true;
	}
	for (const std::string &statement : statements)
		main_->Exec(statement, "creating constraints and indexes (" + Excerpt(statement) + ")");
}

void
PgDestination::Commit() {
	if (in_transaction_)
		main_->Exec("COMMIT", "committing the restore");
	in_transaction_ = false;
	committed_ = true;
	main_.reset();
}

void
PgDestination::DropCreated(PgSession &session) noexcept {
	session.TryExec("SET lock_timeout = '30s'");
	for (auto table = schema_.tables.rbegin(); table != schema_.tables.rend(); ++table)
		session.TryExec("DROP TABLE IF EXISTS " + QuoteQualifiedName(table->schema, table->name) + " CASCADE");
	for (const SequenceDef &sequence : schema_.sequences)
		if (!sequence.identity)
			session.TryExec("DROP SEQUENCE IF EXISTS " + QuoteQualifiedName(sequence.schema, sequence.name));
	for (auto type = schema_.types.rbegin(); type != schema_.types.rend(); ++type)
		if (type->kind != "enum")
			session.TryExec("DROP DOMAIN IF EXISTS " + QuoteQualifiedName(type->schema, type->name));
	for (const TypeDef &type : schema_.types)
		if (type.kind == "enum")
			session.TryExec("DROP TYPE IF EXISTS " + QuoteQualifiedName(type.schema, type.name));
	for (const std::string &name : new_schemas_)
		session.TryExec("DROP SCHEMA IF EXISTS " + QuoteIdentifier(name));
}

void
PgDestination::Abort() noexcept {
	if (committed_ || aborted_)
		return;
	aborted_ = true;
	try {
		if (main_ != nullptr && in_transaction_)
			main_->TryExec("ROLLBACK");
		in_transaction_ = false;
		main_.reset();
		if (SingleTransaction())
			return; // the rollback undid everything
		bool created;
		std::vector<std::string> loaded;
		{
			std::lock_guard lock(mutex_);
			created = created_;
			loaded = loaded_;
		}
		if (!created && loaded.empty())
			return;
		PgSession session(uri_, described_);
		session.TryExec("SET client_min_messages = warning");
		if (created) {
			DropCreated(session);
		} else {
			std::string tables;
			for (const std::string &name : loaded)
				tables += (tables.empty() ? "" : ", ") + name;
			session.TryExec("SET lock_timeout = '30s'");
			session.TryExec("TRUNCATE " + tables);
		}
	} catch (...) {
		// best effort: Abort never throws
	}
}

} // namespace

std::unique_ptr<Destination>
MakePgDestination(const std::string &uri, const DestinationOptions &options) {
	return std::make_unique<PgDestination>(uri, options);
}

} // namespace mosta::copy
