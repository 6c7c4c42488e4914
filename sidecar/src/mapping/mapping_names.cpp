/*
 * mapping_names.cpp
 *     The lexical rules of mapping files (mapping_names.hpp).
 */
#include "mapping/mapping_names.hpp"

#include <algorithm>
#include <iterator>
#include <vector>
#include <cctype>
#include <utility>

namespace mosta::mapping {

namespace {

// PostgreSQL 15's reserved key words (Appendix C, "reserved" and "reserved (can be function or type)") and the
// system column names a table cannot have.
constexpr std::string_view kReserved[] = {
	"all",
	"analyse",
	"analyze",
	"and",
	"any",
	"array",
	"as",
	"asc",
	"asymmetric",
	"authorization",
	"binary",
	"both",
	"case",
	"cast",
	"check",
	"collate",
	"collation",
	"column",
	"concurrently",
	"constraint",
	"create",
	"cross",
	"current_catalog",
	"current_date",
	"current_role",
	"current_schema",
	"current_time",
	"current_timestamp",
	"current_user",
	"default",
	"deferrable",
	"desc",
	"distinct",
	"do",
	"else",
	"end",
	"except",
	"false",
	"fetch",
	"for",
	"foreign",
	"freeze",
	"from",
	"full",
	"grant",
	"group",
	"having",
	"ilike",
	"in",
	"initially",
	"inner",
	"intersect",
	"into",
	"is",
	"isnull",
	"join",
	"lateral",
	"leading",
	"left",
	"like",
	"limit",
	"localtime",
	"localtimestamp",
	"natural",
	"not",
	"notnull",
	"null",
	"offset",
	"on",
	"only",
	"or",
	"order",
	"outer",
	"overlaps",
	"placing",
	"primary",
	"references",
	"returning",
	"right",
	"select",
	"session_user",
	"similar",
	"some",
	"symmetric",
	"system_user",
	"table",
	"tablesample",
	"then",
	"to",
	"trailing",
	"true",
	"union",
	"unique",
	"user",
	"using",
	"variadic",
	"verbose",
	"when",
	"where",
	"window",
	"with",
	"xmin",
	"xmax",
	"ctid",
	"tableoid",
	"cmin",
	"cmax",
};

// How format_type spells a type, by every name it is written with (lowercased words, one space): the typmod goes
// between head and tail ("timestamp" "(3)" " with time zone"); default_typmod is what a column of the type gets
// without one (char → character(1)).
struct TypeSpelling {
	std::string_view name;
	std::string_view head;
	std::string_view tail;
	std::string_view default_typmod;
};

constexpr TypeSpelling kTypeSpellings[] = {
	{"int", "integer", "", ""},
	{"int4", "integer", "", ""},
	{"integer", "integer", "", ""},
	{"int8", "bigint", "", ""},
	{"bigint", "bigint", "", ""},
	{"int2", "smallint", "", ""},
	{"smallint", "smallint", "", ""},
	{"bool", "boolean", "", ""},
	{"boolean", "boolean", "", ""},
	{"float8", "double precision", "", ""},
	{"double", "double precision", "", ""},
	{"double precision", "double precision", "", ""},
	{"float4", "real", "", ""},
	{"real", "real", "", ""},
	{"decimal", "numeric", "", ""},
	{"numeric", "numeric", "", ""},
	{"varchar", "character varying", "", ""},
	{"character varying", "character varying", "", ""},
	{"char varying", "character varying", "", ""},
	{"char", "character", "", "1"},
	{"character", "character", "", "1"},
	{"bpchar", "character", "", ""}, // bpchar alone has no typmod: format_type prints "bpchar" (below)
	{"varbit", "bit varying", "", ""},
	{"bit varying", "bit varying", "", ""},
	{"bit", "bit", "", "1"},
	{"timestamptz", "timestamp", " with time zone", ""},
	{"timestamp with time zone", "timestamp", " with time zone", ""},
	{"timestamp", "timestamp", " without time zone", ""},
	{"timestamp without time zone", "timestamp", " without time zone", ""},
	{"timetz", "time", " with time zone", ""},
	{"time with time zone", "time", " with time zone", ""},
	{"time", "time", " without time zone", ""},
	{"time without time zone", "time", " without time zone", ""},
};

constexpr std::string_view kBsonTypes[] = {"string", "int",	 "long",	 "double", "decimal",
										   "bool",	 "date", "objectId", "object", "array"};

// IntervalUnit returns the unit's plural PostgreSQL name, or "" when unit is not one.
std::string_view
IntervalUnit(std::string_view unit) {
	static constexpr std::pair<std::string_view, std::string_view> units[] = {
		{"s", "seconds"},  {"sec", "seconds"}, {"secs", "seconds"}, {"second", "seconds"}, {"seconds", "seconds"},
		{"m", "minutes"},  {"min", "minutes"}, {"mins", "minutes"}, {"minute", "minutes"}, {"minutes", "minutes"},
		{"h", "hours"},	   {"hour", "hours"},  {"hours", "hours"},	{"d", "days"},		   {"day", "days"},
		{"days", "days"},  {"week", "weeks"},  {"weeks", "weeks"},	{"month", "months"},   {"months", "months"},
		{"mon", "months"}, {"year", "years"},  {"years", "years"},	{"y", "years"},
	};
	for (const auto &[name, plural] : units)
		if (name == unit)
			return plural;
	return {};
}

} // namespace

std::size_t
EditDistance(std::string_view a, std::string_view b) {
	std::vector<std::size_t> row(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); ++j)
		row[j] = j;
	for (std::size_t i = 1; i <= a.size(); ++i) {
		std::size_t diagonal = row[0];
		row[0] = i;
		for (std::size_t j = 1; j <= b.size(); ++j) {
			std::size_t above = row[j];
			row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
			diagonal = above;
		}
	}
	return row[b.size()];
}

