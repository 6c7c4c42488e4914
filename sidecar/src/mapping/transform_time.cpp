/*
 * transform_time.cpp
 *     ISO 8601 parsing and the canonical date/timestamp text (see transform_time.hpp).
 */
#include "mapping/transform_time.hpp"

namespace mosta::mapping {

namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t
DaysFromCivil(std::int64_t year, unsigned month, unsigned day) {
	year -= month <= 2 ? 1 : 0;
	const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
	const auto year_of_era = static_cast<unsigned>(year - era * 400);
	const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

// CivilFromDays is DaysFromCivil's inverse.
void
CivilFromDays(std::int64_t days, std::int64_t &year, unsigned &month, unsigned &day) {
	days += 719468;
	const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	const auto day_of_era = static_cast<unsigned>(days - era * 146097);
	const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	const unsigned mp = (5 * day_of_year + 2) / 153;
	day = day_of_year - (153 * mp + 2) / 5 + 1;
	month = mp < 10 ? mp + 3 : mp - 9;
	year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
}

bool
ReadDigits(std::string_view text, std::size_t &pos, std::size_t count, int &value) {
	value = 0;
	for (std::size_t i = 0; i < count; ++i, ++pos) {
		if (pos >= text.size() || text[pos] < '0' || text[pos] > '9')
			return false;
		value = value * 10 + (text[pos] - '0');
	}
	return true;
}

unsigned
DaysInMonth(std::int64_t year, int month) {
	static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : kDays[month - 1];
}

void
AppendTwoDigits(std::string &out, unsigned value) {
	out += static_cast<char>('0' + value / 10);
	out += static_cast<char>('0' + value % 10);
}

// The floor division of micros by a day.
std::int64_t
FloorDays(std::int64_t micros) {
	return micros >= 0 ? micros / kMicrosPerDay : -((-(micros + 1)) / kMicrosPerDay) - 1;
}

} // namespace

std::optional<std::int64_t>
ParseIsoTimestamp(std::string_view text) {
	std::size_t pos = 0;
	int year = 0, month = 0, day = 0;
	if (!ReadDigits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
		!ReadDigits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' || !ReadDigits(text, pos, 2, day))
		return std::nullopt;
	if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month))
		return std::nullopt;
	std::int64_t micros = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kMicrosPerDay;
	if (pos == text.size())
		return micros;
	if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')
		return std::nullopt;
	++pos;
	int hour = 0, minute = 0, second = 0;
	if (!ReadDigits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
		!ReadDigits(text, pos, 2, minute))
		return std::nullopt;
	std::int64_t fraction = 0;
	if (pos < text.size() && text[pos] == ':') {
		++pos;
		if (!ReadDigits(text, pos, 2, second))
			return std::nullopt;
		if (pos < text.size() && text[pos] == '.') {
			++pos;
			std::int64_t scale = 100'000;
			const std::size_t start = pos;
			bool round_up = false;
			for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
				if (scale > 0)
					fraction += (text[pos] - '0') * scale;
				else if (scale == 0 && pos == start + 6)
					round_up = text[pos] >= '5'; // the first digit beyond microseconds
				scale /= 10;
			}
			if (pos == start)
				return std::nullopt;
			if (round_up)
				++fraction;
		}
	}
	if (hour > 23 || minute > 59 || second > 60) // 60: a leap second, which PostgreSQL takes as the next minute
		return std::nullopt;
	micros += ((hour * 60LL + minute) * 60 + second) * kMicrosPerSecond + fraction;
	if (pos == text.size())
		return micros;
	if (text[pos] == 'Z' || text[pos] == 'z')
		return pos + 1 == text.size() ? std::optional<std::int64_t>(micros) : std::nullopt;
	if (text[pos] != '+' && text[pos] != '-')
		return std::nullopt;
	const int sign = text[pos++] == '-' ? -1 : 1;
	int zone_hours = 0, zone_minutes = 0;
	if (!ReadDigits(text, pos, 2, zone_hours))
		return std::nullopt;
	if (pos < text.size() && text[pos] == ':')
		++pos;
	if (pos < text.size() && !ReadDigits(text, pos, 2, zone_minutes))
		return std::nullopt;
	if (pos != text.size() || zone_hours > 15 || zone_minutes > 59)
		return std::nullopt;
	// local = UTC + offset
	return micros - sign * (zone_hours * 60LL + zone_minutes) * 60 * kMicrosPerSecond;
}

std::optional<std::string>
CanonicalTimeText(std::int64_t micros, TimeKind kind, int precision, std::string *reason) {
	if (kind != TimeKind::Date && precision >= 0 && precision < 6) {
		// AdjustTimestampForTypmod: round half away from zero to the precision
		std::int64_t scale = 1;
		for (int i = precision; i < 6; ++i)
			scale *= 10;
		if (micros >= 0)
			micros = (micros + scale / 2) / scale * scale;
		else
			micros = -(((-micros) + scale / 2) / scale * scale);
	}
	std::int64_t days = FloorDays(micros);
	const std::int64_t rest = micros - days * kMicrosPerDay;
	// PostgreSQL's ranges: 4714-11-24 BC (astronomical -4713) to 294276-12-31 AD for timestamps, 5874897-12-31 AD
	// for dates
	const std::int64_t first_day = DaysFromCivil(-4713, 11, 24);
	const std::int64_t end_day = kind == TimeKind::Date ? DaysFromCivil(5874898, 1, 1) : DaysFromCivil(294277, 1, 1);
	if (days < first_day || days >= end_day) {
		*reason = kind == TimeKind::Date ? "out of the date range (4714-11-24 BC to 5874897 AD)"
										 : "out of the timestamp range (4714-11-24 BC to 294276 AD)";
		return std::nullopt;
	}
	std::int64_t year = 0;
	unsigned month = 0, day = 0;
	CivilFromDays(days, year, month, day);
	std::string out;
	out.reserve(32);
	if (year < 0)
		out += '-';
	const std::string year_digits = std::to_string(year < 0 ? -year : year);
	out.append(year_digits.size() < 4 ? 4 - year_digits.size() : 0, '0');
	out += year_digits;
	out += '-';
	AppendTwoDigits(out, month);
	out += '-';
	AppendTwoDigits(out, day);
	if (kind == TimeKind::Date)
		return out;
	const std::int64_t seconds = rest / kMicrosPerSecond;
	out += 'T';
	AppendTwoDigits(out, static_cast<unsigned>(seconds / 3600));
	out += ':';
	AppendTwoDigits(out, static_cast<unsigned>(seconds / 60 % 60));
	out += ':';
	AppendTwoDigits(out, static_cast<unsigned>(seconds % 60));
	if (std::int64_t fraction = rest % kMicrosPerSecond; fraction != 0) {
		char digits[6];
		for (int i = 5; i >= 0; --i, fraction /= 10)
			digits[i] = static_cast<char>('0' + fraction % 10);
		int size = 6;
		while (digits[size - 1] == '0')
			--size;
		out += '.';
		out.append(digits, static_cast<std::size_t>(size));
	}
	if (kind == TimeKind::Timestamptz)
		out += "+00:00";
	return out;
}

} // namespace mosta::mapping
