/*
 * infer.cpp
 *     SampleStats and InferMapping (infer.hpp): the decisions of `mosta-migrate infer`. Every choice depends only on
 *     the sample (fields in the order first seen, ties broken by fixed rankings), so the same documents give the same
 *     mapping.
 */
#include "infer.hpp"

#include <algorithm>
#include <set>

#include "mapping/mapping_names.hpp"

namespace mosta::migrate {

namespace {

using mapping::ChildMap;
using mapping::CollectionMap;
using mapping::FieldKind;
using mapping::FieldMap;

// A subdocument becomes dotted-path columns when it has at most this many distinct fields...
constexpr std::size_t kMaxDottedFields = 8;
// ... and is nested at most this deep (profile.address.city is depth 3); deeper or larger ones become jsonb.
constexpr int kMaxDottedDepth = 3;

std::string
Hex(const bson_oid_t *oid) {
	char text[25];
	bson_oid_to_string(oid, text);
	return text;
}

void
KeepObjectId(FieldStats &field, const bson_oid_t *oid) {
	if (field.object_ids.size() < kObjectIdSamples)
		field.object_ids.push_back(Hex(oid));
}

bool
IsNumber(bson_type_t type) {
	return type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64 || type == BSON_TYPE_DOUBLE ||
		   type == BSON_TYPE_DECIMAL128;
}

// What a field's values are, decided from its type counts.
enum class Shape { Scalar, Object, Array, ObjectIdOrString, Mixed };

struct Decision {
	Shape shape = Shape::Mixed;
	std::string type; // Scalar: the PostgreSQL type
	std::string bson; // Scalar: the BSON type name ("" when the type says it)
};

Decision
Decide(const std::map<bson_type_t, std::size_t> &types) {
	Decision d;
	if (types.empty())
		return d; // only nulls: jsonb
	bool numbers = std::all_of(types.begin(), types.end(), [](const auto &t) { return IsNumber(t.first); });
	if (numbers) {
		d.shape = Shape::Scalar;
		if (types.count(BSON_TYPE_DECIMAL128)) {
			d.type = "numeric";
			d.bson = types.size() == 1 ? "decimal" : "";
		} else if (types.count(BSON_TYPE_DOUBLE)) {
			d.type = "double precision";
			d.bson = types.size() == 1 ? "double" : "";
		} else if (types.count(BSON_TYPE_INT64)) {
			d.type = "bigint";
			d.bson = "long";
		} else {
			d.type = "integer";
			d.bson = "int";
		}
		return d;
	}
	if (types.size() == 2 && types.count(BSON_TYPE_OID) && types.count(BSON_TYPE_UTF8)) {
		d.shape = Shape::ObjectIdOrString;
		return d;
	}
	if (types.size() != 1)
		return d;
	switch (types.begin()->first) {
	case BSON_TYPE_UTF8:
		d.shape = Shape::Scalar;
		d.type = "text";
		return d;
	case BSON_TYPE_BOOL:
		d.shape = Shape::Scalar;
		d.type = "boolean";
		d.bson = "bool";
		return d;
	case BSON_TYPE_DATE_TIME:
		d.shape = Shape::Scalar;
		d.type = "timestamp with time zone";
		d.bson = "date";
		return d;
	case BSON_TYPE_OID:
		d.shape = Shape::Scalar;
		d.type = "text";
		d.bson = "objectId";
		return d;
	case BSON_TYPE_DOCUMENT:
		d.shape = Shape::Object;
		return d;
	case BSON_TYPE_ARRAY:
		d.shape = Shape::Array;
		return d;
	default:
		return d; // binary, timestamps, regexes...: jsonb keeps them
	}
}

// Columns hands out unique column names within one table.
class Columns {
  public:
	explicit Columns(std::initializer_list<std::string> taken) : used_(taken) {}

