// config_test.cpp: the daemon's command line (app/config.hpp) and slot naming (app/catalog.hpp).
#include <gtest/gtest.h>

#include "app/catalog.hpp"
#include "app/config.hpp"

namespace sc = mosta::sidecar;

TEST(ConfigTest, Defaults) {
	sc::Config config = sc::ParseConfig({}, nullptr);
	EXPECT_EQ(config.source, "");
	EXPECT_FALSE(config.once);
	EXPECT_EQ(config.status_interval, std::chrono::milliseconds(5000));
}

TEST(ConfigTest, FlagsAndInlineValues) {
	sc::Config config = sc::ParseConfig({"--once", "--source", "host=db", "--status-interval=250ms"}, "ignored");
	EXPECT_TRUE(config.once);
	EXPECT_EQ(config.source, "host=db");
	EXPECT_EQ(config.status_interval, std::chrono::milliseconds(250));
	EXPECT_EQ(sc::ParseConfig({"--poll-interval", "2m"}, nullptr).poll_interval, std::chrono::minutes(2));
	EXPECT_EQ(sc::ParseConfig({"--status-interval", "3"}, nullptr).status_interval, std::chrono::seconds(3));
}

TEST(ConfigTest, EnvironmentSourceWhenNoFlag) {
	EXPECT_EQ(sc::ParseConfig({}, "postgresql://x/db").source, "postgresql://x/db");
	EXPECT_EQ(sc::ParseConfig({}, "").source, "");
}

TEST(ConfigTest, BadFlagsNameTheFlagOrValue) {
	auto message = [](std::vector<std::string> args) {
		try {
			sc::ParseConfig(args, nullptr);
		} catch (const sc::ConfigError &e) {
			return std::string(e.what());
		}
		return std::string("no error");
	};
	EXPECT_NE(message({"--bogus"}).find("--bogus"), std::string::npos);
	EXPECT_NE(message({"--status-interval", "5x"}).find("\"5x\" for --status-interval"), std::string::npos);
	EXPECT_NE(message({"--status-interval", "0"}).find("--status-interval"), std::string::npos);
	EXPECT_NE(message({"--source"}).find("missing value for --source"), std::string::npos);
	EXPECT_NE(message({"--once=yes"}).find("--once"), std::string::npos);
	EXPECT_EQ(message({"postgresql://u:s3cret@h/db"}).find("s3cret"), std::string::npos);
}

TEST(ConfigTest, HelpDocumentsEveryFlag) {
	std::string help = sc::HelpText();
	for (const char *flag : {"--source", "--once", "--status-interval", "--poll-interval", "--help",
							 "MOSTA_SOURCE_URI", "PGHOST"})
		EXPECT_NE(help.find(flag), std::string::npos) << flag;
}

TEST(SlotNameTest, ReplacesCharactersOutsideTheSlotAlphabet) {
	EXPECT_EQ(sc::SlotName("r1"), "mosta_r1");
	EXPECT_EQ(sc::SlotName("Sync-Orders.v2"), "mosta__ync__rders_v2");
}
