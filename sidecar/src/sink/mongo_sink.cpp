/*
 * mongo_sink.cpp
 *     MongoSink (see mongo_sink.hpp and docs/mongodb.md): opening, bulk writes, checkpoints.
 */
#include "sink/mongo_sink.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

namespace mosta::sidecar {

namespace {

// kMaxQueuedBulks bulks may wait for the writer while it executes another: the sink runs ahead of the server by
// at most this many bulks (each up to max_bulk_operations documents, held in memory until executed).
constexpr std::size_t kMaxQueuedBulks = 2;

// When the URI sets no serverSelectionTimeoutMS, give up on an unreachable server after this long (the driver's
// default, 30 s, would keep a failing target silent for that long at each retry).
constexpr std::int32_t kServerSelectionTimeoutMs = 5000;

// MongoFailure builds the exception of a failed driver call.
std::runtime_error
MongoFailure(const std::string &what, const bson_error_t &error) {
	return std::runtime_error("MongoDB: " + what + ": " + error.message);
}

// MaskedUri returns uri without its password ("mongodb://user:***@host/db").
std::string
MaskedUri(const std::string &uri) {
	std::size_t scheme = uri.find("://");
	std::size_t at = uri.find('@', scheme == std::string::npos ? 0 : scheme + 3);
	if (scheme == std::string::npos || at == std::string::npos)
		return uri;
	std::size_t colon = uri.find(':', scheme + 3);
	if (colon == std::string::npos || colon > at)
		return uri;
	return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

// UpsertOptions returns {upsert: true}.
BsonHandle
UpsertOptions() {
	BsonHandle options = NewBson();
	BSON_APPEND_BOOL(options.get(), "upsert", true);
	return options;
}

// RowUpsertOptions returns {upsert: true, validate: false} for the rows' upserts. The driver's client-side
// validation (UTF-8 of every string, no '.', '$' or empty key) re-reads each document, about 8 % of the sidecar's
// CPU on the Mongo path, and checks what mongo_bson already guarantees: names are escaped (MongoFieldName), json
// keys are never empty (JsonToBson refuses them), and every string comes out of simdjson, which validates UTF-8.
BsonHandle
RowUpsertOptions() {
	BsonHandle options = UpsertOptions();
	BSON_APPEND_BOOL(options.get(), "validate", false);
	return options;
}

// FindColumn returns the column called name in row, or null.
const Column *
FindColumn(const std::vector<Column> &row, std::string_view name) {
	auto found = std::find_if(row.begin(), row.end(), [&](const Column &column) { return column.name == name; });
	return found == row.end() ? nullptr : &*found;
}

// OpenMirror loads the mapping at path and makes the mapped mirror that reads the source (options.source; empty:
// libpq's defaults, as the daemon's own connection) or options' lookups.
std::unique_ptr<MongoMappedMirror>
OpenMirror(const std::string &path, const MongoSinkOptions &options) {
	mapping::Mapping loaded;
	try {
		loaded = mapping::LoadMapping(path);
	} catch (const std::exception &e) {
		throw std::invalid_argument(std::string("MongoDB sink: the mapping of the mapped mirror (") +
									kMappingUriOption + "): " + e.what());
	}
	if (options.mirror_source) {
		MirrorSource source = options.mirror_source(loaded);
		return std::make_unique<MongoMappedMirror>(std::move(loaded), std::move(source));
	}
	MirrorSource source = PostgresMirrorSource(std::make_shared<MappedSource>(options.source), loaded);
	return std::make_unique<MongoMappedMirror>(std::move(loaded), std::move(source));
}

// WarnUncoveredTables warns about each table of the mapping the rule does not cover: its own changes do not reach
// MongoDB (a child table's rows are still read whenever their parent is written).
void
WarnUncoveredTables(const mapping::Mapping &mapping, const MongoSinkOptions &options) {
	if (!options.warn || options.ddl_collections.empty())
		return;
	auto check = [&](const std::string &table) {
		if (!RuleCoversTable(options.ddl_collections, mapping.schema, table))
			options.warn("MongoDB mapped mirror: table " + mapping.schema + "." + table + " of the mapping " +
						 mapping.name + " is not in the rule: its changes do not reach MongoDB; add it to the rule");
	};
	for (const mapping::CollectionMap &collection : mapping.collections) {
		check(collection.table);
		for (const mapping::ChildMap &child : collection.children)
			check(child.table);
	}
}

} // namespace

MongoBulkWriter::MongoBulkWriter(mongoc_client_pool_t *pool, std::size_t max_queued)
	: pool_(pool), client_(mongoc_client_pool_pop(pool)), max_queued_(max_queued) {
	if (client_ == nullptr)
		throw std::runtime_error("MongoDB sink: no client from the pool for the bulk writer");
	thread_ = std::thread([this] { Run(); });
}

MongoBulkWriter::~MongoBulkWriter() {
	{
		std::lock_guard<std::mutex> lock(mutex_);
		jobs_.clear();
		stop_ = true;
	}
	changed_.notify_all();
	thread_.join();
	mongoc_client_pool_push(pool_, client_);
}

void
MongoBulkWriter::ThrowFailure(std::unique_lock<std::mutex> &lock) {
	if (!failure_)
		return;
	std::exception_ptr failure = failure_;
	lock.unlock();
	std::rethrow_exception(failure);
}

void
MongoBulkWriter::Submit(Job job) {
	std::unique_lock<std::mutex> lock(mutex_);
	changed_.wait(lock, [this] { return failure_ || jobs_.size() < max_queued_; });
	ThrowFailure(lock);
	jobs_.push_back(std::move(job));
	lock.unlock();
	changed_.notify_all();
}

void
MongoBulkWriter::Drain() {
	std::unique_lock<std::mutex> lock(mutex_);
	changed_.wait(lock, [this] { return failure_ || (jobs_.empty() && !running_); });
	ThrowFailure(lock);
}

void
MongoBulkWriter::Discard() noexcept {
	std::unique_lock<std::mutex> lock(mutex_);
	jobs_.clear();
	changed_.wait(lock, [this] { return !running_; });
	failure_ = nullptr;
	lock.unlock();
	changed_.notify_all();
}

void
MongoBulkWriter::Run() {
	std::unique_lock<std::mutex> lock(mutex_);
	for (;;) {
		changed_.wait(lock, [this] { return stop_ || (!jobs_.empty() && !failure_); });
		if (stop_)
			return;
		Job job = std::move(jobs_.front());
		jobs_.pop_front();
		running_ = true;
		lock.unlock();
		changed_.notify_all(); // a place in the queue is free
		std::exception_ptr failure;
		try {
			job(client_);
		} catch (...) {
			failure = std::current_exception();
		}
		job = nullptr; // the bulk's memory goes before the next one is taken
		lock.lock();
		running_ = false;
		if (failure) {
			failure_ = failure;
			jobs_.clear(); // what follows a failed bulk must not be written
		}
		changed_.notify_all();
	}
}

MongoSink::MongoSink(MongoSinkOptions options)
	: SinkCore("MongoDB sink", GroupPolicy{options.group_max_transactions}), options_(std::move(options)) {
	if (options_.slot.empty())
		throw std::invalid_argument("MongoDB sink: the slot name (checkpoint key) is empty");
	if (options_.max_bulk_operations == 0)
		throw std::invalid_argument("MongoDB sink: max_bulk_operations must be at least 1");
	name_ = "mongodb:" + MaskedUri(options_.uri);
	// a mapped mirror's mapping file: an option of ours, taken out before the driver sees the URI
	MappedUri mapped = SplitMappingOption(options_.uri);
	if (!mapped.mapping_path.empty()) {
		mirror_ = OpenMirror(mapped.mapping_path, options_);
		WarnUncoveredTables(mirror_->Mapping(), options_);
	}
	bson_error_t error;
	uri_.reset(mongoc_uri_new_with_error(mapped.uri.c_str(), &error));
	if (!uri_)
		throw std::invalid_argument("MongoDB sink: bad connection string " + MaskedUri(options_.uri) + ": " +
									error.message);
	const char *database = mongoc_uri_get_database(uri_.get());
	database_ = database != nullptr && database[0] != '\0' ? database : options_.default_database;
	if (database_.empty())
		throw std::invalid_argument("MongoDB sink: " + MaskedUri(options_.uri) + " names no database");
	if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, kServerSelectionTimeoutMs);
	pool_.reset(mongoc_client_pool_new(uri_.get()));
	if (!pool_)
		throw std::runtime_error("MongoDB sink: cannot create a client pool for " + MaskedUri(options_.uri));
	mongoc_client_pool_set_error_api(pool_.get(), MONGOC_ERROR_API_VERSION_2);
	mongoc_client_pool_set_appname(pool_.get(), "mosta-sidecar");
	client_ = std::make_unique<PooledClient>(pool_.get());
	if (client_->get() == nullptr)
		throw std::runtime_error("MongoDB sink: no client from the pool of " + MaskedUri(options_.uri));

