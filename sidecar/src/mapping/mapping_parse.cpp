/*
 * mapping_parse.cpp
 *     ParseMapping and LoadMapping (mapping.hpp): the mapping file (docs/migration-mapping.md) is read into a tree of
 *     JSON values with their places (mapping_json.hpp), then walked once into the model while every rule is checked.
 *     Errors are collected, not thrown at the first one, so a user fixes a file in one round; each says
 *     "FILE:LINE:COL: what is wrong; what to write instead". Unknown keys are errors: a misspelt key must not
 *     silently mean its default.
 */
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mapping/mapping.hpp"
#include "mapping/mapping_json.hpp"
#include "mapping/mapping_names.hpp"

namespace mosta::mapping {

namespace {

using Type = JsonNode::Type;

// Errors past this many are summarised: a file that is wrong everywhere needs its first errors fixed first.
constexpr std::size_t kMaxErrors = 30;

// A column of a table being mapped, as index, sum and counter checks need it.
struct TableColumn {
	std::string type; // normalised; "uuid" for references
	SourceAt at;
};

// The columns of one table in the order they were declared.
struct TableColumns {
	std::string table;
	std::map<std::string, TableColumn> columns;
};

std::string
Quoted(const std::string &text) {
	return "\"" + text + "\"";
}

std::string
JoinKeys(std::initializer_list<const char *> keys) {
	std::string out;
	for (const char *key : keys)
		out += (out.empty() ? "" : ", ") + std::string(key);
	return out;
}

class Builder {
  public:
	explicit Builder(const std::string &file) : file_(file) {}

	Mapping
	Build(const JsonNode &root) {
		Mapping mapping;
		mapping.file = file_;
		CheckKeys(root, {"name", "source", "target", "collections", "counters"}, "the mapping");
		if (const JsonMember *name = Need(root, "name", Type::String, "the mapping", "\"name\": \"shop\"")) {
			mapping.name = name->value.text;
			if (mapping.name.empty() || mapping.name.size() > 63)
				Error(name->value.at, "the mapping's name must be 1 to 63 characters; it names the migration's "
									  "state in mosta_migration.*, e.g. \"shop\"");
		}
		if (const JsonMember *source = Find(root, "source", Type::Object)) {
			CheckKeys(source->value, {"database"}, "source");
			if (const JsonMember *database = Find(source->value, "database", Type::String)) {
				mapping.source_database = database->value.text;
				if (mapping.source_database.empty())
					Error(database->value.at, "source.database must not be empty; remove it to use the source "
											  "URI's database");
			}
		}
		if (const JsonMember *target = Find(root, "target", Type::Object)) {
			CheckKeys(target->value, {"schema"}, "target");
			if (const JsonMember *schema = Find(target->value, "schema", Type::String)) {
				mapping.schema = schema->value.text;
				CheckIdentifier(schema->value, "schema name");
			}
		}
		const JsonMember *collections = Need(root, "collections", Type::Array, "the mapping",
											 "\"collections\": [{\"collection\": \"users\", ...}]");
		if (collections != nullptr) {
			if (collections->value.items.empty())
				Error(collections->value.at, "\"collections\" is empty; map at least one collection");
			// the names first, so that a reference to a collection mapped further down is known
			for (const JsonNode &item : collections->value.items)
				if (item.type == Type::Object)
					if (const JsonMember *name = Find(item, "collection", Type::String, false))
						known_.insert(name->value.text);
			for (const JsonNode &item : collections->value.items)
				if (Expect(item, Type::Object, "a collection", "{\"collection\": \"users\", \"fields\": [...]}"))
					ParseCollection(item, mapping);
		}
		if (const JsonMember *counters = Find(root, "counters", Type::Array))
			for (const JsonNode &item : counters->value.items)
				if (Expect(item, Type::Object, "a counter",
						   "{\"scope\": \"s\", \"collection\": \"c\", \"key\": [\"col\"], \"value\": \"col\"}"))
					mapping.counters.push_back(ParseCounter(item, mapping));
		if (!errors_.empty()) {
			std::string text;
			for (std::size_t i = 0; i < errors_.size() && i < kMaxErrors; ++i)
				text += (i == 0 ? "" : "\n") + errors_[i];
			if (errors_.size() > kMaxErrors)
				text += "\n(" + std::to_string(errors_.size() - kMaxErrors) + " more errors)";
			throw MappingError(text);
		}
		return mapping;
	}

