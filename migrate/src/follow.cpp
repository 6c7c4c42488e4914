/*
 * follow.cpp
 *     Follow (follow.hpp): collect a batch from the change stream, commit it in one transaction, repeat.
 */
#include "follow.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "apply.hpp"
#include "change_stream.hpp"
#include "commands.hpp"
#include "follow_apply.hpp"
#include "follow_reduce.hpp"
#include "follow_state.hpp"
#include "pg/errors.hpp"

namespace mosta::migrate {

namespace {

using Clock = std::chrono::steady_clock;

// kProgressEvery is how often a progress line is written.
constexpr std::chrono::seconds kProgressEvery{5};

// What one read of the stream gave.
struct Batch {
	std::vector<ChangeEvent> events;
	std::string token;	  // the position after events
	bool drained = false; // the server had nothing more: caught up to now
	std::string stop_why; // a drop/rename/invalidate ended the batch (the position stays before it)
};

std::int64_t
NowMs() {
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
		.count();
}

class Follower {
  public:
	Follower(sidecar::PgSession &session, MongoSource &source, const mapping::Mapping &mapping,
			 const FollowOptions &options)
		: session_(session), source_(source), mapping_(mapping), options_(options),
		  order_(mapping::LoadOrder(mapping)) {}

	FollowResult Run();

  private:
	void Start();
	Batch Collect(ChangeStream &stream);
	bool Commit(Applier &applier, const Batch &batch, const FollowPlan &plan);
	void Progress(const Batch &batch, bool force);
	[[noreturn]] void HistoryLost(const ChangeStreamHistoryLost &e) const;