	MongoCollectionHandle checkpoints(
		mongoc_client_get_collection(client_->get(), database_.c_str(), kMongoCheckpointCollection));
	BsonHandle filter = NewBson();
	BSON_APPEND_UTF8(filter.get(), "_id", options_.slot.c_str());
	MongoCursorHandle cursor(mongoc_collection_find_with_opts(checkpoints.get(), filter.get(), nullptr, nullptr));
	const bson_t *found = nullptr;
	if (mongoc_cursor_next(cursor.get(), &found)) {
		bson_iter_t iter;
		if (bson_iter_init_find(&iter, found, "end_lsn") && BSON_ITER_HOLDS_NUMBER(&iter))
			RestoreDurableLsn(static_cast<Lsn>(bson_iter_as_int64(&iter)));
		else
			throw std::runtime_error("MongoDB sink: the checkpoint of " + options_.slot + " in " + database_ + "." +
									 kMongoCheckpointCollection + " has no numeric end_lsn");
	}
	if (mongoc_cursor_error(cursor.get(), &error))
		throw MongoFailure("reading the checkpoint from " + database_ + "." + kMongoCheckpointCollection, error);
	writer_ = std::make_unique<MongoBulkWriter>(pool_.get(), kMaxQueuedBulks);
}

MongoSink::~MongoSink() {
	Rollback();
}

std::string_view
MongoSink::Name() const noexcept {
	return name_;
}

void
MongoSink::ApplyChange(const Change &change) {
	try {
		SinkCore::ApplyChange(change);
	} catch (...) {
		notes_.clear();
		throw;
	}
}

void
MongoSink::OpenSource(Lsn commit_lsn) {
	static_cast<void>(commit_lsn);
	if (mirror_)
		mirror_->StartTransaction();
}

void
MongoSink::InsertRow(const Change &change) {
	if (mirror_)
		ApplyMapped(change);
	else
		ApplyRow(change);
}

void
MongoSink::UpdateRow(const Change &change) {
	if (mirror_)
		ApplyMapped(change);
	else
		ApplyRow(change);
}

void
MongoSink::DeleteRow(const Change &change) {
	if (mirror_)
		ApplyMapped(change);
	else
		ApplyDelete(change);
}

void
MongoSink::TruncateTables(const Change &change) {
	if (mirror_)
		ApplyMapped(change);
	else
		ApplyTruncate(change);
}

void
MongoSink::ApplyMessage(const Change &change) {
	if (mirror_)
		return;		  // the legacy shape is the mapping's: a column added to a table is not a field of the documents
	ApplyDdl(change); // documents have no schema: only fills and rewrites need something
}

void
MongoSink::ApplyMapped(const Change &change) {
	std::vector<MappedWrite> writes = mirror_->Plan(change, notes_);
	ReportNotes(writes.empty() ? change.Table() : writes.front().collection);
	if (!row_upsert_options_)
		row_upsert_options_ = RowUpsertOptions();
	for (const MappedWrite &write : writes) {
		mongoc_bulk_operation_t *bulk = Bulk(write.collection);
		bson_error_t error;
		bool queued = false;
		switch (write.kind) {
		case MappedWrite::Kind::Replace:
			// not validated by the driver: the legacy documents' own field names (from the extra column) go back
			// as MongoDB held them, and the server is the judge of them
			queued = mongoc_bulk_operation_replace_one_with_opts(bulk, write.filter.get(), write.document.get(),
																 row_upsert_options_.get(), &error);
			break;
		case MappedWrite::Kind::Update:
			queued = mongoc_bulk_operation_update_one_with_opts(bulk, write.filter.get(), write.document.get(), nullptr,
																&error);
			break;
		case MappedWrite::Kind::Delete:
			queued = mongoc_bulk_operation_remove_one_with_opts(bulk, write.filter.get(), nullptr, &error);
			break;
		case MappedWrite::Kind::DeleteMany:
			queued = mongoc_bulk_operation_remove_many_with_opts(bulk, write.filter.get(), nullptr, &error);
			break;
		case MappedWrite::Kind::UpdateMany:
			queued = mongoc_bulk_operation_update_many_with_opts(bulk, write.filter.get(), write.document.get(),
																 nullptr, &error);
			break;
		}
		if (!queued)
			throw MongoFailure("queuing a write of the mapped mirror into " + write.collection, error);
		Counted(1);
	}
}

void
MongoSink::RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) {
	static_cast<void>(commit_lsn);
	static_cast<void>(end_lsn); // written by MakeGroupDurable, once the group's bulks are acknowledged
}

