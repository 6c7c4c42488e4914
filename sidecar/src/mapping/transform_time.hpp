/*
 * transform_time.hpp
 *     Dates and timestamps for the forward transform: UTC microseconds since 1970 from a BSON date or an ISO 8601
 *     string, checked against PostgreSQL's ranges, rounded to a timestamp(p) typmod as PostgreSQL rounds (half
 *     away from zero), and written in the canonical form (the output plugin's XSD text: "2024-05-01T08:30:00.5+00:00",
 *     astronomical years).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mosta::mapping {

enum class TimeKind { Timestamptz, Timestamp, Date };

// ParseIsoTimestamp reads "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]" with an optional zone ("Z",
// "+HH", "+HHMM", "+HH:MM"; none: UTC) into UTC microseconds, or nullopt. Fraction digits beyond microseconds are
// rounded half away from zero.
std::optional<std::int64_t> ParseIsoTimestamp(std::string_view text);

// CanonicalTimeText returns the canonical text of micros for a column of kind whose fractional precision is
// precision (0..6; a date takes the UTC day), or nullopt with *reason set when PostgreSQL's range cannot hold it.
std::optional<std::string> CanonicalTimeText(std::int64_t micros, TimeKind kind, int precision, std::string *reason);

} // namespace mosta::mapping