  private:
	void
	Error(SourceAt at, const std::string &message) {
		errors_.push_back(SourceText(file_, at) + ": " + message);
	}

	// CheckKeys reports every key of object that allowed does not list, with the closest allowed key as the fix.
	void
	CheckKeys(const JsonNode &object, std::initializer_list<const char *> allowed, const std::string &what) {
		for (const JsonMember &member : object.members) {
			bool known = false;
			std::string closest;
			std::size_t best = 3; // a closer key than this is a likely typo
			for (const char *key : allowed) {
				if (member.key == key)
					known = true;
				std::size_t distance = EditDistance(member.key, key);
				if (distance < best) {
					best = distance;
					closest = key;
				}
			}
			if (known)
				continue;
			std::string message = "unknown key " + Quoted(member.key) + " in " + what;
			if (!closest.empty())
				message += "; did you mean " + Quoted(closest) + "?";
			else
				message += "; the keys are: " + JoinKeys(allowed);
			Error(member.at, message);
		}
	}

	// Find returns object's member key when it has the expected type (reporting it when it has another); nullptr
	// when absent or of another type.
	const JsonMember *
	Find(const JsonNode &object, const char *key, Type type, bool report = true) {
		for (const JsonMember &member : object.members)
			if (member.key == key) {
				if (member.value.type == type)
					return &member;
				if (report)
					Error(member.value.at,
						  Quoted(key) + " must be " + JsonTypeName(type) + ", not " + JsonTypeName(member.value.type));
				return nullptr;
			}
		return nullptr;
	}

	bool
	Has(const JsonNode &object, const char *key) const {
		for (const JsonMember &member : object.members)
			if (member.key == key)
				return true;
		return false;
	}

	const JsonMember *
	Member(const JsonNode &object, const char *key) const {
		for (const JsonMember &member : object.members)
			if (member.key == key)
				return &member;
		return nullptr;
	}

	// Need is Find for a required key: its absence is reported at the object with an example.
	const JsonMember *
	Need(const JsonNode &object, const char *key, Type type, const std::string &what, const std::string &example) {
		if (!Has(object, key)) {
			Error(object.at, what + " has no " + Quoted(key) + "; add " + example);
			return nullptr;
		}
		return Find(object, key, type);
	}

	bool
	Expect(const JsonNode &node, Type type, const std::string &what, const std::string &example) {
		if (node.type == type)
			return true;
		Error(node.at,
			  what + " must be " + JsonTypeName(type) + " such as " + example + ", not " + JsonTypeName(node.type));
		return false;
	}

	bool
	CheckIdentifier(const JsonNode &value, const std::string &what) {
		if (IsPlainIdentifier(value.text))
			return true;
		std::string message = what + " " + Quoted(value.text) + " is not a plain SQL identifier";
		if (IsReservedWord(value.text))
			message += " (it is a reserved word of PostgreSQL)";
		message += "; use lowercase letters, digits and _, not starting with a digit, at most 63 bytes, e.g. " +
				   Quoted(SnakeCase(value.text));
		Error(value.at, message);
		return false;
	}

	// Bool reads key of object into out when present.
	void
	Bool(const JsonNode &object, const char *key, bool &out) {
		if (const JsonMember *member = Find(object, key, Type::Bool))
			out = member->value.boolean;
	}

	// Identifier reads key of object (a column or table name) into out when present; returns its member.
	const JsonMember *
	Identifier(const JsonNode &object, const char *key, const std::string &what, std::string &out) {
		const JsonMember *member = Find(object, key, Type::String);
		if (member != nullptr) {
			out = member->value.text;
			CheckIdentifier(member->value, what);
		}
		return member;
	}

	// AddColumn registers column of table; reports a second column of that name.
	void
	AddColumn(TableColumns &table, const std::string &column, const std::string &type, SourceAt at) {
		auto [it, added] = table.columns.emplace(column, TableColumn{type, at});
		if (!added) {
			std::string first = it->second.at.line > 0 ? " (first at line " + std::to_string(it->second.at.line) + ")"
													   : " (an id, legacy id or extra column by default)";
			Error(at, "column " + Quoted(column) + " appears twice in table " + Quoted(table.table) + first +
						  "; give one of them another name");
		}
	}

