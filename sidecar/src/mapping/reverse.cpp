/*
 * reverse.cpp
 *     The reverse mapping (see reverse.hpp): rows → the legacy document. A document is built as a small tree
 *     (objects of named nodes, leaves holding one BSON value) so that dotted paths, child arrays and the extra
 *     fields land at their places whatever order they come in, then written out as BSON.
 */
#include "mapping/reverse.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>

#include "app/verify_mongo.hpp"

namespace mosta::mapping {

namespace {

using sidecar::AppendMongoValue;
using sidecar::BsonHandle;
using sidecar::MappingNotes;
using sidecar::NewBson;
using sidecar::RawJson;
using sidecar::Value;

// OwnedValue is a copy of one BSON value (bson_value_copy), destroyed with it.
class OwnedValue {
  public:
	explicit OwnedValue(const bson_value_t *value) {
		bson_value_copy(value, &value_);
	}
	~OwnedValue() {
		bson_value_destroy(&value_);
	}
	OwnedValue(const OwnedValue &) = delete;
	OwnedValue &operator=(const OwnedValue &) = delete;
	const bson_value_t *
	get() const noexcept {
		return &value_;
	}

  private:
	bson_value_t value_{};
};

// Node is a field of the document being built: an object of named nodes, or a leaf value.
struct Node {
	std::unique_ptr<OwnedValue> leaf;
	std::vector<std::pair<std::string, std::unique_ptr<Node>>> members; // object members, in order

