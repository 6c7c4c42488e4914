/*
 * pg_sink.cpp
 *     PgSink (pg_sink.hpp): the connection and its replication origin, one target transaction per source
 *     transaction, DDL messages and truncate. Row changes are pg_apply.cpp's (bulk) and pg_conflict.cpp's
 *     (conflict mode).
 *
 *     Exactly once. The session sets up the replication origin (pg_replication_origin_session_setup); every
 *     target transaction ends with pg_replication_origin_xact_setup(end LSN, source commit time) and COMMIT, so
 *     the origin's progress moves with the data, atomically. Transactions commit with synchronous_commit = off;
 *     MakeGroupDurable then calls pg_replication_origin_progress(origin, true), which flushes the WAL up to the
 *     origin's last commit: the whole group is durable when it returns, for one WAL flush per group. Applied
 *     transactions are also remembered (applied_end): a source transaction whose commit LSN is behind the last
 *     one committed here is ignored, so a transaction the daemon delivers again (after a rollback that found its
 *     group committed but not yet reported durable) is never applied twice. A source transaction that brings no
 *     change opens no target transaction; when a group ends with such transactions (or a heartbeat),
 *     MakeGroupDurable commits one small transaction that only moves the origin to the group's end, so the
 *     origin always holds what DurableLsn() reports (and the daemon confirms to the slot).
 */
#include "sink/pg_sink.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"
#include "pg/errors.hpp"
#include "sink/ddl_message.hpp"
#include "sink/pg_sink_impl.hpp"

namespace mosta::sidecar {

namespace {

// kInsufficientPrivilege is SQLSTATE 42501; kObjectInUse 55006 (an origin another session holds).
constexpr std::string_view kInsufficientPrivilege = "42501";
constexpr std::string_view kObjectInUse = "55006";

// kOriginBusyWait bounds the wait for the backend of a previous connection to release the origin.
constexpr std::chrono::seconds kOriginBusyWait{15};

// kSinkSessionSql: commits are asynchronous (MakeGroupDurable flushes once per group); staged updates and deletes
// join their staging table to the target by index (a hash join would scan the whole target table per run);
// type names are printed qualified like the source's (mosta pins search_path to pg_catalog), so that a column's
// type compares with the DDL messages'.
constexpr const char *kSinkSessionSql = "SET synchronous_commit = off; SET enable_hashjoin = off; "
										"SET enable_mergejoin = off; SET search_path = pg_catalog, pg_temp";

// TableKey returns the cache key of schema.table.
std::string
TableKey(const std::string &schema, const std::string &table) {
	std::string key = schema;
	key += '\0';
	key += table;
	return key;
}

// LsnOf returns the pg_lsn text of a result field, kInvalidLsn for NULL.
Lsn
LsnOf(const PGresult *result, int row, int column) {
	if (PQgetisnull(result, row, column))
		return kInvalidLsn;
	return ParseLsn(PQgetvalue(result, row, column)).value_or(kInvalidLsn);
}

} // namespace

const Column *
FindColumn(const std::vector<Column> &row, std::string_view name) noexcept {
	for (const Column &column : row)
		if (column.name == name)
			return &column;
	return nullptr;
}

void
ThrowMissingOld(const Change &change) {
	throw std::runtime_error("PostgreSQL sink: cannot apply " + std::string(OpName(change.op)) + " to " +
							 change.Schema() + "." + change.Table() +
							 ": the document has no \"old\" to find the row by (REPLICA IDENTITY NOTHING, or DEFAULT "
							 "without a primary key); give the table a primary key or REPLICA IDENTITY FULL, or "
							 "exclude it from replication");
}

const std::vector<std::string> &
PgSink::Impl::KeyOf(const Change &change) noexcept {
	return change.Key();
}

PgSink::Impl::Impl(PgSinkOptions sink_options)
	: options(std::move(sink_options)), sink_name("postgres:" + MaskCredentials(options.conninfo)) {}

void
PgSink::Impl::Connect() {
	session.reset();
	ForgetTables();
	in_transaction = false;
	session = std::make_unique<PgSession>(options.conninfo);
	session->Exec(kSinkSessionSql, "setting the session up");
	PgResultHandle track =
		session->Query("SELECT current_setting('track_commit_timestamp') = 'on'", {}, "reading track_commit_timestamp");
	commit_timestamps = std::string_view(PQgetvalue(track.get(), 0, 0)) == "t";
	const char *origin = options.origin.c_str();
	try {
		session->Query("SELECT pg_replication_origin_create($1) WHERE pg_replication_origin_oid($1) IS NULL", {origin},
					   "creating the replication origin " + options.origin);
		SetUpOrigin();
	} catch (const PgError &e) {
		if (e.SqlState() != kInsufficientPrivilege)
			throw;
		throw PgError(e.what(), e.SqlState(), "the target role may not use replication origins", e.Detail(),
					  "connect as a superuser, or GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), "
					  "pg_replication_origin_oid(text), pg_replication_origin_session_setup(text), "
					  "pg_replication_origin_session_reset(), pg_replication_origin_xact_setup(pg_lsn, timestamptz), "
					  "pg_replication_origin_progress(text, boolean), pg_replication_origin_advance(text, pg_lsn) "
					  "to the target role");
	}
	PgResultHandle progress = session->Query("SELECT pg_replication_origin_progress($1, true)", {origin},
											 "reading the replication origin " + options.origin);
	applied_end = LsnOf(progress.get(), 0, 0);
}

void
PgSink::Impl::SetUpOrigin() {
	// a sink closed or killed a moment ago leaves a backend that holds the origin until it notices its connection
	// is gone: wait for it, boundedly (another live sidecar holding it is an error after the deadline)
	auto deadline = std::chrono::steady_clock::now() + kOriginBusyWait;
	for (;;) {
		try {
			session->Query("SELECT pg_replication_origin_session_setup($1)", {options.origin.c_str()},
						   "setting up the replication origin " + options.origin);
			return;
		} catch (const PgError &e) {
			if (e.SqlState() != kObjectInUse || std::chrono::steady_clock::now() > deadline)
				throw;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20)); // --allow-sleep: poll interval, bounded
	}
}

