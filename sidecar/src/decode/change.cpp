/*
 * change.cpp
 *     ChangeDecoder and ParseChange: simdjson On-Demand to Change, field by field after docs/protocol.md sections 6
 *     to 12 (and /work/notes/v3-spec.md for format version 3's relation documents and positional rows).
 *
 *     Every string of a Change is a view: into the message's padded buffer when the JSON text had no escape,
 *     else into the DecodedMessage's arena (the unescaped copy). Numbers are read from their exact text
 *     (raw_json_token), so 64-bit integers stay exact; objects and arrays keep their exact source text. On-Demand
 *     does not look inside what it skips, so a container value (and an unknown field) is validated on its own
 *     text with a second parser, and a "types" or "key" text equal to one already read is not read again.
 */
#include "decode/change.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include <simdjson.h>

namespace mosta::sidecar {

namespace {

namespace od = simdjson::ondemand;

// The protocol's op names.
constexpr std::array<std::pair<Op, std::string_view>, 10> kOpNames = {{
	{Op::Begin, "begin"},
	{Op::Commit, "commit"},
	{Op::Insert, "insert"},
	{Op::Update, "update"},
	{Op::Delete, "delete"},
	{Op::Truncate, "truncate"},
	{Op::Message, "message"},
	{Op::Prepare, "prepare"},
	{Op::CommitPrepared, "commit_prepared"},
	{Op::RollbackPrepared, "rollback_prepared"},
}};

// The op of version 3's relation documents, which are not changes.
constexpr std::string_view kRelationOp = "relation";

// The arena's smallest block.
constexpr std::size_t kArenaBlockBytes = 4096;

// Excerpt returns the first kDocumentExcerptBytes bytes of document, marked when cut.
std::string
Excerpt(std::string_view document) {
	if (document.size() <= kDocumentExcerptBytes)
		return std::string(document);
	return std::string(document.substr(0, kDocumentExcerptBytes)) + "...";
}

// Quoted returns name in double quotes, for messages.
std::string
Quoted(std::string_view name) {
	return "\"" + std::string(name) + "\"";
}

// LookupOp maps an op name to Op, or nullopt when unknown.
std::optional<Op>
LookupOp(std::string_view name) {
	for (const auto &[op, op_name] : kOpNames)
		if (op_name == name)
			return op;
	return std::nullopt;
}

// TrimEnd drops the JSON whitespace after a token (raw_json_token and raw_json include it).
std::string_view
TrimEnd(std::string_view text) {
	while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r'))
		text.remove_suffix(1);
	return text;
}

// IsDigit tells whether c is an ASCII digit.
bool
IsDigit(char c) {
	return c >= '0' && c <= '9';
}

// IsJsonNumber checks text against RFC 8259's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool
IsJsonNumber(std::string_view text) {
	std::size_t i = 0;
	auto digits = [&] {
		std::size_t start = i;
		while (i < text.size() && IsDigit(text[i]))
			++i;
		return i > start;
	};
	if (i < text.size() && text[i] == '-')
		++i;
	if (i < text.size() && text[i] == '0')
		++i;
	else if (!digits())
		return false;
	if (i < text.size() && text[i] == '.') {
		++i;
		if (!digits())
			return false;
	}
	if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
		++i;
		if (i < text.size() && (text[i] == '+' || text[i] == '-'))
			++i;
		if (!digits())
			return false;
	}
	return i == text.size();
}

// NumberValue reads a valid number's text: int64 when it is an integer that fits, else (for a fraction or exponent)
// double when in range, else the text itself (a view of it).
Value
NumberValue(std::string_view text) {
	const char *first = text.data();
	const char *last = text.data() + text.size();
	if (text == "-0")
		return -0.0;
	std::int64_t integer = 0;
	if (auto [end, error] = std::from_chars(first, last, integer); error == std::errc() && end == last)
		return integer;
	if (text.find_first_of(".eE") != std::string_view::npos) {
		double number = 0;
		if (auto [end, error] = std::from_chars(first, last, number); error == std::errc() && end == last)
			return number;
	}
	return text;
}

// Type returns value's JSON type (throws simdjson_error when there is none).
od::json_type
Type(od::value &value) {
	od::json_type type = value.type();
	return type;
}

// IsNullValue tells whether value, of type null, is the atom null exactly.
bool
IsNullValue(od::value &value) {
	bool null = value.is_null();
	return null;
}

// AtEnd tells whether doc has nothing after its value (trailing text is not JSON).
bool
AtEnd(od::document &doc) {
	const char *location = nullptr;
	return doc.current_location().get(location) == simdjson::OUT_OF_BOUNDS;
}

// ParseIdentity maps a relation document's "identity".
std::optional<ReplicaIdentity>
ParseIdentity(std::string_view text) {
	if (text == "default")
		return ReplicaIdentity::Default;
	if (text == "index")
		return ReplicaIdentity::Index;
	if (text == "full")
		return ReplicaIdentity::Full;
	if (text == "nothing")
		return ReplicaIdentity::Nothing;
	return std::nullopt;
}

// A version-2 table's schema, with the texts of "key" and "types" it was built from.
struct TypedTable {
	std::string key_text;
	std::string types_text;
	std::shared_ptr<const RelationSchema> schema;
};

} // namespace

