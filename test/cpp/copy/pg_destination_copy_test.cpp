/*
 * pg_destination_copy_test.cpp
 *     COPY text escaping (io/pg_destination_copy.hpp): the four bytes COPY needs escaped, \N for NULL, tabs between
 *     fields and a newline after each row; everything else as it is.
 */
#include <gtest/gtest.h>

#include "io/pg_destination_copy.hpp"

namespace mosta::copy {
namespace {

std::string
Escaped(std::string_view field) {
	std::string out;
	AppendCopyField(field, out);
	return out;
}

TEST(PgDestinationCopy, EscapesBackslashTabNewlineCarriageReturn) {
	EXPECT_EQ(Escaped("plain"), "plain");
	EXPECT_EQ(Escaped(""), "");
	EXPECT_EQ(Escaped("a\\b"), "a\\\\b");
	EXPECT_EQ(Escaped("\t\n\r"), "\\t\\n\\r");
	EXPECT_EQ(Escaped("\\N"), "\\\\N");
	EXPECT_EQ(Escaped("\\."), "\\\\.");
	EXPECT_EQ(Escaped("end\\"), "end\\\\");
}

TEST(PgDestinationCopy, KeepsOtherBytes) {
	std::string bytes;
	for (int c = 1; c < 256; ++c)
		if (c != '\\' && c != '\t' && c != '\n' && c != '\r')
			bytes.push_back(static_cast<char>(c));
	EXPECT_EQ(Escaped(bytes), bytes);
	EXPECT_EQ(Escaped("é 日本 \"q\" 'x' ,;"), "é 日本 \"q\" 'x' ,;");
}

TEST(PgDestinationCopy, RowsHaveTabsNullsAndNewlines) {
	RowBatch batch(3, ValueForm::PgText);
	batch.AddField("1");
	batch.AddNull();
	batch.AddField("x\ty");
	batch.AddField("");
	batch.AddField("NULL");
	batch.AddNull();
	std::string out;
	AppendCopyRows(batch, 0, batch.Rows(), out);
	EXPECT_EQ(out, "1\t\\N\tx\\ty\n\tNULL\t\\N\n");
	out.clear();
	AppendCopyRows(batch, 1, 2, out);
	EXPECT_EQ(out, "\tNULL\t\\N\n");
}

TEST(PgDestinationCopy, RowsWithoutColumnsAreEmptyLines) {
	RowBatch batch(0, ValueForm::PgText);
	batch.AddEmptyRow();
	batch.AddEmptyRow();
	std::string out;
	AppendCopyRows(batch, 0, batch.Rows(), out);
	EXPECT_EQ(out, "\n\n");
}

} // namespace
} // namespace mosta::copy
