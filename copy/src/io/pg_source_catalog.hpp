/*
 * pg_source_catalog.hpp
 *     Reads a PostgreSQL database's catalog into the schema model (model/schema.hpp), as pg_dump reads what it
 *     dumps: every ordinary and partitioned table outside pg_catalog, information_schema, pg_toast* and the
 *     temporary schemas, except the tables an extension owns (pg_depend 'e': the mostajs catalog in schema mosta is
 *     left out); partitions under their top-most root; columns (domains resolved to their base type), keys,
 *     checks, constraints and indexes to create after the data, foreign keys; the enums and domains the columns
 *     use, in dependency order; the sequences and their values.
 *
 *     Runs on a connection whose transaction holds the snapshot, with search_path = '' so that every name the
 *     server prints (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef) is schema-qualified.
 */
#pragma once

#include <libpq-fe.h>

#include "model/schema.hpp"

namespace mosta::copy {

// ReadPgCatalog returns the schema model of the database conn is connected to (tables sorted in foreign-key
// order); also takes an ACCESS SHARE lock on every table (as pg_dump does) so that no DDL changes them while they
// are read. Throws CopyError, e.g. for a copied column of a composite or range type (not supported: pg_dump is
// the tool).
DatabaseSchema ReadPgCatalog(PGconn *conn);

} // namespace mosta::copy
