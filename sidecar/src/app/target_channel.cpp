/*
 * target_channel.cpp
 *     TargetChannel (see target_channel.hpp).
 */
#include "app/target_channel.hpp"

#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/log.hpp"
#include "app/open_sink.hpp"
#include "bidir/names.hpp"
#include "mosta/common/conninfo.hpp"

namespace mosta::sidecar {

TargetChannel::TargetChannel(boost::asio::any_io_executor executor, const Config &config, const RulePlan &plan,
							 ReplicaInfo target, TargetStatus &status)
	: executor_(std::move(executor)), config_(config), plan_(plan), target_(std::move(target)), status_(status),
	  checkpoint_key_(SlotName(plan.name, target_.project, target_.name)) {}

TargetChannel::~TargetChannel() {
	// the rule runner drains every channel before it ends: no job refers to this channel any more
	worker_.join();
}

std::string
TargetChannel::Label() const {
	return "rule " + plan_.name + ", target " + Name();
}

void
TargetChannel::SetState(const std::string &state, const std::string &detail) {
	if (status_.status != state || !detail.empty())
		LogLine(Label() + ": " + state + (detail.empty() ? "" : ": " + detail));
	status_.status = state;
	// an error stays reported through the retries, until the target works again
	if (state == "streaming" || state == "done")
		status_.last_error.clear();
}

boost::asio::awaitable<void>
TargetChannel::Run(std::function<void(Sink &)> work) {
	co_await boost::asio::co_spawn(
		worker_,
		[this, &work]() -> boost::asio::awaitable<void> {
			work(*sink_);
			co_return;
		},
		boost::asio::use_awaitable);
}

boost::asio::awaitable<void>
TargetChannel::Open() {
	co_await Drain();
	open_ = false;
	co_await boost::asio::co_spawn(
		worker_,
		[this]() -> boost::asio::awaitable<void> {
			delivery_.reset();
			sink_.reset(); // the failed sink closes before its file or connection is opened again
			sink_ = OpenSink(target_, checkpoint_key_, config_.data_dir, plan_.collections, config_.source, &plan_);
			// what the reverse direction (a bidirectional rule, a promoted SQLite replica) applied into the source
			// from this target carries this origin: never sent back there
			delivery_ =
				std::make_unique<TargetDelivery>(*sink_, ReverseOriginName(plan_.name, target_.project, target_.name));
			co_return;
		},
		boost::asio::use_awaitable);
	open_ = true;
	error_ = nullptr;
	durable_ = sink_->DurableLsn();
	status_.applied_lsn = durable_;
	LogLine(Label() + ": sink " + MaskCredentials(target_.uri) + " (" + target_.dialect + ") holds up to " +
			FormatLsn(durable_));
}

bool
TargetChannel::Push(SharedBatch batch) {
	if (error_ || !open_)
		return true;
	if (queue_.size() >= kMaxQueuedBatches)
		return false;
	queue_.push_back(std::move(batch));
	StartNext();
	return true;
}

void
TargetChannel::StartNext() {
	if (busy_ || queue_.empty() || error_)
		return;
	busy_ = true;
	// the io thread allocated the batch and frees it: the worker only reads it
	in_flight_ = std::move(queue_.front());
	queue_.pop_front();
	boost::asio::co_spawn(
		worker_,
		[this]() -> boost::asio::awaitable<void> {
			try {
				delivery_->Deliver(in_flight_->changes);
			} catch (...) {
				counts_ = delivery_->TakeCounts();
				throw;
			}
			counts_ = delivery_->TakeCounts();
			co_return;
		},
		boost::asio::bind_executor(executor_, [this](std::exception_ptr error) {
			busy_ = false;
			in_flight_.reset();
			MergeCounts();
			if (error) {
				error_ = error;
				queue_.clear();
			}
			done_signal_.cancel();
			StartNext();
		}));
}

void
TargetChannel::MergeCounts() {
	status_.changes_applied += counts_.changes;
	status_.transactions += counts_.transactions;
	status_.applied_any = status_.applied_any || counts_.transactions > 0;
	status_.skipped_transactions += counts_.skipped_transactions;
	counts_ = {};
}

boost::asio::awaitable<void>
TargetChannel::Wait(std::chrono::steady_clock::time_point deadline) {
	done_signal_.expires_at(deadline);
	boost::system::error_code cancelled;
	co_await done_signal_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, cancelled));
}

boost::asio::awaitable<bool>
TargetChannel::WaitRoom(std::chrono::steady_clock::time_point deadline) {
	while (queue_.size() >= kMaxQueuedBatches && !error_ && std::chrono::steady_clock::now() < deadline)
		co_await Wait(deadline);
	co_return queue_.size() < kMaxQueuedBatches || error_;
}

boost::asio::awaitable<void>
TargetChannel::Drain() {
	while (busy_ || (!queue_.empty() && !error_))
		co_await Wait();
}

boost::asio::awaitable<void>
TargetChannel::Flush() {
	co_await Drain();
	if (error_ || !open_)
		co_return;
	try {
		co_await boost::asio::co_spawn(
			worker_,
			[this]() -> boost::asio::awaitable<void> {
				delivery_->Flush();
				co_return;
			},
			boost::asio::use_awaitable);
	} catch (...) {
		error_ = std::current_exception();
		co_return;
	}
	durable_ = sink_->DurableLsn();
	status_.applied_lsn = durable_;
	if (status_.skipped_transactions > 0) {
		LogLine(Label() + ": skipped " + std::to_string(status_.skipped_transactions) +
				" transaction(s) it already held (the rule's stream restarted behind it)");
		status_.skipped_transactions = 0;
	}
	// a target that failed is back once it makes something durable again (or holds everything)
	if (status_.status == "error" && !status_.last_error.empty()) {
		SetState("streaming", "recovered at " + FormatLsn(durable_));
		backoff.Reset();
	}
}

std::string
TargetChannel::ErrorText() const {
	try {
		if (error_)
			std::rethrow_exception(error_);
	} catch (const std::exception &e) {
		return e.what();
	} catch (...) {
		return "unknown error";
	}
	return {};
}

bool
TargetChannel::NeedsRecopy() const {
	try {
		if (error_)
			std::rethrow_exception(error_);
	} catch (const RecopyNeeded &) {
		return true;
	} catch (...) {
	}
	return false;
}

boost::asio::awaitable<void>
TargetChannel::Rollback() {
	co_await Drain();
	queue_.clear();
	error_ = nullptr;
	if (!open_)
		co_return;
	try {
		co_await boost::asio::co_spawn(
			worker_,
			[this]() -> boost::asio::awaitable<void> {
				delivery_->Rollback();
				co_return;
			},
			boost::asio::use_awaitable);
	} catch (const std::exception &e) {
		LogLine(Label() + ": rollback: " + e.what()); // Rollback never throws: the worker itself failed
	}
	durable_ = sink_->DurableLsn();
	status_.applied_lsn = durable_;
}

bool
TargetChannel::InTransaction() const noexcept {
	return delivery_ && delivery_->InTransaction();
}

Lsn
TargetChannel::LastClosed() const noexcept {
	return delivery_ ? delivery_->LastClosed() : kInvalidLsn;
}

} // namespace mosta::sidecar
