/*
 * open_sink.hpp
 *     OpenSink: the sink of one target replica, by dialect (the sinks of sink/), with the group sizes the daemon uses.
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/catalog.hpp"
#include "sink/sink.hpp"

namespace mosta::sidecar {

// OpenSink opens the sink of one sqlite, sqldump, jsonl, mongodb or postgres replica (slot: the checkpoint key,
// SlotName, which is also a postgres target's replication origin, ForwardOriginName;
// data_dir: where file targets live, app/target_path.hpp; collections: the rule's, which tables a mostajs.ddl CREATE
// TABLE is applied to; source: the source's conninfo, which a mongodb sink reads mosta.id_map through); throws on
// failure.
//
// plan, when given, is the rule the sink serves: for a side of a bidirectional rule (or a SQLite target whose file
// is promoted, SqliteTargetIsPromoted) the sink detects conflicts, records them through source and decides by the
// rule's conflict_resolution (app/bidir_conflicts.hpp); a SQLite side also captures what others write there.
std::unique_ptr<Sink> OpenSink(const ReplicaInfo &replica, const std::string &slot, const std::string &data_dir,
							   const std::vector<std::string> &collections = {}, const std::string &source = {},
							   const RulePlan *plan = nullptr);

} // namespace mosta::sidecar
