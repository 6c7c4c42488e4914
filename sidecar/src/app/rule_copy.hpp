/*
 * rule_copy.hpp
 *     CopyInSnapshot: the initial copy of a rule, read ONCE in an exported snapshot (mosta.snapshot_documents
 *     through app/initial_copy.hpp) and applied to every target that needs it (docs/sidecar.md, "The initial
 *     copy"). Each target gets all rows in ONE sink transaction committed at the snapshot's consistent point, so
 *     its DurableLsn() is then that point and streaming takes over there with no gap and no duplicate.
 *
 *     The snapshot is the rule slot's (created with EXPORT_SNAPSHOT when the rule starts without a slot) or a
 *     temporary slot's (a target copied alone while the rule's slot stays: rule_runner.hpp).
 */
#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "app/target_channel.hpp"
#include "decode/change.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar {

// One target of a copy: with truncate, the copy first empties every copied table in the target (a re-snapshot,
// or a target that may hold rows of an interrupted copy).
struct CopyTarget {
	TargetChannel *channel = nullptr;
	bool truncate = false;
};

// TruncateDocument returns the truncate document of tables, as the plugin would write it (protocol section 11), or
// "" when none of them exists.
boost::asio::awaitable<std::string> TruncateDocument(PgConnection &sql, const std::vector<std::string> &tables);

// CopyTable copies one table's shape and rows (cursor mosta_copy, in the open snapshot) to the targets still
// working (a failing one is left failed); returns the row count.
boost::asio::awaitable<long long> CopyTable(PgConnection &sql, const std::string &table,
											const std::vector<CopyTarget> &targets, DecoderOptions options);

// CopyInSnapshot copies plan's tables, read in snapshot_name on sql (which it leaves outside a transaction), to
// every target, committed at consistent_point and flushed; the documents are decoded once, with options. A target whose
// sink fails is left failed (TargetChannel::Failed) while the others go on; a failure to read throws (sql may then be
// in a transaction).
boost::asio::awaitable<void> CopyInSnapshot(PgConnection &sql, const RulePlan &plan, const std::string &snapshot_name,
											Lsn consistent_point, const std::vector<CopyTarget> &targets,
											DecoderOptions options);

} // namespace mosta::sidecar
