/*
 * pg_source.cpp
 *     The PostgreSQL source: one consistent snapshot for the whole copy, as pg_dump takes it. Open connects
 *     (application_name mosta-copy), fixes the session settings (kSessionSettingsSql, search_path ''), begins a
 *     REPEATABLE READ READ ONLY transaction (on a primary or a hot standby alike), reads the snapshot's LSN and
 *     time and the catalog (io/pg_source_catalog), and, when tables are read by several threads (jobs > 1),
 *     exports the snapshot: each reader then runs on a connection of its own that imports it (SET TRANSACTION
 *     SNAPSHOT, as pg_dump -j's workers do); those connections are kept and reused for the next tables. With
 *     jobs == 1 the readers use the main connection, one at a time.
 *
 *     A reader streams `COPY schema.table (cols) TO STDOUT` (a partitioned table: `COPY (SELECT cols FROM root)
 *     TO STDOUT`, which reads every partition) one row per PQgetCopyData, parsed straight into the batch
 *     (io/copy_text): memory stays flat in the table's size. The mostajs extension is not needed.
 */
#include <mutex>

#include "io/open.hpp"
#include "io/pg_source_catalog.hpp"
#include "io/pg_source_conn.hpp"
#include "io/copy_text.hpp"
#include "model/value_text.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"

namespace mosta::copy {

namespace {

// kSourceSessionSql completes kSessionSettingsSql for reading, as pg_dump sets its sessions: every name the server
// prints schema-qualified (search_path ''); an error rather than rows silently left out by a row-level security
// policy; no timeout cutting a long COPY, nor the main connection idle in its transaction while workers read in
// its exported snapshot.
constexpr const char *kSourceSessionSql =
	"SET search_path = ''; SET row_security = off; SET statement_timeout = 0; SET lock_timeout = 0; "
	"SET idle_in_transaction_session_timeout = 0";
constexpr const char *kBeginSql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

// PrepareSession fixes the settings values and names are printed with, and those of a long read.
void
PrepareSession(PGconn *conn) {
	PgExec(conn, std::string(kSessionSettingsSql) + "; " + kSourceSessionSql, "setting the session");
}

// CopyStatement returns the COPY that reads table's copied columns.
std::string
CopyStatement(const TableDef &table) {
	std::string name = QuoteQualifiedName(table.schema, table.name);
	std::string columns;
	for (std::size_t index : table.CopiedColumns()) {
		if (!columns.empty())
			columns += ", ";
		columns += QuoteIdentifier(table.columns[index].name);
	}
	if (table.partition_key.empty() && !columns.empty())
		return "COPY " + name + " (" + columns + ") TO STDOUT";
	// a partitioned table's rows are its partitions' (COPY of the table itself refuses it); a table without copied
	// columns still has rows: SELECT FROM gives one empty line each
	return "COPY (SELECT " + columns + " FROM " + name + ") TO STDOUT";
}

class PgSource;

// A connection a reader uses, given back to the source when the reader is done.
struct Lease {
	PGconn *conn = nullptr;
	bool main = false;
};

// PgTableReader streams one table's COPY.
class PgTableReader final : public TableReader {
  public:
	PgTableReader(PgSource &source, Lease lease, const TableDef &table);
	~PgTableReader() override;

	bool Next(RowBatch &batch, std::size_t max_rows) override;

	ValueForm
	Form() const noexcept override {
		return ValueForm::PgText;
	}

  private:
	// Finish reads COPY's end: its command result, then nothing.
	void Finish();
	// Abandon stops a COPY not read to its end (a cancel, then what is left is read and dropped); clean_ tells
	// whether the transaction survived.
	void Abandon() noexcept;

	PgSource &source_;
	Lease lease_;
	std::string table_name_;
	bool done_ = false;
	bool clean_ = false; // the COPY was read to its end without error: the connection can serve again
};

class PgSource final : public Source {
  public:
	PgSource(std::string uri, int jobs) : uri_(std::move(uri)), jobs_(jobs < 1 ? 1 : jobs) {
		describe_ = uri_.empty() ? std::string("postgres (PG* environment)") : MaskCredentials(uri_);
	}

	~PgSource() override {
		Close();
	}

	std::string
	Describe() const override {
		return describe_;
	}

	void
	Open() override {
		main_ = PgConnect(uri_, describe_);
		PGconn *conn = main_.get();
		PrepareSession(conn);
		PgExec(conn, kBeginSql, "starting the snapshot's transaction");
		// the first query takes the snapshot; its LSN and time are read in that same statement
		auto info = PgExec(conn,
						   "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
						   "ELSE pg_catalog.pg_current_wal_lsn() END, "
						   "pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', "
						   "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
						   "pg_catalog.current_setting('server_version'), "
						   "pg_catalog.current_setting('server_encoding'), "
						   "EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'mostajs'), "
						   "current_user, pg_catalog.current_database()",
						   "reading the snapshot's position");
		snapshot_.lsn = std::string(PgField(info.get(), 0, 0));
		snapshot_.time = std::string(PgField(info.get(), 0, 1));
		snapshot_.server = std::string(PgField(info.get(), 0, 2));
		snapshot_.encoding = std::string(PgField(info.get(), 0, 3));
		snapshot_.extension = PgFieldBool(info.get(), 0, 4);
		snapshot_.source = uri_.empty()
							   ? "postgresql://" + std::string(PgField(info.get(), 0, 5)) + "@" + PQhost(conn) + ":" +
									 PQport(conn) + "/" + std::string(PgField(info.get(), 0, 6))
							   : describe_;
		if (jobs_ > 1)
			snapshot_id_ = std::string(
				PgField(PgExec(conn, "SELECT pg_catalog.pg_export_snapshot()", "exporting the snapshot").get(), 0, 0));
		schema_ = ReadPgCatalog(conn);
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
		return std::make_unique<PgTableReader>(*this, Acquire(), table);
	}

