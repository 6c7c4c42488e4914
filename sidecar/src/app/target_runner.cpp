/*
 * target_runner.cpp
 *     TargetRunner (see target_runner.hpp).
 */
#include "app/target_runner.hpp"

#include <algorithm>
#include <ctime>
#include <exception>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "app/id_map_lookup.hpp"
#include "app/initial_copy.hpp"
#include "app/log.hpp"
#include "app/target_path.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/errors.hpp"
#include "sink/json_archive_sink.hpp"
#include "sink/mongo_sink.hpp"
#include "sink/sql_dump_sink.hpp"
#include "sink/sqlite_sink.hpp"

namespace mosta::sidecar {

namespace {

// kCopyFetchRows is how many documents one FETCH of the initial copy reads.
constexpr int kCopyFetchRows = 10'000;
// kJsonArchiveFileBytes is the size at which a JSON archive starts a new file.
constexpr std::uint64_t kJsonArchiveFileBytes = 64ULL << 20;
// kSqliteGroupTransactions groups this many source transactions per SQLite commit (flushed when idle anyway).
constexpr std::size_t kSqliteGroupTransactions = 100;
// kMongoGroupTransactions: the MongoDB checkpoint is written after this many source transactions (and when idle).
constexpr std::size_t kMongoGroupTransactions = 100;

// RequiredLsn returns an LSN field of a document (validated by the decoder); throws naming the field when it is
// missing.
Lsn
RequiredLsn(const Change &change, Lsn lsn, const char *field) {
	if (lsn == kInvalidLsn)
		throw std::runtime_error(std::string("change document without a valid \"") + field + "\" (op " +
								 std::string(OpName(change.op)) + "): is include-lsn on?");
	return lsn;
}

// OpenFileSink opens the sqlite, sqldump or jsonl sink at path (resolved by ResolveTargetPath).
std::unique_ptr<Sink>
OpenFileSink(const ReplicaInfo &replica, const std::string &slot, const std::string &path,
			 const std::vector<std::string> &collections) {
	if (replica.dialect == "sqlite") {
		SqliteSinkOptions options;
		options.path = path;
		options.slot = slot;
		options.group_max_transactions = kSqliteGroupTransactions;
		options.ddl_collections = collections;
		return std::make_unique<SqliteSink>(options);
	}
	if (replica.dialect == "sqldump")
		return std::make_unique<SqlDumpSink>(path, collections);
	return std::make_unique<JsonArchiveSink>(path, kJsonArchiveFileBytes);
}

} // namespace

std::unique_ptr<Sink>
OpenSink(const ReplicaInfo &replica, const std::string &slot, const std::string &data_dir,
		 const std::vector<std::string> &collections, const std::string &source) {
	if (IsFileDialect(replica.dialect)) {
		std::string path = ResolveTargetPath(data_dir, replica);
		try {
			return OpenFileSink(replica, slot, path, collections);
		} catch (const std::exception &e) {
			// a refusal of a file the sidecar did not create, a full disk, ...: name the replica
			throw std::runtime_error("replica " + replica.project + "." + replica.name + " (" + replica.dialect +
									 "): " + e.what());
		}
	}
	if (replica.dialect == "mongodb") {
		MongoSinkOptions options;
		options.uri = replica.uri;
		options.default_database = replica.project;
		options.slot = slot;
		options.group_max_transactions = kMongoGroupTransactions;
		options.ddl_collections = collections;
		options.warn = [](const std::string &text) { LogLine(text); };
		// uuid keys that id_map allocated for legacy ObjectIds keep their ObjectId as _id
		auto lookup = std::make_shared<IdMapLookup>(source);
		options.legacy_object_id = [lookup](const Change &change, const std::string &uuid) {
			return (*lookup)(change, uuid);
		};
		return std::make_unique<MongoSink>(options);
	}
	throw std::invalid_argument("replica " + replica.project + "." + replica.name + ": dialect " + replica.dialect +
								" has no sink");
}

RuleStatus
RuleProgress::Aggregate() const {
	std::vector<const TargetStatus *> all;
	for (const auto &[key, target] : targets)
		all.push_back(&target);
	return AggregateRuleStatus(all);
}

namespace {

// ProgressEntry returns the entry of target in progress, creating it (with its slot name) when missing.
TargetStatus &
ProgressEntry(RuleProgress &progress, const RulePlan &plan, const ReplicaInfo &target) {
	auto [entry, created] = progress.targets.try_emplace({target.project, target.name});
	if (created) {
		entry->second.project = target.project;
		entry->second.replica = target.name;
		entry->second.slot = SlotName(plan.name, target.project, target.name);
	}
	return entry->second;
}

// UtcNow returns the current time as "2026-11-22 19:30:00 UTC", for warnings.
std::string
UtcNow() {
	std::time_t now = std::time(nullptr);
	std::tm utc{};
	gmtime_r(&now, &utc);
	char text[32];
	std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
	return text;
}

// MegaBytes prints bytes in MB, for log lines.
std::string
MegaBytes(long long bytes) {
	return std::to_string(bytes / (1024 * 1024)) + " MB";
}

} // namespace

TargetRunner::TargetRunner(boost::asio::any_io_executor executor, const Config &config, RulePlan plan,
						   ReplicaInfo target, const bool *stop, RuleProgress &progress)
	: executor_(executor), config_(config), plan_(std::move(plan)), target_(std::move(target)), stop_(stop),
	  progress_(progress), status_(ProgressEntry(progress, plan_, target_)), slot_(status_.slot), sql_(executor) {}

std::string
TargetRunner::Label() const {
	return "rule " + plan_.name + ", target " + target_.project + "." + target_.name;
}

void
TargetRunner::SetState(const std::string &state, const std::string &detail) {
	if (status_.status != state || !detail.empty())
		LogLine(Label() + ": " + state + (detail.empty() ? "" : ": " + detail));
	status_.status = state;
	// an error stays reported through the retries, until the target works again
	if (state == "streaming" || state == "done")
		status_.last_error.clear();
}

template <class Work>
boost::asio::awaitable<void>
TargetRunner::OnWorker(Work work) {
	co_await boost::asio::co_spawn(
		worker_,
		[&work]() -> boost::asio::awaitable<void> {
			work();
			co_return;
		},
		boost::asio::use_awaitable);
	MergeApplied();
}

void
TargetRunner::MergeApplied() {
	status_.changes_applied += applied_.changes;
	status_.transactions += applied_.transactions;
	status_.applied_any = status_.applied_any || applied_.transactions > 0;
	applied_ = {};
}

boost::asio::awaitable<void>
TargetRunner::FlushSink() {
	co_await OnWorker([this] { sink_->Flush(); });
	status_.applied_lsn = sink_->DurableLsn();
	// a target that failed is back once it makes something durable again (or holds everything)
	if (status_.status == "error" && !status_.last_error.empty())
		SetState("streaming", "recovered at " + FormatLsn(status_.applied_lsn));
}

boost::asio::awaitable<void>
TargetRunner::PublishStatus() {
	SlotState slot = co_await ReadSlotState(sql_, slot_);
	status_.retained_bytes = slot.retained_bytes;
	status_.wal_status = slot.wal_status;
	std::string warning = status_.event;
	long long retained = slot.retained_bytes.value_or(0);
	bool over = config_.retained_wal_warning > 0 && retained > config_.retained_wal_warning;
	if (over) {
		std::string text = "slot " + slot_ + " retains " + MegaBytes(retained) +
						   " of WAL, over --retained-wal-warning (" + MegaBytes(config_.retained_wal_warning) + ")";
		if (!status_.over_retained_limit)
			LogLine(Label() + ": WARNING: " + text);
		warning += (warning.empty() ? "" : "; ") + text;
	} else if (status_.over_retained_limit) {
		LogLine(Label() + ": slot " + slot_ + " retains " + MegaBytes(retained) + " of WAL again, under the limit");
	}
	status_.over_retained_limit = over;
	if (slot.wal_status == "unreserved")
		warning += std::string(warning.empty() ? "" : "; ") + "slot " + slot_ +
				   " is past max_slot_wal_keep_size (wal_status unreserved): PostgreSQL invalidates it at its next "
				   "checkpoint unless the target catches up";
	status_.warning = warning;
	if (status_.status != "error" && caught_up_at_)
		status_.lag_ms = idle_ ? 0
							   : std::chrono::duration_cast<std::chrono::milliseconds>(
									 std::chrono::steady_clock::now() - *caught_up_at_)
									 .count();
	else
		status_.lag_ms = -1;
	co_await WriteStatus(sql_, plan_.name, progress_.Aggregate(), status_);
	status_.applied_any = false;
}

boost::asio::awaitable<void>
TargetRunner::RefreshStatus() {
	try {
		if (!sql_.IsOpen())
			co_await sql_.Connect(config_.source, ConnectionKind::Sql);
		co_await PublishStatus();
	} catch (const std::exception &e) {
		sql_.Close();
		LogLine(Label() + ": could not write its status: " + e.what());
	}
}

boost::asio::awaitable<void>
TargetRunner::Pause() {
	SetState("paused", "rule disabled; slot " + slot_ + " kept at " + FormatLsn(status_.applied_lsn));
	caught_up_at_.reset();
	co_await RefreshStatus();
}

boost::asio::awaitable<void>
TargetRunner::ReportError(const std::string &error) {
	if (sink_)
		sink_->Rollback();
	in_transaction_ = false;
	status_.last_error = error;
	SetState("error", error);
	co_await EndSqlTransaction();
	co_await RefreshStatus();
}

boost::asio::awaitable<void>
TargetRunner::EndSqlTransaction() {
	if (!sql_.IsOpen())
		co_return;
	PGTransactionStatusType state = PQtransactionStatus(sql_.Get());
	if (state == PQTRANS_IDLE)
		co_return;
	// a failure in the initial copy leaves its READ ONLY snapshot transaction open (or aborted): the status
	// written next must not land in it; a connection busy or broken is closed (RefreshStatus reconnects)
	try {
		if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) {
			const std::string rollback_sql = "ROLLBACK";
			co_await sql_.Exec("ending the failed initial copy", rollback_sql);
			co_return;
		}
	} catch (const std::exception &e) {
		LogLine(Label() + ": could not end the failed initial copy: " + e.what());
	}
	sql_.Close();
}

