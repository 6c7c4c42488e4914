/*
 * copy_text_test.cpp
 *     COPY's text format read into a batch: tabs split fields, \N is NULL (but "\\N" is the text \N), every
 *     escape PostgreSQL writes or reads is undone, rows with the wrong number of fields are refused. The lines are
 *     what PostgreSQL 15's COPY ... TO STDOUT wrote for test/integration/lib/copy_zoo.sql.
 */
#include <gtest/gtest.h>

#include "io/copy_text.hpp"

namespace mosta::copy {
namespace {

TEST(CopyText, SplitsFieldsAndReadsNulls) {
	RowBatch batch(4, ValueForm::PgText);
	EXPECT_EQ(ParseCopyLine("3\t\\N\t\t\\N", batch), "");
	EXPECT_EQ(ParseCopyLine("4\tx\\\\N\t\\\\N\ty", batch), "");
	ASSERT_EQ(batch.Rows(), 2u);
	EXPECT_EQ(*batch.Field(0, 0), "3");
	EXPECT_FALSE(batch.Field(0, 1).has_value());
	EXPECT_EQ(*batch.Field(0, 2), ""); // the empty text is not NULL
	EXPECT_FALSE(batch.Field(0, 3).has_value());
	EXPECT_EQ(*batch.Field(1, 1), "x\\N");
	EXPECT_EQ(*batch.Field(1, 2), "\\N");
	EXPECT_EQ(*batch.Field(1, 3), "y");
}

TEST(CopyText, UndoesEscapesAsTheServerWroteThem) {
	RowBatch batch(4, ValueForm::PgText);
	// zoo.values row 2's t, by, a json text with a line break, a text[] with quotes and backslashes
	EXPECT_EQ(ParseCopyLine("tab\\there\\nnewline\\r\\\\back \\\\N é 日本\t\\\\x\t{\"a\":\\n 1}\t"
							"{\"a,b\",\"q\\\\\"uote\",\"back\\\\\\\\slash\"}",
							batch),
			  "");
	EXPECT_EQ(*batch.Field(0, 0), "tab\there\nnewline\r\\back \\N é 日本");
	EXPECT_EQ(*batch.Field(0, 1), "\\x");
	EXPECT_EQ(*batch.Field(0, 2), "{\"a\":\n 1}");
	EXPECT_EQ(*batch.Field(0, 3), "{\"a,b\",\"q\\\"uote\",\"back\\\\slash\"}");
}

TEST(CopyText, ReadsEveryEscapeCopyFromReads) {
	RowBatch batch(1, ValueForm::PgText);
	EXPECT_EQ(ParseCopyLine("\\b\\f\\v\\101\\0610\\x41\\x4a1\\xz\\q", batch), "");
	EXPECT_EQ(*batch.Field(0, 0), std::string("\b\f\vA") + "10" + "A" + "J1" + "xz" + "q");
}

TEST(CopyText, ARowOfATableWithoutColumns) {
	RowBatch batch(0, ValueForm::PgText);
	EXPECT_EQ(ParseCopyLine("", batch), "");
	EXPECT_EQ(ParseCopyLine("", batch), "");
	EXPECT_EQ(batch.Rows(), 2u);
	EXPECT_NE(ParseCopyLine("x", batch), "");
}

TEST(CopyText, RefusesRowsOfTheWrongWidth) {
	RowBatch batch(3, ValueForm::PgText);
	EXPECT_NE(ParseCopyLine("1\t2", batch).find("2 field(s)"), std::string::npos);
	RowBatch other(2, ValueForm::PgText);
	EXPECT_NE(ParseCopyLine("1\t2\t3", other).find("3 fields"), std::string::npos);
	RowBatch narrow(3, ValueForm::PgText);
	EXPECT_NE(ParseCopyLine("only", narrow).find("the table has 3 column(s)"), std::string::npos);
}

} // namespace
} // namespace mosta::copy
