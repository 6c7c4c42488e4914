/*
 * conflict.cpp
 *     The conflict policies' decision (see conflict.hpp).
 */
#include "bidir/conflict.hpp"

#include <charconv>
#include <cstdint>

namespace mosta::sidecar {

namespace {

// ReadNumber reads exactly width digits of text at pos into out; false when they are not digits.
bool
ReadNumber(std::string_view text, std::size_t pos, std::size_t width, int &out) {
	if (pos + width > text.size())
		return false;
	auto [end, error] = std::from_chars(text.data() + pos, text.data() + pos + width, out);
	return error == std::errc() && end == text.data() + pos + width;
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t
DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
	y -= m <= 2;
	const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = static_cast<unsigned>(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// InstantMicros reads "YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|±HH[:MM]]" (no zone: UTC) as microseconds since the
// epoch; nullopt when text is empty or not of that shape.
std::optional<std::int64_t>
InstantMicros(std::string_view text) {
	int year, month, day, hour, minute, second;
	if (text.size() < 19 || !ReadNumber(text, 0, 4, year) || text[4] != '-' || !ReadNumber(text, 5, 2, month) ||
		text[7] != '-' || !ReadNumber(text, 8, 2, day) || (text[10] != 'T' && text[10] != ' ') ||
		!ReadNumber(text, 11, 2, hour) || text[13] != ':' || !ReadNumber(text, 14, 2, minute) || text[16] != ':' ||
		!ReadNumber(text, 17, 2, second))
		return std::nullopt;
	std::size_t pos = 19;
	std::int64_t micros = 0;
	if (pos < text.size() && text[pos] == '.') {
		++pos;
		std::int64_t scale = 100000;
		while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
			micros += (text[pos] - '0') * scale;
			scale /= 10;
			++pos;
		}
	}
	std::int64_t offset_minutes = 0;
	if (pos < text.size()) {
		if (text[pos] == 'Z') {
			++pos;
		} else if (text[pos] == '+' || text[pos] == '-') {
			int sign = text[pos] == '-' ? -1 : 1;
			int oh = 0, om = 0;
			if (!ReadNumber(text, pos + 1, 2, oh))
				return std::nullopt;
			pos += 3;
			if (pos < text.size() && text[pos] == ':')
				++pos;
			if (pos + 2 <= text.size() && ReadNumber(text, pos, 2, om))
				pos += 2;
			offset_minutes = sign * (oh * 60 + om);
		}
	}
	if (pos != text.size())
		return std::nullopt;
	std::int64_t seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
						   hour * 3600 + minute * 60 + second - offset_minutes * 60;
	return seconds * 1000000 + micros;
}

} // namespace

std::optional<ConflictPolicy>
ParseConflictPolicy(std::string_view text) noexcept {
	if (text == "source-wins")
		return ConflictPolicy::SourceWins;
	if (text == "target-wins")
		return ConflictPolicy::TargetWins;
	if (text == "last-write-wins")
		return ConflictPolicy::LastWriteWins;
	if (text == "error")
		return ConflictPolicy::Error;
	return std::nullopt;
}

std::string_view
ConflictPolicyName(ConflictPolicy policy) noexcept {
	switch (policy) {
	case ConflictPolicy::SourceWins:
		return "source-wins";
	case ConflictPolicy::TargetWins:
		return "target-wins";
	case ConflictPolicy::LastWriteWins:
		return "last-write-wins";
	case ConflictPolicy::Error:
		break;
	}
	return "error";
}

std::string_view
SideName(Side side) noexcept {
	return side == Side::Source ? "source" : "target";
}

std::string_view
ConflictKindName(ConflictKind kind) noexcept {
	switch (kind) {
	case ConflictKind::InsertExists:
		return "insert_exists";
	case ConflictKind::UpdateDiffers:
		return "update_differs";
	case ConflictKind::UpdateMissing:
		return "update_missing";
	case ConflictKind::DeleteDiffers:
		break;
	}
	return "delete_differs";
}

std::string_view
ResolutionName(Resolution resolution) noexcept {
	switch (resolution) {
	case Resolution::ApplyIncoming:
		return "applied";
	case Resolution::KeepLocal:
		return "kept";
	case Resolution::Fail:
		break;
	}
	return "error";
}

Resolution
DecideConflict(ConflictPolicy policy, const ConflictRecord &conflict) {
	const bool from_source = conflict.incoming_side == Side::Source;
	switch (policy) {
	case ConflictPolicy::SourceWins:
		return from_source ? Resolution::ApplyIncoming : Resolution::KeepLocal;
	case ConflictPolicy::TargetWins:
		return from_source ? Resolution::KeepLocal : Resolution::ApplyIncoming;
	case ConflictPolicy::LastWriteWins: {
		std::optional<std::int64_t> incoming = InstantMicros(conflict.incoming_time);
		std::optional<std::int64_t> local = InstantMicros(conflict.local_time);
		bool incoming_later;
		bool both_rows = conflict.kind == ConflictKind::InsertExists || conflict.kind == ConflictKind::UpdateDiffers;
		if (both_rows && incoming && local && *incoming != *local)
			incoming_later = *incoming > *local;
		else
			incoming_later = from_source; // a tie, an unknown time, a delete: the source's write wins, on both sides
		return incoming_later ? Resolution::ApplyIncoming : Resolution::KeepLocal;
	}
	case ConflictPolicy::Error:
		break;
	}
	return Resolution::Fail;
}

std::string
DescribeConflict(const ConflictRecord &conflict) {
	return "conflict " + std::string(ConflictKindName(conflict.kind)) + " on " + conflict.schema + "." +
		   conflict.table + " key " + conflict.key_json + " (change from the " +
		   std::string(SideName(conflict.incoming_side)) + ")";
}

} // namespace mosta::sidecar
