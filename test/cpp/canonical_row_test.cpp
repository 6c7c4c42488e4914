// canonical_row_test.cpp
//     The canonical row encoding, SipHash-2-4 and the checksum of docs/verification.md.
#include "mosta/common/canonical_row.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

using mosta::CanonicalColumn;
using mosta::ChecksumState;

// HashOf returns the row hash of columns.
mosta::Hash128
HashOf(std::vector<CanonicalColumn> columns) {
	std::string encoded = mosta::EncodeCanonicalRow(std::move(columns));
	return mosta::CanonicalRowHash(encoded.data(), encoded.size());
}

// ChecksumOf returns the checksum text of rows, added in the given order.
std::string
ChecksumOf(const std::vector<std::vector<CanonicalColumn>> &rows) {
	ChecksumState state;
	for (const auto &row : rows)
		state.Add(HashOf(row));
	return state.Text();
}

TEST(SipHash24, ReferenceVectors) {
	// the SipHash paper's key 00 01 .. 0f, messages 00 01 .. (n-1)
	unsigned char key[16];
	unsigned char message[64];
	for (int i = 0; i < 16; ++i)
		key[i] = static_cast<unsigned char>(i);
	for (int i = 0; i < 64; ++i)
		message[i] = static_cast<unsigned char>(i);
	EXPECT_EQ(mosta::SipHash24(key, message, 0), 0x726fdb47dd0e0e31ULL);
	EXPECT_EQ(mosta::SipHash24(key, message, 1), 0x74f839c593dc67fdULL);
	EXPECT_EQ(mosta::SipHash24(key, message, 15), 0xa129ca6149be45e5ULL);
}

TEST(CanonicalRow, EncodingLayout) {
	std::string encoded = mosta::EncodeCanonicalRow({{"b", std::nullopt}, {"a", std::string("xy")}});
	const std::string expected("\0\0\0\1a"
							   "V\0\0\0\2xy"
							   "\0\0\0\1b"
							   "N",
							   1 + 4 + 1 + 4 + 2 + 4 + 1 + 1);
	EXPECT_EQ(encoded, expected);
}

TEST(CanonicalRow, RowHashVector) {
	// pinned: the extension's tests check the same value (test/pgtap/94_verify.sql)
	char text[mosta::kHash128HexSize + 1];
	mosta::FormatHash128(HashOf({{"id", std::string("1")}, {"name", std::string("a")}}), text);
	EXPECT_EQ(std::string(text), "bc0d59ef10bf443ade6ff6b25bdf13b7");
	mosta::FormatHash128(HashOf({}), text);
	std::string empty_row = text;
	EXPECT_EQ(mosta::CanonicalRowHash("", 0), HashOf({}));
	EXPECT_NE(empty_row, std::string(32, '0'));
}

TEST(CanonicalRow, NullIsNotEmpty) {
	EXPECT_NE(HashOf({{"a", std::nullopt}}), HashOf({{"a", std::string()}}));
	EXPECT_NE(HashOf({{"a", std::string("N")}}), HashOf({{"a", std::nullopt}}));
}

TEST(CanonicalRow, NumericScaleCounts) {
	EXPECT_NE(HashOf({{"n", std::string("1.0")}}), HashOf({{"n", std::string("1.00")}}));
}

TEST(CanonicalRow, ColumnOrderDoesNotMatter) {
	EXPECT_EQ(HashOf({{"a", std::string("1")}, {"b", std::string("2")}}),
			  HashOf({{"b", std::string("2")}, {"a", std::string("1")}}));
	// but names are part of the row: values do not slide between columns
	EXPECT_NE(HashOf({{"a", std::string("1")}, {"b", std::string("2")}}),
			  HashOf({{"a", std::string("2")}, {"b", std::string("1")}}));
	EXPECT_NE(HashOf({{"a", std::string("bc")}}), HashOf({{"ab", std::string("c")}}));
}

TEST(Checksum, OrderIndependentMultiset) {
	std::vector<std::vector<CanonicalColumn>> rows = {
		{{"id", std::string("1")}}, {{"id", std::string("2")}}, {{"id", std::string("3")}}};
	std::string forward = ChecksumOf(rows);
	std::reverse(rows.begin(), rows.end());
	EXPECT_EQ(ChecksumOf(rows), forward);
	EXPECT_EQ(forward.size(), 64u);
	// a duplicated row changes it (the xor half alone would not see a pair)
	rows.push_back(rows.front());
	rows.push_back(rows.front());
	EXPECT_NE(ChecksumOf(rows), forward);
	EXPECT_EQ(ChecksumState().Text(), std::string(64, '0'));
}

TEST(Checksum, MergeEqualsAdd) {
	ChecksumState all, left, right;
	for (int i = 0; i < 100; ++i) {
		mosta::Hash128 hash = HashOf({{"id", std::to_string(i)}});
		all.Add(hash);
		(i % 3 == 0 ? left : right).Add(hash);
	}
	left.Merge(right);
	EXPECT_EQ(left.rows, 100u);
	EXPECT_EQ(left.Text(), all.Text());
}