bool
IsReservedWord(std::string_view name) noexcept {
	return std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved);
}

bool
IsPlainIdentifier(std::string_view name) noexcept {
	if (name.empty() || name.size() > 63)
		return false;
	if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')))
		return false;
	for (char c : name)
		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	return !IsReservedWord(name);
}

std::string
SnakeCase(std::string_view name) {
	std::string out;
	for (std::size_t i = 0; i < name.size(); ++i) {
		unsigned char c = static_cast<unsigned char>(name[i]);
		if (std::isupper(c)) {
			// a new word starts at an upper-case letter after a lower-case one or a digit, or before a lower-case
			// letter inside a run of capitals ("HTTPServer" → http_server)
			bool after_lower = i > 0 && (std::islower(static_cast<unsigned char>(name[i - 1])) ||
										 std::isdigit(static_cast<unsigned char>(name[i - 1])));
			bool ends_run = i > 0 && std::isupper(static_cast<unsigned char>(name[i - 1])) && i + 1 < name.size() &&
							std::islower(static_cast<unsigned char>(name[i + 1]));
			if ((after_lower || ends_run) && !out.empty() && out.back() != '_')
				out += '_';
			out += static_cast<char>(std::tolower(c));
		} else if (std::islower(c) || std::isdigit(c)) {
			out += static_cast<char>(c);
		} else if (!out.empty() && out.back() != '_') {
			out += '_';
		}
	}
	while (!out.empty() && out.back() == '_')
		out.pop_back();
	if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])))
		out.insert(out.begin(), '_');
	if (out.size() > 62)
		out.resize(62);
	if (IsReservedWord(out))
		out += '_';
	return out;
}

namespace {

// A type name split as the SQL grammar reads it: words, at most one typmod "(...)" (anywhere between the words:
// "timestamp(3) with time zone"), then array brackets or the ARRAY key word.
struct TypeText {
	std::string words; // lowercased, one space between words
	std::vector<std::string> typmod;
	bool has_typmod = false;
	int dims = 0; // [] pairs (ARRAY counts one)
};

bool
IsWordChar(char c) noexcept {
	unsigned char u = static_cast<unsigned char>(c);
	return std::isalnum(u) || c == '_' || c == '.';
}

bool
IsDigits(std::string_view text) noexcept {
	return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// SplitTypeText parses text into out; false when it is not a type name.
bool
SplitTypeText(std::string_view text, TypeText &out) {
	std::size_t i = 0;
	bool array_word = false; // the ARRAY key word was the last thing read
	auto skip_space = [&] {
		while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
			++i;
	};
	for (skip_space(); i < text.size(); skip_space()) {
		char c = text[i];
		if (IsWordChar(c)) {
			if (out.dims > 0)
				return false;
			std::string word;
			for (; i < text.size() && IsWordChar(text[i]); ++i)
				word += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
			if (word == "array" && !out.words.empty() && out.dims == 0) {
				out.dims = 1; // int ARRAY, int ARRAY[3]: one dimension
				array_word = true;
				continue;
			}
			if (!out.words.empty())
				out.words += ' ';
			out.words += word;
		} else if (c == '(') {
			if (out.has_typmod || out.dims > 0 || out.words.empty())
				return false;
			out.has_typmod = true;
			std::string item;
			for (++i;; ++i) {
				if (i == text.size())
					return false;
				char d = text[i];
				if (d == ',' || d == ')') {
					// format_type prints each typmod number without leading zeros
					if (item.empty())
						return false;
					std::size_t digits = item.find_first_not_of('0');
					out.typmod.push_back(!IsDigits(item)			   ? item
										 : digits == std::string::npos ? "0"
																	   : item.substr(digits));
					item.clear();
					if (d == ')')
						break;
				} else if (IsWordChar(d)) {
					item += static_cast<char>(std::tolower(static_cast<unsigned char>(d)));
				} else if (!std::isspace(static_cast<unsigned char>(d))) {
					return false;
				}
			}
			++i;
		} else if (c == '[') {
			// int[], int[3]: the sizes go (PostgreSQL ignores them); the dimensions stay (the transform reads nested
			// arrays by them), although format_type prints one "[]" whatever they are (SameColumnType)
			for (++i; i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
										  std::isspace(static_cast<unsigned char>(text[i])));
				 ++i) {
			}
			if (i == text.size() || text[i] != ']' || out.words.empty())
				return false;
			++i;
			if (!array_word)
				++out.dims;
			array_word = false;
		} else {
			return false;
		}
	}
	return !out.words.empty() && std::isalpha(static_cast<unsigned char>(out.words[0]));
}

} // namespace

