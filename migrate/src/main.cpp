/*
 * main.cpp
 *     mosta-migrate: MongoDB → PostgreSQL migration (docs/migration.md). Parses the command and hands it to its
 *     cmd_*.cpp; SIGINT and SIGTERM ask long commands to stop at their next safe point (a committed batch), a second
 *     signal exits at once (every checkpoint is transactional, so nothing is lost either way).
 */
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/version.hpp"

namespace {

extern "C" void
OnStopSignal(int) {
	if (mosta::migrate::RequestStop()) {
		static const char message[] = "mosta-migrate: stopped by a second signal\n";
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
	signal(SIGPIPE, SIG_IGN);
}

const char kUsage[] =
	"usage: mosta-migrate COMMAND [MAPPING] [OPTIONS]\n"
	"  infer    --source mongodb://HOST/DB [--collections A,B] [--sample N] [--name NAME]\n"
	"  check    MAPPING\n"
	"  schema   MAPPING [--apply --target CONNINFO]\n"
	"  backfill MAPPING --source URI --target CONNINFO [--batch N] [--collections A,B] [--again]\n"
	"  follow   MAPPING --source URI --target CONNINFO [--until-caught-up] [--batch-ms N] [--reset-cutover]\n"
	"  cutover  MAPPING --target CONNINFO [--timeout SECONDS] [--source URI] [--batch-ms N]\n"
	"  status   MAPPING --target CONNINFO [--json]\n"
	"  verify   MAPPING --source URI --target CONNINFO [--collections A,B] [--show N]\n"
	"  shadow   MAPPING --source URI --target CONNINFO [--interval-ms N] [--samples-per-round N] [--duration S]\n"
	"           [--recheck-ms N] [--metrics-file F] [--collections A,B] [--keys COLLECTION:ID,...]\n"
	"docs/migration.md is the runbook.\n";

} // namespace

int
main(int argc, char **argv) {
	namespace mm = mosta::migrate;
	std::vector<std::string> args(argv + 1, argv + argc);
	if (args.empty() || args[0] == "--help" || args[0] == "help") {
		std::fputs(kUsage, args.empty() ? stderr : stdout);
		return args.empty() ? 2 : 0;
	}
	if (args[0] == "--version") {
		std::printf("mosta-migrate %s\n", MOSTA_VERSION);
		return 0;
	}
	static const std::map<std::string, int (*)(mm::CommandLine &)> commands = {
		{"infer", mm::RunInfer},	   {"check", mm::RunCheck},	  {"schema", mm::RunSchema},
		{"backfill", mm::RunBackfill}, {"status", mm::RunStatus}, {"follow", mm::RunFollow},
		{"cutover", mm::RunCutover},   {"verify", mm::RunVerify}, {"shadow", mm::RunShadow},
	};
	auto command = commands.find(args[0]);
	if (command == commands.end()) {
		std::fprintf(stderr, "mosta-migrate: unknown command \"%s\"\n%s", args[0].c_str(), kUsage);
		return 2;
	}
	InstallSignals();
	try {
		mm::CommandLine line(std::vector<std::string>(args.begin() + 1, args.end()));
		return command->second(line);
	} catch (const mm::UsageError &e) {
		std::fprintf(stderr, "mosta-migrate %s: %s\n%s", args[0].c_str(),
					 mosta::MaskCredentialsInText(e.what()).c_str(), kUsage);
		return 2;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mosta-migrate %s: FAILED: %s\n", args[0].c_str(),
					 mosta::MaskCredentialsInText(e.what()).c_str());
		return 1;
	}
}
