/*
 * verify_diff.hpp
 *     What verify prints under a key whose row differs (docs/verification.md, "Keys of differing rows"): one line per
 *     column whose canonical text differs, with both values, each shown quoted and cut to kVerifyValueChars
 *     characters (NULL as NULL), so the line says what to look at without flooding the terminal.
 */
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mosta::sidecar {

// kVerifyValueChars is how many characters of a value a difference line shows (UTF-8 sequences are kept whole).
inline constexpr std::size_t kVerifyValueChars = 60;

// ShownValue returns value for a difference line: NULL, or the text in double quotes (quotes, backslashes and
// control characters escaped), cut to kVerifyValueChars characters with "..." and the full length in bytes.
std::string ShownValue(const std::optional<std::string> &value);

// DifferingColumnLines returns "column <name>: source <value>, target <value>" for each column whose source and
// target texts differ; names, source and target are parallel (a missing target value list reads as all NULL).
std::vector<std::string> DifferingColumnLines(const std::vector<std::string> &names,
											  const std::vector<std::optional<std::string>> &source,
											  const std::vector<std::optional<std::string>> &target);

} // namespace mosta::sidecar
