/*
 * run_progress_test.cpp
 *     The progress display (run/progress): live lines redrawn in place on a terminal (rows, bytes, rate, ETA from
 *     the estimated rows), plain lines otherwise (one per table when it ends), sizes for people.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "run/progress.hpp"
#include "run_fakes.hpp"

namespace mosta::copy {
namespace {

std::string
Drain(std::FILE *file) {
	std::fflush(file);
	std::rewind(file);
	std::string text;
	char buffer[4096];
	std::size_t n;
	while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
		text.append(buffer, n);
	return text;
}

TEST(RunProgress, LiveLinesRedrawnInPlace) {
	std::FILE *out = std::tmpfile();
	TableDef big = testing::MakeTable("app", "big", {"v"}, 1000);
	TableDef small = testing::MakeTable("app", "small", {"v"}, -1);
	{
		auto display = MakeProgressDisplay(out, true);
		display->TableStarted(big);
		display->TableStarted(small);
		display->TableAdvanced(big, 500, 2048);
		display->TableFinished(small, 3, 30);
		display->TableFinished(big, 1000, 4096);
	}
	std::string text = Drain(out);
	std::fclose(out);
	EXPECT_NE(text.find("  app.big: 0 rows of ~1000 (0%)"), std::string::npos) << text;
	EXPECT_NE(text.find("  app.small: 0 rows, 0 B"), std::string::npos) << text;
	EXPECT_NE(text.find("\033[2A\033[J"), std::string::npos) << "two live lines erased before a table's end line";
	EXPECT_NE(text.find("mosta-copy: app.small: 3 rows, 30 B in "), std::string::npos) << text;
	EXPECT_NE(text.find("mosta-copy: app.big: 1000 rows, 4.0 kB in "), std::string::npos) << text;
}

TEST(RunProgress, PlainLinesWithoutTerminalCodes) {
	std::FILE *out = std::tmpfile();
	TableDef table = testing::MakeTable("zoo", "t", {"v"}, 10);
	{
		auto display = MakeProgressDisplay(out, false);
		display->TableStarted(table);
		display->TableAdvanced(table, 5, 50);
		display->TableFinished(table, 10, 100);
	}
	std::string text = Drain(out);
	std::fclose(out);
	EXPECT_EQ(text.rfind("mosta-copy: zoo.t: 10 rows, 100 B in ", 0), 0U) << text;
	EXPECT_EQ(text.find('\033'), std::string::npos) << text;
	EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST(RunProgress, FormatBytes) {
	EXPECT_EQ(FormatBytes(0), "0 B");
	EXPECT_EQ(FormatBytes(1023), "1023 B");
	EXPECT_EQ(FormatBytes(1536), "1.5 kB");
	EXPECT_EQ(FormatBytes(512ULL << 20), "512.0 MB");
	EXPECT_EQ(FormatBytes(3ULL << 30), "3.0 GB");
}

} // namespace
} // namespace mosta::copy
