/*-------------------------------------------------------------------------
 * change_log_writer.hpp
 *	  Appends one change document to mosta.change_log, the table trigger
 *	  capture writes to and consumers read with mosta_change_log_read()
 *	  (docs/capture.md).
 *
 * Regime: PG. May raise; holds no C++ object.
 *-------------------------------------------------------------------------
 */
#pragma once

extern "C" {
#include "postgres.h"
}

namespace mostajs {

/*
 * AppendChangeLogRow inserts (relid, document) into mosta.change_log as the
 * table's owner; document is a text varlena holding one JSON document (it is
 * stored as json without being parsed again). The caller must not be
 * connected to SPI.
 */
void AppendChangeLogRow(Oid relid, text *document);

} // namespace mostajs