void
MongoSink::MakeGroupDurable(Lsn pending_lsn) {
	ExecuteBulk();
	if (pending_lsn > DurableLsn() || (Rewinding() && pending_lsn != kInvalidLsn))
		WriteCheckpoint(pending_lsn);
}

void
MongoSink::DiscardGroup() noexcept {
	if (writer_)
		writer_->Discard(); // what it already executed stays: replayed idempotently from the checkpoint
	bulk_.reset();
	bulk_collection_.reset();
	bulk_collection_name_.clear();
	bulk_operations_ = 0;
	notes_.clear();
	if (mirror_)
		mirror_->StartTransaction();
}

mongoc_bulk_operation_t *
MongoSink::Bulk(const std::string &collection) {
	if (bulk_ && bulk_collection_name_ != collection)
		SubmitBulk();
	if (!bulk_) {
		bulk_collection_.reset(mongoc_client_get_collection(client_->get(), database_.c_str(), collection.c_str()));
		BsonHandle options = NewBson();
		BSON_APPEND_BOOL(options.get(), "ordered", true);
		bulk_.reset(mongoc_collection_create_bulk_operation_with_opts(bulk_collection_.get(), options.get()));
		bulk_collection_name_ = collection;
		bulk_operations_ = 0;
	}
	return bulk_.get();
}

