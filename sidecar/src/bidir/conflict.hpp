/*
 * conflict.hpp
 *     Conflicts of bidirectional replication (docs/bidirectional.md): what a sink detects when a change from one
 *     side does not fit the row the other side holds, and the pure decision of a rule's policy.
 *
 *     Detection is by value, with full row images (the old image of an update or delete is the row as the
 *     writing side saw it before the change): an incoming change conflicts when
 *       insert_exists   an insert finds a row with its key that differs from the inserted row;
 *       update_differs  an update finds the row with a value other than its old image;
 *       update_missing  an update finds no row with its old key;
 *       delete_differs  a delete finds the row with a value other than its old image.
 *     A delete that finds no row is not a conflict (both sides want it gone), nor is a change whose result the
 *     row already holds. A sink that detects a conflict asks its ConflictHandler, which records the conflict and
 *     returns the Resolution; the sink then applies the incoming change (as an upsert, or a delete) or keeps the
 *     local row, or throws ConflictError (policy error: the rule stops and reports).
 */
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "pg/lsn.hpp"

namespace mosta::sidecar {

// The rule's conflictResolution.
enum class ConflictPolicy { SourceWins, TargetWins, LastWriteWins, Error };

// ParseConflictPolicy reads "source-wins", "target-wins", "last-write-wins" or "error"; nullopt otherwise.
std::optional<ConflictPolicy> ParseConflictPolicy(std::string_view text) noexcept;

// ConflictPolicyName returns the catalog's spelling of policy.
std::string_view ConflictPolicyName(ConflictPolicy policy) noexcept;

// The side of a bidirectional rule a change was written on: the rule's source project (its PostgreSQL master) or
// the target replica.
enum class Side { Source, Target };

// SideName returns "source" or "target".
std::string_view SideName(Side side) noexcept;

// What an incoming change found (see the file comment).
enum class ConflictKind { InsertExists, UpdateDiffers, UpdateMissing, DeleteDiffers };

// ConflictKindName returns "insert_exists", "update_differs", "update_missing" or "delete_differs".
std::string_view ConflictKindName(ConflictKind kind) noexcept;

// What to do with the incoming change.
enum class Resolution { ApplyIncoming, KeepLocal, Fail };

// ResolutionName returns "applied", "kept" or "error": the decision as mosta.conflicts records it.
std::string_view ResolutionName(Resolution resolution) noexcept;

// One detected conflict, as the sink saw it. Row images are JSON objects of column name to value in the change
// documents' encoding (docs/protocol.md section 8); the local row is "" when there is none (update_missing).
// Times are the commit timestamps as ISO 8601 text ("" when unknown): the incoming change's source commit time,
// and the local row's last commit time (PostgreSQL: pg_xact_commit_timestamp of its xmin, which needs
// track_commit_timestamp = on; SQLite: the time its capture trigger or the sidecar's apply recorded).
struct ConflictRecord {
	ConflictKind kind = ConflictKind::UpdateDiffers;
	Side incoming_side = Side::Source; // where the incoming change was written
	std::string schema;
	std::string table;
	std::string key_json;	   // the key columns of the row, a JSON object
	std::string local_json;	   // the row the applying side holds ("" when none)
	std::string incoming_json; // the incoming change's new row (an insert or update) or old row (a delete)
	std::string local_time;
	std::string incoming_time;
	Lsn incoming_commit_lsn = kInvalidLsn; // the incoming transaction's position on its side (SQLite: its seq)
	int change_index = 0;				   // the change's position in its transaction (0-based): with the LSN, a key
};

// DecideConflict is the policy's decision, the same on both sides so that they converge:
//   source-wins      the change written on the source is applied, the target's is not;
//   target-wins      the other way round;
//   last-write-wins  insert_exists and update_differs: the later commit time wins (compared as instants); a tie,
//                    or a time unknown on either side, goes to the source. update_missing and delete_differs (a
//                    delete against a concurrent update of the same row) go to the source: the side that deleted
//                    keeps no time for the row, and both sides must decide alike;
//   error            Fail.
Resolution DecideConflict(ConflictPolicy policy, const ConflictRecord &conflict);

// ConflictHandler records a conflict (mosta.conflicts, the rule's counters) and returns the decision. It may throw
// (the record could not be written): the sink's Apply fails and is retried as any failed Apply.
using ConflictHandler = std::function<Resolution(const ConflictRecord &conflict)>;

// ConflictError is what a sink throws for Resolution::Fail: the rule stops and reports what() (the table, the key
// and the kind).
class ConflictError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// DescribeConflict returns "conflict update_differs on public.t key {\"id\":1} (change from the target)".
std::string DescribeConflict(const ConflictRecord &conflict);

} // namespace mosta::sidecar