	// Take returns wanted, else fallback, else wanted_2, _3...: a name not used yet (and marks it used).
	std::string
	Take(const std::string &wanted, const std::string &fallback) {
		for (const std::string &name : {wanted, fallback})
			if (!name.empty() && used_.insert(name).second)
				return name;
		for (int n = 2;; ++n) {
			std::string name = wanted.substr(0, 58) + "_" + std::to_string(n);
			if (used_.insert(name).second)
				return name;
		}
	}

	bool
	Free(const std::string &name) const {
		return used_.count(name) == 0;
	}

	void
	Use(const std::string &name) {
		used_.insert(name);
	}

  private:
	std::set<std::string> used_;
};

// SnakePath turns a dotted path into one column name ("profile.displayName" → "profile_display_name").
std::string
SnakePath(const std::string &path) {
	std::string joined = path;
	std::replace(joined.begin(), joined.end(), '.', '_');
	return mapping::SnakeCase(joined);
}

bool
EndsWith(const std::string &text, const std::string &suffix) {
	return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string
Plural(const std::string &word) {
	if (word.empty())
		return word;
	if (EndsWith(word, "y") && word.size() > 1 && std::string("aeiou").find(word[word.size() - 2]) == std::string::npos)
		return word.substr(0, word.size() - 1) + "ies";
	if (EndsWith(word, "s") || EndsWith(word, "x") || EndsWith(word, "ch") || EndsWith(word, "sh"))
		return word + "es";
	return word + "s";
}

// Singular undoes the common English plural of a table name ("payments" → "payment", "entries" → "entry").
std::string
Singular(const std::string &word) {
	if (EndsWith(word, "ies") && word.size() > 3)
		return word.substr(0, word.size() - 3) + "y";
	if (EndsWith(word, "ses") || EndsWith(word, "xes"))
		return word.substr(0, word.size() - 2);
	if (EndsWith(word, "s") && !EndsWith(word, "ss") && word.size() > 1)
		return word.substr(0, word.size() - 1);
	return word;
}

// Stem is a reference field's name without its id suffix ("buyerId" → "buyer", "offerIds" → "offer").
std::string
Stem(const std::string &field) {
	std::string snake = mapping::SnakeCase(field);
	for (const char *suffix : {"_ids", "_id", "_ref", "_refs"})
		if (EndsWith(snake, suffix) && snake.size() > std::string(suffix).size())
			return snake.substr(0, snake.size() - std::string(suffix).size());
	return snake;
}

// ColumnName is the column of the field name at path: its snake_case name, or the whole path's when the field is
// in a subdocument and its name says little on its own ("price.value" → price_value, "profile.name" → profile_name).
std::string
ColumnName(const std::string &name, const std::string &path) {
	static const std::set<std::string> generic = {"value", "id", "type", "name", "key", "data", "text", "kind", "v"};
	std::string column = mapping::SnakeCase(name);
	if (path.find('.') != std::string::npos && generic.count(column) != 0)
		return SnakePath(path);
	return column;
}

// Regular tells whether a subdocument is small and regular enough for dotted-path columns.
bool
Regular(const LevelStats &level) {
	if (level.fields.empty() || level.fields.size() > kMaxDottedFields)
		return false;
	for (const FieldStats &field : level.fields)
		if (field.present * 2 < level.containers || field.name.empty() || field.name.find('.') != std::string::npos ||
			field.name[0] == '$')
			return false;
	return true;
}

// Where the fields of one level go.
struct Target {
	std::vector<FieldMap> *fields;
	Columns *columns;
	CollectionMap *collection;						 // the document's collection (children are added to it)
	bool in_child;									 // the level is an array element: no child tables inside
	std::map<std::string, std::string> *path_column; // root paths → their column (for indexes); null in a child
};

class Inferer {
  public:
	Inferer(const std::vector<CollectionSample> &samples, const CountExisting &count, std::vector<std::string> &notes)
		: samples_(samples), count_(count), notes_(notes) {}

	mapping::Mapping
	Build(const std::string &name, const std::string &database) {
		mapping::Mapping m;
		m.name = name;
		m.source_database = database;
		for (const CollectionSample &sample : samples_)
			m.collections.push_back(Collection(sample));
		BreakCycles(m);
		return m;
	}

  private:
	std::string
	TableName(const std::string &wanted) {
		std::string name = mapping::SnakeCase(wanted);
		for (int n = 2; !tables_.insert(name).second; ++n)
			name = mapping::SnakeCase(wanted).substr(0, 58) + "_" + std::to_string(n);
		return name;
	}

	CollectionMap
	Collection(const CollectionSample &sample) {
		CollectionMap c;
		c.collection = sample.collection;
		c.table = TableName(sample.collection);
		const FieldStats *id = sample.stats.Find("_id");
		if (id != nullptr && !(id->types.size() == 1 && id->types.count(BSON_TYPE_OID))) {
			c.id_policy = mapping::IdPolicy::Deterministic;
			notes_.push_back(sample.collection + ": some sampled _ids are not ObjectIds: id policy deterministic");
		}
		Columns columns({c.id_column, c.legacy_id_column, c.extra_column});
		std::map<std::string, std::string> path_column;
		Target target{&c.fields, &columns, &c, false, &path_column};
		Level(sample.stats, "", 1, true, target);
		Indexes(c, sample, path_column);
		return c;
	}

	// Resolve returns the collection the ObjectIds of field (at path of collection) point at, or "".
	std::string
	Resolve(const std::string &collection, const std::string &path, const FieldStats &field) {
		std::string key = collection + "\n" + path;
		auto cached = resolved_.find(key);
		if (cached != resolved_.end())
			return cached->second;
		std::vector<std::string> names = NameCandidates(field.name);
		std::string best;
		std::size_t best_hits = 0;
		std::size_t best_rank = names.size();
		for (const CollectionSample &sample : samples_) {
			std::size_t rank =
				std::find(names.begin(), names.end(), mapping::SnakeCase(sample.collection)) - names.begin();
			std::size_t hits = field.object_ids.empty() ? 0 : count_(sample.collection, field.object_ids);
			if (hits > best_hits || (hits == best_hits && rank < best_rank)) {
				best = sample.collection;
				best_hits = hits;
				best_rank = rank;
			}
		}
		if (best_hits == 0 && best_rank == names.size())
			best.clear();
		resolved_[key] = best;
		return best;
	}

	void
	Level(const LevelStats &level, const std::string &prefix, int depth, bool parent_all, Target &target) {
		for (const FieldStats &f : level.fields) {
			if (prefix.empty() && !target.in_child && f.name == "_id")
				continue;
			if (f.name.empty() || f.name.find('.') != std::string::npos || f.name[0] == '$') {
				notes_.push_back(target.collection->collection + ": field \"" + prefix + (prefix.empty() ? "" : ".") +
								 f.name + "\" cannot be named by a dotted path: it stays in extra");
				continue;
			}
			std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
			bool all = parent_all && f.present == level.containers && level.containers > 0;
			Field(f, path, depth, all, target);
		}
	}

	void
	Field(const FieldStats &f, const std::string &path, int depth, bool all, Target &target) {
		Decision d = Decide(f.types);
		FieldMap field;
		field.path = path;
		field.not_null = all;
		switch (d.shape) {
		case Shape::Object:
			if (depth < kMaxDottedDepth && f.object != nullptr && Regular(*f.object)) {
				Level(*f.object, path, depth + 1, all, target);
				return;
			}
			break;
		case Shape::Array:
			if (!target.in_child && ChildTable(f, path, target))
				return;
			break;
		case Shape::Scalar:
			if (d.bson == "objectId") {
				std::string ref = Resolve(target.collection->collection, path, f);
				if (!ref.empty()) {
					field.kind = FieldKind::Reference;
					field.type = "uuid";
					field.references = ref;
					std::string base = mapping::SnakeCase(f.name);
					field.column = Add(target, field, EndsWith(base, "_id") ? base : base + "_id",
									   SnakePath(path) + (EndsWith(base, "_id") ? "" : "_id"));
					return;
				}
			}
			field.type = d.type;
			field.bson_type = d.bson;
			field.column = Add(target, field, ColumnName(f.name, path), SnakePath(path));
			return;
		case Shape::ObjectIdOrString:
			if (!target.in_child) {
				std::string ref = Resolve(target.collection->collection, path, f);
				if (!ref.empty()) {
					Polymorphic(f, path, ref, target);
					return;
				}
			}
			field.type = "text";
			field.column = Add(target, field, ColumnName(f.name, path), SnakePath(path));
			return;
		case Shape::Mixed:
			break;
		}
		// subdocuments too large or varying, other arrays, mixed types: jsonb keeps them whole
		field.type = "jsonb";
		field.column = Add(target, field, ColumnName(f.name, path), SnakePath(path));
	}

	// Add registers field under a unique column name and returns the name.
	std::string
	Add(Target &target, FieldMap field, const std::string &wanted, const std::string &fallback) {
		field.column = target.columns->Take(wanted, fallback);
		if (target.path_column != nullptr)
			(*target.path_column)[field.path] = field.column;
		target.fields->push_back(field);
		return field.column;
	}

	void
	Polymorphic(const FieldStats &f, const std::string &path, const std::string &ref, Target &target) {
		std::string base = Stem(f.name).substr(0, 46);
		std::string name = base;
		for (int n = 2; !(target.columns->Free(mapping::PolymorphicKindColumn(name)) &&
						  target.columns->Free(mapping::PolymorphicIdColumn(name)) &&
						  target.columns->Free(mapping::PolymorphicExternalColumn(name)));
			 ++n)
			name = base + "_" + std::to_string(n);
		target.columns->Use(mapping::PolymorphicKindColumn(name));
		target.columns->Use(mapping::PolymorphicIdColumn(name));
		target.columns->Use(mapping::PolymorphicExternalColumn(name));
		FieldMap field;
		field.path = path;
		field.kind = FieldKind::Polymorphic;
		field.column = name;
		field.references = ref;
		if (target.path_column != nullptr)
			(*target.path_column)[path] = mapping::PolymorphicIdColumn(name);
		target.fields->push_back(field);
	}

	// ChildTable maps an array of subdocuments or of ObjectIds to a child table; false for other arrays.
	bool
	ChildTable(const FieldStats &f, const std::string &path, Target &target) {
		bool documents = f.element_types.size() == 1 && f.element_types.count(BSON_TYPE_DOCUMENT) &&
						 f.elements != nullptr && !f.elements->fields.empty();
		bool object_ids = f.element_types.size() == 1 && f.element_types.count(BSON_TYPE_OID);
		if (!documents && !object_ids)
			return false;
		CollectionMap &c = *target.collection;
		ChildMap child;
		child.table = TableName(c.table + "_" + SnakePath(path));
		child.parent_column = mapping::SnakeCase(Singular(c.table).substr(0, 59) + "_id");
		Columns columns({child.parent_column, child.position_column, child.extra_column});
		if (documents) {
			Target inner{&child.fields, &columns, &c, true, nullptr};
			Level(*f.elements, "", 2, true, inner);
		} else {
			child.extra_column.clear();
			FieldMap element;
			element.path = "";
			std::string ref = Resolve(c.collection, path, f);
			std::string column = Stem(f.name);
			column = Singular(column) + "_id";
			if (!ref.empty()) {
				element.kind = FieldKind::Reference;
				element.type = "uuid";
				element.references = ref;
			} else {
				element.type = "text";
				element.bson_type = "objectId";
			}
			element.column = columns.Take(mapping::SnakeCase(column), "value");
			child.fields.push_back(element);
		}
		FieldMap field;
		field.path = path;
		field.kind = FieldKind::ChildTable;
		field.child = c.children.size();
		c.children.push_back(std::move(child));
		target.fields->push_back(field);
		return true;
	}

	void Indexes(CollectionMap &c, const CollectionSample &sample, const std::map<std::string, std::string> &columns);
	bool PartialWhere(const bson_t *filter, const std::map<std::string, std::string> &columns, std::string &where);
	void BreakCycles(mapping::Mapping &m);

	const std::vector<CollectionSample> &samples_;
	const CountExisting &count_;
	std::vector<std::string> &notes_;
	std::set<std::string> tables_;
	std::map<std::string, std::string> resolved_;
};

// ColumnType returns the type of column in c ("" when it is not a typed column).
std::string
ColumnType(const CollectionMap &c, const std::string &column) {
	for (const FieldMap &field : c.fields)
		if ((field.kind == FieldKind::Column || field.kind == FieldKind::Reference) && field.column == column)
			return field.type;
	return "";
}

std::string
SqlLiteral(const std::string &text) {
	std::string out = "'";
	for (char ch : text)
		out += ch == '\'' ? std::string("''") : std::string(1, ch);
	return out + "'";
}

// ValueSql writes a scalar BSON value as SQL (string, number, bool); false for anything else.
bool
ValueSql(const bson_iter_t *value, std::string &out) {
	switch (bson_iter_type(value)) {
	case BSON_TYPE_UTF8:
		out = SqlLiteral(bson_iter_utf8(value, nullptr));
		return true;
	case BSON_TYPE_INT32:
		out = std::to_string(bson_iter_int32(value));
		return true;
	case BSON_TYPE_INT64:
		out = std::to_string(bson_iter_int64(value));
		return true;
	case BSON_TYPE_BOOL:
		out = bson_iter_bool(value) ? "true" : "false";
		return true;
	default:
		return false;
	}
}

bool
Inferer::PartialWhere(const bson_t *filter, const std::map<std::string, std::string> &columns, std::string &where) {
	bson_iter_t it;
	if (!bson_iter_init(&it, filter))
		return false;
	std::vector<std::string> terms;
	while (bson_iter_next(&it)) {
		auto column = columns.find(bson_iter_key(&it));
		if (column == columns.end())
			return false;
		std::string value;
		if (ValueSql(&it, value)) {
			terms.push_back(column->second + " = " + value);
			continue;
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			return false;
		bson_iter_t op;
		if (!bson_iter_recurse(&it, &op))
			return false;
		while (bson_iter_next(&op)) {
			std::string name = bson_iter_key(&op);
			if (name == "$eq" && ValueSql(&op, value))
				terms.push_back(column->second + " = " + value);
			else if (name == "$exists" && BSON_ITER_HOLDS_BOOL(&op))
				terms.push_back(column->second + (bson_iter_bool(&op) ? " IS NOT NULL" : " IS NULL"));
			else
				return false;
		}
	}
	if (terms.empty())
		return false;
	for (const std::string &term : terms)
		where += (where.empty() ? "" : " AND ") + term;
	return true;
}

void
Inferer::Indexes(CollectionMap &c, const CollectionSample &sample, const std::map<std::string, std::string> &columns) {
	for (const std::string &bytes : sample.indexes) {
		bson_t spec_document;
		if (!bson_init_static(&spec_document, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()))
			continue;
		const bson_t *spec = &spec_document;
		bson_iter_t it;
		std::string name =
			bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "?";
		if (name == "_id_")
			continue;
		auto skip = [&](const std::string &why) {
			notes_.push_back(c.collection + ": index " + name + " not carried over: " + why);
		};
		mapping::IndexMap index;
		bool usable = bson_iter_init_find(&it, spec, "key") && BSON_ITER_HOLDS_DOCUMENT(&it);
		bson_iter_t key;
		if (usable && bson_iter_recurse(&it, &key))
			while (bson_iter_next(&key)) {
				if (!(BSON_ITER_HOLDS_NUMBER(&key))) {
					usable = false;
					skip(std::string("its key on ") + bson_iter_key(&key) + " is not ascending or descending");
					break;
				}
				auto column = columns.find(bson_iter_key(&key));
				if (column == columns.end()) {
					usable = false;
					skip(std::string("field ") + bson_iter_key(&key) + " is not a column of table " + c.table);
					break;
				}
				index.columns.push_back(column->second);
			}
		if (!usable || index.columns.empty())
			continue;
		bool unique = bson_iter_init_find(&it, spec, "unique") && bson_iter_as_bool(&it);
		bool sparse = bson_iter_init_find(&it, spec, "sparse") && bson_iter_as_bool(&it);
		if (bson_iter_init_find(&it, spec, "expireAfterSeconds") && BSON_ITER_HOLDS_NUMBER(&it)) {
			long long seconds = bson_iter_as_int64(&it);
			if (index.columns.size() != 1 || !mapping::IsTimestampType(ColumnType(c, index.columns[0])) ||
				seconds <= 0) {
				skip("a TTL needs one timestamp column and a positive expireAfterSeconds");
				continue;
			}
			index.kind = mapping::IndexMap::Kind::Ttl;
			index.ttl = seconds % 86400 == 0  ? std::to_string(seconds / 86400) + " days"
						: seconds % 3600 == 0 ? std::to_string(seconds / 3600) + " hours"
											  : std::to_string(seconds) + " seconds";
		} else if (unique && bson_iter_init_find(&it, spec, "partialFilterExpression") &&
				   BSON_ITER_HOLDS_DOCUMENT(&it)) {
			uint32_t length = 0;
			const uint8_t *data = nullptr;
			bson_iter_document(&it, &length, &data);
			bson_t filter;
			if (!bson_init_static(&filter, data, length) || !PartialWhere(&filter, columns, index.where)) {
				skip("its partialFilterExpression is not a simple equality or $exists filter on mapped fields; write "
					 "the \"where\" by hand");
				continue;
			}
			index.kind = mapping::IndexMap::Kind::PartialUnique;
		} else if (unique && sparse)
			index.kind = mapping::IndexMap::Kind::SparseUnique;
		else
			index.kind = unique ? mapping::IndexMap::Kind::Unique : mapping::IndexMap::Kind::Plain;
		bool duplicate = std::any_of(c.indexes.begin(), c.indexes.end(), [&](const mapping::IndexMap &other) {
			return other.kind == index.kind && other.columns == index.columns && other.where == index.where;
		});
		if (!duplicate)
			c.indexes.push_back(index);
	}
}

// Demote turns every reference of c to parent into a plain text column holding the ObjectId (hex).
void
Demote(CollectionMap &c, const std::string &parent) {
	auto demote = [&](FieldMap &field) {
		if (field.kind == FieldKind::Reference && field.references == parent) {
			field.kind = FieldKind::Column;
			field.type = "text";
			field.bson_type = "objectId";
			field.references.clear();
		} else if (field.kind == FieldKind::Polymorphic && field.references == parent) {
			// its three columns become one text column named like the id column
			field.kind = FieldKind::Column;
			field.column = mapping::PolymorphicIdColumn(field.column);
			field.type = "text";
			field.references.clear();
		}
	};
	for (FieldMap &field : c.fields)
		demote(field);
	for (ChildMap &child : c.children)
		for (FieldMap &field : child.fields)
			demote(field);
}

void
Inferer::BreakCycles(mapping::Mapping &m) {
	while (true) {
		try {
			mapping::LoadOrder(m);
			return;
		} catch (const mapping::MappingError &) {
		}
		// the first collection (in file order) on a cycle: follow its references until one comes back
		bool broken = false;
		for (CollectionMap &c : m.collections) {
			std::vector<std::string> stack{c.collection};
			std::set<std::string> seen;
			while (!stack.empty() && !broken) {
				std::string at = stack.back();
				stack.pop_back();
				const CollectionMap *node = m.Find(at);
				if (node == nullptr || !seen.insert(at).second)
					continue;
				std::vector<std::string> parents;
				for (const FieldMap &field : node->fields)
					if (!field.references.empty() && field.references != at)
						parents.push_back(field.references);
				for (const ChildMap &child : node->children)
					for (const FieldMap &field : child.fields)
						if (!field.references.empty() && field.references != at)
							parents.push_back(field.references);
				for (const std::string &parent : parents) {
					if (parent == c.collection) {
						// at → c closes the cycle: at no longer references c
						Demote(*const_cast<CollectionMap *>(node), c.collection);
						notes_.push_back(at + " → " + c.collection + " closed a reference cycle: mapped as a text " +
										 "column (the ObjectId's hex) instead of a foreign key");
						broken = true;
						break;
					}
					stack.push_back(parent);
				}
			}
			if (broken)
				break;
		}
		if (!broken)
			return; // cannot happen: LoadOrder found a cycle
	}
}

} // namespace

void
LevelStats::Add(const bson_t *document) {
	++containers;
	bson_iter_t it;
	if (!bson_iter_init(&it, document))
		return;
	while (bson_iter_next(&it)) {
		std::string name = bson_iter_key(&it);
		auto [position, added] = index.emplace(name, fields.size());
		if (added) {
			fields.emplace_back();
			fields.back().name = name;
		}
		FieldStats &field = fields[position->second];
		bson_type_t type = bson_iter_type(&it);
		if (type == BSON_TYPE_NULL || type == BSON_TYPE_UNDEFINED)
			continue;
		++field.present;
		++field.types[type];
		uint32_t length = 0;
		const uint8_t *data = nullptr;
		bson_t inner;
		if (type == BSON_TYPE_OID) {
			KeepObjectId(field, bson_iter_oid(&it));
		} else if (type == BSON_TYPE_DOCUMENT) {
			bson_iter_document(&it, &length, &data);
			if (bson_init_static(&inner, data, length)) {
				if (field.object == nullptr)
					field.object = std::make_unique<LevelStats>();
				field.object->Add(&inner);
			}
		} else if (type == BSON_TYPE_ARRAY) {
			bson_iter_t element;
			if (!bson_iter_recurse(&it, &element))
				continue;
			while (bson_iter_next(&element)) {
				bson_type_t element_type = bson_iter_type(&element);
				++field.element_types[element_type];
				if (element_type == BSON_TYPE_OID)
					KeepObjectId(field, bson_iter_oid(&element));
				else if (element_type == BSON_TYPE_DOCUMENT) {
					bson_iter_document(&element, &length, &data);
					if (bson_init_static(&inner, data, length)) {
						if (field.elements == nullptr)
							field.elements = std::make_unique<LevelStats>();
						field.elements->Add(&inner);
					}
				}
			}
		}
	}
}

const FieldStats *
LevelStats::Find(const std::string &name) const {
	auto it = index.find(name);
	return it == index.end() ? nullptr : &fields[it->second];
}

std::vector<std::string>
NameCandidates(const std::string &field) {
	std::vector<std::string> out;
	auto add = [&](const std::string &name) {
		if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end())
			out.push_back(name);
	};
	std::string stem = Stem(field);
	std::string singular = Singular(stem);
	add(Plural(singular));
	add(singular);
	std::size_t last = singular.rfind('_');
	if (last != std::string::npos) {
		std::string word = singular.substr(last + 1);
		add(Plural(word));
		add(word);
	}
	return out;
}

mapping::Mapping
InferMapping(const std::string &name, const std::string &database, const std::vector<CollectionSample> &samples,
			 const CountExisting &count, std::vector<std::string> &notes) {
	return Inferer(samples, count, notes).Build(name, database);
}

} // namespace mosta::migrate
