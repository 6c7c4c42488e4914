/*
 * mongo_backup_document.hpp
 *     Canonical rows → the documents the sidecar's MongoDB sink writes (sink/mongo_bson.hpp, docs/mongodb.md), and
 *     back (app/verify_mongo.hpp), for mosta-copy's MongoDB destination and source.
 *
 *     A row becomes a sidecar Change (an insert of a RelationSchema made from the TableDef: the declared types, as
 *     the plugin's relation documents name them, and the primary key) whose values are the Values the plugin would
 *     have sent (io/sqlite_backup_value.hpp), and MongoRowDocument makes its document: _id from the primary key; a
 *     table without one gets a generated ObjectId _id (the sink refuses such tables: a copy has no later change to
 *     find the document by), then AppendMongoColumns.
 *
 *     Reading back: MongoDocumentRow with each copied column's base type, so values come back as verify reads them.
 *     What a MongoDB copy cannot give back exactly (docs/copy-stores.md, "MongoDB"): json columns (the text as typed:
 *     spacing, key order, duplicate keys; read back as jsonb's text of what the document holds), timestamps with
 *     sub-millisecond digits, jsonb numbers whose text is not the double's (1.50), JSON-null elements of a
 *     jsonb[], numbers beyond a double in jsonb. MongoReadBack turns a document back into canonical values, so that
 *     the destination can checksum what it wrote exactly as the source will read it.
 */
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/verify_mongo.hpp"
#include "decode/change.hpp"
#include "io/sqlite_backup_value.hpp"
#include "model/row_batch.hpp"
#include "model/schema.hpp"
#include "sink/mongo_bson.hpp"

namespace mosta::copy {

// MongoRowBuilder makes the documents of one table's canonical rows.
class MongoRowBuilder {
  public:
	explicit MongoRowBuilder(const TableDef &table);

	// Document returns the document of batch's row; lossy mappings are added to notes (by column).
	sidecar::BsonHandle Document(const RowBatch &batch, std::size_t row, sidecar::MappingNotes &notes);

  private:
	std::vector<const ColumnDef *> columns_; // the copied columns
	std::vector<ValueShape> shapes_;
	std::shared_ptr<const sidecar::RelationSchema> relation_;
	sidecar::Change change_; // reused for every row: an insert of relation_
};

// MongoReadColumns returns the copied columns of table as the MongoDB reader takes them (name, base type; a json
// column is read as jsonb: its document or array printed as jsonb prints it).
std::vector<sidecar::VerifyColumn> MongoReadColumns(const TableDef &table);

// MongoTemporaryCollection returns the collection a copy writes collection into before Commit renames it:
// "<collection>.mosta-tmp.<pid>".
std::string MongoTemporaryCollection(const std::string &collection, long pid);

// MongoTemporaryPid returns the pid of a temporary collection's name, or -1 when name is not one.
long MongoTemporaryPid(const std::string &name);

} // namespace mosta::copy
