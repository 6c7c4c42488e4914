/*
 * identifiers_test.cpp
 *     Unit tests for QuoteIdentifier, QuoteQualifiedName and QuoteLiteral.
 */
#include "mosta/common/identifiers.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace {

using namespace std::string_literals;

TEST(QuoteIdentifier, QuotesPlainNames) {
	EXPECT_EQ(mosta::QuoteIdentifier("users"), "\"users\"");
	EXPECT_EQ(mosta::QuoteIdentifier("Mixed Case"), "\"Mixed Case\"");
	EXPECT_EQ(mosta::QuoteIdentifier("select"), "\"select\"");
	EXPECT_EQ(mosta::QuoteIdentifier("émoji😀"), "\"émoji😀\"");
}

TEST(QuoteIdentifier, DoublesEmbeddedDoubleQuotes) {
	EXPECT_EQ(mosta::QuoteIdentifier("x\"; drop table y; --"), "\"x\"\"; drop table y; --\"");
	EXPECT_EQ(mosta::QuoteIdentifier("\""), "\"\"\"\"");
	EXPECT_EQ(mosta::QuoteIdentifier("a\"\"b"), "\"a\"\"\"\"b\"");
}

TEST(QuoteIdentifier, LeavesOtherCharactersAlone) {
	EXPECT_EQ(mosta::QuoteIdentifier("it's"), "\"it's\"");
	EXPECT_EQ(mosta::QuoteIdentifier("back\\slash"), "\"back\\slash\"");
	EXPECT_EQ(mosta::QuoteIdentifier(" "), "\" \"");
}

TEST(QuoteIdentifier, RejectsEmptyAndNul) {
	EXPECT_THROW(mosta::QuoteIdentifier(""), std::invalid_argument);
	EXPECT_THROW(mosta::QuoteIdentifier("a\0b"s), std::invalid_argument);
	EXPECT_THROW(mosta::QuoteIdentifier("\0"s), std::invalid_argument);
}

TEST(QuoteQualifiedName, QuotesBothParts) {
	EXPECT_EQ(mosta::QuoteQualifiedName("public", "users"), "\"public\".\"users\"");
	EXPECT_EQ(mosta::QuoteQualifiedName("my.schema", "t\"x"), "\"my.schema\".\"t\"\"x\"");
}

TEST(QuoteQualifiedName, RejectsEmptyOrNulParts) {
	EXPECT_THROW(mosta::QuoteQualifiedName("", "users"), std::invalid_argument);
	EXPECT_THROW(mosta::QuoteQualifiedName("public", ""), std::invalid_argument);
	EXPECT_THROW(mosta::QuoteQualifiedName("pub\0lic"s, "users"), std::invalid_argument);
}

TEST(QuoteLiteral, DoublesSingleQuotesOnly) {
	EXPECT_EQ(mosta::QuoteLiteral("abc"), "'abc'");
	EXPECT_EQ(mosta::QuoteLiteral("it's"), "'it''s'");
	EXPECT_EQ(mosta::QuoteLiteral("'); drop table y; --"), "'''); drop table y; --'");
	EXPECT_EQ(mosta::QuoteLiteral("back\\slash\\'"), "'back\\slash\\'''");
	EXPECT_EQ(mosta::QuoteLiteral("say \"hi\""), "'say \"hi\"'");
}

TEST(QuoteLiteral, AcceptsEmptyAndRejectsNul) {
	EXPECT_EQ(mosta::QuoteLiteral(""), "''");
	EXPECT_THROW(mosta::QuoteLiteral("a\0b"s), std::invalid_argument);
}

} // namespace
