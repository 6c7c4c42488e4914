/*
 * mongo_source.cpp
 *     The MongoDB source (Form Canonical), for `mosta-copy verify` of a MongoDB copy: the schema is the manifest's
 *     (a MongoDB database does not hold one); each table's collection (MongoCollectionName) is read whole with
 *     find({}) and each document turned back into the canonical texts of the table's copied columns by
 *     mosta-sidecar verify's own reader (app/verify_mongo.hpp MongoDocumentRow, led by each column's base type; a
 *     json column is read as jsonb: mongo_backup_document.hpp). A collection that does not exist reads as empty,
 *     as in verify. What the rows cover is mongo_backup_destination.hpp's: every copied column, as the collection
 *     holds it. Each reader has a client of its own from the pool (--jobs readers at once).
 */
#include "io/mongo_backup_client.hpp"
#include "io/mongo_backup_document.hpp"
#include "io/open.hpp"
#include "mosta/common/conninfo.hpp"

namespace mosta::copy {

namespace {

class MongoTableReader : public TableReader {
  public:
	MongoTableReader(const MongoConnection &connection, const TableDef &table)
		: table_(table.QualifiedName()), collection_name_(sidecar::MongoCollectionName(table.schema, table.name)),
		  client_(connection.Pool()), columns_(MongoReadColumns(table)) {
		if (client_.get() == nullptr)
			throw CopyError("MongoDB: no client from the pool of " + connection.Masked());
		where_ = connection.Database() + "." + collection_name_;
		collection_ = connection.Collection(client_.get(), collection_name_);
		sidecar::BsonHandle filter = sidecar::NewBson();
		cursor_.reset(mongoc_collection_find_with_opts(collection_.get(), filter.get(), nullptr, nullptr));
	}

	bool
	Next(RowBatch &batch, std::size_t max_rows) override {
		batch.Clear();
		const bson_t *doc = nullptr;
		while (batch.Rows() < max_rows && !done_) {
			if (!mongoc_cursor_next(cursor_.get(), &doc)) {
				done_ = true;
				bson_error_t error;
				if (mongoc_cursor_error(cursor_.get(), &error))
					throw CopyError("MongoDB: reading " + where_ + " (table " + table_ +
									"): " + MaskCredentialsInText(error.message));
				break;
			}
			sidecar::MongoRow row = sidecar::MongoDocumentRow(doc, columns_, {});
			if (columns_.empty()) {
				batch.AddEmptyRow();
				continue;
			}
			for (const std::optional<std::string> &value : row.values)
				if (value)
					batch.AddField(*value);
				else
					batch.AddNull();
		}
		return batch.Rows() > 0;
	}

	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}

  private:
	std::string table_;
	std::string collection_name_;
	std::string where_;
	sidecar::PooledClient client_;
	std::vector<sidecar::VerifyColumn> columns_;
	sidecar::MongoCollectionHandle collection_;
	sidecar::MongoCursorHandle cursor_;
	bool done_ = false;
};

class MongoSource : public Source {
  public:
	MongoSource(const std::string &uri, const DatabaseSchema &schema) : connection_(uri), schema_(schema) {
		snapshot_.source = connection_.Masked();
	}

	std::string
	Describe() const override {
		return "mongodb:" + connection_.Masked();
	}
	void
	Open() override {
		connection_.Ping();
	}
	const DatabaseSchema &
	Schema() const override {
		return schema_;
	}
	const SnapshotInfo &
	Snapshot() const override {
		return snapshot_;
	}
	std::unique_ptr<TableReader>
	OpenTable(const TableDef &table) override {
		return std::make_unique<MongoTableReader>(connection_, table);
	}
	void
	Close() noexcept override {}

  private:
	MongoConnection connection_;
	DatabaseSchema schema_;
	SnapshotInfo snapshot_;
};

} // namespace

std::unique_ptr<Source>
MakeMongoSource(const std::string &uri, const DatabaseSchema &schema) {
	return std::make_unique<MongoSource>(uri, schema);
}

} // namespace mosta::copy
