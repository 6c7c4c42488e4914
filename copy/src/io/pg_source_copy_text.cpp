/*
 * pg_source_copy_text.cpp
 *     The COPY text row reader (see pg_source_copy_text.hpp). The hot loop of a PostgreSQL source: each field's
 *     plain runs are appended at once, only escapes are handled byte by byte.
 */
#include "io/pg_source_copy_text.hpp"

#include <cstring>
#include <string>

#include "io/source.hpp"

namespace mosta::copy {

namespace {

bool
IsOctal(char c) noexcept {
	return c >= '0' && c <= '7';
}

int
HexValue(char c) noexcept {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

// Unescape reads the escape after a backslash at *p (p past the backslash) and appends its byte.
void
Unescape(const char *&p, const char *end, std::string &out) {
	char c = *p++;
	switch (c) {
	case 'b':
		out += '\b';
		return;
	case 'f':
		out += '\f';
		return;
	case 'n':
		out += '\n';
		return;
	case 'r':
		out += '\r';
		return;
	case 't':
		out += '\t';
		return;
	case 'v':
		out += '\v';
		return;
	case 'x':
		if (p < end && HexValue(*p) >= 0) {
			int value = HexValue(*p++);
			if (p < end && HexValue(*p) >= 0)
				value = value * 16 + HexValue(*p++);
			out += static_cast<char>(value);
			return;
		}
		out += 'x';
		return;
	default:
		if (IsOctal(c)) {
			int value = c - '0';
			for (int i = 0; i < 2 && p < end && IsOctal(*p); ++i)
				value = value * 8 + (*p++ - '0');
			out += static_cast<char>(value & 0xff);
			return;
		}
		out += c;
		return;
	}
}

[[noreturn]] void
BadRow(std::string_view line, std::size_t columns, const char *problem) {
	constexpr std::size_t kShown = 200;
	std::string shown(line.substr(0, kShown));
	throw CopyError("COPY sent a row that does not hold " + std::to_string(columns) + " fields (" + problem + "): \"" +
					shown + (line.size() > kShown ? "...\"" : "\""));
}

} // namespace

void
AppendCopyTextRow(std::string_view line, RowBatch &batch) {
	if (!line.empty() && line.back() == '\n')
		line.remove_suffix(1);
	std::size_t columns = batch.Columns();
	if (columns == 0) {
		if (!line.empty())
			BadRow(line, columns, "a field");
		batch.AddEmptyRow();
		return;
	}
	const char *p = line.data();
	const char *end = p + line.size();
	for (std::size_t column = 0; column < columns; ++column) {
		if (column > 0) {
			if (p >= end)
				BadRow(line, columns, "too few");
			++p; // the tab that ended the previous field
		}
		if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' && (end - p == 2 || p[2] == '\t')) {
			batch.AddNull();
			p += 2;
			continue;
		}
		std::string &out = batch.StartField();
		const char *run = p;
		while (p < end && *p != '\t') {
			if (*p != '\\') {
				++p;
				continue;
			}
			out.append(run, static_cast<std::size_t>(p - run));
			if (++p >= end)
				BadRow(line, columns, "a backslash at the end");
			Unescape(p, end, out);
			run = p;
		}
		out.append(run, static_cast<std::size_t>(p - run));
		batch.FinishField();
	}
	if (p != end)
		BadRow(line, columns, "too many");
}

} // namespace mosta::copy