boost::asio::awaitable<void>
TargetRunner::MarkStopped() {
	if (status_.status != "streaming" && status_.status != "snapshot" && status_.status != "pending")
		co_return; // done, paused and error say more than stopped
	SetState("stopped", "the sidecar stopped; slot " + slot_ + " kept at " + FormatLsn(status_.applied_lsn));
	// nobody keeps the target fresh any more: its lag is unknown, so reads are not routed to it
	caught_up_at_.reset();
	co_await RefreshStatus();
}

boost::asio::awaitable<void>
TargetRunner::Warn(const std::string &action, const std::string &text) {
	LogLine(Label() + ": WARNING: " + text);
	status_.event = text + " (" + UtcNow() + ")";
	try {
		const std::string detail_sql = "SELECT json_build_object('project', " + SqlLiteral(sql_, target_.project) +
									   ", 'replica', " + SqlLiteral(sql_, target_.name) + ", 'slot', " +
									   SqlLiteral(sql_, slot_) + ", 'message', " + SqlLiteral(sql_, text) + ")::text";
		PgResultHandle detail = co_await sql_.Exec("describing the event", detail_sql);
		co_await LogActivity(sql_, action, plan_.name, PQgetvalue(detail.get(), 0, 0));
	} catch (const std::exception &e) {
		LogLine(Label() + ": could not log " + action + " in mosta.activity: " + e.what());
	}
}