	// AddPath registers a field's path; reports a repeated path or one that overlaps another (a prefix maps one
	// value twice).
	void
	AddPath(std::vector<std::pair<std::string, SourceAt>> &paths, const std::string &path, SourceAt at) {
		for (const auto &[seen, seen_at] : paths) {
			if (seen == path) {
				Error(at, "path " + Quoted(path) + " is mapped twice (first at line " + std::to_string(seen_at.line) +
							  "); map each path once");
				return;
			}
			const std::string &shorter = seen.size() < path.size() ? seen : path;
			const std::string &longer = seen.size() < path.size() ? path : seen;
			if (longer.compare(0, shorter.size(), shorter) == 0 && longer[shorter.size()] == '.') {
				Error(at, "paths " + Quoted(shorter) + " and " + Quoted(longer) + " overlap (the other at line " +
							  std::to_string(seen_at.line) + "): one value would be mapped twice; map the whole " +
							  "subdocument (type jsonb) or its fields, not both");
				return;
			}
		}
		paths.emplace_back(path, at);
	}

	void
	CheckPath(const JsonNode &value, bool allow_empty) {
		const std::string &path = value.text;
		if (path.empty()) {
			if (!allow_empty)
				Error(value.at, "empty path; name the field (\"email\", \"profile.displayName\"); \"\" is only the "
								"element of a child table of an array of scalars");
			return;
		}
		if (path == "_id" || path.rfind("_id.", 0) == 0) {
			Error(value.at, "path " + Quoted(path) +
								" maps _id: the _id always becomes the id and legacy id "
								"columns (see \"id\"); remove this field");
			return;
		}
		std::size_t start = 0;
		while (true) {
			std::size_t dot = path.find('.', start);
			std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
			if (part.empty() || part[0] == '$') {
				Error(value.at, "path " + Quoted(path) + " has an empty part or one starting with $; write field " +
									"names separated by single dots, e.g. \"profile.displayName\"");
				return;
			}
			if (dot == std::string::npos)
				return;
			start = dot + 1;
		}
	}

	void
	CheckReference(const JsonMember &references) {
		if (known_.count(references.value.text) == 0) {
			std::string message = "references " + Quoted(references.value.text) +
								  ", which is not a collection of this mapping; name one of: ";
			std::string names;
			for (const std::string &name : known_)
				names += (names.empty() ? "" : ", ") + name;
			Error(references.value.at, message + names);
		}
	}