	void
	Close() noexcept override {
		std::lock_guard lock(mutex_);
		idle_.clear();
		leased_.clear();
		if (main_) {
			PGresult *result = PQexec(main_.get(), "COMMIT"); // read only: ends the snapshot, nothing to lose
			PQclear(result);
			main_.reset();
		}
	}

	// Release takes a reader's connection back; one that was not left clean is closed (or, the main one, marks
	// the snapshot lost).
	void
	Release(Lease lease, bool clean) noexcept {
		std::lock_guard lock(mutex_);
		if (lease.main) {
			main_busy_ = false;
			main_lost_ = main_lost_ || !clean;
			return;
		}
		for (auto it = leased_.begin(); it != leased_.end(); ++it)
			if (it->get() == lease.conn) {
				if (clean)
					idle_.push_back(std::move(*it));
				leased_.erase(it);
				return;
			}
	}

  private:
	// Acquire returns the connection the next reader uses.
	Lease
	Acquire() {
		{
			std::lock_guard lock(mutex_);
			if (!main_)
				throw CopyError(describe_ + ": the source is not open");
			if (jobs_ == 1) {
				if (main_busy_)
					throw CopyError(describe_ + ": with --jobs 1 one table is read at a time");
				if (main_lost_)
					throw CopyError(describe_ + ": a table read was abandoned, the snapshot is lost");
				main_busy_ = true;
				return Lease{main_.get(), true};
			}
			if (!idle_.empty()) {
				leased_.push_back(std::move(idle_.back()));
				idle_.pop_back();
				return Lease{leased_.back().get(), false};
			}
		}
		sidecar::PgConnHandle conn = PgConnect(uri_, describe_);
		PrepareSession(conn.get());
		PgExec(conn.get(), kBeginSql, "starting a worker's transaction");
		PgExec(conn.get(), "SET TRANSACTION SNAPSHOT " + QuoteLiteral(snapshot_id_), "importing the snapshot");
		std::lock_guard lock(mutex_);
		leased_.push_back(std::move(conn));
		return Lease{leased_.back().get(), false};
	}

	std::string uri_;
	int jobs_;
	std::string describe_;
	sidecar::PgConnHandle main_;
	DatabaseSchema schema_;
	SnapshotInfo snapshot_;
	std::string snapshot_id_;
	std::mutex mutex_;
	bool main_busy_ = false;
	bool main_lost_ = false;
	std::vector<sidecar::PgConnHandle> idle_;	// worker connections in the snapshot, free
	std::vector<sidecar::PgConnHandle> leased_; // worker connections a reader holds
};

PgTableReader::PgTableReader(PgSource &source, Lease lease, const TableDef &table)
	: source_(source), lease_(lease), table_name_(table.QualifiedName()) {
	try {
		auto result = PgExec(lease_.conn, CopyStatement(table), "reading table " + table_name_);
		if (PQresultStatus(result.get()) != PGRES_COPY_OUT)
			throw CopyError("reading table " + table_name_ + ": COPY did not start");
	} catch (...) {
		source_.Release(lease_, false);
		throw;
	}
}

PgTableReader::~PgTableReader() {
	if (!done_)
		Abandon();
	source_.Release(lease_, clean_);
}

bool
PgTableReader::Next(RowBatch &batch, std::size_t max_rows) {
	batch.Clear();
	if (done_)
		return false;
	std::size_t rows = 0;
	while (rows < max_rows) {
		char *buffer = nullptr;
		int length = PQgetCopyData(lease_.conn, &buffer, 0);
		if (length > 0) {
			sidecar::PgBufferHandle row(buffer);
			std::string_view line(buffer, static_cast<std::size_t>(length));
			if (!line.empty() && line.back() == '\n')
				line.remove_suffix(1);
			if (std::string problem = ParseCopyLine(line, batch); !problem.empty())
				throw CopyError("table " + table_name_ + ": COPY sent a row mosta-copy cannot read (" + problem +
								"): \"" + std::string(line.substr(0, 200)) + (line.size() > 200 ? "...\"" : "\""));
			++rows;
			continue;
		}
		if (length == -1) {
			Finish();
			break;
		}
		done_ = true;
		throw CopyError("reading table " + table_name_ + ": " + PgErrorText(lease_.conn, nullptr));
	}
	return rows > 0;
}

void
PgTableReader::Finish() {
	done_ = true;
	sidecar::PgResultHandle result(PQgetResult(lease_.conn));
	if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK)
		throw CopyError("reading table " + table_name_ + ": " + PgErrorText(lease_.conn, result.get()));
	while (sidecar::PgResultHandle extra{PQgetResult(lease_.conn)}) {
	}
	clean_ = true;
}

void
PgTableReader::Abandon() noexcept {
	done_ = true;
	if (PGcancel *cancel = PQgetCancel(lease_.conn)) {
		char message[256];
		PQcancel(cancel, message, sizeof message);
		PQfreeCancel(cancel);
	}
	char *buffer = nullptr;
	while (PQgetCopyData(lease_.conn, &buffer, 0) > 0)
		PQfreemem(buffer);
	while (PGresult *result = PQgetResult(lease_.conn))
		PQclear(result);
	// a cancel that came after the COPY had ended is ignored by the server: the transaction, and the snapshot,
	// are then intact; a cancelled COPY leaves the transaction failed
	clean_ = PQtransactionStatus(lease_.conn) == PQTRANS_INTRANS;
}

} // namespace

std::unique_ptr<Source>
MakePgSource(const std::string &uri, int jobs) {
	return std::make_unique<PgSource>(uri, jobs);
}

} // namespace mosta::copy
