/*
 * verify_pg.hpp
 *     verify's reader of a PostgreSQL target (sink/pg_sink.hpp): the target's rows of a collection, each value read
 *     as PostgreSQL text under the sink's session settings and turned into the canonical text of
 *     docs/verification.md by the source column's type (sink/pg_value_text.hpp's PgText → Canonical: booleans,
 *     dates and timestamps, arrays; every other type reads alike), hashed as the SQLite reader does.
 */
#pragma once

#include <set>
#include <string>

#include "app/verify_read.hpp"
#include "sink/pg_session.hpp"

namespace mosta::sidecar {

// ReadPgTarget computes the canonical checksum (and per-key row hashes) of source's table in the target session
// holds, keeping the canonical values of the rows whose key is in wanted; a missing table reads as not existing.
// Throws PgError when the target cannot be read.
VerifyTargetRows ReadPgTarget(PgSession &session, const SourceTable &source, const std::set<std::string> &wanted = {});

} // namespace mosta::sidecar
