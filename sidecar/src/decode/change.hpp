/*
 * change.hpp
 *     The change documents of the mostajs output plugin (docs/protocol.md, format versions 1 to 3) as typed C++
 *     values, read by one JSON library (simdjson On-Demand) in change.cpp. No simdjson type leaks out of decode/.
 *
 *     ChangeDecoder reads one output message (several documents of a batch, separated by '\n') into a
 *     DecodedMessage: the message's bytes, copied once into a padded buffer, an arena for the strings that had
 *     escapes, and the Changes, whose strings are views into those two. A DecodedMessage is immutable once
 *     decoded and shared through std::shared_ptr<const DecodedMessage>: several threads may read it at once
 *     (nothing in a Change is computed lazily). ParseChange is the one-document convenience (initial copy, tests).
 *
 *     Values (protocol section 8) become a Value: null, bool, int64 (every integer that fits, so bigint and oid
 *     stay exact), double (other numbers: PostgreSQL prints floats in their shortest round-trip form), string
 *     (text-like types, numeric, bytea's "\x..", NaN/Infinity, the rare number that fits neither, kept as its
 *     exact text, and from format version 2 on json and jsonb values: the JSON text, "null" for a JSON null), or
 *     RawJson (objects and arrays: arrays, version-1 json and jsonb, kept as their exact source text). The parser
 *     reads every version alike: what a string means for a json column is the reader's to know (kFormatVersion).
 *
 *     Relations. Each row change points to a RelationSchema, built once per relation and shared by every change
 *     of that relation: in format version 2 from the first document of a table with its "types" (rebuilt when
 *     the document's key or types text changes), in version 3 from the relation documents, which update the
 *     decoder's relation map and are never returned as changes. ChangeDecoder::StartSession forgets them.
 *
 *     Forward compatibility (protocol section 4): unknown fields are ignored. A document whose "op" is unknown
 *     makes ParseChange throw UnknownOpError; ChangeDecoder::Decode skips such documents, as a consumer must.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mosta/common/pg_types.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar {

// kFormatVersion is the format version of docs/protocol.md the sidecar streams in: version 3, where each
// relation's columns, types and key come once per session in a relation document and row changes carry their
// values by position; values are encoded as in version 2 (a json or jsonb value is a JSON string holding its text,
// so a JSON null is the string "null", apart from SQL NULL, which is null). Every sink reads column values in that
// form.
inline constexpr int kFormatVersion = 3;

// kCopyFormatVersion is the version the initial copy asks mosta.snapshot_documents for: 2, the newest whose
// documents describe themselves (the copy has no session to send relation documents in); its values read as
// version 3's. The decoder reads both.
inline constexpr int kCopyFormatVersion = 2;

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
	std::string_view text;

	// operator== compares the texts.
	friend bool
	operator==(const RawJson &a, const RawJson &b) noexcept {
		return a.text == b.text;
	}
};

// A column value or message content: SQL NULL, boolean, integer, float, string or raw JSON. Strings are views into
// the DecodedMessage that holds the change.
using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string_view, RawJson>;

// IsNull tells whether value is SQL NULL (JSON null).
inline bool
IsNull(const Value &value) noexcept {
	return std::holds_alternative<std::monostate>(value);
}

struct RelationColumn;

// One column of a row image, in the order of the document (version 3: of the relation).
struct Column {
	std::string_view name; // a view into the relation's schema or the message
	Value value;
	// The relation's column of that name when the documents carry types (versions 2 with types, and 3), else null:
	// its type classified once per relation, so that sinks do not look names up and split type names per value.
	const RelationColumn *declared = nullptr;

	// operator== compares names and values.
	friend bool
	operator==(const Column &a, const Column &b) noexcept {
		return a.name == b.name && a.value == b.value;
	}
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

// A table's replica identity (pg_class.relreplident), known from version-3 relation documents.
enum class ReplicaIdentity { Unknown, Default, Index, Full, Nothing };

// One column of a relation: its name and declared type (format_type with typmod, "" when the documents carry no
// types); from version 3 on also the type's OID, the typmod and the array depth.
struct RelationColumn {
	std::string name;
	std::string type;
	std::uint32_t type_oid = 0; // 0: unknown (version 2)
	std::int32_t typmod = -1;
	int dims = 0;					  // array depth, 0 for a non-array (version 3)
	PgColumnType classified{nullptr}; // type, classified by RelationSchema's constructor (Text when unknown)
};

// What a row change's table looks like: built once per relation by the decoder and shared (read-only) by every
// change of it.
class RelationSchema {
  public:
	// RelationSchema indexes columns by name.
	RelationSchema(std::uint32_t relid, std::string schema, std::string table, std::vector<std::string> key,
				   ReplicaIdentity identity, std::vector<RelationColumn> columns);
	RelationSchema(const RelationSchema &) = delete;
	RelationSchema &operator=(const RelationSchema &) = delete;

	std::uint32_t relid = 0; // the table's OID (version 3), 0 in version 2
	std::string schema;
	std::string table;
	std::vector<std::string> key; // replica identity index columns, else the primary key, in index order
	ReplicaIdentity identity = ReplicaIdentity::Unknown;
	std::vector<RelationColumn> columns; // table order (version 2: the order of "types")
	std::string document;				 // version 3: the relation document's text (the JSON archive writes it)

	// FindColumn returns the column called name, or null.
	const RelationColumn *FindColumn(std::string_view name) const noexcept;

	// TypeOf returns column name's declared type, "" when unknown.
	std::string_view TypeOf(std::string_view name) const noexcept;

	// TypeAt returns the declared type of the column at position, "" when out of range.
	std::string_view TypeAt(std::size_t position) const noexcept;

	// IsKey tells whether name is a key column.
	bool IsKey(std::string_view name) const noexcept;

  private:
	std::vector<std::pair<std::string_view, std::size_t>> by_name_; // sorted by name (first of duplicates first)
};

// One change document. Fields that the document does not carry stay empty (or nullopt / false / kInvalidLsn).
// Move-only: its views belong to the DecodedMessage that holds it, so a copy could outlive them.
struct Change {
	Change() = default;
	Change(Change &&) = default;
	Change &operator=(Change &&) = default;
	Change(const Change &) = delete;
	Change &operator=(const Change &) = delete;

	Op op = Op::Begin;

	// Transaction fields (begin, commit, prepare, commit_prepared, rollback_prepared) and change fields.
	std::optional<std::uint64_t> xid;
	std::string_view ts;
	std::string_view origin;
	std::string_view gid;
	Lsn lsn = kInvalidLsn;		  // row change, truncate, message; commit/prepare/..._prepared: the record's start
	Lsn commit_lsn = kInvalidLsn; // begin only
	Lsn end_lsn = kInvalidLsn;	  // commit, prepare, commit_prepared, rollback_prepared

	// Row changes (insert, update, delete): the table (never null on a row change).
	std::shared_ptr<const RelationSchema> relation;
	std::vector<Column> new_row;
	std::vector<Column> old_row;
	bool has_new = false; // "new" was present (always on insert and update)
	bool has_old = false; // "old" was present (depends on the replica identity, protocol section 7)
	std::vector<std::string_view> unchanged;

	// Truncate.
	std::vector<TruncateTarget> truncate_tables;
	bool cascade = false;
	bool restart_identity = false;

	// Message.
	bool transactional = false;
	std::string_view prefix;
	std::string_view encoding; // "base64" when content is base64 text, else empty
	Value content;

	// The document's text (one line: JSON escapes every newline), only when the decoder was asked to keep it
	// (DecoderOptions::keep_raw: the JSON archive writes documents verbatim).
	std::string_view raw;

	// Schema, Table and Key return the row change's relation's names (empty when there is no relation).
	const std::string &Schema() const noexcept;
	const std::string &Table() const noexcept;
	const std::vector<std::string> &Key() const noexcept;

	// TypeOf returns the declared type of column name ("" when unknown).
	std::string_view
	TypeOf(std::string_view name) const noexcept {
		return relation ? relation->TypeOf(name) : std::string_view();
	}
};

// A decoded output message: its bytes (padded for simdjson), an arena for unescaped strings, and its changes, whose
// views point into both. Immutable once decoded; share it as std::shared_ptr<const DecodedMessage>.
struct DecodedMessage {
	DecodedMessage() = default;
	DecodedMessage(const DecodedMessage &) = delete;
	DecodedMessage &operator=(const DecodedMessage &) = delete;

	std::vector<Change> changes;

	// Store copies text into the arena and returns a view of the copy (used while decoding).
	std::string_view Store(std::string_view text);

	std::unique_ptr<char[]> buffer; // the message, followed by simdjson's padding
	std::size_t size = 0;			// the message's length in buffer

  private:
	std::vector<std::unique_ptr<char[]>> arena_;
	std::size_t arena_left_ = 0;
	char *arena_next_ = nullptr;
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

// What a ChangeDecoder keeps besides the changes.
struct DecoderOptions {
	bool keep_raw = false; // fill Change::raw with each document's text
};

// One decoded document with the storage its views point into (see ParseChange).
class ParsedChange {
  public:
	explicit ParsedChange(std::shared_ptr<const DecodedMessage> message) : message_(std::move(message)) {}

	const Change &
	operator*() const noexcept {
		return message_->changes.front();
	}
	const Change *
	operator->() const noexcept {
		return &message_->changes.front();
	}
	// operator const Change & lets a ParsedChange be passed where a change is read (sink.Apply(ParseChange(d))).
	operator const Change &() const noexcept {
		return message_->changes.front();
	}

	// Message returns the decoded message holding the change.
	const std::shared_ptr<const DecodedMessage> &
	Message() const noexcept {
		return message_;
	}

  private:
	std::shared_ptr<const DecodedMessage> message_;
};

// ChangeDecoder reads the output messages of one stream, keeping the relations it has seen (version 2: the
// schemas built from "types"; version 3: the relation documents) from one message to the next.
class ChangeDecoder {
  public:
	explicit ChangeDecoder(DecoderOptions options = {});
	~ChangeDecoder();
	ChangeDecoder(const ChangeDecoder &) = delete;
	ChangeDecoder &operator=(const ChangeDecoder &) = delete;

	// Decode copies message once into a padded buffer and reads its documents, separated by '\n' (empty lines and
	// a trailing newline, as pg_recvlogical writes them, are allowed). Documents with an unknown op are skipped,
	// relation documents update the relation map; any other bad document throws ChangeParseError.
	std::shared_ptr<const DecodedMessage> Decode(std::string_view message);

	// StartSession forgets every relation: a new decoding session (START_REPLICATION) starts with none known.
	void StartSession();

	struct Impl; // internal to change.cpp

  private:
	friend ParsedChange ParseChange(std::string_view document, DecoderOptions options);
	std::unique_ptr<Impl> impl_;
};

// ParseChange reads one document with a fresh decoder (version 2 only: a version-3 row change needs its relation
// document, see ChangeDecoder); throws ChangeParseError (UnknownOpError for an unknown op).
ParsedChange ParseChange(std::string_view document, DecoderOptions options = {});

} // namespace mosta::sidecar