void
MongoSink::ExecuteBulk() {
	SubmitBulk();
	writer_->Drain();
}

void
MongoSink::SubmitBulk() {
	if (!bulk_)
		return;
	// the job owns the bulk and its collection handle (std::function needs a copyable callable: shared_ptr)
	std::shared_ptr<mongoc_bulk_operation_t> bulk(bulk_.release(), MongoBulkDeleter());
	std::shared_ptr<mongoc_collection_t> handle(bulk_collection_.release(), MongoCollectionDeleter());
	std::string collection = std::move(bulk_collection_name_);
	bulk_collection_name_.clear();
	std::size_t operations = std::exchange(bulk_operations_, 0);
	if (operations == 0)
		return;
	std::string where = database_ + "." + collection;
	writer_->Submit([bulk, handle, operations, where](mongoc_client_t *client) {
		mongoc_bulk_operation_set_client(bulk.get(), client);
		bson_t reply;
		bson_error_t error;
		std::uint32_t server = mongoc_bulk_operation_execute(bulk.get(), &reply, &error);
		std::string reply_text = server == 0 ? BsonToRelaxedJson(&reply) : std::string();
		bson_destroy(&reply);
		if (server == 0)
			throw std::runtime_error("MongoDB: bulk write of " + std::to_string(operations) + " operation(s) into " +
									 where + " failed: " + error.message +
									 (reply_text.size() > 2 ? " (reply " + reply_text.substr(0, 500) + ")" : ""));
	});
}

