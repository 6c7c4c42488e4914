/*
 * apply.hpp
 *     Applier: writes mapped documents (mapping/transform.hpp) into their PostgreSQL tables inside the caller's
 *     transaction, the one write path of backfill and of the change-stream catch-up (docs/migration.md).
 *
 *     Upsert: the batch is COPYed into a temporary staging table, the documents' own uuids are allocated through
 *     mosta_map_ids (under the collection's id policy), references are resolved by joining mosta.id_map, and one
 *     INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE (row) IS DISTINCT FROM (new row) writes the table (applying a
 *     document twice changes nothing, not even a tuple); child tables are upserted by (parent, position) and
 *     elements beyond the new array's length deleted. A document whose reference names a parent id_map does not
 *     know is not applied: it is recorded in mosta_migration.problems (kind 'missing_parent', per key, with the
 *     field and the parent's collection and legacy id) and retried later (RetryProblems). A document the transform
 *     rejected, or that PostgreSQL refuses (a CHECK, a unique index), is recorded as kind 'rejected' with the
 *     SQLSTATE and message: the batch is retried without it (savepoints), never aborted as a whole. A document
 *     applied successfully clears its problems.
 *
 *     Delete: removes the rows of the legacy ids (child rows go with them: ON DELETE CASCADE); a delete PostgreSQL
 *     refuses (another table still references the row) is a 'rejected' problem too.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mapping/mapping.hpp"
#include "mapping/transform.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

struct ApplyCounts {
	std::int64_t applied = 0;		 // documents written (inserted or changed)
	std::int64_t unchanged = 0;		 // documents already equal in PostgreSQL
	std::int64_t missing_parent = 0; // documents held back: a parent is not mapped yet
	std::int64_t rejected = 0;		 // documents the transform or PostgreSQL refused
	std::int64_t deleted = 0;		 // rows deleted

	ApplyCounts &operator+=(const ApplyCounts &other) noexcept;
};

class Applier {
  public:
	// Applier writes through session (the caller opens and commits the transaction) for the mapping's tables.
	Applier(sidecar::PgSession &session, const mapping::Mapping &mapping);
	~Applier();
	Applier(const Applier &) = delete;
	Applier &operator=(const Applier &) = delete;

	// Upsert applies docs (all of collection) as described above; throws sidecar::PgError only when the session
	// itself fails (the caller's transaction is then lost and must be retried whole).
	ApplyCounts Upsert(const mapping::CollectionMap &collection, const std::vector<mapping::MappedDocument> &docs);

	// Delete deletes the rows of legacy_ids in collection's table.
	ApplyCounts Delete(const mapping::CollectionMap &collection, const std::vector<std::string> &legacy_ids);

	// RememberWritten makes the Applier remember the documents it wrote (or found unchanged) once the caller says
	// their transaction committed (Committed), so that a later reference to one of them needs no lookup in
	// PostgreSQL (their uuids, for the collections some reference names): the backfill's, whose parents nobody
	// deletes meanwhile. (A parent deleted anyway is not held back but refused by its foreign key: a 'rejected'
	// problem.) Off by default: the catch-up applies deletes.
	void RememberWritten();
	// Committed: the transaction of the Upserts since the last call committed. Forget: it was rolled back.
	void Committed();
	void Forget() noexcept;

  private:
	struct Impl;
	Impl *impl_;
};

} // namespace mosta::migrate