	Node *
	Member(std::string_view name) {
		for (auto &[key, node] : members)
			if (key == name)
				return node.get();
		return nullptr;
	}
	Node *
	AddMember(std::string_view name) {
		members.emplace_back(std::string(name), std::make_unique<Node>());
		return members.back().second.get();
	}
};

// Check throws when a libbson append failed (the document would exceed the BSON size limit).
void
Check(bool appended, std::string_view field) {
	if (!appended)
		throw std::runtime_error("cannot append field \"" + std::string(field) +
								 "\" to a BSON document (a MongoDB document is limited to 16 MB)");
}

// TakeValue returns the value of field "v" of doc (built by an append into a scratch document).
std::unique_ptr<OwnedValue>
TakeValue(const bson_t *doc) {
	bson_iter_t iter;
	if (!bson_iter_init_find(&iter, doc, "v"))
		return nullptr;
	return std::make_unique<OwnedValue>(bson_iter_value(&iter));
}

// SplitPath splits a dotted path into its parts.
std::vector<std::string_view>
SplitPath(std::string_view path) {
	std::vector<std::string_view> parts;
	std::size_t begin = 0;
	for (;;) {
		std::size_t dot = path.find('.', begin);
		parts.push_back(path.substr(begin, dot == std::string_view::npos ? std::string_view::npos : dot - begin));
		if (dot == std::string_view::npos)
			return parts;
		begin = dot + 1;
	}
}

// Place puts value at path under root (objects made on the way); a path already holding something keeps it (the
// mapping's paths are never prefixes of one another, so this happens only for a bad mapping) and is noted.
void
Place(Node &root, std::string_view path, std::unique_ptr<OwnedValue> value, MappingNotes &notes) {
	Node *node = &root;
	std::vector<std::string_view> parts = SplitPath(path);
	for (std::size_t i = 0; i < parts.size(); ++i) {
		Node *next = node->Member(parts[i]);
		if (next == nullptr)
			next = node->AddMember(parts[i]);
		else if (i + 1 == parts.size() || next->leaf) {
			notes.push_back({std::string(path), "path written twice: the first value kept"});
			return;
		}
		node = next;
	}
	node->leaf = std::move(value);
}

// Merge adds the fields of an extra document (iter over its members) to node: a field node lacks is added, a
// subdocument both hold is merged, a field the mapping already wrote keeps the mapped value.
void
Merge(Node &node, bson_iter_t *iter) {
	while (bson_iter_next(iter)) {
		std::string key = sidecar::UnescapeMongoFieldName(bson_iter_key(iter));
		Node *member = node.Member(key);
		if (member == nullptr) {
			member = node.AddMember(key);
			member->leaf = std::make_unique<OwnedValue>(bson_iter_value(iter));
			continue;
		}
		bson_iter_t child;
		if (!member->leaf && BSON_ITER_HOLDS_DOCUMENT(iter) && bson_iter_recurse(iter, &child))
			Merge(*member, &child);
	}
}

// Emit writes node's members into doc.
void
Emit(bson_t *doc, const Node &node) {
	for (const auto &[key, member] : node.members) {
		if (member->leaf) {
			Check(bson_append_value(doc, key.data(), static_cast<int>(key.size()), member->leaf->get()), key);
			continue;
		}
		bson_t child;
		Check(bson_append_document_begin(doc, key.data(), static_cast<int>(key.size()), &child), key);
		Emit(&child, *member);
		Check(bson_append_document_end(doc, &child), key);
	}
}

// NumberText returns a double as the shortest text that reads back to it.
std::string
NumberText(double value) {
	char buffer[64];
	auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
	return error == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

// ParseInteger reads an integral text ("12", "12.000") as int64.
std::optional<std::int64_t>
ParseInteger(std::string_view text) {
	std::int64_t integer = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
	if (error == std::errc() && end == text.data() + text.size())
		return integer;
	std::string copy(text);
	char *stop = nullptr;
	double real = std::strtod(copy.c_str(), &stop);
	if (copy.empty() || stop != copy.c_str() + copy.size() || std::floor(real) != real || std::abs(real) > 9.0e18)
		return std::nullopt;
	return static_cast<std::int64_t>(real);
}

// ParseDouble reads a number's text as a double.
std::optional<double>
ParseDouble(std::string_view text) {
	std::string copy(text);
	char *stop = nullptr;
	double real = std::strtod(copy.c_str(), &stop);
	if (copy.empty() || stop != copy.c_str() + copy.size())
		return std::nullopt;
	return real;
}

// ScalarText returns a scalar value as text (nullopt for NULL and raw JSON).
std::optional<std::string>
ScalarText(const Value &value) {
	if (const std::string_view *text = std::get_if<std::string_view>(&value))
		return std::string(*text);
	if (const std::int64_t *integer = std::get_if<std::int64_t>(&value))
		return std::to_string(*integer);
	if (const double *real = std::get_if<double>(&value))
		return NumberText(*real);
	if (const bool *flag = std::get_if<bool>(&value))
		return std::string(*flag ? "true" : "false");
	return std::nullopt;
}

// AppendAsBson appends value under "v" of doc as the BSON type bson asks for; false when the value cannot take it.
bool
AppendAsBson(bson_t *doc, const Value &value, const std::string &bson, std::string_view column, MappingNotes &notes) {
	std::optional<std::string> text = ScalarText(value);
	if (bson == "string")
		return text && bson_append_utf8(doc, "v", 1, text->data(), static_cast<int>(text->size()));
	if (bson == "int" || bson == "long") {
		std::optional<std::int64_t> integer;
		if (const std::int64_t *exact = std::get_if<std::int64_t>(&value))
			integer = *exact;
		else if (text)
			integer = ParseInteger(*text);
		if (!integer)
			return false;
		if (bson == "int" && *integer >= std::numeric_limits<std::int32_t>::min() &&
			*integer <= std::numeric_limits<std::int32_t>::max())
			return bson_append_int32(doc, "v", 1, static_cast<std::int32_t>(*integer));
		return bson == "long" && bson_append_int64(doc, "v", 1, *integer);
	}
	if (bson == "double") {
		std::optional<double> real;
		if (const double *exact = std::get_if<double>(&value))
			real = *exact;
		else if (text)
			real = ParseDouble(*text);
		return real && bson_append_double(doc, "v", 1, *real);
	}
	if (bson == "decimal") {
		if (!text || std::holds_alternative<bool>(value))
			return false;
		AppendMongoValue(doc, "v", Value(std::string_view(*text)), "numeric", column, notes);
		bson_iter_t iter;
		return bson_iter_init_find(&iter, doc, "v") && BSON_ITER_HOLDS_DECIMAL128(&iter);
	}
	if (bson == "bool") {
		if (const bool *flag = std::get_if<bool>(&value))
			return bson_append_bool(doc, "v", 1, *flag);
		if (text && (*text == "true" || *text == "t" || *text == "false" || *text == "f"))
			return bson_append_bool(doc, "v", 1, (*text)[0] == 't');
		return false;
	}
	if (bson == "date") {
		if (!std::holds_alternative<std::string_view>(value))
			return false;
		MappingNotes date_notes;
		AppendMongoValue(doc, "v", value, "timestamp with time zone", column, date_notes);
		bson_iter_t iter;
		if (!bson_iter_init_find(&iter, doc, "v") || !BSON_ITER_HOLDS_DATE_TIME(&iter))
			return false;
		notes.insert(notes.end(), date_notes.begin(), date_notes.end());
		return true;
	}
	if (bson == "objectId") {
		if (!text || text->size() != 24 || !bson_oid_is_valid(text->c_str(), 24))
			return false;
		bson_oid_t oid;
		bson_oid_init_from_string(&oid, text->c_str());
		return bson_append_oid(doc, "v", 1, &oid);
	}
	if (bson == "object" || bson == "array") {
		AppendMongoValue(doc, "v", value, "jsonb", column, notes);
		bson_iter_t iter;
		return bson_iter_init_find(&iter, doc, "v") &&
			   (bson == "object" ? BSON_ITER_HOLDS_DOCUMENT(&iter) : BSON_ITER_HOLDS_ARRAY(&iter));
	}
	return false;
}

// ColumnValue returns the BSON value of a mapped column: in the field's bson type when it names one (noted and
// mapped by the PostgreSQL type when the value cannot take it), else by the column's PostgreSQL type (the
// mapping's, when the row does not carry one). nullptr for SQL NULL.
std::unique_ptr<OwnedValue>
ColumnValue(const FieldMap &field, const RowColumn &column, MappingNotes &notes) {
	if (sidecar::IsNull(column.value))
		return nullptr;
	std::string_view type = column.type.empty() ? std::string_view(field.type) : column.type;
	if (!field.bson_type.empty()) {
		BsonHandle scratch = NewBson();
		if (AppendAsBson(scratch.get(), column.value, field.bson_type, field.column, notes))
			return TakeValue(scratch.get());
		notes.push_back({field.column, "bson " + field.bson_type + " cannot hold the value " +
										   ScalarText(column.value).value_or("(json)").substr(0, 40) +
										   ": written by its PostgreSQL type " + std::string(type)});
	}
	BsonHandle scratch = NewBson();
	AppendMongoValue(scratch.get(), "v", column.value, type, field.column, notes);
	return TakeValue(scratch.get());
}

// LegacyIdValue returns the legacy id as a BSON value, in the field's bson type when it names "string", "int" or
// "long" (ids that were strings or numbers), else ObjectId when it is 24 hex digits, else the string.
std::unique_ptr<OwnedValue>
LegacyIdValue(const std::string &legacy_id, const std::string &bson) {
	BsonHandle scratch = NewBson();
	if (bson == "string") {
		Check(bson_append_utf8(scratch.get(), "v", 1, legacy_id.data(), static_cast<int>(legacy_id.size())), "v");
	} else if ((bson == "int" || bson == "long") && ParseInteger(legacy_id)) {
		MappingNotes ignored;
		AppendAsBson(scratch.get(), Value(std::string_view(legacy_id)), bson, "", ignored);
	} else {
		AppendLegacyId(scratch.get(), "v", legacy_id);
	}
	return TakeValue(scratch.get());
}

// ReferenceValue returns the legacy id of the entity a uuid column names (id_map of collection), or, when id_map
// does not know it, the uuid as the plain sink writes it (binary subtype 4), noted.
std::unique_ptr<OwnedValue>
ReferenceValue(const FieldMap &field, const std::string &column, const RowColumn &value, const LegacyIdOf &legacy_id_of,
			   MappingNotes &notes) {
	std::optional<std::string> uuid = UuidText(value.value);
	if (!uuid)
		return nullptr;
	std::optional<std::string> legacy = legacy_id_of ? legacy_id_of(field.references, *uuid) : std::nullopt;
	if (legacy)
		return LegacyIdValue(*legacy, field.bson_type);
	notes.push_back({column, "uuid " + *uuid + " has no legacy id in mosta.id_map (collection " + field.references +
								 "): written as a uuid"});
	BsonHandle scratch = NewBson();
	AppendMongoValue(scratch.get(), "v", value.value, "uuid", column, notes);
	return TakeValue(scratch.get());
}

// PolymorphicValue returns a polymorphic reference's Mixed value: the entity's legacy id ('entity'), the external
// reference string ('template'), or nullptr (all NULL).
std::unique_ptr<OwnedValue>
PolymorphicValue(const FieldMap &field, const Row &row, const LegacyIdOf &legacy_id_of, MappingNotes &notes) {
	const RowColumn *kind = FindRowColumn(row, PolymorphicKindColumn(field.column));
	std::optional<std::string> kind_text = kind != nullptr ? ScalarText(kind->value) : std::nullopt;
	if (kind_text == "template") {
		const RowColumn *external = FindRowColumn(row, PolymorphicExternalColumn(field.column));
		std::optional<std::string> text = external != nullptr ? ScalarText(external->value) : std::nullopt;
		if (!text)
			return nullptr;
		BsonHandle scratch = NewBson();
		Check(bson_append_utf8(scratch.get(), "v", 1, text->data(), static_cast<int>(text->size())), field.path);
		return TakeValue(scratch.get());
	}
	const RowColumn *id = FindRowColumn(row, PolymorphicIdColumn(field.column));
	if (id == nullptr || sidecar::IsNull(id->value))
		return nullptr;
	return ReferenceValue(field, PolymorphicIdColumn(field.column), *id, legacy_id_of, notes);
}

// FieldValue returns the BSON value of a Column, Reference or Polymorphic field of row (nullptr: no field).
std::unique_ptr<OwnedValue>
FieldValue(const FieldMap &field, const Row &row, const LegacyIdOf &legacy_id_of, MappingNotes &notes) {
	switch (field.kind) {
	case FieldKind::Column: {
		const RowColumn *column = FindRowColumn(row, field.column);
		return column != nullptr ? ColumnValue(field, *column, notes) : nullptr;
	}
	case FieldKind::Reference: {
		const RowColumn *column = FindRowColumn(row, field.column);
		return column != nullptr ? ReferenceValue(field, field.column, *column, legacy_id_of, notes) : nullptr;
	}
	case FieldKind::Polymorphic:
		return PolymorphicValue(field, row, legacy_id_of, notes);
	case FieldKind::ChildTable:
		return nullptr;
	}
	return nullptr;
}

// MergeExtra merges the extra column's jsonb object (if any) into root.
void
MergeExtra(Node &root, const Row &row, const std::string &extra_column, MappingNotes &notes) {
	const RowColumn *extra = extra_column.empty() ? nullptr : FindRowColumn(row, extra_column);
	if (extra == nullptr || sidecar::IsNull(extra->value))
		return;
	BsonHandle scratch = NewBson();
	AppendMongoValue(scratch.get(), "v", extra->value, "jsonb", extra_column, notes);
	bson_iter_t iter, members;
	if (!bson_iter_init_find(&iter, scratch.get(), "v"))
		return;
	if (!BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		notes.push_back({extra_column, "the extra column does not hold a JSON object: left out"});
		return;
	}
	if (bson_iter_recurse(&iter, &members))
		Merge(root, &members);
}

// ElementValue returns one element of a child array, from a child row.
std::unique_ptr<OwnedValue>
ElementValue(const ChildMap &child, const Row &row, const LegacyIdOf &legacy_id_of, MappingNotes &notes) {
	if (child.fields.size() == 1 && child.fields[0].path.empty()) {
		std::unique_ptr<OwnedValue> value = FieldValue(child.fields[0], row, legacy_id_of, notes);
		if (value)
			return value;
		bson_value_t null_value{};
		null_value.value_type = BSON_TYPE_NULL; // an array keeps its null elements
		return std::make_unique<OwnedValue>(&null_value);
	}
	Node element;
	for (const FieldMap &field : child.fields)
		if (std::unique_ptr<OwnedValue> value = FieldValue(field, row, legacy_id_of, notes))
			Place(element, field.path, std::move(value), notes);
	MergeExtra(element, row, child.extra_column, notes);
	BsonHandle doc = NewBson();
	Emit(doc.get(), element);
	bson_value_t value{};
	value.value_type = BSON_TYPE_DOCUMENT;
	value.value.v_doc.data = const_cast<std::uint8_t *>(bson_get_data(doc.get()));
	value.value.v_doc.data_len = doc.get()->len;
	return std::make_unique<OwnedValue>(&value);
}

// ArrayValue returns the array of a child table's rows.
std::unique_ptr<OwnedValue>
ArrayValue(const ChildMap &child, const std::vector<Row> &rows, const LegacyIdOf &legacy_id_of, MappingNotes &notes) {
	BsonHandle scratch = NewBson();
	AppendReverseArray(scratch.get(), "v", child, rows, legacy_id_of, notes);
	return TakeValue(scratch.get());
}

} // namespace

const RowColumn *
FindRowColumn(const Row &row, std::string_view name) noexcept {
	for (const RowColumn &column : row)
		if (column.name == name)
			return &column;
	return nullptr;
}

void
AppendLegacyId(bson_t *doc, std::string_view field, const std::string &legacy_id) {
	bool hex = legacy_id.size() == 24 &&
			   std::all_of(legacy_id.begin(), legacy_id.end(), [](char c) { return std::isxdigit(c) != 0; });
	if (hex) {
		bson_oid_t oid;
		bson_oid_init_from_string(&oid, legacy_id.c_str());
		Check(bson_append_oid(doc, field.data(), static_cast<int>(field.size()), &oid), field);
		return;
	}
	Check(bson_append_utf8(doc, field.data(), static_cast<int>(field.size()), legacy_id.data(),
						   static_cast<int>(legacy_id.size())),
		  field);
}

std::optional<std::string>
UuidText(const Value &value) {
	if (const std::string_view *text = std::get_if<std::string_view>(&value))
		return std::string(*text);
	return std::nullopt;
}

std::optional<std::string>
ReverseLegacyId(const CollectionMap &collection, const Row &row, const LegacyIdOf &legacy_id_of) {
	if (const RowColumn *legacy = FindRowColumn(row, collection.legacy_id_column))
		if (std::optional<std::string> text = ScalarText(legacy->value))
			return text;
	const RowColumn *id = FindRowColumn(row, collection.id_column);
	std::optional<std::string> uuid = id != nullptr ? UuidText(id->value) : std::nullopt;
	if (!uuid || !legacy_id_of)
		return std::nullopt;
	return legacy_id_of(collection.collection, *uuid);
}

BsonHandle
ReverseDocument(const CollectionMap &collection, const Row &row, const std::vector<std::vector<Row>> &children,
				const LegacyIdOf &legacy_id_of, MappingNotes &notes) {
	std::optional<std::string> legacy = ReverseLegacyId(collection, row, legacy_id_of);
	if (!legacy)
		throw std::runtime_error("a row of " + collection.table + " has no legacy id: its column " +
								 collection.legacy_id_column + " is NULL and mosta.id_map has no legacy id of its " +
								 collection.id_column + " in collection " + collection.collection);
	Node root;
	root.AddMember("_id")->leaf = LegacyIdValue(*legacy, "");
	for (const FieldMap &field : collection.fields) {
		if (field.kind == FieldKind::ChildTable) {
			if (field.child < children.size() && field.child < collection.children.size())
				Place(root, field.path,
					  ArrayValue(collection.children[field.child], children[field.child], legacy_id_of, notes), notes);
			continue;
		}
		if (std::unique_ptr<OwnedValue> value = FieldValue(field, row, legacy_id_of, notes))
			Place(root, field.path, std::move(value), notes);
	}
	MergeExtra(root, row, collection.extra_column, notes);
	BsonHandle doc = NewBson();
	Emit(doc.get(), root);
	return doc;
}

void
AppendReverseArray(bson_t *doc, std::string_view field, const ChildMap &child, const std::vector<Row> &rows,
				   const LegacyIdOf &legacy_id_of, MappingNotes &notes) {
	bson_t array;
	Check(bson_append_array_begin(doc, field.data(), static_cast<int>(field.size()), &array), field);
	std::uint32_t index = 0;
	for (const Row &row : rows) {
		std::unique_ptr<OwnedValue> element = ElementValue(child, row, legacy_id_of, notes);
		char buffer[16];
		const char *key = nullptr;
		std::size_t length = bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
		Check(bson_append_value(&array, key, static_cast<int>(length), element->get()), field);
	}
	Check(bson_append_array_end(doc, &array), field);
}

ChildOf
FindChildTable(const Mapping &mapping, std::string_view table) noexcept {
	for (const CollectionMap &collection : mapping.collections)
		for (std::size_t i = 0; i < collection.children.size(); ++i)
			if (collection.children[i].table == table)
				return {&collection, i};
	return {};
}

const CollectionMap *
FindCollectionTable(const Mapping &mapping, std::string_view table) noexcept {
	for (const CollectionMap &collection : mapping.collections)
		if (collection.table == table)
			return &collection;
	return nullptr;
}

const std::string &
ChildPath(const CollectionMap &collection, std::size_t index) {
	for (const FieldMap &field : collection.fields)
		if (field.kind == FieldKind::ChildTable && field.child == index)
			return field.path;
	throw std::logic_error("collection " + collection.collection + " has no field for its child table " +
						   std::to_string(index));
}

} // namespace mosta::mapping
