/*
 * fast_change.hpp
 *     Internal to decode/: the two ways ParseChange reads a document.
 *
 *     The fast path (TryParseChangeFast) parses the document in one pass into a flat, reused node array that keeps
 *     each value's source span, so numbers and json values need no second walk and no cJSON tree is allocated. It
 *     takes only a strict subset of JSON: whitespace is space, tab, CR or LF; strings hold no control byte and no
 *     \u escape; member names hold no escape at all; numbers follow RFC 8259 and are at most 63 bytes long (cJSON
 *     1.7 reads at most 63); nesting stays under kFastMaxDepth. It also gives up on any field that does not read
 *     cleanly (missing, wrong type, unknown op). Every document it accepts is one cJSON accepts too, read the same
 *     way, so both paths produce the same Change.
 *
 *     The reference path (ParseChangeWithCJson) parses with cJSON and JsonSourceMap. ParseChange falls back to it
 *     whenever the fast path gives up, so whatever the fast path does not take still gets the exact result or the
 *     exact error message it always had.
 */
#pragma once

#include <string_view>

#include "decode/change.hpp"

namespace mosta::sidecar {

// kFastMaxDepth is the deepest nesting the fast path reads (cJSON's limit is 1000).
inline constexpr int kFastMaxDepth = 64;

// TryParseChangeFast reads document into change (a default-constructed Change) and returns true, or returns false
// when the document is outside the fast path's subset or any field is bad, leaving change unspecified.
bool TryParseChangeFast(std::string_view document, Change &change);

// ParseChangeWithCJson is the reference path: cJSON, then JsonSourceMap for the source text of numbers and json
// values. Throws ChangeParseError (UnknownOpError for an unknown op).
Change ParseChangeWithCJson(std::string_view document);

// NumberValue reads a number's text: int64 when it is an integer that fits, else double, else the text itself.
Value NumberValue(std::string_view text);

// LookupOp maps an op name to Op, or nullopt when unknown.
std::optional<Op> LookupOp(std::string_view name);

} // namespace mosta::sidecar