TEST(Json, UnquoteInPlace) {
	std::string token = R"("a\"b\\c\/\n\u00e9\ud83d\ude00")";
	std::size_t size = token.size();
	ASSERT_TRUE(mosta::JsonUnquoteInPlace(token.data(), &size));
	EXPECT_EQ(token.substr(0, size), "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
	std::string bad = R"("\x")";
	size = bad.size();
	EXPECT_FALSE(mosta::JsonUnquoteInPlace(bad.data(), &size));
	std::string bare = "12";
	size = bare.size();
	EXPECT_FALSE(mosta::JsonUnquoteInPlace(bare.data(), &size));
}

TEST(Json, QuoteLikeEscapeJson) {
	EXPECT_EQ(mosta::JsonQuote("a\"b\\\n\x01/\xc3\xa9"), "\"a\\\"b\\\\\\n\\u0001/\xc3\xa9\"");
	std::string quoted = mosta::JsonQuote("x\ty");
	std::size_t size = quoted.size();
	ASSERT_TRUE(mosta::JsonUnquoteInPlace(quoted.data(), &size));
	EXPECT_EQ(quoted.substr(0, size), "x\ty");
}

TEST(Json, EveryByteEscapedAsEscapeJson) {
	// escape_json: \" \\ \b \f \n \r \t by name, other bytes below 0x20 as \u00XX, everything else as is
	for (int c = 1; c < 256; ++c) {
		std::string byte(1, static_cast<char>(c));
		std::string expected;
		switch (c) {
		case '"':
			expected = "\\\"";
			break;
		case '\\':
			expected = "\\\\";
			break;
		case '\b':
			expected = "\\b";
			break;
		case '\f':
			expected = "\\f";
			break;
		case '\n':
			expected = "\\n";
			break;
		case '\r':
			expected = "\\r";
			break;
		case '\t':
			expected = "\\t";
			break;
		default:
			if (c < 0x20) {
				char hex[7];
				std::snprintf(hex, sizeof hex, "\\u%04x", c);
				expected = hex;
			} else {
				expected = byte;
			}
		}
		std::string appended = "x";
		mosta::AppendJsonQuoted(appended, "a" + byte);
		EXPECT_EQ(appended, "x\"a" + expected + "\"") << "byte " << c;
		EXPECT_EQ(mosta::JsonQuote(byte), "\"" + expected + "\"") << "byte " << c;
	}
}

TEST(PgFloat, Float8LikePostgres) {
	EXPECT_EQ(mosta::FormatPgFloat8(1.0), "1");
	EXPECT_EQ(mosta::FormatPgFloat8(-0.0), "-0");
	EXPECT_EQ(mosta::FormatPgFloat8(0.1), "0.1");
	EXPECT_EQ(mosta::FormatPgFloat8(1.5), "1.5");
	EXPECT_EQ(mosta::FormatPgFloat8(0.0001), "0.0001");
	EXPECT_EQ(mosta::FormatPgFloat8(0.00001), "1e-05");
	EXPECT_EQ(mosta::FormatPgFloat8(1e14), "100000000000000");
	EXPECT_EQ(mosta::FormatPgFloat8(1e15), "1e+15");
	EXPECT_EQ(mosta::FormatPgFloat8(1e20), "1e+20");
	EXPECT_EQ(mosta::FormatPgFloat8(1.2345e-300), "1.2345e-300");
	EXPECT_EQ(mosta::FormatPgFloat8(123.456), "123.456");
	EXPECT_EQ(mosta::FormatPgFloat8(0.1 + 0.2), "0.30000000000000004");
	EXPECT_EQ(mosta::FormatPgFloat8(-2.5e16), "-2.5e+16");
	// shortest digits on a bound of the rounding interval: PostgreSQL's Ryu prints more (as PostgreSQL 15 does)
	EXPECT_EQ(mosta::FormatPgFloat8(3092535278770144256.0), "3.0925352787701443e+18");
	EXPECT_EQ(mosta::FormatPgFloat8(-28911310670221792.0), "-2.8911310670221792e+16");
	EXPECT_EQ(mosta::FormatPgFloat8(std::nan("")), "NaN");
	EXPECT_EQ(mosta::FormatPgFloat8(-HUGE_VAL), "-Infinity");
}

TEST(PgFloat, Float4LikePostgres) {
	EXPECT_EQ(mosta::FormatPgFloat4(0.1f), "0.1");
	EXPECT_EQ(mosta::FormatPgFloat4(813194368.0f), "8.1319437e+08");
	EXPECT_EQ(mosta::FormatPgFloat4(100000.0f), "100000");
	EXPECT_EQ(mosta::FormatPgFloat4(1000000.0f), "1e+06");
	EXPECT_EQ(mosta::FormatPgFloat4(1.5e-5f), "1.5e-05");
	// a float4 written as its shortest decimal, read back as a double and narrowed, prints the same
	EXPECT_EQ(mosta::FormatPgFloat4(static_cast<float>(3.14159)), "3.14159");
}

TEST(CanonicalKey, EscapesSeparators) {
	EXPECT_EQ(mosta::CanonicalKeyText({std::string("1")}), "1");
	EXPECT_EQ(mosta::CanonicalKeyText({std::string("a,b"), std::string("c\\d"), std::nullopt}), "a\\,b,c\\\\d,\\N");
}

} // namespace
