/*
 * change.cpp
 *     ParseChange and ParseChangeLines: cJSON (owned by CJsonHandle) to Change, field by field after
 *     docs/protocol.md sections 6 to 12. Numbers and containers are taken from the document's text through
 *     JsonSourceMap, so 64-bit integers and json values stay exact. ParseChange first tries the one-pass reader
 *     of fast_change.cpp and comes here (ParseChangeWithCJson) only when that one gives up (fast_change.hpp).
 */
#include "decode/change.hpp"

#include <array>
#include <charconv>
#include <utility>

#include "decode/fast_change.hpp"
#include "decode/json_source.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar {

namespace {

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

// DocumentReader reads the fields of one parsed document, reporting problems against its text.
class DocumentReader {
  public:
	// DocumentReader keeps the document's text, its tree and the tree's source map.
	DocumentReader(std::string_view document, const cJSON *root)
		: document_(document), root_(root), source_(root, document) {}

	// Fail throws a ChangeParseError for problem.
	[[noreturn]] void
	Fail(const std::string &problem) const {
		throw ChangeParseError(problem, document_);
	}

	// Field returns member name of object (root when null), or null when absent.
	const cJSON *
	Field(const char *name, const cJSON *object = nullptr) const {
		return cJSON_GetObjectItemCaseSensitive(object != nullptr ? object : root_, name);
	}

	// OptionalString reads a string member, or nullopt when absent; what names it in errors.
	std::optional<std::string>
	OptionalString(const char *name, const cJSON *object = nullptr, std::string_view what = {}) const {
		const cJSON *item = Field(name, object);
		if (item == nullptr)
			return std::nullopt;
		if (!cJSON_IsString(item))
			Fail(Quoted(what.empty() ? name : what) + " is not a string");
		return std::string(item->valuestring);
	}

	// RequiredString reads a string member that must be present.
	std::string
	RequiredString(const char *name, const cJSON *object = nullptr, std::string_view what = {}) const {
		std::optional<std::string> text = OptionalString(name, object, what);
		if (!text)
			Fail("missing " + Quoted(what.empty() ? name : what));
		return *text;
	}

	// OptionalLsn reads a string member that must hold an LSN "X/Y".
	std::string
	OptionalLsn(const char *name) const {
		std::optional<std::string> text = OptionalString(name);
		if (!text)
			return {};
		if (!ParseLsn(*text))
			Fail(Quoted(name) + " is not an LSN (X/Y in hex): " + Quoted(*text));
		return *text;
	}

	// OptionalBool reads a boolean member, false when absent.
	bool
	OptionalBool(const char *name) const {
		const cJSON *item = Field(name);
		if (item == nullptr)
			return false;
		if (!cJSON_IsBool(item))
			Fail(Quoted(name) + " is not a boolean");
		return cJSON_IsTrue(item);
	}

	// OptionalXid reads "xid", a non-negative integer.
	std::optional<std::uint64_t>
	OptionalXid() const {
		const cJSON *item = Field("xid");
		if (item == nullptr)
			return std::nullopt;
		std::uint64_t xid = 0;
		if (cJSON_IsNumber(item)) {
			std::string_view text = source_.TextOf(item);
			auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), xid);
			if (error == std::errc() && end == text.data() + text.size())
				return xid;
		}
		Fail("\"xid\" is not a non-negative integer");
	}

	// StringArray reads an array of strings member, empty when absent.
	std::vector<std::string>
	StringArray(const char *name) const {
		std::vector<std::string> items;
		const cJSON *array = Field(name);
		if (array == nullptr)
			return items;
		if (!cJSON_IsArray(array))
			Fail(Quoted(name) + " is not an array");
		for (const cJSON *item = array->child; item != nullptr; item = item->next) {
			if (!cJSON_IsString(item))
				Fail(Quoted(name) + " holds a non-string item");
			items.emplace_back(item->valuestring);
		}
		return items;
	}

	// ReadValue converts one JSON value to a Value.
	Value
	ReadValue(const cJSON *item) const {
		if (cJSON_IsNull(item))
			return std::monostate();
		if (cJSON_IsBool(item))
			return static_cast<bool>(cJSON_IsTrue(item));
		if (cJSON_IsString(item))
			return std::string(item->valuestring);
		if (cJSON_IsNumber(item))
			return NumberValue(source_.TextOf(item));
		return RawJson{std::string(source_.TextOf(item))};
	}

	// Row reads an object member of column values in document order; present reports whether it was there.
	std::vector<Column>
	Row(const char *name, bool &present) const {
		std::vector<Column> columns;
		const cJSON *object = Field(name);
		present = object != nullptr;
		if (object == nullptr)
			return columns;
		if (!cJSON_IsObject(object))
			Fail(Quoted(name) + " is not an object");
		for (const cJSON *item = object->child; item != nullptr; item = item->next)
			columns.push_back(Column{item->string, ReadValue(item)});
		return columns;
	}

	// Types reads "types", an object of column name to type name.
	std::map<std::string, std::string>
	Types() const {
		std::map<std::string, std::string> types;
		const cJSON *object = Field("types");
		if (object == nullptr)
			return types;
		if (!cJSON_IsObject(object))
			Fail("\"types\" is not an object");
		for (const cJSON *item = object->child; item != nullptr; item = item->next) {
			if (!cJSON_IsString(item))
				Fail("\"types\" holds a non-string type for column " + Quoted(item->string));
			types.emplace(item->string, item->valuestring);
		}
		return types;
	}

	// TruncateTables reads "tables" of a truncate.
	std::vector<TruncateTarget>
	TruncateTables() const {
		const cJSON *array = Field("tables");
		if (array == nullptr)
			Fail("missing \"tables\"");
		if (!cJSON_IsArray(array))
			Fail("\"tables\" is not an array");
		std::vector<TruncateTarget> targets;
		for (const cJSON *item = array->child; item != nullptr; item = item->next) {
			if (!cJSON_IsObject(item))
				Fail("\"tables\" holds a non-object item");
			TruncateTarget target{RequiredString("schema", item, "tables[].schema"),
								  RequiredString("table", item, "tables[].table"), std::nullopt};
			if (const cJSON *partition = Field("partition", item); partition != nullptr) {
				if (!cJSON_IsObject(partition))
					Fail("\"tables[].partition\" is not an object");
				target.partition = TableName{RequiredString("schema", partition, "tables[].partition.schema"),
											 RequiredString("table", partition, "tables[].partition.table")};
			}
			targets.push_back(std::move(target));
		}
		return targets;
	}

  private:
	std::string_view document_;
	const cJSON *root_;
	JsonSourceMap source_;
};