void
MongoSink::Counted(std::size_t operations) {
	bulk_operations_ += operations;
	if (bulk_operations_ >= options_.max_bulk_operations)
		SubmitBulk();
}

void
MongoSink::ApplyRow(const Change &change) {
	std::string collection = MongoCollectionName(change.Schema(), change.Table());
	// the key may have moved: find it in "old" (identity columns) when there, else in "new"
	bool moved = false;
	if (change.op == Op::Update && change.has_old) {
		for (const std::string &name : change.Key()) {
			const Column *old_column = FindColumn(change.old_row, name);
			const Column *new_column = FindColumn(change.new_row, name);
			if (old_column != nullptr && new_column != nullptr && old_column->value != new_column->value)
				moved = true;
		}
	}
	// "unchanged" columns: take their value from "old" when it has them (REPLICA IDENTITY FULL), else keep the
	// stored value with $set
	std::vector<Column> completed; // new_row with the unchanged columns "old" has, when there are any
	bool partial = false;
	for (std::string_view name : change.unchanged) {
		if (FindColumn(completed.empty() ? change.new_row : completed, name) != nullptr)
			continue;
		if (const Column *old_column = change.has_old ? FindColumn(change.old_row, name) : nullptr) {
			if (completed.empty())
				completed = change.new_row;
			completed.push_back(*old_column);
		} else {
			partial = true;
		}
	}
	const std::vector<Column> &row = completed.empty() ? change.new_row : completed;
	BsonHandle filter = MongoIdFilter(change, row, notes_, options_.legacy_object_id);
	BsonHandle doc = MongoRowDocument(change, row, notes_, options_.legacy_object_id);
	BsonHandle moved_filter;
	if (moved)
		moved_filter = MongoIdFilter(change, change.old_row, notes_, options_.legacy_object_id);
	ReportNotes(collection);
	mongoc_bulk_operation_t *bulk = Bulk(collection);
	bson_error_t error;
	if (!row_upsert_options_)
		row_upsert_options_ = RowUpsertOptions();
	const bson_t *upsert = row_upsert_options_.get();
	if (moved_filter) {
		if (!mongoc_bulk_operation_remove_one_with_opts(bulk, moved_filter.get(), nullptr, &error))
			throw MongoFailure("queuing a delete into " + collection, error);
		Counted(1);
		bulk = Bulk(collection);
	}
	bool queued = false;
	if (partial) {
		bson_t columns; // the document without its _id, which $set must not touch
		bson_init(&columns);
		bson_copy_to_excluding_noinit(doc.get(), &columns, "_id", nullptr);
		BsonHandle update = NewBson();
		bool appended = BSON_APPEND_DOCUMENT(update.get(), "$set", &columns);
		bson_destroy(&columns);
		// a json column set to SQL NULL is no field (MongoOmitsColumn): $set alone would keep its old value
		BsonHandle unset = NewBson();
		for (const Column &column : row)
			if (MongoOmitsColumn(change, column))
				appended = appended && BSON_APPEND_UTF8(unset.get(), MongoFieldName(column.name).c_str(), "");
		if (!bson_empty(unset.get()))
			appended = appended && BSON_APPEND_DOCUMENT(update.get(), "$unset", unset.get());
		if (!appended)
			throw std::runtime_error("MongoDB: an update of " + collection + " exceeds the BSON size limit");
		queued = mongoc_bulk_operation_update_one_with_opts(bulk, filter.get(), update.get(), upsert, &error);
	} else {
		queued = mongoc_bulk_operation_replace_one_with_opts(bulk, filter.get(), doc.get(), upsert, &error);
	}
	if (!queued)
		throw MongoFailure("queuing an upsert into " + collection, error);
	Counted(1);
}