void
PgSink::Impl::Begin() {
	if (in_transaction)
		return;
	session->Exec("BEGIN", "opening a transaction");
	in_transaction = true;
}

void
PgSink::Impl::ForgetTables() noexcept {
	tables.clear();
	staging.clear();
	run = PgRun{};
}

PgTargetTable *
PgSink::Impl::Table(const std::string &schema, const std::string &table, const RelationSchema *relation) {
	std::string key = TableKey(schema, table);
	if (auto found = tables.find(key); found != tables.end())
		return &found->second;
	std::optional<PgTargetTable> loaded = LoadPgTargetTable(*session, schema, table);
	if (!loaded) {
		if (relation == nullptr)
			return nullptr;
		loaded = CreatePgTargetTableFromRelation(*session, *relation);
	}
	return &tables.insert_or_assign(key, std::move(*loaded)).first->second;
}

PgSink::PgSink(PgSinkOptions options)
	: SinkCore("PostgreSQL sink", GroupPolicy{options.group_max_transactions}),
	  impl_(std::make_unique<Impl>(std::move(options))) {
	if (impl_->options.origin.empty())
		throw std::invalid_argument("PostgreSQL sink: no replication origin name");
	impl_->Connect();
	RestoreDurableLsn(impl_->applied_end);
}

PgSink::~PgSink() {
	if (impl_->session != nullptr && impl_->in_transaction)
		impl_->session->TryExec("ROLLBACK");
}

std::string_view
PgSink::Name() const noexcept {
	return impl_->sink_name;
}

void
PgSink::NoteCommitTime(std::string_view commit_time) {
	impl_->commit_time.assign(commit_time);
}

void
PgSink::OpenGroup() {
	impl_->committed_in_group = false;
}

void
PgSink::OpenSource(Lsn commit_lsn) {
	Impl &impl = *impl_;
	if (impl.session == nullptr || !impl.session->Healthy())
		impl.Connect();
	impl.commit_lsn = commit_lsn;
	impl.commit_time.clear();
	impl.change_index = 0;
	impl.skipping = !Rewinding() && impl.applied_end != kInvalidLsn && commit_lsn < impl.applied_end;
}

void
PgSink::ApplyChange(const Change &change) {
	Impl &impl = *impl_;
	if (impl.skipping)
		return;
	int index = impl.change_index++;
	switch (change.op) {
	case Op::Insert:
	case Op::Update:
	case Op::Delete:
		if (impl.options.on_conflict)
			impl.ApplyChecked(change, index);
		else
			impl.ApplyBulk(change);
		return;
	case Op::Truncate:
		ApplyTruncate(change);
		return;
	case Op::Message:
		ApplyDdl(change);
		return;
	default:
		SinkCore::ApplyChange(change); // refuses the op
	}
}

void
PgSink::ApplyTruncate(const Change &change) {
	Impl &impl = *impl_;
	impl.FlushRun();
	std::string list;
	for (const TruncateTarget &target : change.truncate_tables) {
		if (target.partition)
			throw std::runtime_error(
				"PostgreSQL sink: partition " + target.partition->schema + "." + target.partition->table +
				" was truncated alone; its rows cannot be told apart in " +
				QuoteQualifiedName(target.schema, target.table) + " of the target: take a new snapshot of the table");
		if (const PgTargetTable *table = impl.Table(target.schema, target.table, nullptr))
			list += (list.empty() ? "" : ", ") + table->quoted;
	}
	if (list.empty())
		return;
	impl.Begin();
	impl.session->Exec("TRUNCATE " + list, "truncating " + list);
}

