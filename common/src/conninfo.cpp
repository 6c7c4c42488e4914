/*
 * conninfo.cpp
 *     Dialect names and credential masking, of connection strings and of free text (CheckUri lives in
 *     conninfo_check.cpp).
 *
 * Regime: plain C++17, no PostgreSQL header at all. Nothing throws except std::bad_alloc, so the extension may
 * call these functions from either side of its C++ boundary.
 * PostgreSQL versions assumed: libpq key=value syntax as of PostgreSQL 15.
 *
 * Masking rules. MaskCredentials replaces byte ranges ("spans") of the input with "***" and leaves every other
 * byte alone. Ambiguous input is resolved towards masking more:
 *   - userinfo: the password runs from the first ':' (after the "://" of a scheme) to the LAST '@' of the
 *     text (not merely the last '@' before the first '/'), so a sloppy unencoded '@', '/', '?' or '#' in a
 *     password can never push part of it out of the mask. The price: a URI with a port and an '@' in its path or
 *     query ("postgresql://h:5432/db?user=a@b") is over-masked to "postgresql://h:***@b".
 *   - secret keys: a key is secret when, percent-decoded and lowercased, it CONTAINS one of secret_keys
 *     ("pass", "pwd", "secret", "token", "apikey", "api_key", "credential"), so "password", "sslpassword",
 *     "passwrd" and "access_token" are masked too ("passfile" is over-masked), or IS one of SQLite's encryption
 *     keys (secret_exact_keys: "key", "hexkey", ...). Path-valued keys ("sslkey", "tlsCertificateKeyFile") name
 *     files only their OS user reads, and stay readable for diagnosis.
 *   - option values: comma-separated "KEY:value" items of any other parameter's value whose KEY is secret have
 *     their value masked (MongoDB's authMechanismProperties=AWS_SESSION_TOKEN:...; ':' and ',' may be %3A, %2C).
 *   - query parameters: a secret key after '?', '&', ';' or a blank has its value masked up to
 *     the next separator that starts another "key=" (a stray '&' inside a password stays masked).
 *   - libpq key=value strings follow libpq's own tokenizer (blanks around '=', '...' quoting, backslash escapes);
 *     a secret value also runs to the end of a SQL-style '' quote and absorbs any following junk up to the next
 *     blank-preceded "key =" (so "password='it''s' user=u" and "password=a b user=u" hide all of the intended
 *     password). Other pairs get the userinfo and query rules (a dbname may itself be a URI); text that libpq
 *     cannot tokenize makes the userinfo and query rules apply to the whole string.
 * Free text. MaskCredentialsInText scans left to right, and at each position the first of these rules that
 * matches wins (so what starts earlier wins):
 *   - URI token: a run of letters, digits, '+', '-' and '.' (from its first letter) followed by "://", up to the
 *     next blank or one of "'<> and without its trailing ",;)]." punctuation, becomes MaskCredentials(token);
 *   - secret pair: a secret key (the rule above, "key" alone only after '?', '&' or ';'; key characters as in
 *     queries) at the start of a word (or after a percent-encoded delimiter), optionally quoted ("password",
 *     'password', %22password%22), then "=>", "=" (blanks allowed around them), ":" (blanks allowed after it, and
 *     before it after a quoted key) or "%3D"/"%3A", has its value replaced by "***". A "..."-quoted value (JSON)
 *     keeps its quotes and loses its content up to the unescaped closing quote; otherwise the value runs to the
 *     next blank, ',', ';' or ')' outside '...' quotes (libpq's backslash escapes; an unterminated quote masks the
 *     rest of the text), and also to '}' or ']' after a quoted key, to '&', '+' or an encoded delimiter after an
 *     encoded separator; so "password='a b'", "password => 'x'" and "password='it''s'" are wholly masked.
 * Everything else is left alone, including "user@host:" and a scheme-less "user:password@host" (no rule matches).
 * The masked text is stable: "***" contains no delimiter and every match ends where a second pass ends it.
 * Idempotence: a mask can join tokens that blanks used to separate (":\t@x token=y"), so one pass may expose a
 * secret key that the next pass masks. MaskCredentials therefore repeats passes until nothing changes; ordinary
 * input needs one pass plus the confirming one. max_passes only bounds pathological input.
 */
#include "mosta/common/conninfo.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "uri_text.hpp"

