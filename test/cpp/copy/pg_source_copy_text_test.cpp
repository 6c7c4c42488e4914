/*
 * pg_source_copy_text_test.cpp
 *     COPY's text format read into a batch: tabs split fields, \N is NULL (but "\\N" is the text \N), every
 *     escape PostgreSQL writes or reads is undone, rows with the wrong number of fields are refused. The lines are
 *     what PostgreSQL 15's COPY ... TO STDOUT wrote for test/integration/lib/copy_zoo.sql.
 */
#include <gtest/gtest.h>

#include "io/pg_source_copy_text.hpp"
#include "io/source.hpp"

namespace mosta::copy {
namespace {

TEST(PgSourceCopyText, SplitsFieldsAndReadsNulls) {
	RowBatch batch(4, ValueForm::PgText);
	AppendCopyTextRow("3\t\\N\t\t\\N\n", batch);
	AppendCopyTextRow("4\tx\\\\N\t\\\\N\ty\n", batch);
	ASSERT_EQ(batch.Rows(), 2u);
	EXPECT_EQ(*batch.Field(0, 0), "3");
	EXPECT_FALSE(batch.Field(0, 1).has_value());
	EXPECT_EQ(*batch.Field(0, 2), ""); // the empty text is not NULL
	EXPECT_FALSE(batch.Field(0, 3).has_value());
	EXPECT_EQ(*batch.Field(1, 1), "x\\N");
	EXPECT_EQ(*batch.Field(1, 2), "\\N");
	EXPECT_EQ(*batch.Field(1, 3), "y");
}

TEST(PgSourceCopyText, UndoesEscapesAsTheServerWroteThem) {
	RowBatch batch(4, ValueForm::PgText);
	// zoo.values row 2's t, by, a json text with a line break, a text[] with quotes and backslashes
	AppendCopyTextRow("tab\\there\\nnewline\\r\\\\back \\\\N é 日本\t\\\\x\t{\"a\":\\n 1}\t"
					  "{\"a,b\",\"q\\\\\"uote\",\"back\\\\\\\\slash\"}\n",
					  batch);
	EXPECT_EQ(*batch.Field(0, 0), "tab\there\nnewline\r\\back \\N é 日本");
	EXPECT_EQ(*batch.Field(0, 1), "\\x");
	EXPECT_EQ(*batch.Field(0, 2), "{\"a\":\n 1}");
	EXPECT_EQ(*batch.Field(0, 3), "{\"a,b\",\"q\\\"uote\",\"back\\\\slash\"}");
}

TEST(PgSourceCopyText, ReadsEveryEscapeCopyFromReads) {
	RowBatch batch(1, ValueForm::PgText);
	AppendCopyTextRow("\\b\\f\\v\\101\\0610\\x41\\x4a1\\xz\\q", batch);
	EXPECT_EQ(*batch.Field(0, 0), std::string("\b\f\vA") + "10" + "A" + "J1" + "xz" + "q");
}

TEST(PgSourceCopyText, ARowOfATableWithoutColumns) {
	RowBatch batch(0, ValueForm::PgText);
	AppendCopyTextRow("\n", batch);
	AppendCopyTextRow("\n", batch);
	EXPECT_EQ(batch.Rows(), 2u);
	EXPECT_THROW(AppendCopyTextRow("x\n", batch), CopyError);
}

TEST(PgSourceCopyText, RefusesRowsOfTheWrongWidth) {
	RowBatch batch(3, ValueForm::PgText);
	EXPECT_THROW(AppendCopyTextRow("1\t2\n", batch), CopyError);
	RowBatch other(2, ValueForm::PgText);
	EXPECT_THROW(AppendCopyTextRow("1\t2\t3\n", other), CopyError);
	RowBatch trailing(1, ValueForm::PgText);
	EXPECT_THROW(AppendCopyTextRow("abc\\", trailing), CopyError);
	try {
		RowBatch narrow(3, ValueForm::PgText);
		AppendCopyTextRow("only\n", narrow);
	} catch (const CopyError &error) {
		EXPECT_NE(std::string(error.what()).find("3 fields"), std::string::npos) << error.what();
		EXPECT_NE(std::string(error.what()).find("\"only\""), std::string::npos) << error.what();
	}
}

} // namespace
} // namespace mosta::copy
