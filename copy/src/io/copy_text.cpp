/*
 * copy_text.cpp
 *     COPY text escaping and unescaping (copy_text.hpp): plain runs are copied at once (memchr), only escapes are
 *     handled byte by byte.
 */
#include "io/copy_text.hpp"

#include <array>
#include <cstring>

#include "mosta/common/hex.hpp"

namespace mosta::copy {

namespace {

// kEscapes maps each byte to the letter of its escape (0: written as it is).
constexpr std::array<char, 256>
MakeEscapes() {
	std::array<char, 256> table{};
	table[static_cast<unsigned char>('\\')] = '\\';
	table[static_cast<unsigned char>('\n')] = 'n';
	table[static_cast<unsigned char>('\r')] = 'r';
	table[static_cast<unsigned char>('\t')] = 't';
	return table;
}
constexpr std::array<char, 256> kEscapes = MakeEscapes();

bool
IsOctal(char c) noexcept {
	return c >= '0' && c <= '7';
}

// UnescapeField appends the unescaped field (no \N: the caller took it) to out.
void
UnescapeField(std::string_view field, std::string &out) {
	std::size_t i = 0;
	while (i < field.size()) {
		const void *backslash = std::memchr(field.data() + i, '\\', field.size() - i);
		std::size_t run_end = backslash == nullptr
								  ? field.size()
								  : static_cast<std::size_t>(static_cast<const char *>(backslash) - field.data());
		out.append(field.data() + i, run_end - i);
		i = run_end;
		if (i >= field.size())
			break;
		++i; // the backslash
		if (i >= field.size()) {
			out.push_back('\\'); // a lone backslash at the end: COPY keeps it
			break;
		}
		char c = field[i++];
		switch (c) {
		case 'n':
			out.push_back('\n');
			break;
		case 'r':
			out.push_back('\r');
			break;
		case 't':
			out.push_back('\t');
			break;
		case 'b':
			out.push_back('\b');
			break;
		case 'f':
			out.push_back('\f');
			break;
		case 'v':
			out.push_back('\v');
			break;
		case 'x': {
			int value = -1;
			if (i < field.size() && HexDigitValue(field[i]) >= 0) {
				value = HexDigitValue(field[i++]);
				if (i < field.size() && HexDigitValue(field[i]) >= 0)
					value = value * 16 + HexDigitValue(field[i++]);
				out.push_back(static_cast<char>(value));
			} else {
				out.push_back('x');
			}
			break;
		}
		default:
			if (IsOctal(c)) {
				int value = c - '0';
				for (int k = 0; k < 2 && i < field.size() && IsOctal(field[i]); ++k)
					value = value * 8 + (field[i++] - '0');
				out.push_back(static_cast<char>(value & 0xff));
			} else {
				out.push_back(c);
			}
		}
	}
}

} // namespace

void
AppendCopyField(std::string_view value, std::string &out) {
	const char *data = value.data();
	std::size_t size = value.size();
	std::size_t run = 0;
	for (std::size_t i = 0; i < size; ++i) {
		char escape = kEscapes[static_cast<unsigned char>(data[i])];
		if (escape == 0)
			continue;
		out.append(data + run, i - run);
		out.push_back('\\');
		out.push_back(escape);
		run = i + 1;
	}
	out.append(data + run, size - run);
}

void
AppendCopyRow(const RowBatch &batch, std::size_t row, std::string &out) {
	std::size_t columns = batch.Columns();
	for (std::size_t column = 0; column < columns; ++column) {
		if (column > 0)
			out.push_back('\t');
		std::optional<std::string_view> field = batch.Field(row, column);
		if (!field)
			out.append("\\N", 2);
		else
			AppendCopyField(*field, out);
	}
	out.push_back('\n');
}

std::string
ParseCopyLine(std::string_view line, RowBatch &batch) {
	std::size_t columns = batch.Columns();
	if (columns == 0) {
		if (!line.empty())
			return "a row of a table without copied columns must be an empty line";
		batch.AddEmptyRow();
		return "";
	}
	std::size_t start = 0;
	for (std::size_t column = 0; column < columns; ++column) {
		if (start > line.size())
			return "the line has " + std::to_string(column) + " field(s), the table has " + std::to_string(columns) +
				   " column(s)";
		const void *tab = std::memchr(line.data() + start, '\t', line.size() - start);
		std::size_t end =
			tab == nullptr ? line.size() : static_cast<std::size_t>(static_cast<const char *>(tab) - line.data());
		std::string_view field = line.substr(start, end - start);
		if (field == "\\N") {
			batch.AddNull();
		} else if (field.find('\\') == std::string_view::npos) {
			batch.AddField(field);
		} else {
			UnescapeField(field, batch.StartField());
			batch.FinishField();
		}
		start = end + 1;
	}
	if (start <= line.size()) {
		// fields left over: count them for the message
		std::size_t extra = 1;
		for (std::size_t i = start; i < line.size(); ++i)
			extra += line[i] == '\t' ? 1 : 0;
		return "the line has " + std::to_string(columns + extra) + " fields, the table has " + std::to_string(columns) +
			   " column(s)";
	}
	return "";
}

} // namespace mosta::copy
