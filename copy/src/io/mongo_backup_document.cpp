/*
 * mongo_backup_document.cpp
 *     Canonical rows → the MongoDB sink's documents (see mongo_backup_document.hpp).
 */
#include "io/mongo_backup_document.hpp"

#include <cstdlib>

#include "io/source.hpp"
#include "mosta/common/pg_types.hpp"

namespace mosta::copy {

namespace {

constexpr std::string_view kTemporaryInfix = ".mosta-tmp.";

// RelationOf returns the relation the plugin would describe table's copied columns with.
std::shared_ptr<const sidecar::RelationSchema>
RelationOf(const TableDef &table) {
	std::vector<sidecar::RelationColumn> columns;
	for (std::size_t index : table.CopiedColumns()) {
		sidecar::RelationColumn column;
		column.name = table.columns[index].name;
		column.type = table.columns[index].type;
		column.dims = ClassifyPgType(column.type).dims;
		columns.push_back(std::move(column));
	}
	return std::make_shared<const sidecar::RelationSchema>(0, table.schema, table.name, table.primary_key,
														   sidecar::ReplicaIdentity::Default, std::move(columns));
}

} // namespace

MongoRowBuilder::MongoRowBuilder(const TableDef &table) : relation_(RelationOf(table)) {
	for (std::size_t index : table.CopiedColumns()) {
		columns_.push_back(&table.columns[index]);
		shapes_.push_back(ShapeOfColumn(table.columns[index]));
	}
	change_.op = sidecar::Op::Insert;
	change_.relation = relation_;
	change_.has_new = true;
	change_.new_row.resize(columns_.size());
	for (std::size_t i = 0; i < columns_.size(); ++i) {
		change_.new_row[i].name = relation_->columns[i].name;
		change_.new_row[i].declared = &relation_->columns[i];
	}
}

sidecar::BsonHandle
MongoRowBuilder::Document(const RowBatch &batch, std::size_t row, sidecar::MappingNotes &notes) {
	for (std::size_t i = 0; i < columns_.size(); ++i) {
		std::optional<std::string_view> field = batch.Field(row, i);
		change_.new_row[i].value = field ? CanonicalToValue(shapes_[i], *field, *columns_[i]) : sidecar::Value{};
	}
	try {
		if (!relation_->key.empty())
			return sidecar::MongoRowDocument(change_, change_.new_row, notes);
		sidecar::BsonHandle doc = sidecar::NewBson();
		bson_oid_t oid;
		bson_oid_init(&oid, nullptr);
		BSON_APPEND_OID(doc.get(), "_id", &oid);
		sidecar::AppendMongoColumns(doc.get(), change_, change_.new_row, notes);
		return doc;
	} catch (const std::invalid_argument &error) {
		throw CopyError("MongoDB: a row of " + relation_->schema + "." + relation_->table + ": " + error.what());
	} catch (const std::runtime_error &error) {
		throw CopyError(std::string("MongoDB: ") + error.what());
	}
}

std::vector<sidecar::VerifyColumn>
MongoReadColumns(const TableDef &table) {
	std::vector<sidecar::VerifyColumn> columns;
	for (std::size_t index : table.CopiedColumns()) {
		const ColumnDef &column = table.columns[index];
		std::string base = column.base_type.empty() ? column.type : column.base_type;
		PgColumnType type = ClassifyPgType(base);
		if (type.info->kind == PgTypeKind::Json)
			base = type.dims > 0 ? "jsonb[]" : "jsonb";
		columns.push_back({column.name, base});
	}
	return columns;
}

std::string
MongoTemporaryCollection(const std::string &collection, long pid) {
	return collection + std::string(kTemporaryInfix) + std::to_string(pid);
}

long
MongoTemporaryPid(const std::string &name) {
	std::size_t at = name.rfind(kTemporaryInfix);
	if (at == std::string::npos)
		return -1;
	std::string digits = name.substr(at + kTemporaryInfix.size());
	char *end = nullptr;
	long pid = std::strtol(digits.c_str(), &end, 10);
	return digits.empty() || *end != '\0' || pid <= 0 ? -1 : pid;
}

} // namespace mosta::copy
