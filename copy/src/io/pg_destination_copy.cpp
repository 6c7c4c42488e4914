/*
 * pg_destination_copy.cpp
 *     COPY text escaping (pg_destination_copy.hpp): runs of plain bytes are appended whole; only the four bytes
 *     that need it are looked for, with a table.
 */
#include "io/pg_destination_copy.hpp"

#include <array>

namespace mosta::copy {

namespace {

// kEscape maps a byte to the letter written after a backslash for it, or 0 when it is written as it is.
constexpr std::array<char, 256>
MakeEscapeTable() {
	std::array<char, 256> table{};
	table[static_cast<unsigned char>('\\')] = '\\';
	table[static_cast<unsigned char>('\t')] = 't';
	table[static_cast<unsigned char>('\n')] = 'n';
	table[static_cast<unsigned char>('\r')] = 'r';
	return table;
}
constexpr std::array<char, 256> kEscape = MakeEscapeTable();

} // namespace

void
AppendCopyField(std::string_view field, std::string &out) {
	const char *data = field.data();
	const std::size_t size = field.size();
	std::size_t start = 0;
	for (std::size_t i = 0; i < size; ++i) {
		char letter = kEscape[static_cast<unsigned char>(data[i])];
		if (letter == 0)
			continue;
		out.append(data + start, i - start);
		out.push_back('\\');
		out.push_back(letter);
		start = i + 1;
	}
	out.append(data + start, size - start);
}

void
AppendCopyRows(const RowBatch &batch, std::size_t first, std::size_t end, std::string &out) {
	const std::size_t columns = batch.Columns();
	for (std::size_t row = first; row < end; ++row) {
		for (std::size_t column = 0; column < columns; ++column) {
			if (column > 0)
				out.push_back('\t');
			std::optional<std::string_view> field = batch.Field(row, column);
			if (field)
				AppendCopyField(*field, out);
			else
				out.append("\\N", 2);
		}
		out.push_back('\n');
	}
}

} // namespace mosta::copy