void
MongoSink::ApplyDelete(const Change &change) {
	std::string collection = MongoCollectionName(change.Schema(), change.Table());
	if (!change.has_old)
		throw std::runtime_error("cannot apply delete to " + change.Schema() + "." + change.Table() +
								 ": the document has no \"old\" to find the row by; give the table a primary key");
	BsonHandle filter = MongoIdFilter(change, change.old_row, notes_, options_.legacy_object_id);
	ReportNotes(collection);
	bson_error_t error;
	if (!mongoc_bulk_operation_remove_one_with_opts(Bulk(collection), filter.get(), nullptr, &error))
		throw MongoFailure("queuing a delete into " + collection, error);
	Counted(1);
}

void
MongoSink::ApplyTruncate(const Change &change) {
	for (const TruncateTarget &target : change.truncate_tables) {
		if (target.partition)
			throw RecopyNeeded("a truncate of partition " + target.partition->schema + "." + target.partition->table +
							   " alone, whose documents the collection of its root " + target.schema + "." +
							   target.table + " cannot tell apart");
		std::string collection = MongoCollectionName(target.schema, target.table);
		BsonHandle everything = NewBson();
		bson_error_t error;
		if (!mongoc_bulk_operation_remove_many_with_opts(Bulk(collection), everything.get(), nullptr, &error))
			throw MongoFailure("queuing a truncate of " + collection, error);
		Counted(1);
	}
}

void
MongoSink::WriteCheckpoint(Lsn end_lsn) {
	MongoCollectionHandle checkpoints(
		mongoc_client_get_collection(client_->get(), database_.c_str(), kMongoCheckpointCollection));
	// once there is a checkpoint, it must still be there, at the LSN this sink last wrote or read: a database
	// dropped, or a server back without its data, while the pool reconnected silently would otherwise get the new
	// changes on top of nothing. Then the write fails; reopened, the sink holds no checkpoint and the runner takes
	// a new initial copy (docs/mongodb.md).
	bool first = DurableLsn() == kInvalidLsn;
	BsonHandle filter = NewBson();
	BSON_APPEND_UTF8(filter.get(), "_id", options_.slot.c_str());
	if (!first)
		BSON_APPEND_INT64(filter.get(), "end_lsn", static_cast<std::int64_t>(DurableLsn()));
	BsonHandle doc = NewBson();
	BSON_APPEND_UTF8(doc.get(), "_id", options_.slot.c_str());
	std::string lsn = FormatLsn(end_lsn);
	BSON_APPEND_UTF8(doc.get(), "lsn", lsn.c_str());
	BSON_APPEND_INT64(doc.get(), "end_lsn", static_cast<std::int64_t>(end_lsn));
	auto now =
		std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
	BSON_APPEND_DATE_TIME(doc.get(), "updated_at", now.count());
	BsonHandle upsert = first ? UpsertOptions() : BsonHandle();
	bson_t reply;
	bson_error_t error;
	bool done = mongoc_collection_replace_one(checkpoints.get(), filter.get(), doc.get(), upsert.get(), &reply, &error);
	bson_iter_t matched;
	bool found = first || (bson_iter_init_find(&matched, &reply, "matchedCount") && BSON_ITER_HOLDS_NUMBER(&matched) &&
						   bson_iter_as_int64(&matched) == 1);
	bson_destroy(&reply);
	if (!done)
		throw MongoFailure("writing the checkpoint " + lsn + " into " + database_ + "." + kMongoCheckpointCollection,
						   error);
	if (!found)
		throw std::runtime_error("MongoDB: the checkpoint of " + options_.slot + " in " + database_ + "." +
								 kMongoCheckpointCollection + " is no longer at " + FormatLsn(DurableLsn()) +
								 " (the database was dropped, or the server restarted without its data): the "
								 "target no longer holds what was written; reopening it");
}

void
MongoSink::ReportNotes(const std::string &collection) {
	for (const MappingNote &note : notes_) {
		std::string kind = note.what.substr(0, note.what.find(' '));
		std::string key = collection + '\0' + note.column + '\0' + kind;
		if (!warned_.insert(key).second)
			continue;
		if (options_.warn)
			options_.warn("MongoDB target " + database_ + "." + collection + ", field " + note.column + ": " +
						  note.what + " (reported once per field)");
	}
	notes_.clear();
}

} // namespace mosta::sidecar