namespace mosta {

namespace {

using detail::HasAuthority;
using detail::IsAlnum;
using detail::IsBlank;
using detail::IsLetter;
using detail::IsSchemeChar;
using detail::mask;
using detail::PercentDecode;
using detail::SchemeLength;

using Span = std::pair<size_t, size_t>; // [begin, end) byte offsets into the masked input
using Spans = std::vector<Span>;

constexpr int max_passes = 8;
constexpr std::string_view key_chars = "_.%-"; // besides letters and digits, in query and free-text keys
constexpr std::array<std::string_view, 7> secret_keys = {"pass",   "pwd",	  "secret",	   "token",
														 "apikey", "api_key", "credential"};
// SQLite encryption keys (SEE, SQLCipher: "file:x.db?key=..."), secret where a parameter is expected (a query or a
// conninfo); a bare word "key" of free text is too common ("primary key: id") to mask everywhere.
constexpr std::array<std::string_view, 6> secret_exact_keys = {"key",	"hexkey",	"textkey",
															   "rekey", "hexrekey", "textrekey"};
constexpr std::array<std::pair<Dialect, std::string_view>, 5> dialect_names = {{{Dialect::Postgres, "postgres"},
																				{Dialect::Sqlite, "sqlite"},
																				{Dialect::Mongodb, "mongodb"},
																				{Dialect::SqlDump, "sqldump"},
																				{Dialect::Jsonl, "jsonl"}}};

// IsSecretKey tells whether a parameter name (percent-decoded, any case) contains a secret_keys entry, or is one of
// secret_exact_keys when exact is true.
bool
IsSecretKey(std::string_view raw_key, bool exact = true) {
	std::string key = PercentDecode(raw_key).value_or(std::string(raw_key));
	std::transform(key.begin(), key.end(), key.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
	if (exact && std::find(secret_exact_keys.begin(), secret_exact_keys.end(), key) != secret_exact_keys.end())
		return true;
	return std::any_of(secret_keys.begin(), secret_keys.end(),
					   [&key](std::string_view secret) { return key.find(secret) != std::string::npos; });
}

// EncodedAt tells whether s has the percent-escape of c (either hex case) at pos.
bool
EncodedAt(std::string_view s, size_t pos, char c) {
	if (pos + 2 >= s.size() || s[pos] != '%')
		return false;
	int high = HexDigitValue(s[pos + 1]), low = HexDigitValue(s[pos + 2]);
	return high >= 0 && low >= 0 && high * 16 + low == c;
}

// AddSubPairSpans masks the values of secret "KEY:value" items of a comma-separated option value in [begin, end),
// such as MongoDB's authMechanismProperties=SERVICE_NAME:x,AWS_SESSION_TOKEN:y (separators may be %3A and %2C).
void
AddSubPairSpans(std::string_view s, size_t begin, size_t end, Spans &spans) {
	for (size_t item = begin; item < end;) {
		size_t colon = item;
		while (colon < end && s[colon] != ':' && !EncodedAt(s, colon, ':') && s[colon] != ',' &&
			   !EncodedAt(s, colon, ','))
			colon++;
		bool has_value = colon < end && (s[colon] == ':' || EncodedAt(s, colon, ':'));
		size_t value = has_value ? colon + (s[colon] == ':' ? 1 : 3) : colon;
		size_t value_end = value;
		while (value_end < end && s[value_end] != ',' && !EncodedAt(s, value_end, ','))
			value_end++;
		if (has_value && value_end > value && IsSecretKey(s.substr(item, colon - item)))
			spans.emplace_back(value, value_end);
		item = value_end + (value_end < end && s[value_end] == ',' ? 1 : 3);
	}
}

// IsKeyChar tells whether c may appear in a key made of letters, digits and extra.
bool
IsKeyChar(char c, std::string_view extra) {
	return IsAlnum(c) || extra.find(c) != std::string_view::npos;
}

// KeyAt returns the position just past "key =" at pos (key from alnum and extra, blanks around '=' when allowed).
size_t
KeyAt(std::string_view s, size_t pos, size_t end, std::string_view extra, bool blanks) {
	size_t i = pos;
	while (i < end && IsKeyChar(s[i], extra))
		i++;
	size_t key_end = i;
	while (blanks && i < end && IsBlank(s[i]))
		i++;
	return (key_end > pos && i < end && s[i] == '=') ? i + 1 : 0;
}

// SchemeColonAt tells whether the ':' at colon ends a scheme ("postgresql://") that starts at begin or a separator.
bool
SchemeColonAt(std::string_view s, size_t begin, size_t colon) {
	size_t start = colon;
	while (start > begin && IsSchemeChar(s[start - 1]))
		start--;
	return colon > start && s.substr(colon, 3) == "://" && SchemeLength(s.substr(start)) == colon - start;
}

// AddUserinfoSpan masks the password of a [scheme://]user:password@host text in [begin, end).
void
AddUserinfoSpan(std::string_view s, size_t begin, size_t end, Spans &spans) {
	size_t at = s.substr(0, end).rfind('@');
	if (at == std::string_view::npos || at < begin)
		return;
	size_t colon = s.substr(0, at).find(':', begin);
	if (colon != std::string_view::npos && SchemeColonAt(s, begin, colon))
		colon = s.substr(0, at).find(':', colon + 1);
	if (colon != std::string_view::npos && colon + 1 < at)
		spans.emplace_back(colon + 1, at);
}

// AddQuerySpans masks the values of secret parameters ("?password=...&") in [begin, end).
void
AddQuerySpans(std::string_view s, size_t begin, size_t end, Spans &spans) {
	constexpr std::string_view separators = "?&; \t";
	for (size_t i = begin; i < end; i++) {
		if (separators.find(s[i]) == std::string_view::npos)
			continue;
		size_t value = KeyAt(s, i + 1, end, key_chars, false);
		if (value == 0)
			continue;
		size_t value_end = value;
		while (value_end < end && !(separators.find(s[value_end]) != std::string_view::npos &&
									KeyAt(s, value_end + 1, end, key_chars, false) != 0))
			value_end++;
		if (!IsSecretKey(s.substr(i + 1, value - i - 2))) {
			AddSubPairSpans(s, value, value_end, spans);
			continue;
		}
		if (value_end > value)
			spans.emplace_back(value, value_end);
		i = value_end - 1;
	}
}

// AddGenericSpans applies the userinfo and query rules to [begin, end).
void
AddGenericSpans(std::string_view s, size_t begin, size_t end, Spans &spans) {
	AddUserinfoSpan(s, begin, end, spans);
	AddQuerySpans(s, begin, end, spans);
}

// LibpqValueEnd returns where libpq's tokenizer ends a key=value value that starts at pos.
size_t
LibpqValueEnd(std::string_view s, size_t pos) {
	bool quoted = pos < s.size() && s[pos] == '\'';
	for (size_t i = quoted ? pos + 1 : pos; i < s.size(); i++) {
		if (s[i] == '\\')
			i++;
		else if (quoted ? s[i] == '\'' : IsBlank(s[i]))
			return quoted ? i + 1 : i;
	}
	return s.size();
}

// SecretValueEnd returns where a secret value starting at pos ends when read generously (see the file header).
// The next pair must follow a blank: "***" is unquoted, so "'x'user=u" would not re-mask to the same text.
size_t
SecretValueEnd(std::string_view s, size_t pos) {
	size_t end = LibpqValueEnd(s, pos);
	if (pos < s.size() && s[pos] == '\'') {
		size_t i = pos + 1;
		for (; i < s.size(); i++) {
			if (s[i] == '\\' || (s[i] == '\'' && i + 1 < s.size() && s[i + 1] == '\''))
				i++;
			else if (s[i] == '\'')
				break;
		}
		end = std::max(end, std::min(i + 1, s.size()));
	}
	size_t stop = s.size();
	for (size_t i = end; i < s.size() && stop == s.size(); i++)
		if (i > end && IsBlank(s[i - 1]) && !IsBlank(s[i]) && KeyAt(s, i, s.size(), "_", true) != 0)
			stop = i;
	while (stop > end && IsBlank(s[stop - 1]))
		stop--;
	return stop;
}

// AddKeyValueSpans masks a libpq key=value connection string.
void
AddKeyValueSpans(std::string_view s, Spans &spans) {
	size_t pos = 0;
	for (;;) {
		while (pos < s.size() && IsBlank(s[pos]))
			pos++;
		if (pos >= s.size())
			return;
		size_t key_begin = pos;
		while (pos < s.size() && !IsBlank(s[pos]) && s[pos] != '=')
			pos++;
		size_t key_end = pos;
		while (pos < s.size() && IsBlank(s[pos]))
			pos++;
		if (pos >= s.size() || s[pos] != '=')
			return AddGenericSpans(s, 0, s.size(), spans); // everything, as earlier pairs may be misread too
		for (pos++; pos < s.size() && IsBlank(s[pos]);)
			pos++;
		size_t value_begin = pos;
		if (IsSecretKey(s.substr(key_begin, key_end - key_begin))) {
			pos = SecretValueEnd(s, value_begin);
			if (pos > value_begin)
				spans.emplace_back(value_begin, pos);
		} else {
			pos = LibpqValueEnd(s, value_begin);
			AddGenericSpans(s, key_begin, pos, spans);
		}
	}
}

// ApplySpans returns s with each merged span replaced by the mask.
std::string
ApplySpans(std::string_view s, Spans spans) {
	std::sort(spans.begin(), spans.end());
	std::string masked;
	size_t copied = 0;
	for (size_t i = 0; i < spans.size();) {
		size_t begin = spans[i].first, end = spans[i].second;
		for (i++; i < spans.size() && spans[i].first <= end; i++)
			end = std::max(end, spans[i].second);
		masked.append(s.substr(copied, begin - copied)).append(mask);
		copied = end;
	}
	return masked.append(s.substr(copied));
}

// MaskOnce applies the masking rules once.
std::string
MaskOnce(std::string_view uri) {
	size_t start = 0;
	while (start < uri.size() && IsBlank(uri[start]))
		start++;
	Spans spans;
	if (HasAuthority(uri.substr(start)))
		AddGenericSpans(uri, start, uri.size(), spans);
	else
		AddKeyValueSpans(uri, spans);
	return ApplySpans(uri, std::move(spans));
}

// UriTokenAt returns the span of a URI token whose scheme run starts at pos (see the file header), or {pos, pos}.
Span
UriTokenAt(std::string_view s, size_t pos) {
	if (pos > 0 && IsSchemeChar(s[pos - 1]))
		return {pos, pos}; // inside a run: only its start is tried, which keeps the scan linear
	size_t colon = pos, begin = pos;
	while (colon < s.size() && IsSchemeChar(s[colon]))
		colon++;
	while (begin < colon && !IsLetter(s[begin]))
		begin++;
	if (begin == colon || s.substr(colon, 3) != "://")
		return {pos, pos};
	size_t end = colon + 3;
	while (end < s.size() && !IsBlank(s[end]) && std::string_view("\"'<>").find(s[end]) == std::string_view::npos)
		end++;
	while (end > colon + 3 && std::string_view(",;)].").find(s[end - 1]) != std::string_view::npos)
		end--;
	return {begin, end};
}

// TextValueEnd returns where a secret value of free text starting at pos ends (see the file header): at a blank,
// ',', ';' or ')' outside '...' quotes, also at '}' or ']' after a quoted (JSON) key, and at '&', '+' or an encoded
// delimiter after an encoded separator.
size_t
TextValueEnd(std::string_view s, size_t pos, bool quoted_key, bool encoded) {
	size_t i = pos;
	while (i < s.size() && !IsBlank(s[i]) && std::string_view(",;)").find(s[i]) == std::string_view::npos) {
		if (quoted_key && (s[i] == '}' || s[i] == ']'))
			break;
		if (encoded && (s[i] == '&' || s[i] == '+' || EncodedAt(s, i, '&') || EncodedAt(s, i, ' ') ||
						EncodedAt(s, i, ',') || EncodedAt(s, i, '"') || EncodedAt(s, i, ';')))
			break;
		i = s[i] == '\'' ? LibpqValueEnd(s, i) : i + (s[i] == '\\' ? 2 : 1);
	}
	return std::min(i, s.size());
}

// QuotedValueSpan returns the inside of a string value quoted with quote (one character, or an encoded "%22")
// starting at pos, up to its unescaped closing quote, or to the end of the text when there is none.
Span
QuotedValueSpan(std::string_view s, size_t pos, std::string_view quote) {
	size_t inner = pos + quote.size();
	for (size_t i = inner; i < s.size(); i++) {
		if (s[i] == '\\')
			i++;
		else if (quote.size() == 1 ? s[i] == quote[0] : EncodedAt(s, i, '"'))
			return {inner, i};
	}
	return {inner, s.size()};
}

// AtWordStart tells whether a key may start at pos: after no key character, or after an encoded delimiter.
bool
AtWordStart(std::string_view s, size_t pos) {
	if (pos == 0 || !IsKeyChar(s[pos - 1], key_chars))
		return true;
	if (pos < 3 || s[pos - 3] != '%')
		return false;
	int high = HexDigitValue(s[pos - 2]), low = HexDigitValue(s[pos - 1]);
	return high >= 0 && low >= 0 && !IsKeyChar(static_cast<char>(high * 16 + low), "_.-");
}

// KeyEndInText returns where a free-text key starting at pos ends: at the first character that is not a key
// character, or at a percent-escape of one (so "password%3Dx" has the key "password").
size_t
KeyEndInText(std::string_view s, size_t pos) {
	size_t i = pos;
	while (i < s.size() && IsKeyChar(s[i], key_chars)) {
		if (s[i] == '%' && i + 2 < s.size() && HexDigitValue(s[i + 1]) >= 0 && HexDigitValue(s[i + 2]) >= 0 &&
			!IsKeyChar(static_cast<char>(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2])), "_.-"))
			break;
		i++;
	}
	return i;
}

// SeparatorEnd returns the position after the separator of a secret pair at pos ("=>", "=", ":", "%3D", "%3A",
// blanks allowed before when blanks_before), or 0; encoded says whether it was percent-encoded.
size_t
SeparatorEnd(std::string_view s, size_t pos, bool blanks_before, bool &encoded) {
	size_t i = pos;
	while (blanks_before && i < s.size() && IsBlank(s[i]))
		i++;
	encoded = EncodedAt(s, i, '=') || EncodedAt(s, i, ':');
	if (encoded)
		return i + 3;
	if (s.substr(i, 2) == "=>")
		return i + 2;
	if (i < s.size() && s[i] == '=')
		return i + 1;
	// "key: value", "key : value" only after a quoted key ("password" : "x")
	if (i < s.size() && s[i] == ':' && (i == pos || blanks_before))
		return i + 1;
	return 0;
}

// SecretValueInTextAt returns the value span of a secret pair of free text whose key starts at pos, or an empty
// span. Pairs: key=value, key = value, key => value, key: value, "key": "value" (JSON), 'key': 'value',
// "key"=value, and their percent-encoded forms (key%3Dvalue).
Span
SecretValueInTextAt(std::string_view s, size_t pos) {
	if (!AtWordStart(s, pos))
		return {pos, pos}; // inside a word
	size_t key_end = KeyEndInText(s, pos);
	// a bare "key" of prose is no parameter; after '?', '&' or ';' it is one (file:x.db?key=...)
	bool in_query = pos > 0 && std::string_view("?&;").find(s[pos - 1]) != std::string_view::npos;
	if (key_end == pos || !IsSecretKey(s.substr(pos, key_end - pos), in_query))
		return {pos, pos};
	size_t after_key = key_end;
	bool quoted_key = false;
	if (pos > 0 && (s[pos - 1] == '"' || s[pos - 1] == '\'') && after_key < s.size() && s[after_key] == s[pos - 1]) {
		quoted_key = true;
		after_key++;
	} else if (pos >= 3 && EncodedAt(s, pos - 3, '"') && EncodedAt(s, after_key, '"')) {
		quoted_key = true;
		after_key += 3;
	}
	bool encoded = false;
	size_t value = SeparatorEnd(s, after_key, true, encoded);
	if (value == 0 || (!quoted_key && !encoded && s[value - 1] == ':' && value - 1 != after_key))
		return {pos, pos};
	while (!encoded && value < s.size() && IsBlank(s[value]))
		value++;
	if (value < s.size() && s[value] == '"')
		return QuotedValueSpan(s, value, "\"");
	if (EncodedAt(s, value, '"'))
		return QuotedValueSpan(s, value, "%22");
	return {value, TextValueEnd(s, value, quoted_key, encoded)};
}

} // namespace