	// ParseField reads one field of a document (in_child: of an array element); table gets its columns.
	FieldMap
	ParseField(const JsonNode &node, bool in_child, TableColumns &table, CollectionMap &collection,
			   std::vector<std::pair<std::string, SourceAt>> &paths) {
		FieldMap field;
		field.at = node.at;
		if (in_child)
			CheckKeys(node, {"path", "column", "type", "not_null", "references", "bson"}, "a child table's field");
		else
			CheckKeys(node, {"path", "column", "type", "not_null", "references", "polymorphic", "bson", "child_table"},
					  "a field");
		if (const JsonMember *path = Need(node, "path", Type::String, "this field", "\"path\": \"email\"")) {
			field.path = path->value.text;
			CheckPath(path->value, in_child);
			AddPath(paths, field.path, path->value.at);
		}
		Bool(node, "not_null", field.not_null);
		const JsonMember *bson = Find(node, "bson", Type::String);
		if (bson != nullptr) {
			field.bson_type = bson->value.text;
			if (!IsBsonTypeName(field.bson_type))
				Error(bson->value.at, "unknown bson type " + Quoted(field.bson_type) +
										  "; write one of string, int, long, double, decimal, bool, date, "
										  "objectId, object, array");
		}
		const JsonMember *references = Find(node, "references", Type::String);
		if (references != nullptr) {
			field.references = references->value.text;
			CheckReference(*references);
		}
		bool has_column = Has(node, "column");
		bool has_type = Has(node, "type");
		if (!in_child && Has(node, "child_table")) {
			field.kind = FieldKind::ChildTable;
			for (const char *key : {"column", "type", "not_null", "references", "polymorphic", "bson"})
				if (const JsonMember *extra = Member(node, key))
					Error(extra->at, Quoted(key) + " does not go with \"child_table\": the element's fields are "
												   "described inside child_table.fields; remove it");
			if (const JsonMember *child = Find(node, "child_table", Type::Object)) {
				field.child = collection.children.size();
				collection.children.push_back(ParseChild(child->value, collection));
			}
			return field;
		}
		if (!in_child && Has(node, "polymorphic")) {
			field.kind = FieldKind::Polymorphic;
			for (const char *key : {"column", "type", "not_null"})
				if (const JsonMember *extra = Member(node, key))
					Error(extra->at, Quoted(key) + " does not go with \"polymorphic\": its three columns are "
												   "<name>_ref_kind, <name>_id and <name>_external_ref; remove it");
			if (bson != nullptr)
				Error(bson->value.at, "\"bson\" does not go with \"polymorphic\" (an ObjectId is an entity, a "
									  "string a template); remove it");
			if (const JsonMember *name = Find(node, "polymorphic", Type::String)) {
				field.column = name->value.text;
				// mosta_add_polymorphic_ref's rule for ref names
				if (!IsPlainIdentifier(field.column) || field.column.size() > 50)
					Error(name->value.at, "polymorphic name " + Quoted(field.column) +
											  " must be 1 to 50 lowercase letters, digits or _, not starting with a "
											  "digit, e.g. " +
											  Quoted(SnakeCase(field.column).substr(0, 50)));
				AddColumn(table, PolymorphicKindColumn(field.column), "text", name->value.at);
				AddColumn(table, PolymorphicIdColumn(field.column), "uuid", name->value.at);
				AddColumn(table, PolymorphicExternalColumn(field.column), "text", name->value.at);
			}
			if (references == nullptr && !Has(node, "references"))
				Error(node.at, "a polymorphic field needs \"references\": the collection its ObjectIds point at");
			return field;
		}
		const JsonMember *column = nullptr;
		if (!has_column)
			Error(node.at, std::string("this field has no \"column\"; add \"column\": \"name\"") +
							   (in_child ? "" : " (or describe it with \"polymorphic\" or \"child_table\")"));
		else
			column = Identifier(node, "column", "column name", field.column);
		if (references != nullptr || Has(node, "references")) {
			field.kind = FieldKind::Reference;
			field.type = "uuid";
			if (const JsonMember *type = Find(node, "type", Type::String))
				if (NormaliseType(type->value.text) != "uuid")
					Error(type->value.at, "a reference's column is a uuid (the referenced row's id); remove "
										  "\"type\"");
			if (bson != nullptr && field.bson_type != "objectId" && field.bson_type != "string")
				Error(bson->value.at, "a reference holds an ObjectId or a string id; write \"bson\": \"objectId\" "
									  "or \"string\"");
		} else {
			field.kind = FieldKind::Column;
			if (!has_type)
				Error(node.at, "this field has no \"type\"; add the PostgreSQL type, e.g. \"type\": \"text\" "
							   "(\"jsonb\" for a subdocument or an array)");
			else if (const JsonMember *type = Find(node, "type", Type::String)) {
				field.type = NormaliseType(type->value.text);
				if (field.type.empty())
					Error(type->value.at, "type " + Quoted(type->value.text) +
											  " is not a type name; write a "
											  "PostgreSQL type such as text, integer, numeric(38,18), timestamptz, "
											  "jsonb");
			}
		}
		if (column != nullptr)
			AddColumn(table, field.column, field.type, column->value.at);
		return field;
	}