std::string
NormaliseType(std::string_view text) {
	TypeText type;
	if (!SplitTypeText(text, type))
		return "";
	std::string head = type.words;
	std::string tail;
	std::vector<std::string> typmod = type.typmod;
	const TypeSpelling *spelling = nullptr;
	for (const TypeSpelling &candidate : kTypeSpellings)
		if (candidate.name == type.words)
			spelling = &candidate;
	if (spelling != nullptr) {
		head = spelling->head;
		tail = spelling->tail;
		if (!type.has_typmod && !spelling->default_typmod.empty())
			typmod = {std::string(spelling->default_typmod)};
		if (type.words == "bpchar" && !type.has_typmod)
			head = "bpchar";
		if (head == "numeric" && typmod.size() == 1)
			typmod.push_back("0"); // numeric(10) is numeric(10,0)
		if (!tail.empty() && typmod.size() == 1 && IsDigits(typmod[0]) && (typmod[0].size() > 1 || typmod[0] > "6"))
			typmod[0] = "6"; // PostgreSQL reduces a time precision above 6 to 6 (with a warning)
	} else if (type.words == "float") {
		// float(p): real up to 24 binary digits, double precision above
		bool single = typmod.size() == 1 && IsDigits(typmod[0]) && typmod[0].size() <= 2 && std::stoi(typmod[0]) <= 24;
		head = single ? "real" : "double precision";
		typmod.clear();
	}
	std::string out = head;
	if (!typmod.empty()) {
		out += '(';
		for (std::size_t i = 0; i < typmod.size(); ++i)
			out += (i == 0 ? "" : ",") + typmod[i];
		out += ')';
	}
	out += tail;
	for (int i = 0; i < type.dims; ++i)
		out += "[]";
	return out;
}

bool
SameColumnType(std::string_view format_type, std::string_view type) noexcept {
	std::size_t brackets = type.find("[]");
	if (brackets == std::string_view::npos)
		return format_type == type;
	return format_type.size() == brackets + 2 && format_type.substr(0, brackets + 2) == type.substr(0, brackets + 2);
}

std::string
BaseType(std::string_view type) {
	std::string out;
	int depth = 0;
	for (char c : type) {
		if (c == '(' || c == '[')
			++depth;
		else if (c == ')' || c == ']')
			--depth;
		else if (depth == 0)
			out += c;
	}
	// "timestamp(3) with time zone" leaves a double space
	std::string collapsed;
	for (char c : out)
		if (!(c == ' ' && (collapsed.empty() || collapsed.back() == ' ')))
			collapsed += c;
	while (!collapsed.empty() && collapsed.back() == ' ')
		collapsed.pop_back();
	return collapsed;
}

bool
IsTimestampType(std::string_view type) noexcept {
	if (type.find('[') != std::string_view::npos)
		return false;
	std::string base = BaseType(type);
	return base == "timestamp with time zone" || base == "timestamp without time zone" || base == "date";
}

bool
IsIntegerType(std::string_view type) noexcept {
	return type == "smallint" || type == "integer" || type == "bigint";
}

bool
IsNumericType(std::string_view type) noexcept {
	if (type.find('[') != std::string_view::npos)
		return false;
	std::string base = BaseType(type);
	return IsIntegerType(base) || base == "numeric" || base == "real" || base == "double precision";
}

bool
IsBsonTypeName(std::string_view name) noexcept {
	return std::find(std::begin(kBsonTypes), std::end(kBsonTypes), name) != std::end(kBsonTypes);
}

std::string
IntervalText(std::string_view after) {
	std::string out;
	std::size_t i = 0;
	bool positive = false;
	auto skip_space = [&] {
		while (i < after.size() && std::isspace(static_cast<unsigned char>(after[i])))
			++i;
	};
	skip_space();
	while (i < after.size()) {
		std::size_t start = i;
		while (i < after.size() && (std::isdigit(static_cast<unsigned char>(after[i])) || after[i] == '.'))
			++i;
		std::string number(after.substr(start, i - start));
		if (number.empty() || number.front() == '.' || number.back() == '.' ||
			std::count(number.begin(), number.end(), '.') > 1)
			return "";
		skip_space();
		start = i;
		while (i < after.size() && std::isalpha(static_cast<unsigned char>(after[i])))
			++i;
		std::string unit;
		for (char c : after.substr(start, i - start))
			unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		std::string_view plural = IntervalUnit(unit);
		if (plural.empty())
			return "";
		if (number.find_first_not_of("0.") != std::string::npos)
			positive = true;
		if (!out.empty())
			out += ' ';
		out += number + " " + std::string(plural);
		skip_space();
	}
	return positive ? out : "";
}

} // namespace mosta::mapping
