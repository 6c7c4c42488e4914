// options_test.cpp: mosta-monitor's command line (monitor/src/options.hpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "options.hpp"

namespace mosta::monitor {
namespace {

TEST(MonitorOptions, Defaults) {
	Options options = ParseOptions({"--tree", "/tmp/tree.json"}, nullptr);
	EXPECT_EQ(options.tree_path, "/tmp/tree.json");
	EXPECT_EQ(options.bind, "127.0.0.1");
	EXPECT_EQ(options.port, kDefaultPort);
	EXPECT_EQ(options.poll_interval.count(), 1000);
	EXPECT_EQ(options.stale_after.count(), 30000);
	EXPECT_TRUE(options.token.empty());
	EXPECT_TRUE(options.inotify);
	EXPECT_FALSE(ParseOptions({"--tree", "t", "--no-inotify"}, nullptr).inotify);
}

TEST(MonitorOptions, Durations) {
	EXPECT_EQ(ParseMonitorDuration("lag", "500ms").count(), 500);
	EXPECT_EQ(ParseMonitorDuration("lag", "5s").count(), 5000);
	EXPECT_EQ(ParseMonitorDuration("lag", "5").count(), 5000);
	EXPECT_EQ(ParseMonitorDuration("lag", "2m").count(), 120000);
	EXPECT_EQ(ParseMonitorDuration("lag", "2min").count(), 120000);
	EXPECT_EQ(ParseMonitorDuration("lag", "1h").count(), 3600000);
	EXPECT_THROW(ParseMonitorDuration("lag", "fast"), OptionsError);
	EXPECT_THROW(ParseMonitorDuration("lag", "0s"), OptionsError);
	EXPECT_THROW(ParseMonitorDuration("lag", "-1s"), OptionsError);
	EXPECT_THROW(ParseMonitorDuration("lag", "min"), OptionsError);
	EXPECT_THROW(ParseMonitorDuration("lag", "5 s"), OptionsError);
	Options options = ParseOptions({"--tree=/t.json", "--poll-interval", "250ms", "--stale-after=2s"}, nullptr);
	EXPECT_EQ(options.poll_interval.count(), 250);
	EXPECT_EQ(options.stale_after.count(), 2000);
}

TEST(MonitorOptions, TokenSources) {
	EXPECT_EQ(ParseOptions({"--tree", "t", "--token", "s3cret"}, "env").token, "s3cret");
	EXPECT_EQ(ParseOptions({"--tree", "t"}, "from-env").token, "from-env");
	std::string path = ::testing::TempDir() + "/monitor_token";
	{
		std::ofstream out(path);
		out << "file-token\nsecond line\n";
	}
	EXPECT_EQ(ParseOptions({"--tree", "t", "--token-file", path}, "env").token, "file-token");
	EXPECT_THROW(ParseOptions({"--tree", "t", "--token-file", path, "--token", "x"}, nullptr), OptionsError);
	EXPECT_THROW(ParseOptions({"--tree", "t", "--token-file", path + ".missing"}, nullptr), OptionsError);
	std::remove(path.c_str());
}

TEST(MonitorOptions, NonLoopbackBindNeedsAToken) {
	EXPECT_THROW(ParseOptions({"--tree", "t", "--bind", "0.0.0.0"}, nullptr), OptionsError);
	EXPECT_THROW(ParseOptions({"--tree", "t", "--bind", "::"}, nullptr), OptionsError);
	EXPECT_NO_THROW(ParseOptions({"--tree", "t", "--bind", "0.0.0.0", "--token", "x"}, nullptr));
	EXPECT_NO_THROW(ParseOptions({"--tree", "t", "--bind", "::1"}, nullptr));
	EXPECT_NO_THROW(ParseOptions({"--tree", "t", "--bind", "127.0.0.2"}, nullptr));
	EXPECT_NO_THROW(ParseOptions({"--tree", "t", "--bind", "localhost"}, nullptr));
	EXPECT_THROW(ParseOptions({"--tree", "t", "--bind", "example.org"}, nullptr), OptionsError);
}

TEST(MonitorOptions, Errors) {
	EXPECT_THROW(ParseOptions({}, nullptr), OptionsError);
	EXPECT_THROW(ParseOptions({"--tree", "t", "--source", "dbname=x"}, nullptr), OptionsError);
	EXPECT_THROW(ParseOptions({"--tree", "t", "--port", "70000"}, nullptr), OptionsError);
	EXPECT_THROW(ParseOptions({"--tree", "t", "--tree", "u"}, nullptr), OptionsError);
	EXPECT_THROW(ParseOptions({"--tree"}, nullptr), OptionsError);
	// a mistyped flag with the secret inline: the message names the flag, never the value
	try {
		ParseOptions({"--tree", "t", "--tokn=hunter2"}, nullptr);
		FAIL() << "accepted --tokn";
	} catch (const OptionsError &e) {
		EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
	}
	EXPECT_TRUE(ParseOptions({"--help"}, nullptr).help);
}

} // namespace
} // namespace mosta::monitor