// ParseDialect maps an exact lowercase dialect name to its Dialect.
std::optional<Dialect>
ParseDialect(std::string_view name) {
	for (const auto &[dialect, dialect_name] : dialect_names)
		if (dialect_name == name)
			return dialect;
	return std::nullopt;
}

// DialectName returns the name ParseDialect accepts for dialect.
std::string_view
DialectName(Dialect dialect) {
	for (const auto &[known, name] : dialect_names)
		if (known == dialect)
			return name;
	return "unknown";
}

// ValidDialectNames returns every dialect name, comma-separated.
std::string_view
ValidDialectNames() {
	return "postgres, sqlite, mongodb, sqldump, jsonl";
}

// MaskCredentials returns uri with every password replaced by "***", repeating passes until nothing changes.
std::string
MaskCredentials(std::string_view uri) {
	std::string masked = MaskOnce(uri);
	for (int pass = 1; pass < max_passes; pass++) {
		std::string again = MaskOnce(masked);
		if (again == masked)
			break;
		masked = std::move(again);
	}
	return masked;
}

// MaskCredentialsInText masks the URIs and secret pairs of free text, leaving the rest alone.
std::string
MaskCredentialsInText(std::string_view text) {
	std::string masked;
	size_t copied = 0;
	for (size_t i = 0; i < text.size();) {
		if (Span uri = UriTokenAt(text, i); uri.second > uri.first) {
			masked.append(text.substr(copied, uri.first - copied));
			masked.append(MaskCredentials(text.substr(uri.first, uri.second - uri.first)));
			copied = i = uri.second;
		} else if (Span value = SecretValueInTextAt(text, i); value.second > value.first) {
			masked.append(text.substr(copied, value.first - copied)).append(mask);
			copied = i = value.second;
		} else
			i++;
	}
	return masked.append(text.substr(copied));
}

} // namespace mosta
