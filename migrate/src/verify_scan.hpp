/*
 * verify_scan.hpp
 *     ScanCollection: reads every document of a collection once (find({}), batches of kScanBatch) and hands each
 *     one, transformed, to a callback; verify's passes and nothing else. Progress goes to stderr every few seconds.
 */
#pragma once

#include <functional>
#include <string>

#include "mapping/transform.hpp"
#include "mongo_source.hpp"

namespace mosta::migrate {

// ScanCollection calls each for every document of collection (transformed: its problems, if any, are in the
// document), and untransformable with the relaxed JSON of the _id of a document the transform refuses (no usable
// _id). Stops with StopRequested (throws std::runtime_error "interrupted"); throws MongoSourceError.
void ScanCollection(MongoSource &source, const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
					const std::function<void(const mapping::MappedDocument &)> &each,
					const std::function<void(const std::string &)> &untransformable);

} // namespace mosta::migrate