void
PgSink::ApplyDdl(const Change &change) {
	Impl &impl = *impl_;
	std::optional<DdlMessage> message = ParseDdlMessage(change);
	if (!message || message->partition_root)
		return;
	impl.FlushRun();
	impl.Begin();
	std::string key = TableKey(message->schema, message->table);
	const PgTargetTable *held = impl.Table(message->schema, message->table, nullptr);
	if (message->dropped) {
		if (held != nullptr) {
			impl.session->Exec("DROP TABLE IF EXISTS " + held->quoted, "dropping " + held->quoted);
			impl.tables.erase(key);
		}
		return;
	}
	if (held == nullptr) {
		if (message->IsCreate() && RuleCoversTable(impl.options.ddl_collections, message->schema, message->table) &&
			!message->columns.empty())
			impl.tables.insert_or_assign(key, CreatePgTargetTable(*impl.session, *message));
		return;
	}
	PgTargetTable altered = AlterPgTargetTable(*impl.session, *held, *message);
	impl.tables.insert_or_assign(key, std::move(altered));
}

void
PgSink::RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) {
	static_cast<void>(commit_lsn);
	Impl &impl = *impl_;
	if (impl.skipping) {
		impl.skipping = false;
		return;
	}
	impl.FlushRun();
	if (!impl.in_transaction && !Rewinding())
		return; // nothing to commit: the origin moves with the next transaction that changes something
	impl.Begin();
	std::string lsn = FormatLsn(end_lsn);
	std::string time =
		impl.commit_time.empty() ? std::string("now()") : QuoteLiteral(impl.commit_time) + "::timestamptz";
	impl.session->Exec("SELECT pg_replication_origin_xact_setup(" + QuoteLiteral(lsn) + "::pg_lsn, " + time +
						   "); COMMIT",
					   "committing the transaction ending at " + lsn);
	impl.in_transaction = false;
	impl.committed_in_group = true;
	if (Rewinding() && impl.applied_end != kInvalidLsn && end_lsn < impl.applied_end) {
		// a copy at a new slot's consistent point behind the origin (failover): the commit cannot move the
		// origin back, an explicit advance does (it needs the origin released by this session)
		const char *origin = impl.options.origin.c_str();
		impl.session->Query("SELECT pg_replication_origin_session_reset()", {}, "releasing the origin");
		impl.session->Query("SELECT pg_replication_origin_advance($1, $2)", {origin, lsn.c_str()},
							"moving the origin back to " + lsn);
		impl.session->Query("SELECT pg_replication_origin_session_setup($1)", {origin},
							"setting up the replication origin " + impl.options.origin);
	}
	impl.applied_end = end_lsn;
}

void
PgSink::MakeGroupDurable(Lsn pending_lsn) {
	Impl &impl = *impl_;
	if (pending_lsn != kInvalidLsn && (impl.applied_end == kInvalidLsn || pending_lsn > impl.applied_end)) {
		// the group ends with transactions that changed nothing here (or a heartbeat): the origin must still
		// reach what DurableLsn() will report, which the daemon confirms to the slot, or a restart would find the
		// target behind its slot; a transaction with an xid writes the commit record that moves the origin
		std::string lsn = FormatLsn(pending_lsn);
		impl.session->Exec("BEGIN; SELECT txid_current(); SELECT pg_replication_origin_xact_setup(" +
							   QuoteLiteral(lsn) + "::pg_lsn, now()); COMMIT",
						   "moving the origin to " + lsn);
		impl.applied_end = pending_lsn;
		impl.committed_in_group = true;
	}
	if (!impl.committed_in_group)
		return;
	// flushes the WAL up to the origin's last commit: every asynchronous commit of the group is then on disk
	impl.session->Query("SELECT pg_replication_origin_progress($1, true)", {impl.options.origin.c_str()},
						"flushing the group");
	impl.committed_in_group = false;
}

void
PgSink::DiscardGroup() noexcept {
	Impl &impl = *impl_;
	impl.skipping = false;
	impl.ForgetTables();
	if (impl.session == nullptr)
		return;
	if (impl.in_transaction)
		impl.session->TryExec("ROLLBACK");
	impl.in_transaction = false;
	if (!impl.committed_in_group)
		return;
	impl.committed_in_group = false;
	// transactions of the group were committed: make them durable and say so, or forget the connection (the
	// next transaction reconnects and reads the origin again)
	try {
		if (impl.session->Healthy()) {
			PgResultHandle progress = impl.session->Query("SELECT pg_replication_origin_progress($1, true)",
														  {impl.options.origin.c_str()}, "flushing the group");
			Lsn flushed = LsnOf(progress.get(), 0, 0);
			if (flushed != kInvalidLsn && flushed > DurableLsn())
				RestoreDurableLsn(flushed);
			return;
		}
	} catch (...) {
	}
	impl.session.reset();
}

} // namespace mosta::sidecar
