/*
 * ttl.hpp
 *     The TTL pass (docs/sidecar.md, "TTL"): at each catalog poll, the supervisor deletes the expired rows of every
 *     table of mosta.ttl (mosta_add_ttl) with mosta_ttl_expire(), in batches of --ttl-batch rows, each batch its own
 *     transaction. The deletes are ordinary ones: capture triggers, slots and every rule's targets see them.
 */
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "pg/connection.hpp"

namespace mosta::sidecar {

// At most this many batches per table and pass: a large backlog is spread over several polls, so that the catalog
// connection is back to its other work (reconciling, status, heartbeats) within a bounded time.
constexpr int kTtlBatchesPerPass = 10;

// TtlExpireSql returns the statement that deletes one batch of at most batch expired rows of table relid.
std::string TtlExpireSql(unsigned relid, int batch);

// RunTtlPass deletes expired rows of every TTL table, at most kTtlBatchesPerPass batches of batch rows each, and
// logs one line per table that lost rows. A table whose batch fails (its key dropped, a missing privilege, a row
// locked too long) is logged and left to the next pass; a lost connection throws.
boost::asio::awaitable<void> RunTtlPass(PgConnection &conn, int batch);

} // namespace mosta::sidecar
