/*
 * transform.cpp
 *     The forward mapping of one document (see transform.hpp and docs/migration-mapping.md): the layouts of the
 *     target tables, the legacy id, each mapped field's canonical text (transform_value), references,
 *     polymorphic references, child-table rows, and the extra column (the document without its mapped paths,
 *     transform_json). A value the column cannot take is a TransformProblem, never an exception.
 */
#include "mapping/transform.hpp"

#include <unordered_map>

#include "mapping/transform_json.hpp"
#include "mapping/transform_value.hpp"

namespace mosta::mapping {

namespace {

// ScalarChild tells whether a child table maps an array of scalars (its one field has the path "").
bool
ScalarChild(const ChildMap &child) {
	return child.fields.size() == 1 && child.fields[0].path.empty();
}

// The fields of a document or of an element, prepared once: each field's column plan and the paths extra leaves out.
struct CompiledFields {
	std::vector<ColumnPlan> plans; // by field index (used by Column fields)
	PathTree removed;
};

// A collection's mapping prepared once per thread (a backfill maps millions of documents through it).
struct Compiled {
	// the paths and types it was prepared from: a CollectionMap freed and another allocated at the same address
	// (tests build mappings by the dozen) is told apart
	std::vector<std::vector<std::pair<std::string, std::string>>> signature;
	CompiledFields fields;
	std::vector<CompiledFields> children;
};

std::vector<std::pair<std::string, std::string>>
FieldSignature(const std::vector<FieldMap> &fields) {
	std::vector<std::pair<std::string, std::string>> out;
	for (const FieldMap &field : fields)
		out.emplace_back(field.path, field.type);
	return out;
}

bool
SameFields(const std::vector<std::pair<std::string, std::string>> &signature, const std::vector<FieldMap> &fields) {
	if (signature.size() != fields.size())
		return false;
	for (std::size_t i = 0; i < fields.size(); ++i)
		if (signature[i].first != fields[i].path || signature[i].second != fields[i].type)
			return false;
	return true;
}

bool
SameMapping(const Compiled &compiled, const CollectionMap &collection) {
	if (compiled.signature.size() != collection.children.size() + 1 ||
		!SameFields(compiled.signature[0], collection.fields))
		return false;
	for (std::size_t i = 0; i < collection.children.size(); ++i)
		if (!SameFields(compiled.signature[i + 1], collection.children[i].fields))
			return false;
	return true;
}

CompiledFields
CompileFields(const std::vector<FieldMap> &fields) {
	CompiledFields compiled;
	for (const FieldMap &field : fields) {
		compiled.plans.push_back(field.kind == FieldKind::Column ? PlanColumn(field.type) : ColumnPlan{});
		compiled.removed.Add(field.path);
	}
	return compiled;
}

const Compiled &
Compile(const CollectionMap &collection) {
	thread_local std::unordered_map<const CollectionMap *, Compiled> cache;
	auto found = cache.find(&collection);
	if (found != cache.end() && SameMapping(found->second, collection))
		return found->second;
	if (cache.size() > 256)
		cache.clear(); // mappings built and dropped by tests; a run maps through one
	Compiled compiled;
	compiled.signature.push_back(FieldSignature(collection.fields));
	compiled.fields = CompileFields(collection.fields);
	for (const ChildMap &child : collection.children) {
		compiled.signature.push_back(FieldSignature(child.fields));
		compiled.children.push_back(CompileFields(child.fields));
	}
	return cache.insert_or_assign(&collection, std::move(compiled)).first->second;
}

// Lookup finds a dotted path in the fields level iterates (from their start), descending through subdocuments
// only (an array on the way means the path is absent: its elements stay whole in extra).
bool
Lookup(bson_iter_t level, const std::string &path, bson_iter_t *found) {
	std::size_t from = 0;
	while (true) {
		const std::size_t dot = path.find('.', from);
		const std::size_t end = dot == std::string::npos ? path.size() : dot;
		if (!bson_iter_find_w_len(&level, path.data() + from, static_cast<int>(end - from)))
			return false;
		if (dot == std::string::npos) {
			*found = level;
			return true;
		}
		if (bson_iter_type(&level) != BSON_TYPE_DOCUMENT)
			return false;
		bson_iter_t below;
		if (!bson_iter_recurse(&level, &below))
			return false;
		level = below;
		from = dot + 1;
	}
}

// Where joins a path prefix and a field ("items.2" + "qty").
std::string
Join(const std::string &prefix, const std::string &rest) {
	if (prefix.empty())
		return rest;
	if (rest.empty())
		return prefix;
	return prefix + "." + rest;
}

// Context is the document being mapped: where its problems go, the path prefix of the element being mapped.
struct Context {
	MappedDocument *out;
	std::string prefix;

