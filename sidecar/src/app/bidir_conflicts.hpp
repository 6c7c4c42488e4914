/*
 * bidir_conflicts.hpp
 *     The ConflictHandler of one side of a bidirectional rule (docs/bidirectional.md, "Conflicts"): it records each
 *     conflict a sink detects in the rule's source (mosta._record_conflict, which writes mosta.conflicts and
 *     counts it in mosta.rule_stats.conflicts once per conflict, a replayed transaction recording nothing twice),
 *     logs one line, and returns the rule's decision (DecideConflict).
 *
 *     It runs on the thread of the sink that calls it (a target's worker, or a reverse direction's thread), where
 *     blocking is allowed, over a plain libpq connection of its own to the source (autocommit, opened at the first
 *     conflict and again after a failure). Each sink gets its own handler: handlers share nothing.
 */
#pragma once

#include <string>

#include "bidir/conflict.hpp"

namespace mosta::sidecar {

// ConflictJson returns the conflict document mosta._record_conflict takes (every key present, null when unknown):
// {"kind":..,"incoming_side":..,"schema":..,"table":..,"key":{..},"local":{..}|null,"incoming":{..},
//  "local_time":..|null,"incoming_time":..|null,"incoming_lsn":"X/Y"|null,"change_index":N,"decision":..}.
std::string ConflictJson(const ConflictRecord &conflict, Resolution decision);

// MakeConflictHandler returns the handler of replica's side of rule: it records each conflict through source (the
// sidecar's --source conninfo, never logged) and returns DecideConflict(policy, conflict). A record that cannot
// be written throws PgError: the sink's Apply fails and is retried.
ConflictHandler MakeConflictHandler(std::string source, std::string rule, std::string replica, ConflictPolicy policy);

} // namespace mosta::sidecar
