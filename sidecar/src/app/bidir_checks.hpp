/*
 * bidir_checks.hpp
 *     The start checks of a bidirectional rule on each of its PostgreSQL sides (docs/bidirectional.md,
 *     "Requirements"): conflicts are detected by value, which needs the full old image of every update and delete
 *     (REPLICA IDENTITY FULL on each table of the rule), and last-write-wins compares commit times, which needs
 *     track_commit_timestamp = on (without it a PostgreSQL row has no commit time, every comparison would be a
 *     tie won by the source: the policy would silently be source-wins, so the rule is refused instead).
 */
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar {

// CheckBidirectionalSide checks the PostgreSQL database conn is connected to, one side of plan (side: "the source"
// or "target P.X", for the messages); throws std::runtime_error naming the table or the setting and the fix. The
// rule's tables that do not exist there (yet) are not checked.
boost::asio::awaitable<void> CheckBidirectionalSide(PgConnection &conn, const RulePlan &plan, const std::string &side);

} // namespace mosta::sidecar