	ChildMap
	ParseChild(const JsonNode &node, const CollectionMap &collection) {
		ChildMap child;
		child.at = node.at;
		CheckKeys(node, {"table", "parent_column", "position_column", "extra_column", "fields"}, "a child_table");
		TableColumns columns;
		if (const JsonMember *table = Need(node, "table", Type::String, "this child_table",
										   "\"table\": \"" + collection.table + "_items\"")) {
			child.table = table->value.text;
			if (CheckIdentifier(table->value, "table name"))
				AddTable(child.table, table->value.at);
		}
		columns.table = child.table;
		const JsonMember *parent = Identifier(node, "parent_column", "column name", child.parent_column);
		AddColumn(columns, child.parent_column, "uuid", parent != nullptr ? parent->value.at : SourceAt{});
		const JsonMember *position = Identifier(node, "position_column", "column name", child.position_column);
		AddColumn(columns, child.position_column, "integer", position != nullptr ? position->value.at : SourceAt{});
		const JsonMember *extra = Identifier(node, "extra_column", "column name", child.extra_column);
		std::vector<std::pair<std::string, SourceAt>> paths;
		bool scalars = false;
		if (const JsonMember *fields = Need(node, "fields", Type::Array, "this child_table",
											"\"fields\": [{\"path\": \"sku\", \"column\": \"sku\", \"type\": "
											"\"text\"}]")) {
			if (fields->value.items.empty())
				Error(fields->value.at, "a child table maps at least one field of the elements; for an array of "
										"scalars write [{\"path\": \"\", \"column\": \"value\", \"type\": \"text\"}]");
			for (const JsonNode &item : fields->value.items)
				if (item.type == Type::Object)
					if (const JsonMember *path = Find(item, "path", Type::String, false))
						scalars = scalars || path->value.text.empty();
			if (scalars && fields->value.items.size() > 1)
				Error(fields->value.at, "a field with path \"\" maps the whole element of an array of scalars, so "
										"it must be the only field; remove the others (or give it a path)");
			if (scalars) {
				if (extra != nullptr)
					Error(extra->at, "an array of scalars has no extra column (its element is the \"\" field); "
									 "remove \"extra_column\"");
				child.extra_column.clear();
			}
			CollectionMap unused;
			for (const JsonNode &item : fields->value.items)
				if (Expect(item, Type::Object, "a field",
						   "{\"path\": \"sku\", \"column\": \"sku\", \"type\": \"text\"}"))
					child.fields.push_back(ParseField(item, true, columns, unused, paths));
		}
		if (!child.extra_column.empty())
			AddColumn(columns, child.extra_column, "jsonb", extra != nullptr ? extra->value.at : SourceAt{});
		tables_.push_back(std::move(columns));
		return child;
	}

	void
	AddTable(const std::string &table, SourceAt at) {
		auto [it, added] = table_places_.emplace(table, at);
		if (!added)
			Error(at, "table " + Quoted(table) + " is already mapped (at line " + std::to_string(it->second.line) +
						  "); each collection and child table needs a table of its own");
	}

	void
	ParseId(const JsonNode &node, CollectionMap &collection) {
		CheckKeys(node, {"policy", "require_objectid", "column", "legacy_column"}, "id");
		if (const JsonMember *policy = Find(node, "policy", Type::String)) {
			const std::string &name = policy->value.text;
			if (name == "random")
				collection.id_policy = IdPolicy::Random;
			else if (name == "time-ordered")
				collection.id_policy = IdPolicy::TimeOrdered;
			else if (name == "deterministic")
				collection.id_policy = IdPolicy::Deterministic;
			else if (name == "objectid")
				collection.id_policy = IdPolicy::ObjectId;
			else
				Error(policy->value.at,
					  "unknown id policy " + Quoted(name) +
						  "; write one of objectid (the default), time-ordered, deterministic, random");
		}
		Bool(node, "require_objectid", collection.require_objectid);
		Identifier(node, "column", "column name", collection.id_column);
		Identifier(node, "legacy_column", "column name", collection.legacy_id_column);
	}

