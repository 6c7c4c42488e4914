// command_line_test.cpp: mosta-migrate's option parsing.
#include <gtest/gtest.h>

#include "command_line.hpp"

namespace mosta::migrate {
namespace {

TEST(CommandLine, OptionsFlagsAndPositionals) {
	CommandLine line({"shop.json", "--source", "mongodb://h/db", "--batch=500", "--until-caught-up"});
	EXPECT_EQ(line.Positional(0, "MAPPING"), "shop.json");
	EXPECT_EQ(line.Required("source"), "mongodb://h/db");
	EXPECT_EQ(line.Number("batch", 1000, 1, 100000), 500);
	EXPECT_TRUE(line.Flag("until-caught-up"));
	EXPECT_FALSE(line.Flag("apply"));
	EXPECT_NO_THROW(line.Finish());
}

TEST(CommandLine, MistakesAreUsageErrors) {
	CommandLine line({"--batch", "x", "--typo", "1"});
	EXPECT_THROW(line.Positional(0, "MAPPING"), UsageError);
	EXPECT_THROW(line.Number("batch", 1, 1, 10), UsageError);
	EXPECT_THROW(line.Required("source"), UsageError);
	EXPECT_THROW(line.Finish(), UsageError); // --typo was never asked for
	EXPECT_THROW(CommandLine({"--a", "1", "--a", "2"}), UsageError);
}

} // namespace
} // namespace mosta::migrate
