/*
 * bidir_reverse.cpp
 *     The reverse direction of a bidirectional rule (see bidir_reverse.hpp).
 */
#include "app/bidir_reverse.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sqlite3.h>

#include "app/bidir_checks.hpp"
#include "app/bidir_conflicts.hpp"
#include "app/delivery.hpp"
#include "app/log.hpp"
#include "app/target_path.hpp"
#include "bidir/names.hpp"
#include "decode/change.hpp"
#include "pg/errors.hpp"
#include "pg/replication_stream.hpp"
#include "sink/pg_sink.hpp"
#include "sink/sqlite_capture.hpp"
#include "sink/sqlite_db.hpp"
#include "util/backoff.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

namespace {

// kCapturedBatch is how many captured SQLite changes one poll reads (and makes durable in the source together).
constexpr std::size_t kCapturedBatch = 1000;

// kBusyTimeout is how long the reverse direction's SQLite connection waits for the forward sink's write lock.
constexpr int kBusyTimeoutMs = 5000;

// A run that lasted this long was healthy: the next failure is a new outage (as the rule's supervisor counts).
constexpr std::chrono::seconds kHealthyRun{30};

// OpenExisting opens the SQLite file at path read-write without creating it; null when it does not exist yet.
SqliteHandle
OpenExisting(const std::string &path) {
	if (!std::filesystem::exists(path))
		return nullptr;
	SqliteHandle db = OpenSqlite(path);
	sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
	return db;
}

} // namespace

ReverseRunner::ReverseRunner(const Config &config, RulePlan plan, ReplicaInfo target)
	: config_(config), plan_(std::move(plan)), target_(std::move(target)) {}

std::string
ReverseRunner::Label() const {
	return "rule " + plan_.name + ", reverse from " + target_.project + "." + target_.name;
}

void
ReverseRunner::Wait(const std::atomic<bool> &stop) const {
	auto until = std::chrono::steady_clock::now() + config_.poll_interval;
	while (!stop && std::chrono::steady_clock::now() < until)
		std::this_thread::sleep_for(
			std::min<std::chrono::milliseconds>(config_.poll_interval, std::chrono::milliseconds(50)));
}

void
ReverseRunner::Run(const std::atomic<bool> &stop) {
	PgSinkOptions options;
	options.conninfo = config_.source;
	options.origin = ReverseOriginName(plan_.name, target_.project, target_.name);
	options.on_conflict = MakeConflictHandler(config_.source, plan_.name, target_.name, plan_.conflict_resolution);
	options.incoming_side = Side::Target;
	PgSink sink(options);
	durable = sink.DurableLsn();
	LogLine(Label() + ": the source holds up to " + FormatLsn(durable) + " (origin " + options.origin + ")");
	if (target_.dialect == "sqlite") {
		RunSqlite(sink, stop);
		return;
	}
	asio::io_context context;
	std::exception_ptr error;
	asio::co_spawn(context, StreamPostgres(sink, stop), [&error](std::exception_ptr e) { error = e; });
	context.run();
	if (error)
		std::rethrow_exception(error);
}

void
ReverseRunner::RunSqlite(PgSink &sink, const std::atomic<bool> &stop) {
	std::string path = ResolveTargetPath(config_.data_dir, target_);
	SqliteHandle db;
	bool said_waiting = false;
	while (!stop) {
		if (!db)
			db = OpenExisting(path);
		if (!db || !CaptureInstalled(db.get())) {
			// the forward direction creates the file and installs the capture with its first copy
			if (!said_waiting)
				LogLine(Label() + ": waiting for the capture triggers in " + path +
						" (the forward copy installs them)");
			said_waiting = true;
			if (config_.once)
				return;
			Wait(stop);
			continue;
		}
		auto after = static_cast<std::int64_t>(sink.DurableLsn());
		std::vector<CapturedChange> captured = ReadCaptured(db.get(), after, kCapturedBatch);
		for (const CapturedChange &change : captured) {
			ParsedChange parsed = ParseChange(change.document);
			Lsn at = SeqLsn(change.seq);
			sink.BeginTransaction(at);
			if (!change.at.empty())
				sink.NoteCommitTime(change.at);
			sink.Apply(parsed);
			sink.CommitTransaction(at, at);
			++transactions;
		}
		if (!captured.empty()) {
			sink.Flush();
			durable = sink.DurableLsn();
			changes += static_cast<long long>(captured.size());
			PurgeCaptured(db.get(), static_cast<std::int64_t>(sink.DurableLsn()));
		}
		if (captured.size() < kCapturedBatch) {
			caught_up = true;
			if (config_.once)
				return;
			Wait(stop);
		}
	}
}

