/*
 * mongo_ddl.cpp
 *     MongoSink::ApplyDdl: what a mostajs.ddl message means for documents (docs/capture.md section 3). Collections
 *     have no schema, so shapes need nothing, except where values are concerned:
 *       - a column with a "fill" (ALTER TABLE ... ADD COLUMN ... DEFAULT, a fast default): updateMany
 *         {field: {$exists: false}} $set {field: fill}, queued in the collection's ordered bulk, so the documents
 *         written before the column existed read as the source's older rows do. Documents written since carry the
 *         field (null included), so the filter finds exactly the older ones, and a replay finds none;
 *       - a "rewritten" message (a volatile default gave each row its own value): once the bulk is executed, a
 *         document lacking a column that has a default but no "fill" means only a new copy can fill it:
 *         RecopyNeeded.
 *     Messages about tables the rule does not cover, dropped tables and partitions (streamed under their root) are
 *     left alone.
 */
#include <algorithm>
#include <stdexcept>

#include "sink/mongo_sink.hpp"

namespace mosta::sidecar {

namespace {

// IsKey tells whether name is one of message's key columns (they live in _id).
bool
IsKey(const DdlMessage &message, const std::string &name) {
	return std::find(message.key.begin(), message.key.end(), name) != message.key.end();
}

// Missing returns {field: {$exists: false}}.
BsonHandle
Missing(const std::string &field) {
	BsonHandle filter = NewBson();
	bson_t condition;
	BSON_APPEND_DOCUMENT_BEGIN(filter.get(), field.c_str(), &condition);
	BSON_APPEND_BOOL(&condition, "$exists", false);
	bson_append_document_end(filter.get(), &condition);
	return filter;
}

} // namespace

void
MongoSink::ApplyDdl(const Change &change) {
	std::optional<DdlMessage> message = ParseDdlMessage(change);
	if (!message || message->dropped || message->partition_root ||
		!RuleCoversTable(options_.ddl_collections, message->schema, message->table))
		return;
	std::string collection = MongoCollectionName(message->schema, message->table);
	if (message->rewritten)
		CheckRewritten(collection, *message);
	for (const DdlColumn &column : message->columns) {
		if (!column.fill || IsKey(*message, column.name))
			continue;
		std::string field = MongoFieldName(column.name);
		BsonHandle update = NewBson();
		bson_t set;
		BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
		AppendMongoValue(&set, field, *column.fill, column.type, column.name, notes_);
		bson_append_document_end(update.get(), &set);
		bson_error_t error;
		if (!mongoc_bulk_operation_update_many_with_opts(Bulk(collection), Missing(field).get(), update.get(), nullptr,
														 &error))
			throw std::runtime_error("MongoDB: queuing the fill of field " + field + " into " + collection + ": " +
									 error.message);
		Counted(1);
	}
	ReportNotes(collection);
}

void
MongoSink::CheckRewritten(const std::string &collection, const DdlMessage &message) {
	ExecuteBulk(); // the documents written before the message are in the collection
	MongoCollectionHandle target(mongoc_client_get_collection(client_->get(), database_.c_str(), collection.c_str()));
	BsonHandle options = NewBson();
	BSON_APPEND_INT64(options.get(), "limit", 1);
	for (const DdlColumn &column : message.columns) {
		if (column.fill || !column.default_expr || IsKey(message, column.name))
			continue;
		bson_error_t error;
		std::int64_t lacking = mongoc_collection_count_documents(
			target.get(), Missing(MongoFieldName(column.name)).get(), options.get(), nullptr, nullptr, &error);
		if (lacking < 0)
			throw std::runtime_error("MongoDB: counting the documents of " + database_ + "." + collection +
									 " without field " + column.name + ": " + error.message);
		if (lacking > 0)
			throw RecopyNeeded("MongoDB collection " + database_ + "." + collection + ": " + message.schema + "." +
							   message.table + " was rewritten with values of column " + column.name +
							   " only the source holds (a volatile default)");
	}
}

} // namespace mosta::sidecar
