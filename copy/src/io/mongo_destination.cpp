/*
 * mongo_destination.cpp
 *     The MongoDB destination (Form Canonical): one collection per table, named and shaped as the sidecar's MongoDB
 *     sink writes them (mongo_backup_document.hpp), so that mosta-sidecar verify and the MongoDB source read them.
 *
 *     Safe to run from cron: Begin creates a temporary collection per table, "<collection>.mosta-tmp.<pid>" (and
 *     drops those a killed run left: a pid that no longer runs); each batch is one unordered bulk insert into it;
 *     Commit renames each temporary over its collection (renameCollection with dropTarget: the old collection is
 *     replaced in one step, collection by collection, after every destination finished); Abort drops the
 *     temporaries. The collections of the previous copy stay whole until Commit.
 *
 *     Each writer has a client of its own from the pool (--jobs writers at once). While writing, each document is
 *     read back as the MongoDB source will read it and checksummed (mongo_backup_destination.hpp), and the rows the
 *     mapping does not keep exactly are counted and reported on stderr once per table at Close.
 */
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <signal.h>
#include <unistd.h>

#include "io/mongo_backup_client.hpp"
#include "io/mongo_backup_destination.hpp"
#include "io/mongo_backup_document.hpp"
#include "io/open.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"

namespace mosta::copy {

namespace {

// MongoError returns a CopyError for a failed driver call.
CopyError
MongoError(const std::string &what, const bson_error_t &error) {
	return CopyError("MongoDB: " + what + ": " + MaskCredentialsInText(error.message));
}

// ProcessGone tells whether pid is no running process.
bool
ProcessGone(long pid) {
	return pid != static_cast<long>(::getpid()) && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

class MongoDestination;

class MongoTableWriter : public TableWriter {
  public:
	MongoTableWriter(MongoDestination &destination, const TableDef &table, const std::string &temporary);
	void Write(const RowBatch &batch) override;
	void Close(std::uint64_t rows_written) override;

  private:
	MongoDestination &destination_;
	TableDef table_;
	std::string where_; // database.temporary, for messages
	sidecar::PooledClient client_;
	sidecar::MongoCollectionHandle collection_;
	MongoRowBuilder builder_;
	std::vector<sidecar::VerifyColumn> read_columns_;
	ChecksumState checksum_;
	MongoStoredTable stored_;
	std::vector<bool> inexact_; // per copied column
	sidecar::MappingNotes notes_;
	std::map<std::string, std::pair<std::string, std::uint64_t>> notes_by_column_; // first note, count
};

class MongoDestination : public Destination {
  public:
	MongoDestination(const std::string &uri, const DestinationOptions &options) : connection_(uri), options_(options) {
		if (!connection_.MappingPath().empty())
			throw CopyError("MongoDB: " + connection_.Masked() +
							" names a mapping (mosta_mapping=" + connection_.MappingPath() +
							"): mosta-copy writes tables as they are, not through a migration mapping (hint: remove "
							"mosta_mapping from the URI to copy the tables themselves; a mapped mirror is filled by "
							"mosta-sidecar's initial copy)");
	}
	~MongoDestination() override {
		Abort();
	}

	std::string
	Describe() const override {
		return "mongodb:" + connection_.Masked();
	}
	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}

	void
	Begin(const DatabaseSchema &schema, const SnapshotInfo &) override {
		connection_.Ping();
		sidecar::PooledClient client(connection_.Pool());
		DropStaleTemporaries(client.get());
		std::set<std::string> seen;
		for (const TableDef &table : schema.tables) {
			std::string collection = sidecar::MongoCollectionName(table.schema, table.name);
			if (!seen.insert(collection).second)
				throw CopyError("MongoDB: two tables map to the collection " + collection + " (" +
								table.QualifiedName() + ")");
			std::string temporary = MongoTemporaryCollection(collection, ::getpid());
			Drop(client.get(), temporary); // a leftover of a process that had our pid
			mongoc_database_t *database = mongoc_client_get_database(client.get(), connection_.Database().c_str());
			bson_error_t error;
			mongoc_collection_t *created =
				mongoc_database_create_collection(database, temporary.c_str(), nullptr, &error);
			mongoc_database_destroy(database);
			if (created == nullptr)
				throw MongoError("creating " + connection_.Database() + "." + temporary, error);
			mongoc_collection_destroy(created);
			std::lock_guard<std::mutex> lock(mutex_);
			temporaries_[table.QualifiedName()] = {collection, temporary};
		}
	}

	std::unique_ptr<TableWriter>
	OpenTable(const TableDef &table) override {
		std::string temporary;
		{
			std::lock_guard<std::mutex> lock(mutex_);
			auto found = temporaries_.find(table.QualifiedName());
			if (found == temporaries_.end())
				throw CopyError("MongoDB: " + table.QualifiedName() + " was not in the schema Begin was given");
			temporary = found->second.second;
		}
		return std::make_unique<MongoTableWriter>(*this, table, temporary);
	}

	void
	Finish() override {}

	void
	Commit() override {
		sidecar::PooledClient client(connection_.Pool());
		std::lock_guard<std::mutex> lock(mutex_);
		for (auto it = temporaries_.begin(); it != temporaries_.end();) {
			const auto &[collection, temporary] = it->second;
			sidecar::MongoCollectionHandle handle = connection_.Collection(client.get(), temporary);
			bson_error_t error;
			if (!mongoc_collection_rename(handle.get(), connection_.Database().c_str(), collection.c_str(), true,
										  &error))
				throw MongoError("renaming " + connection_.Database() + "." + temporary + " to " + collection, error);
			it = temporaries_.erase(it);
		}
		files_ = {WrittenFile{"mongodb", connection_.Masked(), 0, ""}};
	}

	void
	Abort() noexcept override {
		aborted_ = true;
		std::lock_guard<std::mutex> lock(mutex_);
		if (temporaries_.empty())
			return;
		try {
			sidecar::PooledClient client(connection_.Pool());
			for (const auto &[table, names] : temporaries_)
				Drop(client.get(), names.second);
		} catch (...) {
			// Abort never throws: what it could not drop, the next run drops (DropStaleTemporaries)
		}
		temporaries_.clear();
	}

	std::vector<WrittenFile>
	Files() const override {
		return files_;
	}

	// Aborted tells whether Abort ran: a writer still running then stops (its inserts would create the temporary
	// collection again).
	bool
	Aborted() const noexcept {
		return aborted_;
	}

	const MongoConnection &
	Connection() const noexcept {
		return connection_;
	}

	// Stored records what a writer wrote (at its Close).
	void
	Stored(MongoStoredTable table) {
		std::lock_guard<std::mutex> lock(mutex_);
		stored_.push_back(std::move(table));
	}
	const std::vector<MongoStoredTable> &
	StoredTables() const noexcept {
		return stored_;
	}

  private:
	// Drop drops a collection; a missing one is no error.
	void
	Drop(mongoc_client_t *client, const std::string &collection) noexcept {
		sidecar::MongoCollectionHandle handle = connection_.Collection(client, collection);
		bson_error_t error;
		mongoc_collection_drop(handle.get(), &error); // NamespaceNotFound when it is not there: fine
	}

	// DropStaleTemporaries drops the temporary collections of processes that no longer run.
	void
	DropStaleTemporaries(mongoc_client_t *client) {
		mongoc_database_t *database = mongoc_client_get_database(client, connection_.Database().c_str());
		bson_error_t error;
		char **names = mongoc_database_get_collection_names_with_opts(database, nullptr, &error);
		mongoc_database_destroy(database);
		if (names == nullptr)
			throw MongoError("listing the collections of " + connection_.Database(), error);
		std::vector<std::string> stale;
		for (char **name = names; *name != nullptr; ++name)
			if (long pid = MongoTemporaryPid(*name); pid > 0 && ProcessGone(pid))
				stale.emplace_back(*name);
		bson_strfreev(names);
		for (const std::string &name : stale)
			Drop(client, name);
	}

	MongoConnection connection_;
	DestinationOptions options_;
	std::mutex mutex_;
	std::map<std::string, std::pair<std::string, std::string>> temporaries_; // table → (collection, temporary)
	std::vector<MongoStoredTable> stored_;
	std::vector<WrittenFile> files_;
	std::atomic<bool> aborted_ = false;
};

MongoTableWriter::MongoTableWriter(MongoDestination &destination, const TableDef &table, const std::string &temporary)
	: destination_(destination), table_(table), where_(destination.Connection().Database() + "." + temporary),
	  client_(destination.Connection().Pool()), builder_(table_), read_columns_(MongoReadColumns(table_)),
	  inexact_(read_columns_.size(), false) {
	if (client_.get() == nullptr)
		throw CopyError("MongoDB: no client from the pool of " + destination.Connection().Masked());
	collection_ = destination.Connection().Collection(client_.get(), temporary);
	stored_.table = table_.QualifiedName();
	stored_.collection = sidecar::MongoCollectionName(table_.schema, table_.name);
}

void
MongoTableWriter::Write(const RowBatch &batch) {
	if (batch.Form() != ValueForm::Canonical || batch.Columns() != read_columns_.size())
		throw CopyError("MongoDB destination: a batch of " + table_.QualifiedName() +
						" is not in canonical form with one field per copied column");
	if (destination_.Aborted())
		throw CopyError("MongoDB destination " + destination_.Connection().Masked() + ": aborted");
	if (batch.Rows() == 0)
		return;
	sidecar::BsonHandle options = sidecar::NewBson();
	BSON_APPEND_BOOL(options.get(), "ordered", false);
	sidecar::MongoBulkHandle bulk(mongoc_collection_create_bulk_operation_with_opts(collection_.get(), options.get()));
	// the driver's validation re-reads each document for what mongo_bson guarantees (see mongo_sink.cpp)
	sidecar::BsonHandle insert_options = sidecar::NewBson();
	BSON_APPEND_BOOL(insert_options.get(), "validate", false);
	for (std::size_t row = 0; row < batch.Rows(); ++row) {
		sidecar::BsonHandle doc = builder_.Document(batch, row, notes_);
		sidecar::MongoRow back = sidecar::MongoDocumentRow(doc.get(), read_columns_, {});
		checksum_.Add(CanonicalRowHash(back.encoded.data(), back.encoded.size()));
		bool exact = true;
		for (std::size_t i = 0; i < read_columns_.size(); ++i) {
			std::optional<std::string_view> field = batch.Field(row, i);
			bool same = back.values[i].has_value() == field.has_value() && (!field || *back.values[i] == *field);
			if (!same) {
				exact = false;
				inexact_[i] = true;
			}
		}
		stored_.inexact_rows += exact ? 0 : 1;
		bson_error_t error;
		if (!mongoc_bulk_operation_insert_with_opts(bulk.get(), doc.get(), insert_options.get(), &error))
			throw MongoError("adding a document of " + table_.QualifiedName() + " to a bulk insert", error);
	}
	for (sidecar::MappingNote &note : notes_) {
		auto [it, fresh] = notes_by_column_.try_emplace(note.column, std::move(note.what), 0);
		++it->second.second;
	}
	notes_.clear();
	bson_t reply;
	bson_error_t error;
	std::uint32_t server = mongoc_bulk_operation_execute(bulk.get(), &reply, &error);
	std::string reply_text = server == 0 ? sidecar::BsonToRelaxedJson(&reply) : std::string();
	bson_destroy(&reply);
	if (server == 0)
		throw CopyError("MongoDB: bulk insert of " + std::to_string(batch.Rows()) + " documents into " + where_ +
						" failed: " + MaskCredentialsInText(error.message) +
						(reply_text.size() > 2 ? " (reply " + reply_text.substr(0, 500) + ")" : ""));
	stored_.rows += batch.Rows();
}

void
MongoTableWriter::Close(std::uint64_t rows_written) {
	if (rows_written != stored_.rows)
		throw CopyError("MongoDB: " + std::to_string(stored_.rows) + " documents inserted into " + where_ +
						", but the copy counted " + std::to_string(rows_written) + " rows of " +
						table_.QualifiedName());
	stored_.checksum = checksum_.Text();
	for (std::size_t i = 0; i < inexact_.size(); ++i)
		if (inexact_[i])
			stored_.inexact_columns.push_back(read_columns_[i].name);
	if (stored_.inexact_rows > 0) {
		std::string columns;
		for (const std::string &name : stored_.inexact_columns)
			columns += (columns.empty() ? "" : ", ") + name;
		std::fprintf(stderr,
					 "mosta-copy: MongoDB copy of %s: %llu of %llu rows are not held exactly (columns %s): the "
					 "MongoDB mapping does not keep those values (docs/copy-stores.md, \"MongoDB\"); verify checks the "
					 "collection against what was written\n",
					 table_.QualifiedName().c_str(), static_cast<unsigned long long>(stored_.inexact_rows),
					 static_cast<unsigned long long>(stored_.rows), columns.c_str());
	}
	// the notes of the columns read back exactly (an infinite date kept as a string, ...) say nothing to the user
	for (const auto &[column, note] : notes_by_column_)
		if (std::find(stored_.inexact_columns.begin(), stored_.inexact_columns.end(), column) !=
			stored_.inexact_columns.end())
			std::fprintf(stderr, "mosta-copy: MongoDB copy of %s, column %s: %s (%llu values)\n",
						 table_.QualifiedName().c_str(), column.c_str(), note.first.c_str(),
						 static_cast<unsigned long long>(note.second));
	destination_.Stored(stored_);
}

} // namespace

std::unique_ptr<Destination>
MakeMongoDestination(const std::string &uri, const DestinationOptions &options) {
	return std::make_unique<MongoDestination>(uri, options);
}

const std::vector<MongoStoredTable> *
MongoStoredTables(const Destination &destination) {
	const auto *mongo = dynamic_cast<const MongoDestination *>(&destination);
	return mongo == nullptr ? nullptr : &mongo->StoredTables();
}

} // namespace mosta::copy
