/*
 * verify.hpp
 *     mosta-sidecar verify RULE: compares each collection of a rule with its SQLite, PostgreSQL and MongoDB targets
 *     by the canonical checksum of docs/verification.md (mosta_checksum on the source, the same encoding computed
 *     here from the SQLite tables, from a PostgreSQL target's rows by app/verify_pg.hpp, or from the documents by
 *     app/verify_mongo.hpp), prints one line per collection and, for a
 *     mismatch, the first differing keys.
 */
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "app/config.hpp"

namespace mosta::sidecar {

// kVerifyShownKeys is how many differing keys verify lists per collection.
inline constexpr int kVerifyShownKeys = 10;

// RunVerify runs the verify subcommand on context and returns the exit status: 0 when every collection of every
// SQLite and MongoDB target matches, 1 on a mismatch (or a target that cannot be read), 2 for an unknown rule.
int RunVerify(boost::asio::io_context &context, const Config &config);

} // namespace mosta::sidecar