// The decoder's state: the parsers and the relations of the session.
struct ChangeDecoder::Impl {
	DecoderOptions options;
	od::parser parser;		// the documents
	od::parser side_parser; // container values and cached texts, read apart
	std::unordered_map<std::uint32_t, std::shared_ptr<const RelationSchema>> relations; // version 3, by relid
	std::unordered_map<std::string, TypedTable> tables; // version 2, by schema '\0' table
	TypedTable *last_table = nullptr;					// the table of the previous version-2 row
	std::string lookup;									// reused key of tables

	// DecodeDocument reads the document at text (within out's buffer) into out; returns false for a relation
	// document and, when skip_unknown, for an unknown op.
	bool DecodeDocument(DecodedMessage &out, std::string_view text, bool skip_unknown);
};

namespace {

// DocumentReader reads one document of a message.
class DocumentReader {
  public:
	DocumentReader(ChangeDecoder::Impl &decoder, DecodedMessage &out, std::string_view document)
		: decoder_(decoder), out_(out), document_(document),
		  buffer_end_(out.buffer.get() + out.size + simdjson::SIMDJSON_PADDING) {}

	// Fail throws a ChangeParseError for problem.
	[[noreturn]] void
	Fail(const std::string &problem) const {
		throw ChangeParseError(problem, document_);
	}

	// Read parses the document into change; false for a relation document (read into the decoder) and for an
	// unknown op when skip_unknown.
	bool
	Read(Change &change, bool skip_unknown) {
		try {
			return ReadDocument(change, skip_unknown);
		} catch (const simdjson::simdjson_error &) {
			Fail("invalid JSON");
		}
	}

  private:
	// Capacity returns the bytes available from text in the buffer (the message and its padding).
	std::size_t
	Capacity(std::string_view text) const {
		return static_cast<std::size_t>(buffer_end_ - text.data());
	}

	// ReadDocument does Read's work, letting simdjson's errors out as exceptions.
	bool
	ReadDocument(Change &change, bool skip_unknown) {
		od::document doc;
		if (decoder_.parser.iterate(document_.data(), document_.size(), Capacity(document_)).get(doc))
			Fail("invalid JSON");
		od::json_type type;
		if (doc.type().get(type))
			Fail("invalid JSON");
		if (type != od::json_type::object)
			Fail("not a JSON object");

		// "op" first (the plugin writes it first; a document may have it anywhere).
		std::string_view op_name;
		{
			od::object root = doc.get_object();
			od::value op_value;
			auto error = root.find_field_unordered("op").get(op_value);
			if (error == simdjson::NO_SUCH_FIELD)
				Fail("missing \"op\"");
			if (error)
				Fail("invalid JSON");
			op_name = String(op_value, "op");
		}
		bool relation = op_name == kRelationOp;
		std::optional<Op> op = LookupOp(op_name);
		if (!op && !relation) {
			if (skip_unknown)
				return false;
			throw UnknownOpError(op_name, document_);
		}
		doc.rewind();
		if (relation) {
			ReadRelation(doc);
			return false;
		}
		change.op = *op;
		ReadFields(doc.get_object(), change);
		if (!AtEnd(doc))
			Fail("invalid JSON");
		if (decoder_.options.keep_raw)
			change.raw = document_;
		return true;
	}

	// Key returns a field's name: a view of the buffer, or of the arena when it had escapes.
	std::string_view
	Key(od::field &field) {
		const char *raw = field.key().raw(); // after the opening quote; stage 1 found the closing one
		const char *end = raw;
		while (*end != '"' && *end != '\\')
			++end;
		if (*end == '"')
			return std::string_view(raw, static_cast<std::size_t>(end - raw));
		std::string_view key = field.unescaped_key();
		return out_.Store(key);
	}

	// String reads a string value (what names it in errors): a view of the buffer, or of the arena when it had
	// escapes.
	std::string_view
	String(od::value value, std::string_view what) {
		if (Type(value) != od::json_type::string)
			Fail(Quoted(what) + " is not a string");
		return StringOf(value);
	}

