/*
 * ddl.hpp
 *     The SQL statements that create a backup's schema again in an empty PostgreSQL database, in pg_restore's
 *     order: pre-data (schemas, types, sequences, tables and their partitions, comments, sequence ownership)
 *     before the rows, post-data (sequence values, primary keys, unique constraints, indexes, then every foreign
 *     key) after them, so that the rows load into bare tables and each index is built once. The PostgreSQL
 *     destination (io/pg_destination) runs them; the SQL dump (io/sql_dump_destination) writes them, so a dump
 *     restores with psql exactly as mosta-copy restores it.
 *
 *     Every statement is complete and ends with ';'. Names from the model (TypeDef, SequenceDef, TableDef,
 *     PartitionDef: schema and name unquoted) are quoted here with QuoteIdentifier/QuoteQualifiedName, string
 *     literals with QuoteLiteral; what the model holds as SQL text (a column's type, default, collation,
 *     generated expression, check constraints, partition keys and bounds, post_data, foreign_keys) is written as
 *     it is, as PostgreSQL's catalog functions printed it.
 */
#pragma once

#include <string>
#include <vector>

#include "model/schema.hpp"

namespace mosta::copy {

// PreDataStatements returns, in order: CREATE SCHEMA IF NOT EXISTS for each schema the model uses; the enums,
// then the domains; CREATE SEQUENCE for each sequence that is not an identity column's (identity sequences are
// made by CREATE TABLE, with their name and options); for each table in the model's order (foreign-key order),
// CREATE TABLE (columns with type, COLLATE, DEFAULT / GENERATED ... STORED / GENERATED ... AS IDENTITY, NOT NULL;
// check constraints; PARTITION BY) then CREATE TABLE ... PARTITION OF for its partitions, parents first, and
// COMMENT ON TABLE; last, ALTER SEQUENCE ... OWNED BY for each owned sequence whose owner is in the model.
std::vector<std::string> PreDataStatements(const DatabaseSchema &schema);

// SequenceValueStatements returns one "SELECT pg_catalog.setval(...);" per sequence: by name, or through
// pg_get_serial_sequence(table, column) for an identity column's sequence (whatever its name in the target).
// This is also what a data-only restore runs (as pg_restore --data-only sets sequences).
std::vector<std::string> SequenceValueStatements(const DatabaseSchema &schema);

// PostDataStatements returns SequenceValueStatements, then each table's post_data (primary keys, unique
// constraints, indexes) in table order, then every table's foreign_keys.
std::vector<std::string> PostDataStatements(const DatabaseSchema &schema);

// CopyFromStatement returns "COPY s.t (copied columns) FROM STDIN;" (TableDef::CopiedColumns: never the generated
// columns; no column list for a table without copied columns).
std::string CopyFromStatement(const TableDef &table);

// CreateTableStatement returns the CREATE TABLE of table alone (no partitions, comment or ownership); identity
// columns take their sequence's name and options from schema when it holds it.
std::string CreateTableStatement(const TableDef &table, const DatabaseSchema &schema);

} // namespace mosta::copy
