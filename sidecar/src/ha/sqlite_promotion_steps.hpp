/*
 * sqlite_promotion_steps.hpp
 *     What the promote and switch-back subcommands share (ha/sqlite_promotion.hpp): the refusal, the printed
 *     steps, the exit status of a run, JSON values for the activity details, and reading the SQLite file (its
 *     checkpoint, its capture sequence). Internal to ha/sqlite_promotion*.cpp and ha/sqlite_switch_back.cpp.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "app/config.hpp"
#include "ha/command_report.hpp"
#include "ha/node_probe.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/lsn.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar::ha::sqlite_promotion {

using Clock = std::chrono::steady_clock;

// Steps prints "<command>: [  0.123 s] text" lines on stdout, at once, masked.
class Steps {
  public:
	explicit Steps(const char *command) : command_(command), start_(Clock::now()) {}

	void
	operator()(const std::string &text) const {
		std::printf("%s: [%8.3f s] %s\n", command_, Seconds(), MaskCredentialsInText(text).c_str());
		std::fflush(stdout);
	}

	double
	Seconds() const {
		return std::chrono::duration<double>(Clock::now() - start_).count();
	}

	long long
	Ms() const {
		return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
	}

  private:
	const char *command_;
	Clock::time_point start_;
};

// ReadWholeFile returns the content of path; throws std::runtime_error naming it.
std::string ReadWholeFile(const std::string &path);

// OpenExisting opens the SQLite file at path for writing, refusing (Refused) a path that is not an existing file
// (opening would create one).
SqliteHandle OpenExisting(const std::string &path);

// TableExists tells whether db has a table named name.
bool TableExists(sqlite3 *db, const std::string &name);

// Checkpoint reads the end LSN of slot's checkpoint in db, unset when there is none.
std::optional<Lsn> Checkpoint(sqlite3 *db, const std::string &slot);

// CheckpointSlots returns the slots of db's checkpoint rows.
std::vector<std::string> CheckpointSlots(sqlite3 *db);

// LastCapturedSeq is the highest seq _mosta_changes ever gave (sqlite_sequence survives purges); 0 for none.
std::int64_t LastCapturedSeq(sqlite3 *db);

// Guarded runs a command and turns a refusal or a failure into an exit status and a message on stderr.
template <typename Command>
boost::asio::awaitable<int>
Guarded(const Config &config, const char *name) {
	Command command(config);
	try {
		co_return co_await command.Execute();
	} catch (const Refused &refused) {
		std::fprintf(stderr, "mosta-sidecar: %s refused: %s\n", name, MaskCredentialsInText(refused.what()).c_str());
		if (!refused.Hint().empty())
			std::fprintf(stderr, "HINT: %s\n", refused.Hint().c_str());
		std::fprintf(stderr, "mosta-sidecar: nothing was changed\n");
	} catch (...) {
		std::fprintf(stderr, "mosta-sidecar: %s failed after %.3f s: %s\n", name, command.Step().Seconds(),
					 CurrentErrorText().c_str());
		std::fprintf(stderr, "HINT: the steps printed above were done; see docs/failover.md (\"Writes on a promoted "
							 "SQLite replica\").\n");
	}
	co_return 1;
}

} // namespace mosta::sidecar::ha::sqlite_promotion