	void
	ParseCollection(const JsonNode &node, Mapping &mapping) {
		CollectionMap collection;
		collection.at = node.at;
		CheckKeys(node, {"collection", "table", "id", "extra_column", "fields", "indexes", "sums"}, "a collection");
		const JsonMember *name = Need(node, "collection", Type::String, "this collection",
									  "\"collection\": \"users\" (the MongoDB collection)");
		SourceAt table_at = node.at;
		if (name != nullptr) {
			collection.collection = name->value.text;
			table_at = name->value.at;
			if (collection.collection.empty() || collection.collection.find('$') != std::string::npos ||
				collection.collection.rfind("system.", 0) == 0)
				Error(name->value.at, "collection " + Quoted(collection.collection) +
										  " is not a MongoDB collection name one can migrate; name a collection of "
										  "the source database");
			else if (seen_collections_.count(collection.collection) != 0)
				Error(name->value.at, "collection " + Quoted(collection.collection) + " is mapped twice (at line " +
										  std::to_string(seen_collections_[collection.collection].line) +
										  "); map each collection once");
			else
				seen_collections_[collection.collection] = name->value.at;
		}
		if (const JsonMember *table = Find(node, "table", Type::String)) {
			collection.table = table->value.text;
			table_at = table->value.at;
			if (CheckIdentifier(table->value, "table name"))
				AddTable(collection.table, table_at);
		} else if (!Has(node, "table") && name != nullptr) {
			collection.table = collection.collection;
			if (IsPlainIdentifier(collection.table))
				AddTable(collection.table, table_at);
			else
				Error(name->value.at, "collection " + Quoted(collection.collection) +
										  " is not a plain SQL identifier, so it needs a \"table\"; add \"table\": " +
										  Quoted(SnakeCase(collection.collection)));
		}
		if (const JsonMember *id = Find(node, "id", Type::Object))
			ParseId(id->value, collection);
		Identifier(node, "extra_column", "column name", collection.extra_column);

		TableColumns columns;
		columns.table = collection.table;
		AddColumn(columns, collection.id_column, "uuid", ColumnAt(node, "id", "column"));
		AddColumn(columns, collection.legacy_id_column, "text", ColumnAt(node, "id", "legacy_column"));
		AddColumn(columns, collection.extra_column, "jsonb", ColumnAt(node, "extra_column", nullptr));
		std::vector<std::pair<std::string, SourceAt>> paths;
		if (const JsonMember *fields = Find(node, "fields", Type::Array))
			for (const JsonNode &item : fields->value.items)
				if (Expect(item, Type::Object, "a field",
						   "{\"path\": \"email\", \"column\": \"email\", \"type\": \"text\"}"))
					collection.fields.push_back(ParseField(item, false, columns, collection, paths));
		if (const JsonMember *indexes = Find(node, "indexes", Type::Array))
			for (const JsonNode &item : indexes->value.items)
				if (Expect(item, Type::Object, "an index", "{\"index\": [\"created_at\"]}"))
					collection.indexes.push_back(ParseIndex(item, columns));
		if (const JsonMember *sums = Find(node, "sums", Type::Array))
			for (const JsonNode &item : sums->value.items)
				if (Expect(item, Type::Object, "a sum", "{\"column\": \"amount\", \"group_by\": [\"currency\"]}"))
					collection.sums.push_back(ParseSum(item, columns));
		tables_.push_back(std::move(columns));
		mapping.collections.push_back(std::move(collection));
	}

	// ColumnAt returns where the name of a default column is written (0:0 when it is the default).
	SourceAt
	ColumnAt(const JsonNode &node, const char *key, const char *inner) const {
		const JsonMember *member = Member(node, key);
		if (member == nullptr)
			return {};
		if (inner == nullptr)
			return member->value.at;
		if (member->value.type != Type::Object)
			return {};
		const JsonMember *nested = Member(member->value, inner);
		return nested != nullptr ? nested->value.at : SourceAt{};
	}

	// ColumnList reads an array of column names of table; each must be a column of it.
	std::vector<std::string>
	ColumnList(const JsonMember &member, const TableColumns &table, const std::string &what) {
		std::vector<std::string> out;
		if (member.value.type != Type::Array) {
			Error(member.value.at, Quoted(member.key) + " must be an array of column names such as [\"email\"], not " +
									   JsonTypeName(member.value.type));
			return out;
		}
		if (member.value.items.empty())
			Error(member.value.at, what + " names no column; list at least one");
		for (const JsonNode &item : member.value.items) {
			if (item.type != Type::String) {
				Error(item.at, "a column name must be a string, not " + std::string(JsonTypeName(item.type)));
				continue;
			}
			if (CheckColumn(item, table, what))
				out.push_back(item.text);
		}
		return out;
	}

	bool
	CheckColumn(const JsonNode &value, const TableColumns &table, const std::string &what) {
		if (table.columns.count(value.text) != 0)
			return true;
		std::string names;
		for (const auto &[name, column] : table.columns)
			names += (names.empty() ? "" : ", ") + name;
		Error(value.at, what + " names " + Quoted(value.text) + ", which is not a column of table " +
							Quoted(table.table) + "; use a mapped column: " + names);
		return false;
	}

