/*
 * rule_runner.cpp
 *     RuleRunner: running, streaming, fan-out, failures and status (see rule_runner.hpp; the slot and the copies
 *     are in rule_slot.cpp).
 */
#include "app/rule_runner.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "app/bidir_checks.hpp"
#include "app/log.hpp"
#include "pg/errors.hpp"

namespace mosta::sidecar {

RuleRunner::RuleRunner(boost::asio::any_io_executor executor, const Config &config, RulePlan plan, const bool *stop,
					   RuleProgress &progress, std::set<std::string> recopy)
	: executor_(executor), config_(config), plan_(std::move(plan)), stop_(stop), progress_(progress),
	  recopy_(std::move(recopy)), slot_(RuleSlotName(plan_.name)),
	  sql_(executor), decoder_options_{std::any_of(
						  plan_.targets.begin(), plan_.targets.end(),
						  [](const ReplicaInfo &target) { return target.dialect == "jsonl"; })},
	  decoder_(decoder_options_) {
	for (const ReplicaInfo &target : plan_.targets)
		channels_.push_back(std::make_unique<TargetChannel>(executor_, config_, plan_, target,
															ProgressEntry(progress_, plan_, target)));
}

RuleRunner::~RuleRunner() = default;

std::string
RuleRunner::Label() const {
	return "rule " + plan_.name;
}

ReplicationStreamOptions
RuleRunner::StreamOptions() const {
	ReplicationStreamOptions options;
	options.conninfo = config_.source;
	options.status_interval = std::min(config_.status_interval, std::chrono::milliseconds(10'000));
	return options;
}

Lsn
RuleRunner::ConfirmLsn() const {
	return std::max(positions_.Minimum(), slot_confirmed_);
}

bool
RuleRunner::TargetFailed() const {
	return std::any_of(channels_.begin(), channels_.end(), [](const auto &channel) { return channel->final_error; });
}

boost::asio::awaitable<void>
RuleRunner::Run() {
	std::exception_ptr error;
	try {
		co_await sql_.Connect(config_.source, ConnectionKind::Sql);
		// full old images and, for last-write-wins, commit times on the source (a PostgreSQL target is checked
		// by its reverse direction)
		if (plan_.Bidirectional())
			co_await CheckBidirectionalSide(sql_, plan_, "the source");
		bool all_done = true;
		for (auto &channel : channels_) {
			co_await LoadCounters(sql_, plan_.name, channel->Status());
			all_done = all_done && channel->Status().status == "done";
		}
		if (plan_.mode == "snapshot" && all_done) {
			LogLine(Label() + ": snapshot already done");
			co_return;
		}
		co_await OpenTargets();
		stream_ = std::make_unique<ReplicationStream>(executor_, StreamOptions(), [this] { return ConfirmLsn(); });
		co_await stream_->Connect();
		co_await PrepareSlot();
		co_await CopyPending();
		co_await HandleFailures();
		if (plan_.mode == "snapshot") {
			for (auto &channel : channels_)
				if (channel->Status().status == "snapshot")
					channel->SetState("done", "initial copy complete");
			LogLine(Label() + ": initial copy complete, dropping slot " + slot_);
			co_await stream_->DropSlot(slot_, false);
			co_await PublishAll();
			co_return;
		}
		if (config_.once) {
			const std::string heartbeat_sql = "SELECT mosta_heartbeat()::text";
			PgResultHandle heartbeat = co_await sql_.Exec("writing the --once heartbeat", heartbeat_sql);
			marker_ = ParseLsn(PQgetvalue(heartbeat.get(), 0, 0)).value_or(kInvalidLsn);
		}
		include_tables_ = co_await IncludeTables();
		co_await Stream();
	} catch (...) {
		error = std::current_exception();
	}
	// no worker may hold a batch of this runner once it returns
	co_await DrainAll();
	if (error)
		std::rethrow_exception(error);
}

boost::asio::awaitable<void>
RuleRunner::OpenTargets() {
	for (auto &channel : channels_) {
		try {
			co_await channel->Open();
			positions_.Set(channel->Name(), channel->Durable());
			channel->attach = true;
			if (recopy_.count(channel->Name()) != 0)
				channel->needs_copy = true;
		} catch (const std::exception &e) {
			channel->Status().last_error = e.what();
			channel->SetState("error", e.what());
			channel->reopen = true;
			channel->final_error = config_.once;
			channel->retry_at = std::chrono::steady_clock::now() + channel->backoff.NextDelay();
		}
	}
}

boost::asio::awaitable<void>
RuleRunner::Stream() {
	for (;;) {
		std::vector<std::string> attached;
		for (auto &channel : channels_) {
			if (!channel->attach || channel->Failed() || channel->needs_copy || !channel->IsOpen())
				continue;
			channel->attach = false;
			positions_.Set(channel->Name(), channel->Durable());
			positions_.Attach(channel->Name());
			attached.push_back(channel->Name());
		}
		Lsn start = ConfirmLsn();
		if (!attached.empty() && positions_.AttachedTargets().size() != attached.size()) {
			std::string names;
			for (const std::string &name : attached)
				names += (names.empty() ? "" : ", ") + name;
			LogLine(Label() + ": restarting the stream of slot " + slot_ + " from " + FormatLsn(start) +
					" to attach target(s) " + names + " (the targets ahead skip what they hold)");
		}
		bool restart = co_await StreamLoop(start);
		if (!restart)
			co_return;
		co_await stream_->Stop();
		// a new walsender: PostgreSQL 15's walsender keeps the CopyDone of the stream just ended (bug #18754)
		stream_->Close();
		co_await stream_->Connect();
		SlotState slot = co_await ReadSlotState(sql_, slot_);
		slot_confirmed_ = std::max(slot_confirmed_, slot.confirmed_flush.value_or(kInvalidLsn));
		co_await CopyPending();
		co_await HandleFailures();
	}
}

boost::asio::awaitable<bool>
RuleRunner::StreamLoop(Lsn start) {
	restart_ = false;
	if (marker_ != kInvalidLsn && positions_.Minimum() >= marker_) {
		/* --once: every target holds everything committed before the start (a new copy) */
		for (auto &channel : channels_) {
			channel->idle = true;
			channel->caught_up_at = std::chrono::steady_clock::now();
		}
		co_await PublishAll();
		co_return false;
	}
	co_await StartStream(start);
	co_await PublishAll();
	using Clock = ReplicationStream::Clock;
	Clock::time_point next_status = Clock::now() + config_.status_interval;
	bool reading_transaction = false; // what the io thread has read (the targets trail it)
	bool marker_read = false;
	for (;;) {
		if (!reading_transaction && (*stop_ || marker_read || restart_))
			break;
		std::optional<XLogMessage> message = co_await stream_->Next(Clock::now() + config_.poll_interval);
		if (message) {
			// parsed once, on the io thread, for every target
			SharedBatch batch = decoder_.Decode(message->data);
			for (const Change &change : batch->changes) {
				if (change.op == Op::Begin)
					reading_transaction = true;
				else if (change.op == Op::Commit)
					reading_transaction = false;
				std::optional<Lsn> closed = ClosedPosition(change);
				if (marker_ != kInvalidLsn && closed && *closed >= marker_)
					marker_read = true;
			}
			co_await FanOut(batch);
		} else {
			if (stream_->Ended())
				throw PgError("streaming from slot " + slot_, "", "the server ended the replication stream");
			if (!reading_transaction) {
				co_await FlushAll();
				/* nothing arrived within the poll interval and all is durable: caught up */
				for (auto &channel : channels_) {
					if (!positions_.Attached(channel->Name()) || channel->Failed())
						continue;
					channel->idle = true;
					channel->caught_up_at = Clock::now();
				}
			}
		}
		co_await HandleFailures();
		if (Clock::now() >= next_status) {
			if (!reading_transaction)
				co_await FlushAll();
			co_await HandleFailures();
			co_await RetryDue();
			co_await PublishAll();
			next_status = Clock::now() + config_.status_interval;
		}
	}
	co_return co_await EndStream(marker_read);
}

boost::asio::awaitable<void>
RuleRunner::StartStream(Lsn start) {
	std::vector<PluginOption> plugin_options{{"format-version", std::to_string(kFormatVersion)},
											 {"include-lsn", "on"},
											 {"batch-bytes", "65536"},
											 {"include-xids", "on"},
											 {"include-timestamp", "on"},
											 {"partition-root", "on"}};
	if (!include_tables_.empty())
		plugin_options.emplace_back("include-tables", include_tables_);
	// the origin of each transaction: a target drops what came from itself (TargetDelivery). A bidirectional rule
	// needs it; a cdc rule with a SQLite target too (the replica may be promoted, its writes drained back here)
	bool sqlite_target = std::any_of(plan_.targets.begin(), plan_.targets.end(),
									 [](const ReplicaInfo &target) { return target.dialect == "sqlite"; });
	if (plan_.Bidirectional() || sqlite_target)
		plugin_options.emplace_back("include-origin", "on");
	co_await stream_->Start(slot_, start, plugin_options);
	decoder_.StartSession(); // a new decoding session: no relation known
	for (auto &channel : channels_) {
		if (!positions_.Attached(channel->Name()))
			continue;
		if (channel->Status().status == "error")
			LogLine(channel->Label() + ": streaming again from " + FormatLsn(start) +
					" (in error until the target applies)");
		else
			channel->SetState("streaming", "slot " + slot_ + " from " + FormatLsn(start));
	}
}

boost::asio::awaitable<bool>
RuleRunner::EndStream(bool marker_read) {
	using Clock = ReplicationStream::Clock;
	co_await FlushAll();
	co_await HandleFailures();
	// a target waits to be attached, or to be copied alone (--once included: the run ends with every target)
	bool copy_pending = std::any_of(channels_.begin(), channels_.end(), [](const auto &channel) {
		return channel->needs_copy && channel->IsOpen() && !channel->final_error;
	});
	if (!*stop_ && (copy_pending || (restart_ && !marker_read)))
		co_return true;
	for (auto &channel : channels_) {
		if (marker_read && positions_.Attached(channel->Name()) && channel->LastClosed() >= marker_) {
			/* --once: everything committed before the start is durable in the target */
			channel->idle = true;
			channel->caught_up_at = Clock::now();
		}
	}
	co_await stream_->Stop();
	LogLine(Label() + ": stopped, slot " + slot_ + " confirmed " + FormatLsn(ConfirmLsn()) +
			(marker_read ? " (--once: caught up)" : ""));
	co_await PublishAll();
	co_return false;
}

boost::asio::awaitable<void>
RuleRunner::FanOut(const SharedBatch &batch) {
	for (auto &channel : channels_) {
		if (!positions_.Attached(channel->Name()))
			continue;
		channel->idle = false;
		while (!channel->Push(batch)) {
			// backpressure: wait for room (one batch applied), answering nothing meanwhile; bounded memory
			auto now = std::chrono::steady_clock::now();
			if (!channel->full_since)
				channel->full_since = now;
			if (co_await channel->WaitRoom(now + config_.poll_interval))
				continue;
			if (SlowToDetach(*channel)) {
				Detach(*channel);
				break;
			}
		}
		channel->full_since.reset();
	}
}

bool
RuleRunner::SlowToDetach(TargetChannel &slow) const {
	if (std::chrono::steady_clock::now() - *slow.full_since < kSlowTargetTimeout)
		return false;
	// detached once already and no further since: detaching it again could only repeat the same restart
	if (slow.slow_detached_at && *slow.slow_detached_at >= slow.Durable())
		return false;
	// only when it holds the others back: another attached target waits for input
	return std::any_of(channels_.begin(), channels_.end(), [&](const auto &other) {
		return other.get() != &slow && positions_.Attached(other->Name()) && !other->Busy();
	});
}

void
RuleRunner::Detach(TargetChannel &slow) {
	// it drains what it has, then is attached again by a restart of the stream from the minimum
	positions_.Detach(slow.Name());
	slow.retry_at = std::chrono::steady_clock::now();
	slow.slow_detached_at = slow.Durable();
	LogLine(slow.Label() + ": its queue stayed full (" + std::to_string(kMaxQueuedBatches) + " messages) for " +
			std::to_string(kSlowTargetTimeout.count()) +
			" s while the others waited: detached while it drains; it catches up by a restart of the rule's stream");
}

boost::asio::awaitable<void>
RuleRunner::HandleFailures() {
	for (auto &channel : channels_) {
		if (!channel->Failed())
			continue;
		std::string text = channel->ErrorText();
		bool recopy = channel->NeedsRecopy();
		co_await channel->Rollback();
		positions_.Detach(channel->Name());
		positions_.Set(channel->Name(), std::max(channel->Durable(), slot_confirmed_));
		if (recopy) {
			++channel->Status().resnapshots;
			co_await Warn(sql_, plan_.name, *channel, "resnapshot", text + ": taking a new initial copy of the target");
			channel->needs_copy = true;
			channel->retry_at = std::chrono::steady_clock::now();
			continue;
		}
		channel->Status().last_error = text;
		channel->SetState("error", text);
		channel->reopen = true;
		if (config_.once) {
			channel->final_error = true;
			continue;
		}
		std::chrono::milliseconds delay = channel->backoff.NextDelay();
		LogLine(channel->Label() + ": retrying in " + std::to_string(delay.count()) + " ms");
		channel->retry_at = std::chrono::steady_clock::now() + delay;
	}
}

boost::asio::awaitable<void>
RuleRunner::RetryDue() {
	auto now = std::chrono::steady_clock::now();
	for (auto &channel : channels_) {
		if (positions_.Attached(channel->Name()) || channel->final_error || !channel->retry_at ||
			*channel->retry_at > now || channel->Busy())
			continue;
		try {
			if (channel->reopen || !channel->IsOpen()) {
				co_await channel->Open();
				channel->reopen = false;
			} else {
				co_await channel->Flush(); // a slow target: what it drained becomes durable
				if (channel->InTransaction() || channel->Failed())
					co_await channel->Rollback();
			}
		} catch (const std::exception &e) {
			channel->Status().last_error = e.what();
			channel->SetState("error", e.what());
			std::chrono::milliseconds delay = channel->backoff.NextDelay();
			LogLine(channel->Label() + ": retrying in " + std::to_string(delay.count()) + " ms");
			channel->retry_at = std::chrono::steady_clock::now() + delay;
			continue;
		}
		channel->retry_at.reset();
		if (channel->Durable() == kInvalidLsn && !channel->needs_copy) {
			LogLine(channel->Label() + ": the sink holds no checkpoint any more (emptied while it failed): copying it "
									   "alone");
			channel->needs_copy = true;
		} else if (channel->Durable() < slot_confirmed_ && !channel->needs_copy) {
			++channel->Status().resnapshots;
			co_await Warn(sql_, plan_.name, *channel, "target_rolled_back",
						  "the target holds data up to " + FormatLsn(channel->Durable()) + " but slot " + slot_ +
							  " already confirmed " + FormatLsn(slot_confirmed_) +
							  " (the target was restored or cut back while it failed): taking a new initial copy "
							  "that replaces the target's tables");
			channel->needs_copy = true;
		} else if (!channel->needs_copy)
			positions_.Set(channel->Name(), channel->Durable());
		channel->attach = true;
		restart_ = true;
	}
}

boost::asio::awaitable<void>
RuleRunner::FlushAll() {
	for (auto &channel : channels_) {
		if (!positions_.Attached(channel->Name()))
			continue;
		co_await channel->Flush();
		if (!channel->Failed())
			positions_.Set(channel->Name(), channel->Durable());
	}
}

boost::asio::awaitable<void>
RuleRunner::DrainAll() {
	for (auto &channel : channels_)
		co_await channel->Drain();
}

boost::asio::awaitable<void>
RuleRunner::PublishAll() {
	SlotState slot = co_await ReadSlotState(sql_, slot_);
	for (auto &channel : channels_)
		co_await PublishStatus(sql_, config_, plan_.name, progress_, *channel, slot);
}

boost::asio::awaitable<void>
RuleRunner::RefreshStatus() {
	try {
		if (!sql_.IsOpen())
			co_await sql_.Connect(config_.source, ConnectionKind::Sql);
		co_await PublishAll();
	} catch (const std::exception &e) {
		sql_.Close();
		LogLine(Label() + ": could not write its status: " + e.what());
	}
}

boost::asio::awaitable<void>
RuleRunner::ReportError(const std::string &error) {
	for (auto &channel : channels_) {
		co_await channel->Rollback();
		channel->Status().last_error = error;
		channel->SetState("error", error);
		channel->caught_up_at.reset();
	}
	co_await EndSqlTransaction();
	co_await RefreshStatus();
}

boost::asio::awaitable<void>
RuleRunner::Pause() {
	for (auto &channel : channels_) {
		channel->SetState("paused",
						  "rule disabled; slot " + slot_ + " kept at " + FormatLsn(channel->Status().applied_lsn));
		channel->caught_up_at.reset();
	}
	co_await RefreshStatus();
}

boost::asio::awaitable<void>
RuleRunner::MarkStopped() {
	for (auto &channel : channels_) {
		const std::string &status = channel->Status().status;
		if (status != "streaming" && status != "snapshot" && status != "pending")
			continue; // done, paused and error say more than stopped
		channel->SetState("stopped", "the sidecar stopped; slot " + slot_ + " kept at " +
										 FormatLsn(channel->Status().applied_lsn));
		// nobody keeps the target fresh any more: its lag is unknown, so reads are not routed to it
		channel->caught_up_at.reset();
	}
	co_await RefreshStatus();
}

boost::asio::awaitable<void>
RuleRunner::EndSqlTransaction() {
	if (!sql_.IsOpen())
		co_return;
	PGTransactionStatusType state = PQtransactionStatus(sql_.Get());
	if (state == PQTRANS_IDLE)
		co_return;
	// a failure in a copy leaves its READ ONLY snapshot transaction open (or aborted): the status written next
	// must not land in it; a connection busy or broken is closed (RefreshStatus reconnects)
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

} // namespace mosta::sidecar
