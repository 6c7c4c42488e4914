/*
 * mongo_mapped.hpp
 *     The mapped mirror (the rollback mirror of a MongoDB → PostgreSQL migration, docs/mongodb.md "Mapped mirror"):
 *     a mongodb replica whose URI names a migration mapping (?mosta_mapping=/etc/mosta/shop.mapping.json) gets the
 *     rule's changes in the legacy shape the application read before cutover, through the mapping's reverse
 *     (mapping/reverse.hpp), instead of the plain one-document-per-row shape (mongo_bson.hpp).
 *
 *     Each change becomes writes keyed by the legacy _id:
 *       collection table, insert/update → replaceOne({_id}, the whole legacy document, upsert): its child arrays are
 *                                         read from the source's child tables (their current rows), so the
 *                                         replacement keeps them
 *       collection table, delete        → deleteOne({_id}) (the _id from id_map when the old image holds the key only)
 *       child table, any row change     → updateOne({_id: parent}, {$set: {<path>: the array rebuilt from the
 *                                         parent's current child rows}}), no upsert (a parent already deleted
 *                                         stays deleted)
 *       truncate                        → deleteMany({}) (collection table), updateMany({}, {$set: {<path>: []}})
 *                                         (child table)
 *       a table the mapping does not know → refused (std::runtime_error naming the table and the mapping)
 *     Every write is idempotent and reads the source's current child rows, so a replay, or a change applied while
 *     later ones wait, converges on the source's state once the stream has caught up.
 */
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "decode/change.hpp"
#include "mapping/mapping.hpp"
#include "mapping/reverse.hpp"
#include "sink/mongo_bson.hpp"
#include "sink/mongo_mapping_uri.hpp"
#include "sink/mongo_mapped_source.hpp"

namespace mosta::sidecar {

// One write of the mirror.
struct MappedWrite {
	enum class Kind {
		Replace,	// replaceOne(filter, document, upsert)
		Update,		// updateOne(filter, document), no upsert
		Delete,		// deleteOne(filter)
		DeleteMany, // deleteMany({})
		UpdateMany, // updateMany({}, document)
	};
	Kind kind = Kind::Replace;
	std::string collection;
	BsonHandle filter;
	BsonHandle document;
};

// What the mirror reads besides the change (MappedSource in the daemon, fakes in tests).
struct MirrorSource {
	mapping::LegacyIdOf legacy_id_of; // id_map, else the collection table's legacy id column
	// the current rows of collection.children[child] whose parent is parent_uuid, in position order
	std::function<MirrorRows(const mapping::CollectionMap &collection, std::size_t child,
							 const std::string &parent_uuid)>
		child_rows;
	// a collection table's current row whose id is uuid (for an update that does not carry every column), or none
	std::function<MirrorRows(const mapping::CollectionMap &collection, const std::string &uuid)> collection_row;
};

// PostgresMirrorSource returns the MirrorSource reading through source (its schema: mapping.schema).
MirrorSource PostgresMirrorSource(std::shared_ptr<MappedSource> source, const mapping::Mapping &mapping);

// MongoMappedMirror turns changes into the legacy collections' writes.
class MongoMappedMirror {
  public:
	MongoMappedMirror(mapping::Mapping mapping, MirrorSource source);

	// Plan returns the writes of a row change or truncate (nothing for other changes); notes get what could not be
	// written as the mapping asks. Throws std::runtime_error for a table the mapping does not know, a row without a
	// legacy id, and the source's errors.
	std::vector<MappedWrite> Plan(const Change &change, MappingNotes &notes);

	// StartTransaction is told at each transaction boundary (and when a group is discarded): the child arrays read
	// for the transaction's earlier changes no longer stand for its next ones.
	void
	StartTransaction() noexcept {
		last_child_.clear();
	}

	const mapping::Mapping &
	Mapping() const noexcept {
		return mapping_;
	}

  private:
	std::vector<MappedWrite> PlanCollectionRow(const Change &change, const mapping::CollectionMap &collection,
											   MappingNotes &notes);
	std::vector<MappedWrite> PlanChildRow(const Change &change, const mapping::ChildOf &child, MappingNotes &notes);
	std::vector<MappedWrite> PlanTruncate(const Change &change);
	[[noreturn]] void Unknown(const std::string &schema, const std::string &table) const;

	mapping::Mapping mapping_;
	MirrorSource source_;
	// child table '\0' parent uuid of the last array rewritten in this transaction: the transaction's next rows of
	// the same parent (a copy, a backfill-like insert of many elements) are already in it, since it was read after
	// the transaction committed
	std::string last_child_;
};

// ChangeRow returns image (a change's new or old row) as a mapping::Row (types from the change's relation).
mapping::Row ChangeRow(const Change &change, const std::vector<Column> &image);

} // namespace mosta::sidecar
