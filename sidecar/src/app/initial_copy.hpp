/*
 * initial_copy.hpp
 *     What the initial copy (CopyInSnapshot, app/rule_copy.hpp) reads, apart from the loop itself: which tables
 *     it copies, each table's shape announcement and its rows, all in the slot's exported snapshot
 *     (docs/sidecar.md, "The initial copy").
 *
 *     Shapes. Before a table's rows, the copy applies the mostajs.ddl message document announcing the table as its
 *     CREATE TABLE did (mosta.snapshot_ddl_document: the same document the event trigger writes), so every target
 *     follows it on the path it already has for a table created while streaming: SQLite and the SQL dump create
 *     the table, rows or none; the JSON archive records the document.
 *
 *     Partitioned tables are copied and streamed under their top-most root (the plugin's partition-root, as
 *     pgoutput's publish_via_partition_root): a '*' rule copies each root once, not its partitions, and a rule
 *     naming a partition is refused (its changes arrive under the root's name, which the rule does not cover).
 */
#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar {

// CopiedTables lists the tables plan's copy reads, in the open snapshot: kTablesOfStarSql for '*', else the rule's
// collections; throws naming the partition and its root when the rule names a partition.
boost::asio::awaitable<std::vector<std::string>> CopiedTables(PgConnection &sql, const RulePlan &plan);

// ShapeDocument returns the mostajs.ddl message document announcing table's shape (mosta.snapshot_ddl_document).
boost::asio::awaitable<std::string> ShapeDocument(PgConnection &sql, const std::string &table);

// CopyCursorSql returns the DECLARE of the cursor mosta_copy over table's rows as insert documents, partitions
// under their root.
std::string CopyCursorSql(PgConnection &sql, const std::string &table);

} // namespace mosta::sidecar
