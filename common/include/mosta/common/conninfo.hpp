/*
 * conninfo.hpp
 *     Name the supported target dialects, mask credentials in connection strings and in free text, and check a
 *     target URI before anything tries to connect with it.
 *
 * Regime: plain C++17, no PostgreSQL server header (libpq's client API is used inside conninfo.cpp only);
 * shared by the extension (C++17, PGXS) and the sidecar (C++20). Nothing here throws except std::bad_alloc.
 * PostgreSQL versions assumed: libpq 15 or later for connection-string parsing.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mosta {

enum class Dialect { Postgres, Sqlite, Mongodb, SqlDump, Jsonl };

// ParseDialect maps "postgres", "sqlite", "mongodb", "sqldump", "jsonl" (exact, lowercase) to a Dialect.
std::optional<Dialect> ParseDialect(std::string_view name);

// DialectName returns the lowercase name that ParseDialect accepts for dialect.
std::string_view DialectName(Dialect dialect);

// ValidDialectNames returns "postgres, sqlite, mongodb, sqldump, jsonl" (used in error hints).
std::string_view ValidDialectNames();

// MaskCredentials returns uri with every password replaced by "***". Never throws (except std::bad_alloc); never
// leaks a password even for malformed input, masking more than strictly needed when the input is ambiguous.
// Idempotent: masking a masked string returns it unchanged. See conninfo.cpp for the exact rules.
std::string MaskCredentials(std::string_view uri);

// MaskCredentialsInText returns free text (an error message, a log line) with the credentials of every URI and
// every secret key=value pair in it masked, leaving the rest of the text readable. Never throws except bad_alloc.
// Idempotent. Each "scheme://..." token (up to a blank or one of "'<>, less trailing ",;)]." punctuation) becomes
// MaskCredentials(token); the value of each secret key written "key=value", "key = value", "key='quoted value'",
// "key => value", "key: value", "\"key\": \"value\"" (JSON) or percent-encoded ("key%3Dvalue") becomes "***".
// The cases both sides are tested against: test/cases/masking.tsv. See conninfo.cpp for the exact rules.
std::string MaskCredentialsInText(std::string_view text);

// UriProblem says what is wrong with a URI: message in PostgreSQL style (lowercase, no final period, URI masked),
// hint a full sentence showing the accepted forms.
struct UriProblem {
	std::string message;
	std::string hint;
};

// CheckUri returns nullopt when uri is acceptable for dialect, otherwise what is wrong (message: PostgreSQL style,
// lowercase, no final period, e.g. `invalid mongodb URI "mongodb://u:***@": no host`; hint: a full sentence showing
// the accepted forms). The message shows the URI masked, never the password.
std::optional<UriProblem> CheckUri(Dialect dialect, std::string_view uri);

} // namespace mosta
