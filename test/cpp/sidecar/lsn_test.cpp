/*
 * lsn_test.cpp
 *     Unit tests for ParseLsn and FormatLsn against pg_lsn's input and output rules.
 */
#include "pg/lsn.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

using mosta::sidecar::FormatLsn;
using mosta::sidecar::Lsn;
using mosta::sidecar::ParseLsn;
using namespace std::string_literals;

TEST(ParseLsn, ReadsBothHalves) {
	EXPECT_EQ(ParseLsn("16/B374D848"), Lsn{0x16B374D848});
	EXPECT_EQ(ParseLsn("0/0"), Lsn{0});
	EXPECT_EQ(ParseLsn("0/1511B48"), Lsn{0x1511B48});
	EXPECT_EQ(ParseLsn("1/0"), Lsn{1} << 32);
	EXPECT_EQ(ParseLsn("FFFFFFFF/FFFFFFFF"), Lsn{0xFFFFFFFFFFFFFFFF});
}

TEST(ParseLsn, AcceptsEitherCaseAndLeadingZeros) {
	EXPECT_EQ(ParseLsn("16/b374d848"), Lsn{0x16B374D848});
	EXPECT_EQ(ParseLsn("aB/cD"), Lsn{0xAB000000CD});
	EXPECT_EQ(ParseLsn("00000016/0000000A"), Lsn{0x160000000A});
}

TEST(ParseLsn, RejectsMissingOrEmptyParts) {
	for (const char *text : {"", "/", "16", "16/", "/B374D848", "16B374D848", "16//1", "1/2/3"})
		EXPECT_EQ(ParseLsn(text), std::nullopt) << text;
}

TEST(ParseLsn, RejectsMoreThanEightDigitsPerPart) {
	EXPECT_EQ(ParseLsn("100000000/0"), std::nullopt);
	EXPECT_EQ(ParseLsn("0/100000000"), std::nullopt);
	EXPECT_EQ(ParseLsn("000000000/0"), std::nullopt);
}

TEST(ParseLsn, RejectsAnythingButHexDigits) {
	for (const char *text :
		 {" 0/0", "0/0 ", "0 /0", "0/ 0", "+1/0", "-1/0", "0x1/0", "1/0x2", "G/0", "0/g", "1.5/0", "0/0\n"})
		EXPECT_EQ(ParseLsn(text), std::nullopt) << text;
	EXPECT_EQ(ParseLsn("0/0\0"s), std::nullopt);
	EXPECT_EQ(ParseLsn("0\0/0"s), std::nullopt);
}

TEST(FormatLsn, PrintsUppercaseHexWithoutLeadingZeros) {
	EXPECT_EQ(FormatLsn(0x16B374D848), "16/B374D848");
	EXPECT_EQ(FormatLsn(0), "0/0");
	EXPECT_EQ(FormatLsn(0x1511B48), "0/1511B48");
	EXPECT_EQ(FormatLsn(Lsn{1} << 32), "1/0");
	EXPECT_EQ(FormatLsn(0x0000000A0000000B), "A/B");
	EXPECT_EQ(FormatLsn(0xFFFFFFFFFFFFFFFF), "FFFFFFFF/FFFFFFFF");
	EXPECT_EQ(FormatLsn(mosta::sidecar::kInvalidLsn), "0/0");
}

TEST(FormatLsn, RoundTripsThroughParseLsn) {
	for (Lsn lsn : {Lsn{0}, Lsn{1}, Lsn{0xFFFFFFFF}, Lsn{0x100000000}, Lsn{0x16B374D848}, Lsn{0x8000000000000000},
					Lsn{0xFFFFFFFFFFFFFFFF}})
		EXPECT_EQ(ParseLsn(FormatLsn(lsn)), lsn) << FormatLsn(lsn);
	EXPECT_EQ(FormatLsn(*ParseLsn("00000016/0b374d84")), "16/B374D84");
}

} // namespace
