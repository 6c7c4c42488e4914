/*
 * change.hpp
 *     The change documents of the mostajs output plugin (docs/protocol.md, format version 1) as plain C++ values:
 *     ParseChange reads one document, ParseChangeLines one output message (several documents of a batch,
 *     separated by '\n'). No cJSON type leaks out of decode/.
 *
 *     Values (protocol section 8) become a Value: null, bool, int64 (every integer that fits, so bigint and oid
 *     stay exact), double (other numbers: PostgreSQL prints floats in their shortest round-trip form), string
 *     (text-like types, numeric, bytea's "\x..", NaN/Infinity, the rare number that fits neither, kept as its
 *     exact text, and from format version 2 on json and jsonb values: the JSON text, "null" for a JSON null), or
 *     RawJson (objects and arrays: arrays, version-1 json and jsonb, kept as their exact source text). The parser
 *     reads both versions alike: what a string means for a json column is the reader's to know (kFormatVersion).
 *
 *     Forward compatibility (protocol section 4): unknown fields are ignored. A document whose "op" is unknown
 *     makes ParseChange throw UnknownOpError; ParseChangeLines skips such documents, as a version-1 consumer must.
 */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mosta::sidecar {

// kFormatVersion is the format version of docs/protocol.md the sidecar asks for, streaming and in the initial copy:
// version 2, where a json or jsonb value is a JSON string holding its text (so a JSON null is the string "null",
// apart from SQL NULL, which is null). Every sink reads column values in this version's form.
inline constexpr int kFormatVersion = 2;

// What a document reports.
enum class Op {
	Begin,
	Commit,
	Insert,
	Update,
	Delete,
	Truncate,
	Message,
	Prepare,
	CommitPrepared,
	RollbackPrepared,
};

// OpName returns the protocol's spelling of op ("insert", "commit_prepared", ...).
std::string_view OpName(Op op) noexcept;

// IsRowChange tells whether op is insert, update or delete.
bool IsRowChange(Op op) noexcept;

// The exact text of a JSON object or array value (json, jsonb, arrays, embedded message content).
struct RawJson {
	std::string text;

	// operator== compares the texts.
	friend bool operator==(const RawJson &, const RawJson &) = default;
};

// A column value or message content: SQL NULL, boolean, integer, float, string or raw JSON.
using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string, RawJson>;

// IsNull tells whether value is SQL NULL (JSON null).
inline bool
IsNull(const Value &value) noexcept {
	return std::holds_alternative<std::monostate>(value);
}

// One column of a row image, in the order of the document.
struct Column {
	std::string name;
	Value value;

	// operator== compares names and values.
	friend bool operator==(const Column &, const Column &) = default;
};

// A table named by schema and table (unquoted, as PostgreSQL stores the names).
struct TableName {
	std::string schema;
	std::string table;

	// operator== compares both parts.
	friend bool operator==(const TableName &, const TableName &) = default;
};

// One table of a truncate; partition is set under partition-root for a partition truncated on its own.
struct TruncateTarget {
	std::string schema;
	std::string table;
	std::optional<TableName> partition;
};

// One change document. Fields that the document does not carry stay empty (or nullopt / false).
struct Change {
	Op op = Op::Begin;

	// Transaction fields (begin, commit, prepare, commit_prepared, rollback_prepared) and change fields.
	std::optional<std::uint64_t> xid;
	std::string ts;
	std::string origin;
	std::string gid;
	std::string lsn;		// row change, truncate, message; commit/prepare/..._prepared: the record's start
	std::string commit_lsn; // begin only
	std::string end_lsn;	// commit, prepare, commit_prepared, rollback_prepared

	// Row changes (insert, update, delete).
	std::string schema;
	std::string table;
	std::vector<std::string> key;
	std::vector<Column> new_row;
	std::vector<Column> old_row;
	bool has_new = false; // "new" was present (always on insert and update)
	bool has_old = false; // "old" was present (depends on the replica identity, protocol section 7)
	std::vector<std::string> unchanged;
	std::map<std::string, std::string> types;

	// Truncate.
	std::vector<TruncateTarget> truncate_tables;
	bool cascade = false;
	bool restart_identity = false;

	// Message.
	bool transactional = false;
	std::string prefix;
	std::string encoding; // "base64" when content is base64 text, else empty
	Value content;

	// The document's text as ParseChange read it (one line: JSON escapes every newline), for verbatim archives.
	std::string raw;
};

// ChangeParseError is a document that cannot be read; what() names the problem and quotes the document's first
// 200 bytes.
class ChangeParseError : public std::runtime_error {
  public:
	// ChangeParseError builds "invalid change document: <problem>: <first 200 bytes of document>".
	ChangeParseError(std::string_view problem, std::string_view document);
};

// UnknownOpError is a well-formed document whose "op" this version does not know (a consumer skips it).
class UnknownOpError : public ChangeParseError {
  public:
	// UnknownOpError names op and quotes document.
	UnknownOpError(std::string_view op, std::string_view document);

	// OpText returns the unknown op's text.
	const std::string &
	OpText() const noexcept {
		return op_;
	}

  private:
	std::string op_;
};

// kDocumentExcerptBytes is how much of a bad document an error message quotes.
inline constexpr std::size_t kDocumentExcerptBytes = 200;

// ParseChange reads one document; throws ChangeParseError (UnknownOpError for an unknown op).
Change ParseChange(std::string_view document);

// ParseChangeLines reads one output message: documents separated by '\n' (empty lines and a trailing newline, as
// pg_recvlogical writes them, are allowed). Documents with an unknown op are skipped; any other bad document
// throws ChangeParseError.
std::vector<Change> ParseChangeLines(std::string_view message);

} // namespace mosta::sidecar