boost::asio::awaitable<void>
TargetRunner::LoadCounters() {
	if (status_.counters_loaded)
		co_return;
	const std::string stats_sql = "SELECT snapshot_rows, changes_applied, transactions, resnapshots, status FROM "
								  "mosta.target_status WHERE rule = " +
								  SqlLiteral(sql_, plan_.name) + " AND project = " + SqlLiteral(sql_, target_.project) +
								  " AND replica = " + SqlLiteral(sql_, target_.name);
	PgResultHandle stats = co_await sql_.Exec("reading mosta.target_status", stats_sql);
	if (PQntuples(stats.get()) == 1) {
		status_.snapshot_rows = std::stoll(PQgetvalue(stats.get(), 0, 0));
		status_.changes_applied = std::stoll(PQgetvalue(stats.get(), 0, 1));
		status_.transactions = std::stoll(PQgetvalue(stats.get(), 0, 2));
		status_.resnapshots = std::stoi(PQgetvalue(stats.get(), 0, 3));
		if (std::string(PQgetvalue(stats.get(), 0, 4)) == "done")
			status_.status = "done";
	}
	status_.counters_loaded = true;
}

boost::asio::awaitable<void>
TargetRunner::Run() {
	co_await sql_.Connect(config_.source, ConnectionKind::Sql);
	co_await LoadCounters();
	if (plan_.mode == "snapshot" && status_.status == "done") {
		LogLine(Label() + ": snapshot already done");
		co_return;
	}
	co_await OnWorker(
		[this] { sink_ = OpenSink(target_, slot_, config_.data_dir, plan_.collections, config_.source); });
	LogLine(Label() + ": sink " + MaskCredentials(target_.uri) + " (" + target_.dialect + ") holds up to " +
			FormatLsn(sink_->DurableLsn()));
	status_.applied_lsn = sink_->DurableLsn();

	ReplicationStreamOptions options;
	options.conninfo = config_.source;
	options.status_interval = std::min(config_.status_interval, std::chrono::milliseconds(10'000));
	ReplicationStream stream(executor_, options, [this] { return sink_->DurableLsn(); });
	co_await stream.Connect();
	co_await PrepareSlot(stream);
	if (plan_.mode == "snapshot") {
		SetState("done", "initial copy complete, dropping slot " + slot_);
		co_await stream.DropSlot(slot_, false);
		co_await PublishStatus();
		co_return;
	}
	if (config_.once) {
		const std::string heartbeat_sql = "SELECT mosta_heartbeat()::text";
		PgResultHandle heartbeat = co_await sql_.Exec("writing the --once heartbeat", heartbeat_sql);
		marker_ = ParseLsn(PQgetvalue(heartbeat.get(), 0, 0)).value_or(kInvalidLsn);
	}
	std::string include_tables = co_await IncludeTables();
	co_await Stream(stream, sink_->DurableLsn(), include_tables);
}

boost::asio::awaitable<void>
TargetRunner::PrepareSlot(ReplicationStream &stream) {
	SlotState slot = co_await ReadSlotState(sql_, slot_);
	if (slot.exists && slot.wal_status == "lost") {
		co_await Warn(
			"slot_invalidated",
			"PostgreSQL invalidated slot " + slot_ +
				" (wal_status lost: it retained more WAL than max_slot_wal_keep_size allows), so changes were "
				"lost for this target: taking a new initial copy");
		co_await stream.DropSlot(slot_, false);
		slot.exists = false;
	}
	// the target was rolled back under the slot (restored from an older copy, a dump cut back): PostgreSQL resumes
	// at confirmed_flush_lsn, so what the target lost between its checkpoint and there cannot come again
	if (slot.exists && sink_->DurableLsn() != kInvalidLsn && slot.confirmed_flush &&
		sink_->DurableLsn() < *slot.confirmed_flush) {
		co_await Warn("target_rolled_back", "the target holds data up to " + FormatLsn(sink_->DurableLsn()) +
												" but slot " + slot_ + " already confirmed " +
												FormatLsn(*slot.confirmed_flush) +
												" (the target was restored or cut back to an earlier checkpoint), "
												"so the changes between are gone for this target: taking a new "
												"initial copy that replaces the target's tables");
		co_await stream.DropSlot(slot_, false);
		slot.exists = false;
	}
	// the target may hold rows of the interrupted copy or of an emptied target's last writes: the new copy
	// empties the copied tables first, like a re-snapshot
	bool interrupted = false;
	if (slot.exists && sink_->DurableLsn() == kInvalidLsn) {
		LogLine(Label() + ": slot " + slot_ +
				" exists but the sink holds no checkpoint (an interrupted initial copy): dropping it to start over");
		co_await stream.DropSlot(slot_, false);
		slot.exists = false;
		interrupted = true;
	}
	if (slot.exists)
		co_return;
	bool resnapshot = sink_->DurableLsn() != kInvalidLsn;
	if (resnapshot) {
		++status_.resnapshots;
		if (plan_.mode == "cdc" && status_.event.empty())
			co_await Warn("resnapshot", "slot " + slot_ + " is gone while the target holds data up to " +
											FormatLsn(sink_->DurableLsn()) +
											": taking a new initial copy that replaces the target's tables");
	}
	SetState("snapshot", "creating slot " + slot_);
	co_await PublishStatus();
	CreatedSlot created = co_await stream.CreateSlot(slot_, "mostajs", SlotSnapshot::Export);
	LogLine(Label() + ": slot " + slot_ + " created at " + FormatLsn(created.consistent_point));
	co_await Copy(created.snapshot_name, created.consistent_point, resnapshot || interrupted);
}

boost::asio::awaitable<std::string>
TargetRunner::IncludeTables() {
	if (plan_.collections.size() == 1 && plan_.collections[0] == "*")
		co_return std::string();
	// the stream carries only the rule's collections: an include-tables filter (protocol section 14)
	std::string names;
	for (const std::string &name : plan_.collections)
		names += (names.empty() ? "" : ", ") + SqlLiteral(sql_, name);
	const std::string filter_sql = "SELECT n.nspname, c.relname FROM unnest(ARRAY[" + names +
								   "]::text[]) x(name) JOIN pg_class c ON c.oid = to_regclass(x.name)"
								   " JOIN pg_namespace n ON n.oid = c.relnamespace";
	PgResultHandle filter = co_await sql_.Exec("resolving the rule's collections", filter_sql);
	auto escape = [](const char *text) {
		std::string out;
		for (const char *p = text; *p != '\0'; ++p) {
			if (*p == '\\' || *p == ',' || *p == '.' || *p == '*')
				out += '\\';
			out += *p;
		}
		return out;
	};
	std::string include_tables;
	for (int row = 0; row < PQntuples(filter.get()); ++row)
		include_tables += (row == 0 ? "" : ",") + escape(PQgetvalue(filter.get(), row, 0)) + "." +
						  escape(PQgetvalue(filter.get(), row, 1));
	if (include_tables.empty())
		throw std::runtime_error("none of the rule's collections exists any more");
	co_return include_tables;
}

boost::asio::awaitable<void>
TargetRunner::Copy(const std::string &snapshot_name, Lsn consistent_point, bool resnapshot) {
	const std::string begin_sql =
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + SqlLiteral(sql_, snapshot_name);
	co_await sql_.Exec("starting the initial copy", begin_sql);
	std::vector<std::string> tables = co_await CopiedTables(sql_, plan_);
	co_await OnWorker([&] { sink_->BeginTransaction(consistent_point); });
	in_transaction_ = true;
	if (resnapshot && !tables.empty()) {
		// one truncate document of the copied tables, as the plugin would write it (protocol section 11)
		std::string names;
		for (const std::string &table : tables)
			names += (names.empty() ? "" : ", ") + SqlLiteral(sql_, table);
		const std::string truncate_sql =
			"SELECT json_build_object('op', 'truncate', 'tables', json_agg(json_build_object('schema', n.nspname, "
			"'table', c.relname) ORDER BY x.n), 'cascade', false, 'restart_identity', false)::text FROM unnest(ARRAY[" +
			names +
			"]::text[]) WITH ORDINALITY x(name, n) JOIN pg_class c ON c.oid = to_regclass(x.name)"
			" JOIN pg_namespace n ON n.oid = c.relnamespace";
		PgResultHandle truncate = co_await sql_.Exec("emptying the target before the new copy", truncate_sql);
		if (!PQgetisnull(truncate.get(), 0, 0))
			co_await OnWorker([&] { sink_->Apply(ParseChange(PQgetvalue(truncate.get(), 0, 0), decoder_options_)); });
	}
	status_.snapshot_rows = 0;
	ChangeDecoder copy_decoder(decoder_options_); // used on the worker only
	for (const std::string &table : tables) {
		const std::string context = "copying " + table;
		// the table's shape first: every target then holds the table, rows or none
		std::string shape = co_await ShapeDocument(sql_, table);
		co_await OnWorker([&] { sink_->Apply(ParseChange(shape, decoder_options_)); });
		const std::string declare_sql = CopyCursorSql(sql_, table);
		co_await sql_.Exec(context, declare_sql);
		const std::string fetch_sql = "FETCH " + std::to_string(kCopyFetchRows) + " FROM mosta_copy";
		long long rows = 0;
		for (;;) {
			PgResultHandle batch = co_await sql_.Exec(context, fetch_sql);
			int count = PQntuples(batch.get());
			co_await OnWorker([&] {
				// the rows as one message of count documents: one decoding, one schema per table
				std::string documents;
				for (int row = 0; row < count; ++row) {
					documents.append(PQgetvalue(batch.get(), row, 0),
									 static_cast<std::size_t>(PQgetlength(batch.get(), row, 0)));
					documents.push_back('\n');
				}
				std::shared_ptr<const DecodedMessage> decoded = copy_decoder.Decode(documents);
				for (const Change &change : decoded->changes)
					sink_->Apply(change);
			});
			rows += count;
			if (count < kCopyFetchRows)
				break;
		}
		const std::string close_sql = "CLOSE mosta_copy";
		co_await sql_.Exec(context, close_sql);
		status_.snapshot_rows += rows;
	}
	co_await OnWorker([&] { sink_->CommitTransaction(consistent_point, consistent_point); });
	in_transaction_ = false;
	co_await FlushSink();
	const std::string commit_sql = "COMMIT";
	co_await sql_.Exec("ending the initial copy", commit_sql);
	LogLine(Label() + ": initial copy of " + std::to_string(tables.size()) + " table(s), " +
			std::to_string(status_.snapshot_rows) + " row(s), durable at " + FormatLsn(consistent_point));
	co_await PublishStatus();
}

void
TargetRunner::Dispatch(const Change &change) {
	switch (change.op) {
	case Op::Begin: {
		Lsn commit_lsn = RequiredLsn(change, change.commit_lsn, "commit_lsn");
		skipping_ = commit_lsn < sink_->DurableLsn();
		if (!skipping_) {
			sink_->BeginTransaction(commit_lsn);
			if (!change.ts.empty())
				sink_->NoteCommitTime(change.ts);
		}
		in_transaction_ = true;
		return;
	}
	case Op::Commit: {
		Lsn lsn = RequiredLsn(change, change.lsn, "lsn");
		Lsn end_lsn = RequiredLsn(change, change.end_lsn, "end_lsn");
		if (!skipping_) {
			sink_->CommitTransaction(lsn, end_lsn);
			++applied_.transactions;
		}
		in_transaction_ = false;
		if (marker_ != kInvalidLsn && end_lsn >= marker_)
			marker_reached_ = true;
		return;
	}
	case Op::Message:
		if (!change.transactional) {
			Lsn lsn = RequiredLsn(change, change.lsn, "lsn");
			if (lsn > sink_->DurableLsn()) {
				sink_->BeginTransaction(lsn);
				sink_->Apply(change);
				sink_->CommitTransaction(lsn, lsn);
			}
			if (marker_ != kInvalidLsn && lsn >= marker_)
				marker_reached_ = true;
			return;
		}
		[[fallthrough]];
	case Op::Insert:
	case Op::Update:
	case Op::Delete:
	case Op::Truncate: {
		if (!in_transaction_)
			throw std::runtime_error("change document outside a transaction (op " + std::string(OpName(change.op)) +
									 ")");
		if (!skipping_) {
			sink_->Apply(change);
			++applied_.changes;
		}
		return;
	}
	case Op::Prepare:
	case Op::CommitPrepared:
	case Op::RollbackPrepared:
		throw std::runtime_error("two-phase document (op " + std::string(OpName(change.op)) +
								 ") on a slot created without two-phase decoding");
	}
}

void
TargetRunner::StartApply(std::shared_ptr<const DecodedMessage> message) {
	applying_ = true;
	// the io thread allocated the batch and frees it (in DrainApply): the worker only reads it, so no memory
	// moves between the threads' malloc arenas
	batch_ = std::move(message);
	boost::asio::co_spawn(
		worker_,
		[this]() -> boost::asio::awaitable<void> {
			for (const Change &change : batch_->changes)
				Dispatch(change);
			co_return;
		},
		boost::asio::bind_executor(executor_, [this](std::exception_ptr error) {
			applying_ = false;
			apply_error_ = error;
			applied_signal_.cancel();
		}));
}

boost::asio::awaitable<void>
TargetRunner::DrainApply() {
	while (applying_) {
		boost::system::error_code cancelled;
		co_await applied_signal_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, cancelled));
	}
	batch_.reset();
	MergeApplied();
}