	// StringOf reads a value known to be a string.
	std::string_view
	StringOf(od::value &value) {
		std::string_view token = TrimEnd(value.raw_json_token());
		if (token.size() >= 2 && token.back() == '"') {
			std::string_view inner = token.substr(1, token.size() - 2);
			if (inner.find('\\') == std::string_view::npos &&
				std::none_of(inner.begin(), inner.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
				return inner; // no escape: the text itself
		}
		std::string_view text = value.get_string();
		return out_.Store(text);
	}

	// Lsn reads a string value holding an LSN "X/Y".
	Lsn
	LsnOf(od::value value, std::string_view field) {
		std::string_view text = String(value, field);
		std::optional<Lsn> lsn = ParseLsn(text);
		if (!lsn)
			Fail(Quoted(field) + " is not an LSN (X/Y in hex): " + Quoted(text));
		return *lsn;
	}

	// Bool reads a boolean value.
	bool
	Bool(od::value value, std::string_view field) {
		if (Type(value) != od::json_type::boolean)
			Fail(Quoted(field) + " is not a boolean");
		return value.get_bool();
	}

	// Unsigned reads a non-negative integer value (xid, relid, oid), what names it in errors.
	std::uint64_t
	Unsigned(od::value value, std::string_view what) {
		if (Type(value) == od::json_type::number) {
			std::string_view text = TrimEnd(value.raw_json_token());
			std::uint64_t number = 0;
			auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
			if (error == std::errc() && end == text.data() + text.size() && IsJsonNumber(text))
				return number;
		}
		Fail(Quoted(what) + " is not a non-negative integer");
	}

	// Integer reads an integer value (typmod, dims).
	std::int64_t
	Integer(od::value value, std::string_view what) {
		if (Type(value) == od::json_type::number) {
			std::string_view text = TrimEnd(value.raw_json_token());
			std::int64_t number = 0;
			auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
			if (error == std::errc() && end == text.data() + text.size() && IsJsonNumber(text))
				return number;
		}
		Fail(Quoted(what) + " is not an integer");
	}

	// Validate reads value (of the side parser) through, so that bad JSON inside it is an error.
	static void
	Validate(od::value value) {
		switch (Type(value)) {
		case od::json_type::object:
			for (od::field field : value.get_object()) {
				std::string_view key = field.unescaped_key();
				(void)key;
				Validate(field.value());
			}
			break;
		case od::json_type::array:
			for (od::value element : value.get_array())
				Validate(element);
			break;
		case od::json_type::string: {
			std::string_view text = value.get_string();
			(void)text;
			break;
		}
		case od::json_type::number:
			if (!IsJsonNumber(TrimEnd(value.raw_json_token())))
				throw simdjson::simdjson_error(simdjson::NUMBER_ERROR);
			break;
		case od::json_type::boolean: {
			bool flag = value.get_bool();
			(void)flag;
			break;
		}
		case od::json_type::null:
			if (!IsNullValue(value))
				throw simdjson::simdjson_error(simdjson::N_ATOM_ERROR);
			break;
		}
	}

	// ValidateText parses text (an object or array of the buffer) on its own, whole.
	void
	ValidateText(std::string_view text) {
		od::document doc = decoder_.side_parser.iterate(text.data(), text.size(), Capacity(text));
		Validate(doc.get_value());
		if (!AtEnd(doc))
			Fail("invalid JSON");
	}

	// RawContainer returns the exact text of an object or array value, validated.
	std::string_view
	RawContainer(od::value &value, od::json_type type) {
		std::string_view text;
		if (type == od::json_type::object) {
			od::object object = value.get_object();
			text = TrimEnd(object.raw_json());
		} else {
			od::array array = value.get_array();
			text = TrimEnd(array.raw_json());
		}
		ValidateText(text);
		return text;
	}

	// ReadValue converts one JSON value to a Value.
	Value
	ReadValue(od::value value) {
		od::json_type type = Type(value);
		switch (type) {
		case od::json_type::null:
			if (!IsNullValue(value))
				Fail("invalid JSON");
			return std::monostate();
		case od::json_type::boolean:
			return static_cast<bool>(value.get_bool());
		case od::json_type::string:
			return StringOf(value);
		case od::json_type::number: {
			std::string_view text = TrimEnd(value.raw_json_token());
			if (!IsJsonNumber(text))
				Fail("invalid JSON");
			return NumberValue(text);
		}
		case od::json_type::object:
		case od::json_type::array:
			return RawJson{RawContainer(value, type)};
		}
		Fail("invalid JSON");
	}

	// Row reads "new" or "old": an object of named values (version 2) or an array of positional ones (version 3,
	// named once the relation is known).
	void
	ReadRow(od::value value, std::string_view field, std::vector<Column> &row) {
		od::json_type type = Type(value);
		if (type == od::json_type::object) {
			named_field_ = field;
			for (od::field member : value.get_object()) {
				std::string_view name = Key(member);
				row.push_back(Column{name, ReadValue(member.value())});
			}
		} else if (type == od::json_type::array) {
			positional_field_ = field;
			for (od::value element : value.get_array())
				row.push_back(Column{std::string_view(), ReadValue(element)});
		} else {
			Fail(Quoted(field) + " is not an object");
		}
	}

	// ReadUnchanged reads "unchanged": column names (version 2) or positions (version 3).
	void
	ReadUnchanged(od::value value, Change &change) {
		if (Type(value) != od::json_type::array)
			Fail("\"unchanged\" is not an array");
		for (od::value element : value.get_array()) {
			od::json_type type = Type(element);
			if (type == od::json_type::string)
				change.unchanged.push_back(StringOf(element));
			else if (type == od::json_type::number)
				unchanged_positions_.push_back(Unsigned(element, "unchanged"));
			else
				Fail("\"unchanged\" holds a non-string item");
		}
	}

	// ArrayText returns the validated text of an array of strings (what names it in errors).
	std::string_view
	StringArrayText(od::value value, std::string_view what) {
		if (Type(value) != od::json_type::array)
			Fail(Quoted(what) + " is not an array");
		od::array array = value.get_array();
		return TrimEnd(array.raw_json());
	}

	// ReadFields reads every field but "op".
	void
	ReadFields(od::object root, Change &change) {
		bool seen_op = false;
		std::optional<std::string_view> schema, table, key_text, types_text;
		std::optional<std::uint64_t> relid;
		bool seen_tables = false, seen_prefix = false, seen_content = false;
		bool row = IsRowChange(change.op);
		for (od::field field : root) {
			std::string_view name = Key(field);
			od::value value = field.value();
			if (name == "op") {
				if (seen_op)
					ValidateUnknown(value);
				seen_op = true;
			} else if (name == "xid" && !change.xid) {
				change.xid = Unsigned(value, "xid");
			} else if (name == "ts") {
				change.ts = String(value, "ts");
			} else if (name == "origin") {
				change.origin = String(value, "origin");
			} else if (name == "gid") {
				change.gid = String(value, "gid");
			} else if (name == "lsn") {
				change.lsn = LsnOf(value, "lsn");
			} else if (name == "commit_lsn") {
				change.commit_lsn = LsnOf(value, "commit_lsn");
			} else if (name == "end_lsn") {
				change.end_lsn = LsnOf(value, "end_lsn");
			} else if (row && name == "schema" && !schema) {
				schema = String(value, "schema");
			} else if (row && name == "table" && !table) {
				table = String(value, "table");
			} else if (row && name == "key" && !key_text) {
				key_text = StringArrayText(value, "key");
			} else if (row && name == "new" && !change.has_new) {
				change.has_new = true;
				ReadRow(value, "new", change.new_row);
			} else if (row && name == "old" && !change.has_old) {
				change.has_old = true;
				ReadRow(value, "old", change.old_row);
			} else if (row && name == "unchanged") {
				ReadUnchanged(value, change);
			} else if (row && name == "types" && !types_text) {
				if (Type(value) != od::json_type::object)
					Fail("\"types\" is not an object");
				od::object types = value.get_object();
				types_text = TrimEnd(types.raw_json());
			} else if (row && name == "relid" && !relid) {
				relid = Unsigned(value, "relid");
			} else if (change.op == Op::Truncate && name == "tables" && !seen_tables) {
				seen_tables = true;
				ReadTruncateTables(value, change);
			} else if (change.op == Op::Truncate && name == "cascade") {
				change.cascade = Bool(value, "cascade");
			} else if (change.op == Op::Truncate && name == "restart_identity") {
				change.restart_identity = Bool(value, "restart_identity");
			} else if (change.op == Op::Message && name == "transactional") {
				change.transactional = Bool(value, "transactional");
			} else if (change.op == Op::Message && name == "prefix" && !seen_prefix) {
				seen_prefix = true;
				change.prefix = String(value, "prefix");
			} else if (change.op == Op::Message && name == "encoding") {
				change.encoding = String(value, "encoding");
			} else if (change.op == Op::Message && name == "content" && !seen_content) {
				seen_content = true;
				change.content = ReadValue(value);
			} else {
				ValidateUnknown(value);
			}
		}
		if (row) {
			if (relid)
				ResolveVersion3Row(static_cast<std::uint32_t>(*relid), change);
			else
				ResolveVersion2Row(schema, table, key_text, types_text, change);
			if (change.op != Op::Delete && !change.has_new)
				Fail("missing \"new\" on " + std::string(OpName(change.op)));
		} else if (change.op == Op::Truncate && !seen_tables) {
			Fail("missing \"tables\"");
		} else if (change.op == Op::Message) {
			if (!seen_prefix)
				Fail("missing \"prefix\"");
			if (!seen_content)
				Fail("missing \"content\"");
		}
	}

	// ValidateUnknown checks an ignored field's value (it must still be JSON).
	void
	ValidateUnknown(od::value value) {
		od::json_type type = Type(value);
		if (type == od::json_type::object || type == od::json_type::array)
			RawContainer(value, type);
		else
			ReadValue(value);
	}

	// ReadTruncateTables reads "tables" of a truncate.
	void
	ReadTruncateTables(od::value value, Change &change) {
		if (Type(value) != od::json_type::array)
			Fail("\"tables\" is not an array");
		for (od::value item : value.get_array()) {
			if (Type(item) != od::json_type::object)
				Fail("\"tables\" holds a non-object item");
			std::optional<std::string_view> schema, table;
			std::optional<TableName> partition;
			for (od::field field : item.get_object()) {
				std::string_view name = Key(field);
				od::value member = field.value();
				if (name == "schema" && !schema)
					schema = String(member, "tables[].schema");
				else if (name == "table" && !table)
					table = String(member, "tables[].table");
				else if (name == "partition" && !partition)
					partition = ReadPartition(member);
				else
					ValidateUnknown(member);
			}
			if (!schema)
				Fail("missing \"tables[].schema\"");
			if (!table)
				Fail("missing \"tables[].table\"");
			change.truncate_tables.push_back(
				TruncateTarget{std::string(*schema), std::string(*table), std::move(partition)});
		}
	}

	// ReadPartition reads "tables[].partition".
	TableName
	ReadPartition(od::value value) {
		if (Type(value) != od::json_type::object)
			Fail("\"tables[].partition\" is not an object");
		std::optional<std::string_view> schema, table;
		for (od::field field : value.get_object()) {
			std::string_view name = Key(field);
			od::value member = field.value();
			if (name == "schema" && !schema)
				schema = String(member, "tables[].partition.schema");
			else if (name == "table" && !table)
				table = String(member, "tables[].partition.table");
			else
				ValidateUnknown(member);
		}
		if (!schema)
			Fail("missing \"tables[].partition.schema\"");
		if (!table)
			Fail("missing \"tables[].partition.table\"");
		return TableName{std::string(*schema), std::string(*table)};
	}

	// ReadKeyText reads a validated-to-be "key" text (an array) into names.
	std::vector<std::string>
	ReadKeyText(std::string_view text) {
		std::vector<std::string> key;
		od::document doc = decoder_.side_parser.iterate(text.data(), text.size(), Capacity(text));
		for (od::value item : doc.get_array()) {
			if (Type(item) != od::json_type::string)
				Fail("\"key\" holds a non-string item");
			key.emplace_back(std::string_view(item.get_string()));
		}
		if (!AtEnd(doc))
			Fail("invalid JSON");
		return key;
	}

	// ReadTypesText reads a "types" text (an object of column name to type name) into columns.
	std::vector<RelationColumn>
	ReadTypesText(std::string_view text) {
		std::vector<RelationColumn> columns;
		od::document doc = decoder_.side_parser.iterate(text.data(), text.size(), Capacity(text));
		for (od::field field : doc.get_object()) {
			std::string name(std::string_view(field.unescaped_key()));
			od::value type = field.value();
			if (Type(type) != od::json_type::string)
				Fail("\"types\" holds a non-string type for column " + Quoted(name));
			columns.push_back(RelationColumn{std::move(name), std::string(std::string_view(type.get_string()))});
		}
		if (!AtEnd(doc))
			Fail("invalid JSON");
		return columns;
	}

	// ResolveVersion2Row finds (or builds) the schema of a named row change.
	void
	ResolveVersion2Row(std::optional<std::string_view> schema, std::optional<std::string_view> table,
					   std::optional<std::string_view> key_text, std::optional<std::string_view> types_text,
					   Change &change) {
		if (!schema)
			Fail("missing \"schema\"");
		if (!table)
			Fail("missing \"table\"");
		if (!positional_field_.empty())
			Fail(Quoted(positional_field_) + " is not an object");
		if (!unchanged_positions_.empty())
			Fail("\"unchanged\" holds a non-string item");
		std::string_view key = key_text.value_or(std::string_view());
		std::string_view types = types_text.value_or(std::string_view());
		TypedTable *entry = decoder_.last_table;
		if (entry == nullptr || entry->schema->schema != *schema || entry->schema->table != *table) {
			std::string &lookup = decoder_.lookup;
			lookup.assign(*schema);
			lookup.push_back('\0');
			lookup.append(*table);
			auto found = decoder_.tables.find(lookup);
			entry = found == decoder_.tables.end() ? nullptr : &found->second;
		}
		if (entry == nullptr || entry->key_text != key || entry->types_text != types) {
			std::vector<std::string> key_names = key.empty() ? std::vector<std::string>() : ReadKeyText(key);
			std::vector<RelationColumn> columns = types.empty() ? std::vector<RelationColumn>() : ReadTypesText(types);
			TypedTable &slot = decoder_.tables[decoder_.lookup.assign(*schema).append(1, '\0').append(*table)];
			slot.key_text.assign(key);
			slot.types_text.assign(types);
			slot.schema = std::make_shared<const RelationSchema>(0, std::string(*schema), std::string(*table),
																 std::move(key_names), ReplicaIdentity::Unknown,
																 std::move(columns));
			entry = &slot;
		}
		decoder_.last_table = entry;
		change.relation = entry->schema;
		if (!entry->schema->columns.empty()) {
			for (Column &column : change.new_row)
				column.declared = entry->schema->FindColumn(column.name);
			for (Column &column : change.old_row)
				column.declared = entry->schema->FindColumn(column.name);
		}
	}

	// ResolveVersion3Row names the positional values of a row change after its relation.
	void
	ResolveVersion3Row(std::uint32_t relid, Change &change) {
		if (!named_field_.empty())
			Fail(Quoted(named_field_) + " is not an array");
		if (!change.unchanged.empty())
			Fail("\"unchanged\" holds a non-integer item");
		auto found = decoder_.relations.find(relid);
		if (found == decoder_.relations.end())
			Fail("no relation document for relid " + std::to_string(relid) + " in this session");
		const RelationSchema &relation = *found->second;
		change.relation = found->second;
		std::size_t count = relation.columns.size();
		for (std::uint64_t position : unchanged_positions_) {
			if (position >= count)
				Fail("\"unchanged\" position " + std::to_string(position) + " is out of range");
			change.unchanged.push_back(relation.columns[position].name);
		}
		if (change.has_new) {
			NameRow(relation, change.new_row, "new");
			if (!unchanged_positions_.empty()) {
				// unchanged TOAST: the place holds null, the column is left out of "new" (as in version 2)
				std::vector<Column> &row = change.new_row;
				row.erase(std::remove_if(row.begin(), row.end(),
										 [&](const Column &column) {
											 return std::find(change.unchanged.begin(), change.unchanged.end(),
															  column.name) != change.unchanged.end();
										 }),
						  row.end());
			}
		}
		if (change.has_old) {
			NameRow(relation, change.old_row, "old");
			if (relation.identity != ReplicaIdentity::Full) {
				// only the identity columns are logged: the other places hold null and are left out
				std::vector<Column> &row = change.old_row;
				row.erase(std::remove_if(row.begin(), row.end(),
										 [&](const Column &column) { return !relation.IsKey(column.name); }),
						  row.end());
			}
		}
	}

	// NameRow gives the positional values of row the names of relation's columns (one value per column).
	void
	NameRow(const RelationSchema &relation, std::vector<Column> &row, std::string_view field) {
		if (row.size() != relation.columns.size())
			Fail(Quoted(field) + " has " + std::to_string(row.size()) + " values for " +
				 std::to_string(relation.columns.size()) + " columns");
		for (std::size_t i = 0; i < row.size(); ++i) {
			row[i].name = relation.columns[i].name;
			row[i].declared = &relation.columns[i];
		}
	}

	// ReadRelation reads a version-3 relation document into the decoder's relation map.
	void
	ReadRelation(od::document &doc) {
		std::optional<std::uint64_t> relid;
		std::optional<std::string_view> schema, table, identity;
		std::vector<std::string> key;
		std::vector<RelationColumn> columns;
		bool seen_columns = false;
		for (od::field field : doc.get_object()) {
			std::string_view name = Key(field);
			od::value value = field.value();
			if (name == "relid" && !relid) {
				relid = Unsigned(value, "relid");
				if (*relid > UINT32_MAX)
					Fail("\"relid\" is not an OID");
			} else if (name == "schema" && !schema) {
				schema = String(value, "schema");
			} else if (name == "table" && !table) {
				table = String(value, "table");
			} else if (name == "identity" && !identity) {
				identity = String(value, "identity");
			} else if (name == "key" && key.empty()) {
				key = ReadKeyText(StringArrayText(value, "key"));
			} else if (name == "columns" && !seen_columns) {
				seen_columns = true;
				columns = ReadRelationColumns(value);
			} else if (name != "op") {
				ValidateUnknown(value);
			}
		}
		if (!AtEnd(doc))
			Fail("invalid JSON");
		if (!relid)
			Fail("missing \"relid\"");
		if (!schema)
			Fail("missing \"schema\"");
		if (!table)
			Fail("missing \"table\"");
		if (!seen_columns)
			Fail("missing \"columns\"");
		std::optional<ReplicaIdentity> replica_identity =
			identity ? ParseIdentity(*identity) : std::optional<ReplicaIdentity>(ReplicaIdentity::Unknown);
		if (!replica_identity)
			Fail("unknown \"identity\" " + Quoted(*identity));
		auto relation = std::make_shared<RelationSchema>(static_cast<std::uint32_t>(*relid), std::string(*schema),
														 std::string(*table), std::move(key), *replica_identity,
														 std::move(columns));
		relation->document = document_;
		decoder_.relations[relation->relid] = std::move(relation);
	}

	// ReadRelationColumns reads a relation document's "columns".
	std::vector<RelationColumn>
	ReadRelationColumns(od::value value) {
		if (Type(value) != od::json_type::array)
			Fail("\"columns\" is not an array");
		std::vector<RelationColumn> columns;
		for (od::value item : value.get_array()) {
			if (Type(item) != od::json_type::object)
				Fail("\"columns\" holds a non-object item");
			RelationColumn column;
			bool seen_name = false, seen_type = false;
			for (od::field field : item.get_object()) {
				std::string_view name = Key(field);
				od::value member = field.value();
				if (name == "name") {
					column.name = std::string(String(member, "columns[].name"));
					seen_name = true;
				} else if (name == "type") {
					column.type = std::string(String(member, "columns[].type"));
					seen_type = true;
				} else if (name == "oid") {
					std::uint64_t oid = Unsigned(member, "columns[].oid");
					if (oid > UINT32_MAX)
						Fail("\"columns[].oid\" is not an OID");
					column.type_oid = static_cast<std::uint32_t>(oid);
				} else if (name == "typmod") {
					std::int64_t typmod = Integer(member, "columns[].typmod");
					if (typmod < INT32_MIN || typmod > INT32_MAX)
						Fail("\"columns[].typmod\" is out of range");
					column.typmod = static_cast<std::int32_t>(typmod);
				} else if (name == "dims") {
					std::int64_t dims = Integer(member, "columns[].dims");
					if (dims < 0 || dims > 1000)
						Fail("\"columns[].dims\" is out of range");
					column.dims = static_cast<int>(dims);
				} else {
					ValidateUnknown(member);
				}
			}
			if (!seen_name)
				Fail("missing \"columns[].name\"");
			if (!seen_type)
				Fail("missing \"columns[].type\"");
			columns.push_back(std::move(column));
		}
		return columns;
	}

	ChangeDecoder::Impl &decoder_;
	DecodedMessage &out_;
	std::string_view document_;
	const char *buffer_end_;
	std::string_view named_field_;		// "new" or "old" when one was an object (version 2)
	std::string_view positional_field_; // "new" or "old" when one was an array (version 3)
	std::vector<std::uint64_t> unchanged_positions_;
};

// kEmpty* back the accessors of a change without relation.
const std::string kEmptyName;
const std::vector<std::string> kEmptyKey;

} // namespace

// OpName looks op up in kOpNames.
std::string_view
OpName(Op op) noexcept {
	for (const auto &[known, name] : kOpNames)
		if (known == op)
			return name;
	return "?";
}

// IsRowChange tells insert, update and delete apart from the other ops.
bool
IsRowChange(Op op) noexcept {
	return op == Op::Insert || op == Op::Update || op == Op::Delete;
}

// RelationSchema sorts the column names for FindColumn (stable: of duplicate names the first is found).
RelationSchema::RelationSchema(std::uint32_t relid_in, std::string schema_in, std::string table_in,
							   std::vector<std::string> key_in, ReplicaIdentity identity_in,
							   std::vector<RelationColumn> columns_in)
	: relid(relid_in), schema(std::move(schema_in)), table(std::move(table_in)), key(std::move(key_in)),
	  identity(identity_in), columns(std::move(columns_in)) {
	by_name_.reserve(columns.size());
	for (std::size_t i = 0; i < columns.size(); ++i) {
		by_name_.emplace_back(columns[i].name, i);
		columns[i].classified = ClassifyPgType(columns[i].type);
	}
	std::stable_sort(by_name_.begin(), by_name_.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
}

// FindColumn binary-searches the sorted names.
const RelationColumn *
RelationSchema::FindColumn(std::string_view name) const noexcept {
	auto found = std::lower_bound(by_name_.begin(), by_name_.end(), name,
								  [](const auto &entry, std::string_view wanted) { return entry.first < wanted; });
	if (found == by_name_.end() || found->first != name)
		return nullptr;
	return &columns[found->second];
}

// TypeOf is FindColumn's type.
std::string_view
RelationSchema::TypeOf(std::string_view name) const noexcept {
	const RelationColumn *column = FindColumn(name);
	return column == nullptr ? std::string_view() : std::string_view(column->type);
}

// TypeAt is the type of columns[position].
std::string_view
RelationSchema::TypeAt(std::size_t position) const noexcept {
	return position < columns.size() ? std::string_view(columns[position].type) : std::string_view();
}

// IsKey scans key (a few names).
bool
RelationSchema::IsKey(std::string_view name) const noexcept {
	return std::find(key.begin(), key.end(), name) != key.end();
}

const std::string &
Change::Schema() const noexcept {
	return relation ? relation->schema : kEmptyName;
}

const std::string &
Change::Table() const noexcept {
	return relation ? relation->table : kEmptyName;
}

const std::vector<std::string> &
Change::Key() const noexcept {
	return relation ? relation->key : kEmptyKey;
}

// Store copies text into the current arena block, starting a new block when it does not fit.
std::string_view
DecodedMessage::Store(std::string_view text) {
	if (text.size() > arena_left_) {
		std::size_t bytes = std::max(kArenaBlockBytes, text.size());
		arena_.push_back(std::make_unique<char[]>(bytes));
		arena_next_ = arena_.back().get();
		arena_left_ = bytes;
	}
	if (!text.empty())
		std::memcpy(arena_next_, text.data(), text.size());
	std::string_view stored(arena_next_, text.size());
	arena_next_ += text.size();
	arena_left_ -= text.size();
	return stored;
}

// ChangeParseError formats the problem with an excerpt of the document.
ChangeParseError::ChangeParseError(std::string_view problem, std::string_view document)
	: std::runtime_error("invalid change document: " + std::string(problem) + ": " + Excerpt(document)) {}

// UnknownOpError formats the op and keeps it.
UnknownOpError::UnknownOpError(std::string_view op, std::string_view document)
	: ChangeParseError("unknown \"op\" " + Quoted(op), document), op_(op) {}

bool
ChangeDecoder::Impl::DecodeDocument(DecodedMessage &out, std::string_view text, bool skip_unknown) {
	Change &change = out.changes.emplace_back();
	DocumentReader reader(*this, out, text);
	bool keep = false;
	try {
		keep = reader.Read(change, skip_unknown);
	} catch (...) {
		out.changes.pop_back();
		throw;
	}
	if (!keep)
		out.changes.pop_back();
	return keep;
}

ChangeDecoder::ChangeDecoder(DecoderOptions options) : impl_(std::make_unique<Impl>()) {
	impl_->options = options;
}

ChangeDecoder::~ChangeDecoder() = default;

// CopyPadded copies message into out's buffer, followed by simdjson's padding.
static void
CopyPadded(DecodedMessage &out, std::string_view message) {
	out.buffer = std::make_unique<char[]>(message.size() + simdjson::SIMDJSON_PADDING);
	if (!message.empty())
		std::memcpy(out.buffer.get(), message.data(), message.size());
	std::memset(out.buffer.get() + message.size(), 0, simdjson::SIMDJSON_PADDING);
	out.size = message.size();
}

// Decode splits the padded copy on '\n' and reads each non-blank line.
std::shared_ptr<const DecodedMessage>
ChangeDecoder::Decode(std::string_view message) {
	auto out = std::make_shared<DecodedMessage>();
	CopyPadded(*out, message);
	std::string_view rest(out->buffer.get(), out->size);
	while (!rest.empty()) {
		std::size_t newline = rest.find('\n');
		std::string_view line = rest.substr(0, newline);
		rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
		if (line.find_first_not_of(" \t\r") == std::string_view::npos)
			continue;
		impl_->DecodeDocument(*out, line, true);
	}
	return out;
}

void
ChangeDecoder::StartSession() {
	impl_->relations.clear();
	impl_->tables.clear();
	impl_->last_table = nullptr;
}

// ParseChange reads document whole (newlines are only whitespace here) with a fresh decoder.
ParsedChange
ParseChange(std::string_view document, DecoderOptions options) {
	ChangeDecoder decoder(options);
	auto out = std::make_shared<DecodedMessage>();
	CopyPadded(*out, document);
	if (!decoder.impl_->DecodeDocument(*out, std::string_view(out->buffer.get(), out->size), false))
		throw ChangeParseError("a relation document is not a change", document);
	return ParsedChange(std::move(out));
}

} // namespace mosta::sidecar