	void
	Problem(const std::string &path, const bson_iter_t *value, std::string reason) const {
		out->problems.push_back(
			TransformProblem{Join(prefix, path), value ? ShortJson(value) : "null", std::move(reason)});
	}
	void
	Missing(const FieldMap &field) const {
		Problem(field.path, nullptr, "missing, and the column " + field.column + " is NOT NULL");
	}
};

// A value, nullptr when missing or null.
const bson_iter_t *
Present(const bson_iter_t *iter) {
	if (!iter)
		return nullptr;
	const bson_type_t type = bson_iter_type(iter);
	return type == BSON_TYPE_NULL || type == BSON_TYPE_UNDEFINED ? nullptr : iter;
}

void
AppendColumn(const Context &context, const FieldMap &field, const ColumnPlan &plan, const bson_iter_t *value,
			 MappedRow &row) {
	ColumnValue converted = ConvertValue(Present(value), plan);
	if (converted.refused) {
		context.Problem(Join(field.path, converted.where), &converted.offending, converted.reason);
		row.values.emplace_back();
		return;
	}
	if (!converted.text && field.not_null)
		context.Missing(field);
	row.values.push_back(std::move(converted.text));
}

// ReferenceText is a parent's legacy id as LegacyIdText writes it.
void
AppendReference(const Context &context, const FieldMap &field, const bson_iter_t *value, MappedRow &row) {
	value = Present(value);
	if (!value) {
		if (field.not_null)
			context.Missing(field);
		row.values.emplace_back();
		return;
	}
	std::optional<std::string> id = LegacyIdText(value);
	if (!id)
		context.Problem(field.path, value,
						std::string("a reference must be an objectId or a string (a legacy id of ") + field.references +
							"), not " + BsonTypeName(bson_iter_type(value)));
	row.values.push_back(std::move(id));
}

void
AppendPolymorphic(const Context &context, const FieldMap &field, const bson_iter_t *value, MappedRow &row) {
	value = Present(value);
	const bson_type_t type = value ? bson_iter_type(value) : BSON_TYPE_NULL;
	if (type == BSON_TYPE_OID) {
		row.values.emplace_back("entity");
		row.values.push_back(LegacyIdText(value));
		row.values.emplace_back();
		return;
	}
	if (type == BSON_TYPE_UTF8) {
		std::uint32_t length = 0;
		const char *text = bson_iter_utf8(value, &length);
		if (const char *why = PgStringProblem(text, length); *why)
			context.Problem(field.path, value, std::string("the string ") + why);
		row.values.emplace_back("template");
		row.values.emplace_back();
		row.values.emplace_back(std::string(text, length));
		return;
	}
	if (value)
		context.Problem(field.path, value,
						std::string("a polymorphic reference must be an objectId (an entity of ") + field.references +
							") or a string (a template), not " + BsonTypeName(type));
	else if (field.not_null)
		context.Missing(field);
	row.values.insert(row.values.end(), 3, std::nullopt);
}

// AppendFields maps fields into row: paths are looked up in the fields inside iterates (nullptr: the value is not
// a document), the path "" is the value self (an array element; child tables have rows of their own).
void
AppendFields(const Context &context, const std::vector<FieldMap> &fields, const CompiledFields &compiled,
			 const bson_iter_t *self, const bson_iter_t *inside, MappedRow &row) {
	for (std::size_t index = 0; index < fields.size(); ++index) {
		const FieldMap &field = fields[index];
		bson_iter_t found;
		const bson_iter_t *value = nullptr;
		if (field.path.empty())
			value = self;
		else if (inside && Lookup(*inside, field.path, &found))
			value = &found;
		switch (field.kind) {
		case FieldKind::Column:
			AppendColumn(context, field, compiled.plans[index], value, row);
			break;
		case FieldKind::Reference:
			AppendReference(context, field, value, row);
			break;
		case FieldKind::Polymorphic:
			AppendPolymorphic(context, field, value, row);
			break;
		case FieldKind::ChildTable:
			break; // rows of their own (AppendChildRows)
		}
	}
}

void
AppendChildRows(const Context &context, const ChildMap &child, const CompiledFields &compiled, const FieldMap &field,
				const bson_iter_t *value, std::vector<MappedRow> &rows) {
	value = Present(value);
	if (!value)
		return;
	if (bson_iter_type(value) != BSON_TYPE_ARRAY) {
		context.Problem(field.path, value,
						std::string("the child table ") + child.table + " needs an array, not " +
							BsonTypeName(bson_iter_type(value)));
		return;
	}
	const bool scalar = ScalarChild(child);
	bson_iter_t elements;
	if (!bson_iter_recurse(value, &elements))
		return;
	for (std::size_t index = 0; bson_iter_next(&elements); ++index) {
		Context element{context.out, Join(context.prefix, field.path + "." + std::to_string(index))};
		MappedRow row;
		row.values.reserve(child.fields.size() + 3);
		row.values.emplace_back(context.out->legacy_id);
		row.values.emplace_back(std::to_string(index));
		if (!scalar && bson_iter_type(&elements) != BSON_TYPE_DOCUMENT) {
			element.Problem("", &elements,
							std::string("an element of ") + field.path + " must be an object (child table " +
								child.table + "), not " + BsonTypeName(bson_iter_type(&elements)));
			continue;
		}
		bson_iter_t inside;
		const bool object = bson_iter_type(&elements) == BSON_TYPE_DOCUMENT && bson_iter_recurse(&elements, &inside);
		AppendFields(element, child.fields, compiled, &elements, object ? &inside : nullptr, row);
		if (!scalar) {
			std::string extra;
			JsonProblem problem;
			if (!object || !AppendJsonbDocumentExcept(extra, &inside, compiled.removed, nullptr, &problem)) {
				element.Problem(problem.path, &problem.value, "the string " + problem.reason);
				extra = "{}";
			}
			row.values.emplace_back(std::move(extra));
		}
		rows.push_back(std::move(row));
	}
}

LayoutColumn
Column(std::string name, std::string type, ColumnRole role, bool not_null, std::string references = {},
	   const FieldMap *field = nullptr) {
	return LayoutColumn{std::move(name), std::move(type), role, not_null, std::move(references), field};
}

// AppendFieldColumns adds the columns of fields (a polymorphic field gives three; a child table none).
void
AppendFieldColumns(std::vector<LayoutColumn> &columns, const std::vector<FieldMap> &fields) {
	for (const FieldMap &field : fields) {
		switch (field.kind) {
		case FieldKind::Column:
			columns.push_back(Column(field.column, field.type, ColumnRole::Value, field.not_null, {}, &field));
			break;
		case FieldKind::Reference:
			columns.push_back(
				Column(field.column, "uuid", ColumnRole::Reference, field.not_null, field.references, &field));
			break;
		case FieldKind::Polymorphic:
			columns.push_back(
				Column(PolymorphicKindColumn(field.column), "text", ColumnRole::PolyKind, field.not_null, {}, &field));
			columns.push_back(
				Column(PolymorphicIdColumn(field.column), "uuid", ColumnRole::PolyId, false, field.references, &field));
			columns.push_back(
				Column(PolymorphicExternalColumn(field.column), "text", ColumnRole::PolyExternal, false, {}, &field));
			break;
		case FieldKind::ChildTable:
			break;
		}
	}
}

} // namespace

TableLayout
CollectionLayout(const Mapping &, const CollectionMap &collection) {
	TableLayout layout;
	layout.table = collection.table;
	layout.collection = collection.collection;
	layout.columns.push_back(Column(collection.id_column, "uuid", ColumnRole::Id, true, collection.collection));
	layout.columns.push_back(Column(collection.legacy_id_column, "text", ColumnRole::LegacyId, true));
	AppendFieldColumns(layout.columns, collection.fields);
	layout.columns.push_back(Column(collection.extra_column, "jsonb", ColumnRole::Extra, true));
	return layout;
}

TableLayout
ChildLayout(const Mapping &, const CollectionMap &collection, std::size_t index) {
	const ChildMap &child = collection.children.at(index);
	TableLayout layout;
	layout.table = child.table;
	layout.collection = collection.collection;
	layout.child = true;
	layout.child_index = index;
	layout.columns.push_back(Column(child.parent_column, "uuid", ColumnRole::Parent, true, collection.collection));
	layout.columns.push_back(Column(child.position_column, "integer", ColumnRole::Position, true));
	AppendFieldColumns(layout.columns, child.fields);
	if (!ScalarChild(child))
		layout.columns.push_back(
			Column(child.extra_column.empty() ? "extra" : child.extra_column, "jsonb", ColumnRole::Extra, true));
	return layout;
}

std::optional<std::string>
LegacyIdText(const bson_iter_t *id) {
	switch (bson_iter_type(id)) {
	case BSON_TYPE_OID: {
		char hex[25];
		bson_oid_to_string(bson_iter_oid(id), hex);
		return std::string(hex, 24);
	}
	case BSON_TYPE_UTF8: {
		std::uint32_t length = 0;
		const char *text = bson_iter_utf8(id, &length);
		return std::string(text, length);
	}
	case BSON_TYPE_INT32:
		return std::to_string(bson_iter_int32(id));
	case BSON_TYPE_INT64:
		return std::to_string(bson_iter_int64(id));
	default:
		return std::nullopt;
	}
}

MappedDocument
TransformDocument(const Mapping &, const CollectionMap &collection, const bson_t *doc) {
	MappedDocument out;
	bson_iter_t id;
	if (!bson_iter_init_find(&id, doc, "_id"))
		throw MappingError("collection " + collection.collection + ": a document without _id cannot be migrated");
	std::optional<std::string> legacy = LegacyIdText(&id);
	if (!legacy)
		throw MappingError("collection " + collection.collection + ": the _id " + ShortJson(&id) + " is " +
						   BsonTypeName(bson_iter_type(&id)) +
						   ": only objectId, string, int and long _ids can be kept as legacy ids");
	if (const char *why = PgStringProblem(legacy->data(), static_cast<std::uint32_t>(legacy->size())); *why)
		throw MappingError("collection " + collection.collection + ": the _id " + ShortJson(&id) + " " + why);
	out.legacy_id = std::move(*legacy);

	bson_iter_t inside;
	bson_iter_init(&inside, doc);
	Context context{&out, {}};
	MappedRow &row = out.row;
	row.values.reserve(collection.fields.size() + 4);
	row.values.emplace_back();				// Id: from id_map
	row.values.emplace_back(out.legacy_id); // LegacyId
	const Compiled &compiled = Compile(collection);
	AppendFields(context, collection.fields, compiled.fields, nullptr, &inside, row);

	out.children.resize(collection.children.size());
	for (const FieldMap &field : collection.fields) {
		if (field.kind != FieldKind::ChildTable || field.child >= collection.children.size())
			continue;
		bson_iter_t found;
		const bson_iter_t *value = Lookup(inside, field.path, &found) ? &found : nullptr;
		AppendChildRows(context, collection.children[field.child], compiled.children[field.child], field, value,
						out.children[field.child]);
	}

	std::string extra;
	JsonProblem problem;
	bson_iter_t fields = inside;
	if (!AppendJsonbDocumentExcept(extra, &fields, compiled.fields.removed, "_id", &problem)) {
		context.Problem(problem.path, &problem.value, "the string " + problem.reason);
		extra = "{}";
	}
	row.values.emplace_back(std::move(extra));
	return out;
}

} // namespace mosta::mapping
