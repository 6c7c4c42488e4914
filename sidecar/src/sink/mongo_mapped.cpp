/*
 * mongo_mapped.cpp
 *     MongoMappedMirror (see mongo_mapped.hpp): which legacy collection and _id each change writes, and what.
 */
#include "sink/mongo_mapped.hpp"

#include <stdexcept>
#include <utility>

namespace mosta::sidecar {

namespace {

using mapping::ChildMap;
using mapping::CollectionMap;
using mapping::FieldKind;
using mapping::FieldMap;
using mapping::Row;

// IdFilter returns {_id: legacy id}.
BsonHandle
IdFilter(const std::string &legacy_id) {
	BsonHandle filter = NewBson();
	mapping::AppendLegacyId(filter.get(), "_id", legacy_id);
	return filter;
}

// RowText returns the text of column in row, or nullopt (NULL, missing, not text).
std::optional<std::string>
RowText(const Row &row, const std::string &column) {
	const mapping::RowColumn *found = mapping::FindRowColumn(row, column);
	return found != nullptr ? mapping::UuidText(found->value) : std::nullopt;
}

// CollectionColumns returns the columns of a collection table the reverse mapping reads.
std::vector<MirrorColumn>
CollectionColumns(const CollectionMap &collection) {
	std::vector<MirrorColumn> columns = {{collection.id_column, "uuid"}, {collection.legacy_id_column, "text"}};
	for (const FieldMap &field : collection.fields) {
		if (field.kind == FieldKind::Column)
			columns.push_back({field.column, field.type});
		else if (field.kind == FieldKind::Reference)
			columns.push_back({field.column, "uuid"});
		else if (field.kind == FieldKind::Polymorphic) {
			columns.push_back({mapping::PolymorphicKindColumn(field.column), "text"});
			columns.push_back({mapping::PolymorphicIdColumn(field.column), "uuid"});
			columns.push_back({mapping::PolymorphicExternalColumn(field.column), "text"});
		}
	}
	if (!collection.extra_column.empty())
		columns.push_back({collection.extra_column, "jsonb"});
	return columns;
}

// ChildColumns returns the columns of a child table the reverse mapping reads.
std::vector<MirrorColumn>
ChildColumns(const ChildMap &child) {
	std::vector<MirrorColumn> columns = {{child.parent_column, "uuid"}, {child.position_column, "integer"}};
	for (const FieldMap &field : child.fields)
		columns.push_back({field.column, field.kind == FieldKind::Reference ? std::string("uuid") : field.type});
	if (!child.extra_column.empty())
		columns.push_back({child.extra_column, "jsonb"});
	return columns;
}

} // namespace

Row
ChangeRow(const Change &change, const std::vector<Column> &image) {
	Row row;
	row.reserve(image.size());
	for (const Column &column : image)
		row.push_back(
			{column.name, column.value,
			 column.declared != nullptr ? std::string_view(column.declared->type) : change.TypeOf(column.name)});
	return row;
}

MirrorSource
PostgresMirrorSource(std::shared_ptr<MappedSource> source, const mapping::Mapping &mapping) {
	MirrorSource mirror;
	std::string schema = mapping.schema;
	// the mapping outlives the source's functions: both belong to the mirror (copied here to be independent of it)
	auto model = std::make_shared<mapping::Mapping>(mapping);
	mirror.legacy_id_of = [source, model](const std::string &collection,
										  const std::string &uuid) -> std::optional<std::string> {
		if (std::optional<std::string> legacy = source->LegacyId(collection, uuid))
			return legacy;
		// a row inserted after cutover whose id came from the id policy keeps its legacy id in its own column
		const CollectionMap *map = model->Find(collection);
		if (map == nullptr)
			return std::nullopt;
		return source->ReadLegacyColumn(model->schema, map->table, map->legacy_id_column, map->id_column, uuid);
	};
	mirror.child_rows = [source, schema](const CollectionMap &collection, std::size_t index, const std::string &uuid) {
		const ChildMap &child = collection.children[index];
		return source->ReadRows(schema, child.table, ChildColumns(child), child.parent_column, uuid,
								child.position_column);
	};
	mirror.collection_row = [source, schema](const CollectionMap &collection, const std::string &uuid) {
		return source->ReadRows(schema, collection.table, CollectionColumns(collection), collection.id_column, uuid,
								"");
	};
	return mirror;
}

MongoMappedMirror::MongoMappedMirror(mapping::Mapping mapping, MirrorSource source)
	: mapping_(std::move(mapping)), source_(std::move(source)) {}

void
MongoMappedMirror::Unknown(const std::string &schema, const std::string &table) const {
	throw std::runtime_error("table " + schema + "." + table + " is not in the mapping " + mapping_.name +
							 (mapping_.file.empty() ? "" : " (" + mapping_.file + ")") +
							 " of this MongoDB replica: the mapped mirror writes only the mapping's tables; leave it "
							 "out of the rule's tables, or add it to the mapping");
}

std::vector<MappedWrite>
MongoMappedMirror::Plan(const Change &change, MappingNotes &notes) {
	if (change.op == Op::Truncate)
		return PlanTruncate(change);
	if (!IsRowChange(change.op))
		return {};
	if (change.Schema() == mapping_.schema) {
		if (const CollectionMap *collection = mapping::FindCollectionTable(mapping_, change.Table()))
			return PlanCollectionRow(change, *collection, notes);
		if (mapping::ChildOf child = mapping::FindChildTable(mapping_, change.Table()); child.collection != nullptr)
			return PlanChildRow(change, child, notes);
	}
	Unknown(change.Schema(), change.Table());
}

std::vector<MappedWrite>
MongoMappedMirror::PlanCollectionRow(const Change &change, const CollectionMap &collection, MappingNotes &notes) {
	std::vector<MappedWrite> writes;
	if (change.op == Op::Delete) {
		if (!change.has_old)
			throw std::runtime_error("cannot mirror a delete from " + collection.table +
									 ": the change has no old image to find the document by");
		Row old_row = ChangeRow(change, change.old_row);
		std::optional<std::string> legacy = mapping::ReverseLegacyId(collection, old_row, source_.legacy_id_of);
		if (!legacy)
			throw std::runtime_error("cannot mirror a delete from " + collection.table +
									 ": its legacy id is unknown (not in the old image, not in mosta.id_map); map "
									 "legacy ids with mosta_map_id, or set REPLICA IDENTITY FULL on the table");
		writes.push_back({MappedWrite::Kind::Delete, collection.collection, IdFilter(*legacy), {}});
		return writes;
	}
	Row row = ChangeRow(change, change.new_row);
	MirrorRows reread; // holds the values of a row read again
	bool complete = true;
	for (std::string_view name : change.unchanged) {
		if (mapping::FindRowColumn(row, name) != nullptr)
			continue;
		const Column *old_column = nullptr;
		for (const Column &column : change.old_row)
			if (column.name == name)
				old_column = &column;
		if (old_column != nullptr)
			row.push_back({old_column->name, old_column->value,
						   old_column->declared != nullptr ? std::string_view(old_column->declared->type)
														   : change.TypeOf(old_column->name)});
		else
			complete = false;
	}
	std::optional<std::string> uuid = RowText(row, collection.id_column);
	if (!uuid)
		throw std::runtime_error("cannot mirror a row of " + collection.table + ": its " + collection.id_column +
								 " is NULL");
	if (!complete) {
		// an unchanged TOASTed value the change does not carry: the row as the source holds it now
		reread = source_.collection_row(collection, *uuid);
		if (reread.rows.empty())
			return writes; // deleted since: its delete follows in the stream
		row = reread.rows.front();
	}
	std::optional<std::string> legacy = mapping::ReverseLegacyId(collection, row, source_.legacy_id_of);
	if (!legacy)
		throw std::runtime_error("cannot mirror a row of " + collection.table + " (" + collection.id_column + " " +
								 *uuid + "): its " + collection.legacy_id_column +
								 " is NULL and mosta.id_map has no legacy id for it");
	if (change.op == Op::Update && change.has_old) {
		// the legacy id changed (seen with REPLICA IDENTITY FULL): the document under the old _id goes
		Row old_row = ChangeRow(change, change.old_row);
		std::optional<std::string> old_legacy = RowText(old_row, collection.legacy_id_column);
		if (old_legacy && *old_legacy != *legacy)
			writes.push_back({MappedWrite::Kind::Delete, collection.collection, IdFilter(*old_legacy), {}});
	}
	std::vector<MirrorRows> child_rows;
	child_rows.reserve(collection.children.size());
	std::vector<std::vector<Row>> children;
	for (std::size_t i = 0; i < collection.children.size(); ++i) {
		child_rows.push_back(source_.child_rows(collection, i, *uuid));
		children.push_back(child_rows.back().rows);
	}
	BsonHandle doc = mapping::ReverseDocument(collection, row, children, source_.legacy_id_of, notes);
	writes.push_back({MappedWrite::Kind::Replace, collection.collection, IdFilter(*legacy), std::move(doc)});
	return writes;
}

std::vector<MappedWrite>
MongoMappedMirror::PlanChildRow(const Change &change, const mapping::ChildOf &child, MappingNotes &notes) {
	const CollectionMap &collection = *child.collection;
	const ChildMap &child_map = collection.children[child.index];
	const std::string &path = mapping::ChildPath(collection, child.index);
	std::vector<std::string> parents; // the parents whose array changes (two when a row moves to another parent)
	if (change.has_new)
		if (std::optional<std::string> uuid = RowText(ChangeRow(change, change.new_row), child_map.parent_column))
			parents.push_back(*uuid);
	if (change.has_old)
		if (std::optional<std::string> uuid = RowText(ChangeRow(change, change.old_row), child_map.parent_column);
			uuid && (parents.empty() || parents.front() != *uuid))
			parents.push_back(*uuid);
	if (parents.empty())
		throw std::runtime_error("cannot mirror a change of " + child_map.table + ": the row carries no " +
								 child_map.parent_column);
	std::vector<MappedWrite> writes;
	std::string key = child_map.table + '\0' + parents.front();
	if (parents.size() == 1 && key == last_child_)
		return writes; // the array written for the previous row of this parent already holds this one
	last_child_ = parents.size() == 1 ? key : std::string();
	for (const std::string &uuid : parents) {
		std::optional<std::string> legacy = source_.legacy_id_of(collection.collection, uuid);
		if (!legacy) {
			if (change.op == Op::Delete)
				continue; // the parent is gone with its document (a cascade)
			throw std::runtime_error("cannot mirror a change of " + child_map.table + ": its parent " + uuid + " in " +
									 collection.table + " has no legacy id");
		}
		MirrorRows rows = source_.child_rows(collection, child.index, uuid);
		BsonHandle set = NewBson();
		mapping::AppendReverseArray(set.get(), path, child_map, rows.rows, source_.legacy_id_of, notes);
		BsonHandle update = NewBson();
		if (!BSON_APPEND_DOCUMENT(update.get(), "$set", set.get()))
			throw std::runtime_error("MongoDB: the array " + path + " of " + collection.collection +
									 " exceeds the BSON size limit");
		writes.push_back({MappedWrite::Kind::Update, collection.collection, IdFilter(*legacy), std::move(update)});
	}
	return writes;
}

std::vector<MappedWrite>
MongoMappedMirror::PlanTruncate(const Change &change) {
	std::vector<MappedWrite> writes;
	for (const TruncateTarget &target : change.truncate_tables) {
		const CollectionMap *collection =
			target.schema == mapping_.schema ? mapping::FindCollectionTable(mapping_, target.table) : nullptr;
		if (collection != nullptr) {
			writes.push_back({MappedWrite::Kind::DeleteMany, collection->collection, NewBson(), {}});
			continue;
		}
		mapping::ChildOf child =
			target.schema == mapping_.schema ? mapping::FindChildTable(mapping_, target.table) : mapping::ChildOf{};
		if (child.collection == nullptr)
			Unknown(target.schema, target.table);
		BsonHandle empty = NewBson();
		bson_t array;
		const std::string &path = mapping::ChildPath(*child.collection, child.index);
		BSON_APPEND_ARRAY_BEGIN(empty.get(), path.c_str(), &array);
		bson_append_array_end(empty.get(), &array);
		BsonHandle update = NewBson();
		BSON_APPEND_DOCUMENT(update.get(), "$set", empty.get());
		writes.push_back({MappedWrite::Kind::UpdateMany, child.collection->collection, NewBson(), std::move(update)});
	}
	return writes;
}

} // namespace mosta::sidecar