	IndexMap
	ParseIndex(const JsonNode &node, const TableColumns &table) {
		IndexMap index;
		index.at = node.at;
		CheckKeys(node, {"sparse_unique", "partial_unique", "unique", "index", "ttl", "where", "after", "name"},
				  "an index");
		static const std::pair<const char *, IndexMap::Kind> kinds[] = {
			{"sparse_unique", IndexMap::Kind::SparseUnique},
			{"partial_unique", IndexMap::Kind::PartialUnique},
			{"unique", IndexMap::Kind::Unique},
			{"index", IndexMap::Kind::Plain},
			{"ttl", IndexMap::Kind::Ttl},
		};
		const JsonMember *kind_member = nullptr;
		for (const auto &[key, kind] : kinds)
			if (const JsonMember *member = Member(node, key)) {
				if (kind_member != nullptr) {
					Error(member->at, "an index has one kind; " + Quoted(kind_member->key) + " and " + Quoted(key) +
										  " are two: write two indexes");
					continue;
				}
				kind_member = member;
				index.kind = kind;
			}
		if (kind_member == nullptr) {
			Error(node.at, "this index has no kind; write one of {\"index\": [cols]}, {\"unique\": [cols]}, "
						   "{\"sparse_unique\": [cols]}, {\"partial_unique\": [cols], \"where\": \"...\"}, "
						   "{\"ttl\": \"col\", \"after\": \"30 days\"}");
			return index;
		}
		if (index.kind == IndexMap::Kind::Ttl) {
			if (kind_member->value.type != Type::String)
				Error(kind_member->value.at, "\"ttl\" names one timestamp column, e.g. \"ttl\": \"created_at\"");
			else if (CheckColumn(kind_member->value, table, "ttl")) {
				index.columns.push_back(kind_member->value.text);
				const std::string &type = table.columns.at(kind_member->value.text).type;
				if (!IsTimestampType(type))
					Error(kind_member->value.at, "ttl column " + Quoted(kind_member->value.text) + " is of type " +
													 (type.empty() ? "unknown" : type) +
													 "; a TTL needs a timestamp column (timestamptz, timestamp or "
													 "date)");
			}
			const JsonMember *after = Member(node, "after");
			if (after == nullptr)
				Error(node.at, "a ttl needs \"after\": how long rows live, e.g. \"after\": \"90 days\" (MongoDB's "
							   "expireAfterSeconds)");
			else if (after->value.type == Type::Number) {
				bool integral = after->value.text.find_first_not_of("0123456789") == std::string::npos;
				if (!integral || after->value.text.find_first_not_of('0') == std::string::npos)
					Error(after->value.at, "\"after\" as a number is a positive whole number of seconds");
				else
					index.ttl = after->value.text + " seconds";
			} else if (after->value.type == Type::String) {
				index.ttl = IntervalText(after->value.text);
				if (index.ttl.empty())
					Error(after->value.at, "\"after\" " + Quoted(after->value.text) +
											   " is not a positive interval; write e.g. \"90 days\", \"1 hour 30 "
											   "minutes\" or a number of seconds");
			} else
				Error(after->value.at, "\"after\" must be a string such as \"90 days\" or a number of seconds");
		} else {
			index.columns = ColumnList(*kind_member, table, Quoted(kind_member->key));
			if (const JsonMember *after = Member(node, "after"))
				Error(after->at, "\"after\" goes only with \"ttl\"; remove it");
		}
		const JsonMember *where = Member(node, "where");
		if (index.kind == IndexMap::Kind::PartialUnique) {
			if (where == nullptr)
				Error(node.at, "a partial_unique index needs \"where\": the SQL condition of the rows it covers, "
							   "e.g. \"where\": \"status = 'pending'\"");
			else if (where->value.type != Type::String || where->value.text.empty() ||
					 where->value.text.find(';') != std::string::npos)
				Error(where->value.at, "\"where\" must be a SQL boolean expression over the table's columns (a "
									   "non-empty string without ;), e.g. \"status = 'pending'\"");
			else
				index.where = where->value.text;
		} else if (where != nullptr)
			Error(where->at, "\"where\" goes only with \"partial_unique\"; remove it or make the index partial_unique");
		if (const JsonMember *name = Member(node, "name")) {
			if (name->value.type != Type::String)
				Error(name->value.at, "\"name\" must be a string");
			else if (index.kind == IndexMap::Kind::Ttl || index.kind == IndexMap::Kind::SparseUnique)
				Error(name->at, "\"name\" is chosen by mosta_add_" +
									std::string(index.kind == IndexMap::Kind::Ttl ? "ttl" : "sparse_unique") +
									" for this kind; remove it");
			else if (CheckIdentifier(name->value, "index name"))
				index.name = name->value.text;
		}
		return index;
	}