asio::awaitable<std::string>
ReverseRunner::TargetTables(PgConnection &sql) const {
	if (plan_.collections.size() == 1 && plan_.collections[0] == "*")
		co_return std::string();
	auto escape = [](std::string_view text) {
		std::string out;
		for (char c : text) {
			if (c == '\\' || c == ',' || c == '.' || c == '*')
				out += '\\';
			out += c;
		}
		return out;
	};
	// the canonical names of the catalog, schema.table, as the target names them too
	std::string names;
	for (const std::string &name : plan_.collections)
		names += (names.empty() ? "" : ", ") + SqlLiteral(sql, name);
	const std::string split_sql =
		"SELECT (parse_ident(x.name))[1], (parse_ident(x.name))[2] FROM unnest(ARRAY[" + names + "]::text[]) x(name)";
	PgResultHandle split = co_await sql.Exec("reading the rule's collections", split_sql);
	std::string include_tables;
	for (int row = 0; row < PQntuples(split.get()); ++row)
		include_tables += (row == 0 ? "" : ",") + escape(PQgetvalue(split.get(), row, 0)) + "." +
						  escape(PQgetvalue(split.get(), row, 1));
	co_return include_tables;
}

asio::awaitable<void>
ReverseRunner::StreamPostgres(PgSink &sink, const std::atomic<bool> &stop) {
	auto executor = co_await asio::this_coro::executor;
	const std::string slot = ReverseOriginName(plan_.name, target_.project, target_.name);
	const std::string side = "target " + target_.project + "." + target_.name;
	PgConnection sql(executor);
	co_await sql.Connect(target_.uri, ConnectionKind::Sql);
	co_await CheckBidirectionalSide(sql, plan_, side);
	SlotState state = co_await ReadSlotState(sql, slot);
	// everything up to confirmed is held by the source, or was the forward direction's own (dropped)
	Lsn confirmed = sink.DurableLsn();
	ReplicationStreamOptions stream_options;
	stream_options.conninfo = target_.uri;
	stream_options.status_interval = std::min(config_.status_interval, std::chrono::milliseconds(10'000));
	ReplicationStream stream(executor, stream_options, [&confirmed] { return confirmed; });
	co_await stream.Connect();
	if (!state.exists) {
		co_await stream.CreateSlot(slot, "mostajs", SlotSnapshot::Nothing);
		if (sink.DurableLsn() == kInvalidLsn)
			LogLine(Label() + ": created slot " + slot + " on " + side);
		else // the source applied from it before: the slot was dropped, what the side wrote meanwhile is not read
			LogLine(Label() + ": WARNING: slot " + slot + " was missing on " + side +
					" (dropped?) although the source "
					"holds its changes up to " +
					FormatLsn(sink.DurableLsn()) + ": created again; what was written on " + side +
					" since the old slot's last confirmed position is not replicated to the source");
	}
	std::vector<PluginOption> plugin_options{{"format-version", std::to_string(kFormatVersion)},
											 {"include-lsn", "on"},
											 {"include-xids", "on"},
											 {"include-timestamp", "on"},
											 {"include-origin", "on"},
											 // a side's schema changes are not replicated (docs/bidirectional.md), nor
											 // its applications' logical messages
											 {"include-messages", "off"},
											 {"batch-bytes", "65536"},
											 {"partition-root", "on"}};
	// only the rule's tables: other rules' reverse directions read the same database
	std::string include_tables = co_await TargetTables(sql);
	if (!include_tables.empty())
		plugin_options.emplace_back("include-tables", include_tables);
	co_await stream.Start(slot, sink.DurableLsn(), plugin_options);
	LogLine(Label() + ": streaming slot " + slot + " on " + side + " from " + FormatLsn(sink.DurableLsn()));
	ChangeDecoder decoder;
	decoder.StartSession();
	// what the forward direction applied on the target carries its origin: never sent back to the source
	TargetDelivery delivery(sink, ForwardOriginName(plan_.name, target_.project, target_.name));
	using Clock = ReplicationStream::Clock;
	auto next_flush = Clock::now() + config_.status_interval;
	auto flush = [&] {
		delivery.Flush();
		durable = sink.DurableLsn();
		// after a flush with no transaction open, everything read is durable or was dropped
		confirmed = std::max({confirmed, sink.DurableLsn(), delivery.LastClosed()});
		DeliveryCounts counts = delivery.TakeCounts();
		changes += counts.changes;
		transactions += counts.transactions;
	};
	for (;;) {
		if (stop && !delivery.InTransaction())
			break;
		std::optional<XLogMessage> message = co_await stream.Next(Clock::now() + config_.poll_interval);
		if (message) {
			std::shared_ptr<const DecodedMessage> batch = decoder.Decode(message->data);
			delivery.Deliver(batch->changes);
			caught_up = false;
		} else {
			if (stream.Ended())
				throw PgError("streaming from slot " + slot + " on " + side, "", "the server ended the stream");
			if (!delivery.InTransaction()) {
				flush();
				caught_up = true;
				if (config_.once)
					break;
			}
		}
		if (Clock::now() >= next_flush && !delivery.InTransaction()) {
			flush();
			next_flush = Clock::now() + config_.status_interval;
		}
	}
	if (!delivery.InTransaction())
		flush();
	co_await stream.Stop();
	LogLine(Label() + ": stopped, slot " + slot + " confirmed " + FormatLsn(confirmed));
}

bool
SqliteFilePromoted(const std::string &data_dir, const ReplicaInfo &replica) {
	try {
		std::string path = ResolveTargetPath(data_dir, replica);
		if (!std::filesystem::exists(path))
			return false;
		sqlite3 *raw = nullptr;
		int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
		SqliteHandle db(raw);
		return rc == SQLITE_OK && SqliteTargetIsPromoted(db.get());
	} catch (const std::exception &) {
		return false; // unreadable now: the forward direction reports it
	}
}

asio::awaitable<void>
SuperviseReverse(const Config &config, RulePlan plan, ReplicaInfo target, const bool *stop, RuleProgress &progress,
				 bool *failed) {
	auto executor = co_await asio::this_coro::executor;
	TargetStatus &status = ProgressEntry(progress, plan, target);
	PgConnection sql(executor);
	Backoff backoff(BackoffPolicy{});
	asio::steady_timer timer(executor);
	const std::string rule = plan.name;
	// Publish writes the target's row with the reverse direction's state (best effort: the forward runner writes
	// it too at each status interval)
	auto publish = [&]() -> asio::awaitable<void> {
		try {
			if (!sql.IsOpen())
				co_await sql.Connect(config.source, ConnectionKind::Sql);
			co_await WriteStatus(sql, rule, progress.Aggregate(), status);
		} catch (const std::exception &e) {
			sql.Close();
			LogLine("rule " + rule + ": could not write the reverse direction's status: " + e.what());
		}
	};
	auto sleep = [&](std::chrono::milliseconds delay) -> asio::awaitable<void> {
		timer.expires_after(delay);
		boost::system::error_code ignored;
		co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
	};
	for (;;) {
		// a SQLite side's file is the forward sink's to create and set up (WAL, capture triggers): the reverse
		// direction opens it once that sink has opened it (a PostgreSQL side's reverse slot is created at once, so
		// that nothing written there after the initial copy is missed)
		while (target.dialect == "sqlite" && !*stop && (status.status == "pending" || status.status == "snapshot"))
			co_await sleep(std::min(config.poll_interval, std::chrono::milliseconds(200)));
		if (*stop)
			co_return;
		auto runner = std::make_unique<ReverseRunner>(config, plan, target);
		std::atomic<bool> stop_flag{false};
		std::atomic<bool> done{false};
		std::exception_ptr error;
		auto started = std::chrono::steady_clock::now();
		std::thread thread([&] {
			try {
				runner->Run(stop_flag);
			} catch (...) {
				error = std::current_exception();
			}
			done = true;
		});
		while (!done) {
			if (*stop)
				stop_flag = true;
			co_await sleep(std::min(config.poll_interval, std::chrono::milliseconds(200)));
			if (runner->caught_up && !status.reverse_error.empty()) {
				LogLine(runner->Label() + ": recovered at " + FormatLsn(runner->durable));
				status.reverse_error.clear();
				backoff.Reset();
				co_await publish();
			}
		}
		thread.join();
		if (!error) {
			co_return;
		}
		std::string text = DescribeError(error);
		LogLine(runner->Label() + ": error: " + text);
		status.reverse_error = text;
		co_await publish();
		if (config.once) {
			*failed = true;
			co_return;
		}
		if (*stop)
			co_return;
		if (std::chrono::steady_clock::now() - started > kHealthyRun)
			backoff.Reset();
		std::chrono::milliseconds delay = backoff.NextDelay();
		LogLine(runner->Label() + ": retrying in " + std::to_string(delay.count()) + " ms");
		auto until = std::chrono::steady_clock::now() + delay;
		while (!*stop && std::chrono::steady_clock::now() < until)
			co_await sleep(std::min(config.poll_interval, std::chrono::milliseconds(200)));
		if (*stop)
			co_return;
	}
}

} // namespace mosta::sidecar
