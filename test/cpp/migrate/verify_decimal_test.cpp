// verify_decimal_test.cpp: verify's exact decimal sums and the canonical text a value takes once stored.
#include <gtest/gtest.h>

#include "decimal_sum.hpp"
#include "verify_canonical.hpp"

namespace mosta::migrate {
namespace {

std::string
Sum(std::initializer_list<const char *> values) {
	DecimalSum sum;
	for (const char *value : values)
		EXPECT_TRUE(sum.Add(value)) << value;
	return sum.Text();
}

TEST(DecimalSum, AddsExactlyWithTheLargestScale) {
	EXPECT_EQ(Sum({}), "0");
	EXPECT_EQ(Sum({"12.50", "0.5"}), "13.00");
	EXPECT_EQ(Sum({"0.1", "0.2"}), "0.3"); // a double would say 0.30000000000000004
	EXPECT_EQ(Sum({"-3", "1.25"}), "-1.75");
	EXPECT_EQ(Sum({"5", "-5.000"}), "0.000");
	EXPECT_EQ(Sum({"-0.01", "-0.99"}), "-1.00");
	EXPECT_EQ(Sum({"99999999999999999999.999999999999999999", "0.000000000000000001"}),
			  "100000000000000000000.000000000000000000");
	EXPECT_EQ(Sum({"1", "NaN"}), "NaN");
	EXPECT_EQ(Sum({"+7", "-10", "3"}), "0");
}

TEST(DecimalSum, RefusesWhatIsNoDecimal) {
	DecimalSum sum;
	EXPECT_TRUE(sum.Add("2"));
	EXPECT_FALSE(sum.Add("1e5"));
	EXPECT_FALSE(sum.Add("abc"));
	EXPECT_FALSE(sum.Add(""));
	EXPECT_FALSE(sum.Add("-"));
	EXPECT_EQ(sum.Text(), "2");
}

TEST(RescaleDecimal, PadsAndRoundsHalfAwayFromZero) {
	EXPECT_EQ(RescaleDecimal("12.5", 3), "12.500");
	EXPECT_EQ(RescaleDecimal("12", 2), "12.00");
	EXPECT_EQ(RescaleDecimal("1.005", 2), "1.01");
	EXPECT_EQ(RescaleDecimal("-1.005", 2), "-1.01");
	EXPECT_EQ(RescaleDecimal("1.004", 2), "1.00");
	EXPECT_EQ(RescaleDecimal("9.99", 1), "10.0");
	EXPECT_EQ(RescaleDecimal("0.4", 0), "0");
	EXPECT_EQ(RescaleDecimal("-0.4", 0), "0");
	EXPECT_EQ(RescaleDecimal("0.5", 0), "1");
	EXPECT_EQ(RescaleDecimal("NaN", 2), "NaN");
	EXPECT_EQ(RescaleDecimal("x", 2), std::nullopt);
}

TEST(StoredCanonicalText, NumericTakesTheColumnsScale) {
	EXPECT_EQ(NumericScale("numeric(38,18)"), 18);
	EXPECT_EQ(NumericScale("numeric(10)"), 0);
	EXPECT_EQ(NumericScale("numeric"), std::nullopt);
	EXPECT_EQ(NumericScale("text"), std::nullopt);
	EXPECT_EQ(StoredCanonicalText("numeric(20,8)", std::string("12.5")), "12.50000000");
	EXPECT_EQ(StoredCanonicalText("numeric", std::string("12.5")), "12.5");
	EXPECT_EQ(StoredCanonicalText("numeric(20,8)", std::nullopt), std::nullopt);
	EXPECT_EQ(StoredCanonicalText("text", std::string("12.5")), "12.5");
}

TEST(StoredCanonicalText, JsonbKeysInJsonbsOrder) {
	EXPECT_EQ(NormalizeJsonb(R"({"zz": 1, "a": [true, null, "x"], "bb": {"y": 1.50, "x": -0}})"),
			  R"({"a": [true, null, "x"], "bb": {"x": 0, "y": 1.50}, "zz": 1})");
	EXPECT_EQ(NormalizeJsonb(R"({"k":1,"k":2})"), R"({"k": 2})");
	EXPECT_EQ(NormalizeJsonb(R"("\u0041\n")"), R"("A\n")");
	EXPECT_EQ(NormalizeJsonb("{}"), "{}");
	EXPECT_EQ(NormalizeJsonb("[]"), "[]");
	EXPECT_EQ(NormalizeJsonb("{\"a\": }"), std::nullopt);
	EXPECT_EQ(NormalizeJsonb("[1, 2"), std::nullopt);
	EXPECT_EQ(StoredCanonicalText("jsonb", std::string(R"({"b": 1, "a": 2})")), R"({"a": 2, "b": 1})");
	EXPECT_EQ(StoredCanonicalText("jsonb", std::string("not json")), "not json");
}

} // namespace
} // namespace mosta::migrate