boost::asio::awaitable<void>
TargetRunner::FinishApply() {
	co_await DrainApply();
	if (apply_error_)
		std::rethrow_exception(std::exchange(apply_error_, nullptr));
}

boost::asio::awaitable<void>
TargetRunner::Stream(ReplicationStream &stream, Lsn start, const std::string &include_tables) {
	for (;;) {
		std::exception_ptr error;
		try {
			co_await StreamLoop(stream, start, include_tables);
		} catch (...) {
			error = std::current_exception();
		}
		if (!error)
			co_return;
		// the batch on the worker refers to this runner: it must end before the runner can
		co_await DrainApply();
		apply_error_ = nullptr;
		std::string reason;
		try {
			std::rethrow_exception(error);
		} catch (const RecopyNeeded &recopy) {
			reason = recopy.what();
		} catch (...) {
			throw;
		}
		co_await Recopy(stream, reason);
		start = sink_->DurableLsn();
		if (marker_ != kInvalidLsn && start >= marker_) {
			/* --once: the new copy holds everything committed before the start */
			marker_reached_ = idle_ = true;
			caught_up_at_ = std::chrono::steady_clock::now();
			co_await PublishStatus();
			co_return;
		}
	}
}

boost::asio::awaitable<void>
TargetRunner::Recopy(ReplicationStream &stream, const std::string &reason) {
	co_await OnWorker([this] { sink_->Rollback(); });
	in_transaction_ = skipping_ = false;
	co_await Warn("resnapshot", reason + ": taking a new initial copy of the target");
	co_await stream.Stop();
	// a new walsender for the new slot: PostgreSQL 15's walsender keeps the CopyDone of the stream just ended
	// (streamingDoneReceiving is reset for physical replication only, PostgreSQL bug #18754), so on the same
	// connection CREATE_REPLICATION_SLOT gives up as soon as it must wait for WAL ("could not find logical
	// decoding starting point")
	stream.Close();
	co_await stream.Connect();
	co_await stream.DropSlot(slot_, false); // released by the old walsender before it ended the stream
	co_await PrepareSlot(stream);			// the slot is gone while the sink holds data: a re-snapshot
}