	SumCheck
	ParseSum(const JsonNode &node, const TableColumns &table) {
		SumCheck sum;
		sum.at = node.at;
		CheckKeys(node, {"column", "group_by"}, "a sum");
		if (const JsonMember *column = Need(node, "column", Type::String, "this sum", "\"column\": \"amount\"")) {
			if (CheckColumn(column->value, table, "the sum")) {
				sum.column = column->value.text;
				const std::string &type = table.columns.at(sum.column).type;
				if (!IsNumericType(type))
					Error(column->value.at, "sum column " + Quoted(sum.column) + " is of type " +
												(type.empty() ? "unknown" : type) +
												"; a sum needs a number column (numeric, integer, bigint, ...)");
			}
		}
		if (const JsonMember *group_by = Member(node, "group_by"))
			sum.group_by = ColumnList(*group_by, table, "group_by");
		return sum;
	}

	const TableColumns *
	TableOf(const std::string &table) const {
		for (const TableColumns &columns : tables_)
			if (columns.table == table)
				return &columns;
		return nullptr;
	}

	CounterMap
	ParseCounter(const JsonNode &node, const Mapping &mapping) {
		CounterMap counter;
		counter.at = node.at;
		CheckKeys(node, {"scope", "collection", "key", "value"}, "a counter");
		if (const JsonMember *scope =
				Need(node, "scope", Type::String, "this counter", "\"scope\": \"derivation\" (mosta_next_value's)")) {
			counter.scope = scope->value.text;
			if (counter.scope.empty())
				Error(scope->value.at, "a counter's scope must not be empty");
		}
		const TableColumns *table = nullptr;
		if (const JsonMember *collection =
				Need(node, "collection", Type::String, "this counter", "\"collection\": \"the collection\"")) {
			counter.collection = collection->value.text;
			const CollectionMap *map = mapping.Find(counter.collection);
			if (map == nullptr)
				CheckReference(*collection);
			else
				table = TableOf(map->table);
		}
		if (const JsonMember *key = Need(node, "key", Type::Array, "this counter", "\"key\": [\"buyer_id\"]")) {
			if (table != nullptr)
				counter.key_columns = ColumnList(*key, *table, "the counter's key");
		}
		if (const JsonMember *value = Need(node, "value", Type::String, "this counter", "\"value\": \"number\"")) {
			if (table != nullptr && CheckColumn(value->value, *table, "the counter's value")) {
				counter.value_column = value->value.text;
				const std::string &type = table->columns.at(counter.value_column).type;
				if (!IsIntegerType(BaseType(type)) && BaseType(type) != "numeric")
					Error(value->value.at, "counter value column " + Quoted(counter.value_column) + " is of type " +
											   (type.empty() ? "unknown" : type) +
											   "; a counter's value is a whole number (integer, bigint)");
			}
		}
		return counter;
	}

	const std::string &file_;
	std::vector<std::string> errors_;
	std::set<std::string> known_;					   // the collections the file maps (for references)
	std::map<std::string, SourceAt> seen_collections_; // collection → where first mapped
	std::map<std::string, SourceAt> table_places_;	   // table → where first mapped
	std::vector<TableColumns> tables_;				   // every table with its columns
};

} // namespace

const char *
IdPolicyName(IdPolicy policy) noexcept {
	switch (policy) {
	case IdPolicy::Random:
		return "random";
	case IdPolicy::TimeOrdered:
		return "time-ordered";
	case IdPolicy::Deterministic:
		return "deterministic";
	case IdPolicy::ObjectId:
		return "objectid";
	}
	return "objectid";
}

Mapping
ParseMapping(const std::string &text, const std::string &file) {
	JsonNode root = ReadJsonTree(text, file);
	return Builder(file).Build(root);
}

Mapping
LoadMapping(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in) {
		int error = errno;
		throw MappingError(path + ": cannot read the mapping file: " + std::strerror(error) +
						   "; give the path of a mapping (mosta-migrate infer prints a starting one)");
	}
	std::ostringstream text;
	text << in.rdbuf();
	if (in.bad())
		throw MappingError(path + ": cannot read the mapping file");
	return ParseMapping(text.str(), path);
}

} // namespace mosta::mapping
