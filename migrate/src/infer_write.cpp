/*
 * infer_write.cpp
 *     MappingJson (infer.hpp): a mapping in the file format, laid out as docs/migration-mapping.md shows it (one
 *     field, index or sum per line), keys in a fixed order and defaults left out, so that the output of infer is
 *     both deterministic and short enough to edit.
 */
#include "infer.hpp"

#include "mosta/common/canonical_row.hpp" // JsonQuote

namespace mosta::migrate {

namespace {

using mapping::ChildMap;
using mapping::CollectionMap;
using mapping::FieldKind;
using mapping::FieldMap;
using mapping::IndexMap;

std::string
Q(const std::string &text) {
	return JsonQuote(text);
}

std::string
Names(const std::vector<std::string> &names) {
	std::string out = "[";
	for (std::size_t i = 0; i < names.size(); ++i)
		out += (i == 0 ? "" : ", ") + Q(names[i]);
	return out + "]";
}

std::string Field(const FieldMap &field, const std::vector<ChildMap> &children, const std::string &indent);

std::string
Child(const ChildMap &child, const std::string &indent) {
	std::string out = "{\"table\": " + Q(child.table);
	if (child.parent_column != "parent_id")
		out += ", \"parent_column\": " + Q(child.parent_column);
	if (child.position_column != "position")
		out += ", \"position_column\": " + Q(child.position_column);
	bool scalars = child.fields.size() == 1 && child.fields[0].path.empty();
	if (!scalars && child.extra_column != "extra")
		out += ", \"extra_column\": " + Q(child.extra_column);
	out += ", \"fields\": [\n";
	for (std::size_t i = 0; i < child.fields.size(); ++i)
		out += indent + "  " + Field(child.fields[i], {}, indent + "  ") + (i + 1 < child.fields.size() ? ",\n" : "\n");
	return out + indent + "]}";
}

std::string
Field(const FieldMap &field, const std::vector<ChildMap> &children, const std::string &indent) {
	std::string out = "{\"path\": " + Q(field.path);
	switch (field.kind) {
	case FieldKind::Column:
		out += ", \"column\": " + Q(field.column) + ", \"type\": " + Q(field.type);
		break;
	case FieldKind::Reference:
		out += ", \"column\": " + Q(field.column) + ", \"references\": " + Q(field.references);
		break;
	case FieldKind::Polymorphic:
		out += ", \"polymorphic\": " + Q(field.column) + ", \"references\": " + Q(field.references);
		break;
	case FieldKind::ChildTable:
		return out + ", \"child_table\": " + Child(children.at(field.child), indent) + "}";
	}
	if (field.not_null)
		out += ", \"not_null\": true";
	if (!field.bson_type.empty())
		out += ", \"bson\": " + Q(field.bson_type);
	return out + "}";
}

std::string
Index(const IndexMap &index) {
	switch (index.kind) {
	case IndexMap::Kind::SparseUnique:
		return "{\"sparse_unique\": " + Names(index.columns) + "}";
	case IndexMap::Kind::PartialUnique:
		return "{\"partial_unique\": " + Names(index.columns) + ", \"where\": " + Q(index.where) +
			   (index.name.empty() ? "" : ", \"name\": " + Q(index.name)) + "}";
	case IndexMap::Kind::Unique:
		return "{\"unique\": " + Names(index.columns) + (index.name.empty() ? "" : ", \"name\": " + Q(index.name)) +
			   "}";
	case IndexMap::Kind::Plain:
		return "{\"index\": " + Names(index.columns) + (index.name.empty() ? "" : ", \"name\": " + Q(index.name)) + "}";
	case IndexMap::Kind::Ttl:
		return "{\"ttl\": " + Q(index.columns.at(0)) + ", \"after\": " + Q(index.ttl) + "}";
	}
	return "{}";
}

std::string
Collection(const CollectionMap &c) {
	std::string out = "    {\n      \"collection\": " + Q(c.collection) + ",\n      \"table\": " + Q(c.table) + ",\n";
	out += "      \"id\": {\"policy\": " + Q(mapping::IdPolicyName(c.id_policy));
	if (c.require_objectid)
		out += ", \"require_objectid\": true";
	if (c.id_column != "id")
		out += ", \"column\": " + Q(c.id_column);
	if (c.legacy_id_column != "legacy_object_id")
		out += ", \"legacy_column\": " + Q(c.legacy_id_column);
	out += "}";
	if (c.extra_column != "extra")
		out += ",\n      \"extra_column\": " + Q(c.extra_column);
	out += ",\n      \"fields\": [";
	for (std::size_t i = 0; i < c.fields.size(); ++i)
		out += std::string(i == 0 ? "\n" : ",\n") + "        " + Field(c.fields[i], c.children, "        ");
	out += c.fields.empty() ? "]" : "\n      ]";
	if (!c.indexes.empty()) {
		out += ",\n      \"indexes\": [";
		for (std::size_t i = 0; i < c.indexes.size(); ++i)
			out += std::string(i == 0 ? "\n" : ",\n") + "        " + Index(c.indexes[i]);
		out += "\n      ]";
	}
	if (!c.sums.empty()) {
		out += ",\n      \"sums\": [";
		for (std::size_t i = 0; i < c.sums.size(); ++i)
			out += std::string(i == 0 ? "\n" : ",\n") + "        {\"column\": " + Q(c.sums[i].column) +
				   (c.sums[i].group_by.empty() ? "" : ", \"group_by\": " + Names(c.sums[i].group_by)) + "}";
		out += "\n      ]";
	}
	return out + "\n    }";
}

} // namespace

std::string
MappingJson(const mapping::Mapping &mapping) {
	std::string out = "{\n  \"name\": " + Q(mapping.name) + ",\n";
	if (!mapping.source_database.empty())
		out += "  \"source\": {\"database\": " + Q(mapping.source_database) + "},\n";
	out += "  \"target\": {\"schema\": " + Q(mapping.schema) + "},\n  \"collections\": [\n";
	for (std::size_t i = 0; i < mapping.collections.size(); ++i)
		out += Collection(mapping.collections[i]) + (i + 1 < mapping.collections.size() ? ",\n" : "\n");
	out += "  ]";
	if (!mapping.counters.empty()) {
		out += ",\n  \"counters\": [";
		for (std::size_t i = 0; i < mapping.counters.size(); ++i) {
			const mapping::CounterMap &counter = mapping.counters[i];
			out += std::string(i == 0 ? "\n" : ",\n") + "    {\"scope\": " + Q(counter.scope) +
				   ", \"collection\": " + Q(counter.collection) + ", \"key\": " + Names(counter.key_columns) +
				   ", \"value\": " + Q(counter.value_column) + "}";
		}
		out += "\n  ]";
	}
	return out + "\n}\n";
}

} // namespace mosta::migrate
