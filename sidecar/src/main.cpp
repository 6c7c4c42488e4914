/*
 * main.cpp
 *     mosta-sidecar: parses the configuration, sets up the io_context, the signal_set and the runtime guards, and
 *     calls Run (app/run.hpp), RunVerify (app/verify.hpp) for "verify RULE", or RunFailover (ha/failover.hpp) for
 *     "failover PROJECT", RunAgent (ha/node_agent.hpp) for "agent", RunSwitchover (ha/switchover.hpp) for
 *     "switchover PROJECT REPLICA", RunPromote and RunSwitchBack (ha/sqlite_promotion.hpp) for "promote PROJECT
 *     REPLICA" and "switch-back PROJECT" of a SQLite replica. Exit status: 0 clean stop, 1 runtime failure, 2 bad
 * configuration.
 */
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/config.hpp"
#include "app/run.hpp"
#include "app/verify.hpp"
#include "ha/failover.hpp"
#include "dcs/dcs_status.hpp"
#include "ha/node_agent.hpp"
#include "ha/sqlite_promotion.hpp"
#include "ha/switchover.hpp"
#include "sink/mongo_sink.hpp"

int
main(int argc, char **argv) {
	namespace sc = mosta::sidecar;
	sc::Config config;
	try {
		std::vector<std::string> args(argv + 1, argv + argc);
		config = sc::ParseConfig(args, std::getenv("MOSTA_SOURCE_URI"), std::getenv("MOSTA_DATA_DIR"));
	} catch (const sc::ConfigError &e) {
		std::fprintf(stderr, "mosta-sidecar: %s\n", e.what());
		return 2;
	}
	if (config.help || config.version) {
		std::fputs(config.help ? sc::HelpText().c_str() : sc::VersionText().c_str(), stdout);
		return 0;
	}
	try {
		// mongoc_init() once for the process, mongoc_cleanup() after every sink is gone
		sc::MongoDriver mongo_driver;
		// a closed socket must be an error code, never a signal
		std::signal(SIGPIPE, SIG_IGN);
		if (config.verify) {
			boost::asio::io_context context(1);
			return sc::RunVerify(context, config);
		}
		if (config.failover) {
			boost::asio::io_context context(1);
			return sc::ha::RunFailover(context, config);
		}
		if (config.promote) {
			boost::asio::io_context context(1);
			return sc::ha::RunPromote(context, config);
		}
		if (config.switch_back) {
			boost::asio::io_context context(1);
			return sc::ha::RunSwitchBack(context, config);
		}
		if (config.dcs_status) {
			boost::asio::io_context context(1);
			return sc::dcs::RunDcsStatus(context, config);
		}
		if (config.switchover) {
			boost::asio::io_context context(1);
			return sc::ha::RunSwitchover(
				context, {config.source, config.ha_project, config.switchover_replica, config.switchover_timeout});
		}
		boost::asio::io_context context(1);
		boost::asio::signal_set signals(context, SIGINT, SIGTERM, SIGHUP);
		if (config.agent)
			return sc::ha::RunAgent(context, signals,
									{config.node, config.ha_project, config.pgdata, config.pg_log, config.state_dir,
									 config.source, config.pg_bindir, config.poll_interval, config.catchup_timeout,
									 config.dcs, config.dcs_ttl, config.synchronous, config.watchdog});
		return sc::Run(context, signals, config);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mosta-sidecar: %s\n", e.what());
		return 1;
	}
}
