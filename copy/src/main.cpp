/*
 * main.cpp
 *     mosta-copy: parses the command line and runs the copy (run/copy_command.hpp) or verify MANIFEST
 *     (run/verify.hpp). SIGINT and SIGTERM stop the copy between batches: every destination is aborted (its
 *     temporaries removed) and the exit status is 1; a second signal exits at once (the next run removes the
 *     temporaries left). Exit status: 0 success, 1 failure, 2 bad usage.
 */
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "mosta/common/conninfo.hpp"
#include "run/copy_command.hpp"
#include "run/options.hpp"
#include "run/verify.hpp"
#include "sink/mongo_sink.hpp"

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler stores into a lock-free atomic");

extern "C" void
OnStopSignal(int) {
	if (g_stop.exchange(true)) {
		static const char message[] = "mosta-copy: FAILED: stopped by a second signal\n";
		ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
		static_cast<void>(ignored);
		::_exit(1);
	}
}

void
InstallSignals() {
	struct sigaction action {};
	action.sa_handler = OnStopSignal;
	sigemptyset(&action.sa_mask);
	action.sa_flags = SA_RESTART;
	sigaction(SIGINT, &action, nullptr);
	sigaction(SIGTERM, &action, nullptr);
	// a closed socket or pipe must be an error, never a signal
	signal(SIGPIPE, SIG_IGN);
}

} // namespace

int
main(int argc, char **argv) {
	namespace mc = mosta::copy;
	mc::Options options;
	try {
		options = mc::ParseOptions(std::vector<std::string>(argv + 1, argv + argc));
	} catch (const mc::UsageError &e) {
		std::fprintf(stderr, "mosta-copy: %s\n", mosta::MaskCredentialsInText(e.what()).c_str());
		return 2;
	}
	if (options.help || options.version) {
		std::fputs(options.help ? mc::HelpText().c_str() : mc::VersionText().c_str(), stdout);
		return 0;
	}
	try {
		// mongoc_init() once for the process, mongoc_cleanup() after every destination is gone
		mosta::sidecar::MongoDriver mongo_driver;
		InstallSignals();
		if (options.verify)
			return mc::RunVerifyCommand(options, stdout, stderr, &g_stop);
		return mc::RunCopyCommand(options, stderr, &g_stop);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mosta-copy: FAILED: %s\n", mosta::MaskCredentialsInText(e.what()).c_str());
		return 1;
	}
}