	sidecar::PgSession &session_;
	MongoSource &source_;
	const mapping::Mapping &mapping_;
	FollowOptions options_;
	std::vector<const mapping::CollectionMap *> order_;
	std::string committed_; // the position the stream row holds (this follower's last commit)
	std::int64_t applied_ = 0;
	std::int64_t reported_ = 0;
	std::int64_t last_wall_ms_ = 0;
	bool draining_ = false;
	bool retried_once_ = false;
	std::string stopped_at_;
	Clock::time_point last_progress_ = Clock::now();
};

void
Follower::Start() {
	if (!TryFollowerLock(session_, mapping_.name))
		throw std::runtime_error("another follower of mapping " + mapping_.name +
								 " is running (it holds the follower lock): stop it first, or run `mosta-migrate "
								 "cutover` to drain and stop it");
	std::optional<StreamRow> row = ReadStream(session_, mapping_.name);
	if (!row)
		throw std::runtime_error(NoStreamMessage(mapping_.name));
	if (options_.reset_cutover && (row->cutover_requested_at || row->stopped_at)) {
		ResetCutover(session_, mapping_.name);
		std::fprintf(stderr, "mosta-migrate %s %s: cutover mark cleared (requested at %s, stopped at %s)\n",
					 options_.command, mapping_.name.c_str(), row->cutover_requested_at.value_or("-").c_str(),
					 row->stopped_at.value_or("-").c_str());
		row->cutover_requested_at.reset();
		row->stopped_at.reset();
	}
	if (row->stopped_at)
		throw std::runtime_error(CutoverDoneMessage(mapping_.name, *row->stopped_at));
	committed_ = row->resume_token;
	applied_ = reported_ = row->applied;
	draining_ = options_.drain || row->cutover_requested_at.has_value();
	std::fprintf(stderr, "mosta-migrate %s %s: following database %s (MongoDB %s) after %s%s\n", options_.command,
				 mapping_.name.c_str(), source_.Database().c_str(), source_.Masked().c_str(), committed_.c_str(),
				 draining_ ? "; draining for the cutover" : "");
}

Batch
Follower::Collect(ChangeStream &stream) {
	Batch batch;
	Clock::time_point start = Clock::now();
	while (batch.events.size() < static_cast<std::size_t>(kBatchEvents) && !StopRequested()) {
		std::optional<ChangeEvent> event = stream.Next();
		if (!event) {
			batch.drained = true;
			break;
		}
		if (StopsFollow(*event, mapping_, &batch.stop_why)) {
			batch.token = batch.events.empty() ? committed_ : TokenJson(batch.events.back().token.get());
			return batch;
		}
		batch.events.push_back(std::move(*event));
		if (Clock::now() - start >= std::chrono::milliseconds(options_.batch_ms))
			break;
	}
	batch.token = stream.ResumeToken();
	if (batch.token.empty())
		batch.token = committed_;
	return batch;
}

// Commit applies one batch and moves the position in one transaction; returns whether it was the cutover's last.
bool
Follower::Commit(Applier &applier, const Batch &batch, const FollowPlan &plan) {
	session_.Exec("BEGIN", "starting a catch-up transaction");
	try {
		std::optional<StreamRow> row = ReadStream(session_, mapping_.name, true);
		if (!row)
			throw std::runtime_error("the stream row of mapping " + mapping_.name +
									 " disappeared while following (did `backfill --again` run?): stopping; run follow "
									 "again");
		if (row->resume_token != committed_)
			throw std::runtime_error("the stream position of mapping " + mapping_.name +
									 " moved under this follower (" + committed_ + " → " + row->resume_token +
									 "): another process wrote it (backfill --again?); this batch is not applied: run "
									 "follow again");
		if (row->cutover_requested_at && !draining_) {
			draining_ = true;
			std::fprintf(stderr, "mosta-migrate %s %s: cutover requested at %s: draining\n", options_.command,
						 mapping_.name.c_str(), row->cutover_requested_at->c_str());
		}
		ApplyPlan(session_, applier, mapping_, plan);
		if (plan.events > 0 || !retried_once_)
			RetryMissingParents(session_, applier, mapping_, order_, source_);
		bool final = draining_ && batch.drained && batch.stop_why.empty();
		if (batch.token != committed_ || plan.events > 0 || final)
			SaveStreamPosition(session_, mapping_.name, batch.token, plan.events, plan.last_wall_ms, final);
		if (final) {
			std::optional<StreamRow> after = ReadStream(session_, mapping_.name);
			stopped_at_ = after && after->stopped_at ? *after->stopped_at : "";
		}
		session_.Exec("COMMIT", "committing a catch-up transaction");
		committed_ = batch.token;
		applied_ += plan.events;
		retried_once_ = true;
		if (plan.last_wall_ms != 0)
			last_wall_ms_ = plan.last_wall_ms;
		return final;
	} catch (const sidecar::PgError &e) {
		session_.TryExec("ROLLBACK");
		throw std::runtime_error(std::string(e.what()) +
								 " (nothing of this batch was committed: follow resumes from the committed position)");
	} catch (...) {
		session_.TryExec("ROLLBACK");
		throw;
	}
}

void
Follower::Progress(const Batch &batch, bool force) {
	if (!force && Clock::now() - last_progress_ < kProgressEvery)
		return;
	last_progress_ = Clock::now();
	std::string lag = batch.drained
						  ? "caught up"
						  : "lag " + std::to_string(last_wall_ms_ == 0 ? 0 : (NowMs() - last_wall_ms_) / 1000) + " s";
	std::fprintf(stderr, "mosta-migrate %s %s: %lld events applied (+%lld), %s\n", options_.command,
				 mapping_.name.c_str(), static_cast<long long>(applied_), static_cast<long long>(applied_ - reported_),
				 lag.c_str());
	reported_ = applied_;
}

void
Follower::HistoryLost(const ChangeStreamHistoryLost &e) const {
	throw ChangeStreamHistoryLost(
		std::string(e.what()) + ". The oplog no longer holds the position of mapping " + mapping_.name + " (" +
		committed_ +
		"): what changed since cannot be known, and nothing is applied from a guess. Re-run `mosta-migrate "
		"backfill` with --again over every collection (it records a new start position before it reads), then follow; "
		"a larger oplog keeps "
		"the position available for longer");
}

FollowResult
Follower::Run() {
	Start();
	FollowResult result;
	try {
		Applier applier(session_, mapping_);
		ChangeStream stream(source_, committed_, options_.batch_ms, kBatchEvents);
		for (;;) {
			Batch batch = Collect(stream);
			FollowPlan plan = ReducePlan(batch.events, mapping_, order_);
			bool final = Commit(applier, batch, plan);
			Progress(batch, final);
			if (!batch.stop_why.empty())
				throw std::runtime_error(batch.stop_why + " (the events before it are applied; the position stays "
														  "before it)");
			if (final || (options_.until_caught_up && batch.drained))
				break;
			if (StopRequested()) {
				result.stopped_by_signal = true;
				break;
			}
		}
	} catch (const ChangeStreamHistoryLost &e) {
		HistoryLost(e);
	}
	result.position = committed_;
	result.applied = applied_;
	result.stopped_at = stopped_at_;
	return result;
}

} // namespace

FollowResult
Follow(sidecar::PgSession &session, MongoSource &source, const mapping::Mapping &mapping,
	   const FollowOptions &options) {
	Follower follower(session, source, mapping, options);
	return follower.Run();
}

std::string
CutoverDoneMessage(const std::string &mapping, const std::string &stopped_at) {
	return "the cutover of mapping " + mapping + " happened at " + stopped_at +
		   ": MongoDB is no longer followed. For a rollback rehearsal, `mosta-migrate follow MAPPING --reset-cutover "
		   "...` clears the mark and follows again";
}

} // namespace mosta::migrate