// ReadRowChange fills the fields of insert, update and delete.
void
ReadRowChange(const DocumentReader &reader, Change &change) {
	change.schema = reader.RequiredString("schema");
	change.table = reader.RequiredString("table");
	change.key = reader.StringArray("key");
	change.new_row = reader.Row("new", change.has_new);
	change.old_row = reader.Row("old", change.has_old);
	change.unchanged = reader.StringArray("unchanged");
	change.types = reader.Types();
	if (change.op != Op::Delete && !change.has_new)
		reader.Fail(std::string("missing \"new\" on ") + std::string(OpName(change.op)));
}

} // namespace

// NumberValue tries int64, then (for a fraction or exponent) double, and keeps the text otherwise.
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
	return std::string(text);
}

// LookupOp scans kOpNames.
std::optional<Op>
LookupOp(std::string_view name) {
	for (const auto &[op, op_name] : kOpNames)
		if (op_name == name)
			return op;
	return std::nullopt;
}

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

// ChangeParseError formats the problem with an excerpt of the document.
ChangeParseError::ChangeParseError(std::string_view problem, std::string_view document)
	: std::runtime_error("invalid change document: " + std::string(problem) + ": " + Excerpt(document)) {}

// UnknownOpError formats the op and keeps it.
UnknownOpError::UnknownOpError(std::string_view op, std::string_view document)
	: ChangeParseError("unknown \"op\" " + Quoted(op), document), op_(op) {}

// ParseChangeWithCJson parses document with cJSON, then reads the fields its op defines.
Change
ParseChangeWithCJson(std::string_view document) {
	CJsonHandle root = ParseJsonDocument(document);
	if (!root)
		throw ChangeParseError("invalid JSON", document);
	if (!cJSON_IsObject(root.get()))
		throw ChangeParseError("not a JSON object", document);
	DocumentReader reader(document, root.get());

	std::string op_name = reader.RequiredString("op");
	std::optional<Op> op = LookupOp(op_name);
	if (!op)
		throw UnknownOpError(op_name, document);

	Change change;
	change.op = *op;
	change.xid = reader.OptionalXid();
	change.ts = reader.OptionalString("ts").value_or("");
	change.origin = reader.OptionalString("origin").value_or("");
	change.gid = reader.OptionalString("gid").value_or("");
	change.lsn = reader.OptionalLsn("lsn");
	change.commit_lsn = reader.OptionalLsn("commit_lsn");
	change.end_lsn = reader.OptionalLsn("end_lsn");
	change.raw = std::string(document);

	switch (change.op) {
	case Op::Insert:
	case Op::Update:
	case Op::Delete:
		ReadRowChange(reader, change);
		break;
	case Op::Truncate:
		change.truncate_tables = reader.TruncateTables();
		change.cascade = reader.OptionalBool("cascade");
		change.restart_identity = reader.OptionalBool("restart_identity");
		break;
	case Op::Message: {
		change.transactional = reader.OptionalBool("transactional");
		change.prefix = reader.RequiredString("prefix");
		change.encoding = reader.OptionalString("encoding").value_or("");
		const cJSON *content = reader.Field("content");
		if (content == nullptr)
			reader.Fail("missing \"content\"");
		change.content = reader.ReadValue(content);
		break;
	}
	default:
		break;
	}
	return change;
}

// ParseChange takes the fast path and falls back to cJSON when it gives up.
Change
ParseChange(std::string_view document) {
	Change change;
	if (TryParseChangeFast(document, change))
		return change;
	return ParseChangeWithCJson(document);
}

// ParseChangeLines splits message on '\n' and parses each non-blank line.
std::vector<Change>
ParseChangeLines(std::string_view message) {
	std::vector<Change> changes;
	while (!message.empty()) {
		std::size_t newline = message.find('\n');
		std::string_view line = message.substr(0, newline);
		message = newline == std::string_view::npos ? std::string_view() : message.substr(newline + 1);
		if (line.find_first_not_of(" \t\r") == std::string_view::npos)
			continue;
		Change &change = changes.emplace_back();
		if (TryParseChangeFast(line, change))
			continue;
		try {
			change = ParseChangeWithCJson(line);
		} catch (const UnknownOpError &) {
			changes.pop_back();
			// A version-1 consumer skips ops it does not know (protocol section 4).
		}
	}
	return changes;
}

} // namespace mosta::sidecar
