/*
 * rule_runner.cpp
 *     RuleRunner (see rule_runner.hpp).
 */
#include "app/rule_runner.hpp"

#include <algorithm>
#include <stdexcept>

#include "app/log.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/errors.hpp"
#include "sink/json_archive_sink.hpp"
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

// FilePath turns a replica location into a path: "file://[localhost]/p" and "sqlite://p" lose their prefix.
std::string
FilePath(const std::string &uri) {
	for (std::string prefix : {"file://localhost", "file://", "sqlite://"}) {
		if (uri.rfind(prefix, 0) == 0)
			return uri.substr(prefix.size());
	}
	return uri;
}

// ParseLsnField reads an LSN field of a document; throws naming the field when it is missing or bad.
Lsn
ParseLsnField(const Change &change, const std::string &text, const char *field) {
	std::optional<Lsn> lsn = ParseLsn(text);
	if (!lsn)
		throw std::runtime_error(std::string("change document without a valid \"") + field + "\" (op " +
								 std::string(OpName(change.op)) + "): is include-lsn on?");
	return *lsn;
}

// kTablesOfStar lists the tables '*' covers, in the copy's snapshot.
constexpr const char *kTablesOfStar =
	"SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind = 'r' AND c.relpersistence = 'p'"
	"   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'mosta', 'pg_toast')"
	"   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'"
	"   AND (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))"
	" ORDER BY 1";

} // namespace

std::unique_ptr<Sink>
OpenSink(const ReplicaInfo &replica, const std::string &slot, const std::vector<std::string> &collections) {
	std::string path = FilePath(replica.uri);
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
	if (replica.dialect == "jsonl")
		return std::make_unique<JsonArchiveSink>(path, kJsonArchiveFileBytes);
	throw std::invalid_argument("replica " + replica.project + "." + replica.name + ": dialect " + replica.dialect +
								" has no sink");
}

RuleRunner::RuleRunner(boost::asio::any_io_executor executor, const Config &config, RulePlan plan, const bool *stop)
	: executor_(executor), config_(config), plan_(std::move(plan)), stop_(stop), slot_(SlotName(plan_.name)),
	  sql_(executor) {}

void
RuleRunner::SetState(const std::string &state, const std::string &detail) {
	if (status_.status != state || !detail.empty())
		LogLine("rule " + plan_.name + ": " + state + (detail.empty() ? "" : ": " + detail));
	status_.status = state;
}

Lsn
RuleRunner::MinDurableLsn() const noexcept {
	Lsn lsn = kInvalidLsn;
	bool first = true;
	for (const auto &sink : sinks_) {
		lsn = first ? sink->DurableLsn() : std::min(lsn, sink->DurableLsn());
		first = false;
	}
	return lsn;
}

void
RuleRunner::FlushSinks() {
	for (auto &sink : sinks_)
		sink->Flush();
	status_.confirmed_lsn = MinDurableLsn();
}

void
RuleRunner::RollbackSinks() noexcept {
	for (auto &sink : sinks_)
		sink->Rollback();
	in_transaction_ = false;
}

boost::asio::awaitable<void>
RuleRunner::PublishStatus() {
	std::vector<ReplicaStatusRow> rows;
	for (std::size_t i = 0; i < plan_.targets.size(); ++i) {
		ReplicaStatusRow row;
		row.project = plan_.targets[i].project;
		row.replica = plan_.targets[i].name;
		row.status = status_.status == "error" ? "error" : "up";
		row.applied_lsn = i < sinks_.size() ? sinks_[i]->DurableLsn() : kInvalidLsn;
		if (status_.status != "error" && caught_up_at_)
			row.lag_ms = idle_ ? 0
			                   : std::chrono::duration_cast<std::chrono::milliseconds>(
			                         std::chrono::steady_clock::now() - *caught_up_at_)
			                         .count();
		row.last_error = status_.status == "error" ? status_.last_error : "";
		rows.push_back(std::move(row));
	}
	co_await WriteStatus(sql_, plan_.name, status_, rows);
}

boost::asio::awaitable<void>
RuleRunner::ReportError(const std::string &error) {
	try {
		RollbackSinks();
		status_.last_error = error;
		SetState("error", error);
		if (!sql_.IsOpen())
			co_await sql_.Connect(config_.source, ConnectionKind::Sql);
		co_await PublishStatus();
	} catch (const std::exception &e) {
		LogLine("rule " + plan_.name + ": could not write its error status: " + e.what());
	}
}

