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

// Aliases of type names → format_type's spelling (the whole base name, after lowercasing and collapsing spaces).
constexpr std::pair<std::string_view, std::string_view> kTypeAliases[] = {
	{"int", "integer"},
	{"int4", "integer"},
	{"int8", "bigint"},
	{"int2", "smallint"},
	{"bool", "boolean"},
	{"float8", "double precision"},
	{"double", "double precision"},
	{"float", "double precision"},
	{"float4", "real"},
	{"decimal", "numeric"},
	{"varchar", "character varying"},
	{"char", "character"},
	{"timestamptz", "timestamp with time zone"},
	{"timestamp", "timestamp without time zone"},
	{"timetz", "time with time zone"},
	{"time", "time without time zone"},
	{"json", "json"},
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

std::string
NormaliseType(std::string_view text) {
	std::string lowered;
	bool space = false;
	for (char c : text) {
		unsigned char u = static_cast<unsigned char>(c);
		if (std::isspace(u)) {
			space = !lowered.empty();
			continue;
		}
		if (!(std::isalnum(u) || c == '_' || c == '(' || c == ')' || c == ',' || c == '[' || c == ']' || c == '.'))
			return "";
		if (space && !(c == '(' || c == ')' || c == ',' || c == '[' || c == ']') && lowered.back() != '(' &&
			lowered.back() != ',')
			lowered += ' ';
		space = false;
		lowered += static_cast<char>(std::tolower(u));
	}
	if (lowered.empty() || !std::isalpha(static_cast<unsigned char>(lowered[0])))
		return "";
	// the base name ends at the typmod or the array brackets
	std::size_t end = lowered.find_first_of("([");
	std::string base = lowered.substr(0, end);
	std::string rest = end == std::string::npos ? "" : lowered.substr(end);
	while (!base.empty() && base.back() == ' ')
		base.pop_back();
	for (const auto &[alias, name] : kTypeAliases)
		if (base == alias) {
			base = std::string(name);
			break;
		}
	// a typmod goes before "with/without time zone" as format_type writes it: timestamp(3) with time zone
	if (base == "timestamp with time zone" || base == "timestamp without time zone") {
		if (!rest.empty() && rest[0] == '(') {
			std::size_t close = rest.find(')');
			if (close == std::string::npos)
				return "";
			std::string zone = base.substr(std::string("timestamp").size());
			return "timestamp" + rest.substr(0, close + 1) + zone + rest.substr(close + 1);
		}
	}
	if (base == "timestamptz" || base == "timestamp")
		return "";
	return base + rest;
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
