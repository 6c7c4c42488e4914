/*
 * verify_diff_test.cpp
 *     The per-column lines verify prints under a differing key: only the columns that differ, NULL apart from the
 *     empty text, values escaped and cut to kVerifyValueChars characters (UTF-8 kept whole) with their length.
 */
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "app/verify_diff.hpp"

using mosta::sidecar::DifferingColumnLines;
using mosta::sidecar::kVerifyValueChars;
using mosta::sidecar::ShownValue;

TEST(VerifyDiff, NamesOnlyTheColumnsThatDiffer) {
	std::vector<std::string> names{"id", "amount", "note", "doc"};
	std::vector<std::optional<std::string>> source{"1", "13.20", std::nullopt, "null"};
	std::vector<std::optional<std::string>> target{"1", "12.30", "", std::nullopt};
	EXPECT_EQ(DifferingColumnLines(names, source, target),
			  (std::vector<std::string>{R"(column amount: source "13.20", target "12.30")",
										R"(column note: source NULL, target "")",
										R"(column doc: source "null", target NULL)"}));
	EXPECT_TRUE(DifferingColumnLines(names, source, source).empty());
	// a row the second read did not find: every non-NULL source value differs
	EXPECT_EQ(DifferingColumnLines({"id", "v"}, {"1", std::nullopt}, {}),
			  (std::vector<std::string>{R"(column id: source "1", target NULL)"}));
}

TEST(VerifyDiff, EscapesAndCutsLongValues) {
	EXPECT_EQ(ShownValue(std::string("a\"b\\c\nd\x01")), R"("a\"b\\c\nd\x01")");
	std::string long_text(100, 'x');
	EXPECT_EQ(ShownValue(long_text), "\"" + std::string(kVerifyValueChars, 'x') + "\"... (100 bytes)");
	std::string accents;
	for (int i = 0; i < 70; ++i)
		accents += "\xC3\xA9"; // é: 2 bytes, one character
	std::string shown = ShownValue(accents);
	EXPECT_EQ(shown.substr(0, 1 + kVerifyValueChars * 2), "\"" + accents.substr(0, kVerifyValueChars * 2));
	EXPECT_EQ(shown.substr(1 + kVerifyValueChars * 2), "\"... (140 bytes)");
	EXPECT_EQ(ShownValue(std::string(kVerifyValueChars, 'y')), "\"" + std::string(kVerifyValueChars, 'y') + "\"");
}