boost::asio::awaitable<void>
RuleRunner::Run() {
	co_await sql_.Connect(config_.source, ConnectionKind::Sql);
	// counters accumulate over runs: start from what the catalog holds
	const std::string stats_sql = "SELECT snapshot_rows, changes_applied, transactions FROM mosta.rule_stats WHERE rule = " +
								  SqlLiteral(sql_, plan_.name);
	PgResultHandle stats = co_await sql_.Exec("reading mosta.rule_stats", stats_sql);
	if (PQntuples(stats.get()) == 1) {
		status_.snapshot_rows = std::stoll(PQgetvalue(stats.get(), 0, 0));
		status_.changes_applied = std::stoll(PQgetvalue(stats.get(), 0, 1));
		status_.transactions = std::stoll(PQgetvalue(stats.get(), 0, 2));
	}
	sinks_.clear();
	for (const ReplicaInfo &target : plan_.targets) {
		sinks_.push_back(OpenSink(target, slot_, plan_.collections));
		LogLine("rule " + plan_.name + ": sink " + MaskCredentials(target.uri) + " (" + target.dialect +
				") holds up to " + FormatLsn(sinks_.back()->DurableLsn()));
	}
	skipping_.assign(sinks_.size(), false);
	status_.confirmed_lsn = MinDurableLsn();

	ReplicationStreamOptions options;
	options.conninfo = config_.source;
	options.status_interval = std::min(config_.status_interval, std::chrono::milliseconds(10'000));
	ReplicationStream stream(executor_, options, [this] { return MinDurableLsn(); });
	co_await stream.Connect();

	const std::string slot_sql = "SELECT 1 FROM pg_replication_slots WHERE slot_name = " + SqlLiteral(sql_, slot_);
	PgResultHandle slot_result = co_await sql_.Exec("looking up the slot", slot_sql);
	bool exists = PQntuples(slot_result.get()) > 0;
	bool incomplete = std::any_of(sinks_.begin(), sinks_.end(),
								  [](const auto &sink) { return sink->DurableLsn() == kInvalidLsn; });
	if (exists && incomplete) {
		LogLine("rule " + plan_.name + ": slot " + slot_ +
				" exists but a sink holds no checkpoint (an interrupted initial copy): dropping it to start over");
		co_await stream.DropSlot(slot_, false);
		exists = false;
	}
	if (!exists) {
		SetState("snapshot", "creating slot " + slot_);
		co_await PublishStatus();
		CreatedSlot created = co_await stream.CreateSlot(slot_, "mostajs", SlotSnapshot::Export);
		LogLine("rule " + plan_.name + ": slot " + slot_ + " created at " + FormatLsn(created.consistent_point));
		co_await Copy(created.snapshot_name, created.consistent_point);
	}
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
	if (!(plan_.collections.size() == 1 && plan_.collections[0] == "*")) {
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
		for (int row = 0; row < PQntuples(filter.get()); ++row)
			include_tables_ += (row == 0 ? "" : ",") + escape(PQgetvalue(filter.get(), row, 0)) + "." +
							   escape(PQgetvalue(filter.get(), row, 1));
		if (include_tables_.empty())
			throw std::runtime_error("none of the rule's collections exists any more");
	}
	co_await Stream(stream, MinDurableLsn());
}

boost::asio::awaitable<void>
RuleRunner::Copy(const std::string &snapshot_name, Lsn consistent_point) {
	const std::string begin_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " +
								  SqlLiteral(sql_, snapshot_name);
	co_await sql_.Exec("starting the initial copy", begin_sql);
	std::vector<std::string> tables;
	if (plan_.collections.size() == 1 && plan_.collections[0] == "*") {
		const std::string star_sql = kTablesOfStar;
		PgResultHandle result = co_await sql_.Exec("listing the tables of '*'", star_sql);
		for (int row = 0; row < PQntuples(result.get()); ++row)
			tables.emplace_back(PQgetvalue(result.get(), row, 0));
	} else {
		tables = plan_.collections;
	}
	for (auto &sink : sinks_)
		sink->BeginTransaction(consistent_point);
	in_transaction_ = true;
	status_.snapshot_rows = 0;
	for (const std::string &table : tables) {
		const std::string context = "copying " + table;
		const std::string declare_sql = "DECLARE mosta_copy NO SCROLL CURSOR FOR SELECT mosta.snapshot_documents(" +
										SqlLiteral(sql_, table) + "::regclass)";
		co_await sql_.Exec(context, declare_sql);
		const std::string fetch_sql = "FETCH " + std::to_string(kCopyFetchRows) + " FROM mosta_copy";
		long long rows = 0;
		for (;;) {
			PgResultHandle batch = co_await sql_.Exec(context, fetch_sql);
			int count = PQntuples(batch.get());
			for (int row = 0; row < count; ++row) {
				Change change = ParseChange(std::string_view(PQgetvalue(batch.get(), row, 0),
															 static_cast<std::size_t>(PQgetlength(batch.get(), row, 0))));
				for (auto &sink : sinks_)
					sink->Apply(change);
			}
			rows += count;
			if (count < kCopyFetchRows)
				break;
		}
		const std::string close_sql = "CLOSE mosta_copy";
		co_await sql_.Exec(context, close_sql);
		status_.snapshot_rows += rows;
	}
	for (auto &sink : sinks_)
		sink->CommitTransaction(consistent_point, consistent_point);
	in_transaction_ = false;
	FlushSinks();
	const std::string commit_sql = "COMMIT";
	co_await sql_.Exec("ending the initial copy", commit_sql);
	LogLine("rule " + plan_.name + ": initial copy of " + std::to_string(tables.size()) + " table(s), " +
			std::to_string(status_.snapshot_rows) + " row(s), durable at " + FormatLsn(consistent_point));
	co_await PublishStatus();
}

void
RuleRunner::Dispatch(const Change &change) {
	switch (change.op) {
	case Op::Begin: {
		Lsn commit_lsn = ParseLsnField(change, change.commit_lsn, "commit_lsn");
		for (std::size_t i = 0; i < sinks_.size(); ++i) {
			skipping_[i] = commit_lsn < sinks_[i]->DurableLsn();
			if (!skipping_[i])
				sinks_[i]->BeginTransaction(commit_lsn);
		}
		in_transaction_ = true;
		return;
	}
	case Op::Commit: {
		Lsn lsn = ParseLsnField(change, change.lsn, "lsn");
		Lsn end_lsn = ParseLsnField(change, change.end_lsn, "end_lsn");
		bool applied = false;
		for (std::size_t i = 0; i < sinks_.size(); ++i) {
			if (!skipping_[i]) {
				sinks_[i]->CommitTransaction(lsn, end_lsn);
				applied = true;
			}
		}
		in_transaction_ = false;
		if (applied) {
			++status_.transactions;
			status_.applied_any = true;
		}
		if (marker_ != kInvalidLsn && end_lsn >= marker_)
			marker_reached_ = true;
		return;
	}
	case Op::Message:
		if (!change.transactional) {
			Lsn lsn = ParseLsnField(change, change.lsn, "lsn");
			for (auto &sink : sinks_) {
				if (lsn > sink->DurableLsn()) {
					sink->BeginTransaction(lsn);
					sink->Apply(change);
					sink->CommitTransaction(lsn, lsn);
				}
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
		bool applied = false;
		for (std::size_t i = 0; i < sinks_.size(); ++i) {
			if (!skipping_[i]) {
				sinks_[i]->Apply(change);
				applied = true;
			}
		}
		if (applied)
			++status_.changes_applied;
		return;
	}
	case Op::Prepare:
	case Op::CommitPrepared:
	case Op::RollbackPrepared:
		throw std::runtime_error("two-phase document (op " + std::string(OpName(change.op)) +
								 ") on a slot created without two-phase decoding");
	}
}

boost::asio::awaitable<void>
RuleRunner::Stream(ReplicationStream &stream, Lsn start) {
	std::vector<PluginOption> plugin_options{
		{"include-lsn", "on"}, {"include-types", "on"}, {"batch-bytes", "65536"}, {"include-xids", "on"}};
	if (!include_tables_.empty())
		plugin_options.emplace_back("include-tables", include_tables_);
	co_await stream.Start(slot_, start, plugin_options);
	SetState("streaming", "from " + FormatLsn(start));
	co_await PublishStatus();
	using Clock = ReplicationStream::Clock;
	Clock::time_point next_status = Clock::now() + config_.status_interval;
	for (;;) {
		if (!in_transaction_ && (*stop_ || marker_reached_))
			break;
		std::optional<XLogMessage> message = co_await stream.Next(Clock::now() + config_.poll_interval);
		if (message) {
			idle_ = false;
			for (const Change &change : ParseChangeLines(message->data))
				Dispatch(change);
		} else {
			if (stream.Ended())
				throw PgError("streaming from slot " + slot_, "", "the server ended the replication stream");
			if (!in_transaction_) {
				FlushSinks();
				/* nothing arrived within the poll interval and all is durable: caught up */
				idle_ = true;
				caught_up_at_ = std::chrono::steady_clock::now();
			}
		}
		if (Clock::now() >= next_status) {
			if (!in_transaction_)
				FlushSinks();
			co_await PublishStatus();
			next_status = Clock::now() + config_.status_interval;
		}
	}
	FlushSinks();
	co_await stream.Stop();
	LogLine("rule " + plan_.name + ": stopped, confirmed " + FormatLsn(status_.confirmed_lsn) +
			(marker_reached_ ? " (--once: caught up)" : ""));
	co_await PublishStatus();
}

} // namespace mosta::sidecar