boost::asio::awaitable<void>
TargetRunner::StreamLoop(ReplicationStream &stream, Lsn start, const std::string &include_tables) {
	std::vector<PluginOption> plugin_options{{"format-version", std::to_string(kFormatVersion)},
											 {"include-lsn", "on"},
											 {"include-types", "on"},
											 {"batch-bytes", "65536"},
											 {"include-xids", "on"},
											 {"include-timestamp", "on"},
											 {"partition-root", "on"}};
	if (!include_tables.empty())
		plugin_options.emplace_back("include-tables", include_tables);
	co_await stream.Start(slot_, start, plugin_options);
	decoder_.StartSession(); // a new decoding session: no relation known
	if (status_.status == "error")
		LogLine(Label() + ": streaming again from " + FormatLsn(start) + " (in error until the target applies)");
	else
		SetState("streaming", "from " + FormatLsn(start));
	co_await PublishStatus();
	using Clock = ReplicationStream::Clock;
	Clock::time_point next_status = Clock::now() + config_.status_interval;
	// What the io thread has read (the worker's in_transaction_ and marker_reached_ trail it by one batch).
	bool reading_transaction = false;
	bool marker_read = false;
	for (;;) {
		if (!reading_transaction && (*stop_ || marker_read))
			break;
		std::optional<XLogMessage> message = co_await stream.Next(Clock::now() + config_.poll_interval);
		if (message) {
			idle_ = false;
			// a two-stage pipeline: this thread parses the next message while the worker applies the last one
			std::shared_ptr<const DecodedMessage> decoded = decoder_.Decode(message->data);
			for (const Change &change : decoded->changes) {
				if (change.op == Op::Begin)
					reading_transaction = true;
				else if (change.op == Op::Commit)
					reading_transaction = false;
				if (marker_ != kInvalidLsn &&
					((change.op == Op::Commit && change.end_lsn >= marker_) ||
					 (change.op == Op::Message && !change.transactional && change.lsn >= marker_)))
					marker_read = true;
			}
			co_await FinishApply();
			StartApply(std::move(decoded));
		} else {
			if (stream.Ended())
				throw PgError("streaming from slot " + slot_, "", "the server ended the replication stream");
			co_await FinishApply();
			if (!in_transaction_) {
				co_await FlushSink();
				/* nothing arrived within the poll interval and all is durable: caught up */
				idle_ = true;
				caught_up_at_ = std::chrono::steady_clock::now();
			}
		}
		if (Clock::now() >= next_status) {
			if (!reading_transaction) {
				co_await FinishApply();
				co_await FlushSink();
			}
			co_await PublishStatus();
			next_status = Clock::now() + config_.status_interval;
		}
	}
	co_await FinishApply();
	co_await FlushSink();
	if (marker_reached_) {
		/* --once: everything committed before the start is durable in the target */
		idle_ = true;
		caught_up_at_ = std::chrono::steady_clock::now();
	}
	co_await stream.Stop();
	LogLine(Label() + ": stopped, confirmed " + FormatLsn(status_.applied_lsn) +
			(marker_reached_ ? " (--once: caught up)" : ""));
	co_await PublishStatus();
}

} // namespace mosta::sidecar
