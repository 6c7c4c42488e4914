/*
 * open.hpp
 *     The one place that turns an Endpoint into a Source or a Destination. Each Make* function lives in its
 *     kind's file (io/pg_source.cpp, io/sqlite_destination.cpp, ...).
 */
#pragma once

#include <memory>
#include <string>

#include "io/destination.hpp"
#include "io/endpoint.hpp"
#include "io/source.hpp"

namespace mosta::copy {

// OpenSource returns the source endpoint names (not opened yet: Source::Open); jobs is how many tables will be
// read at once. A MongoDB source needs the schema its documents were written from (a manifest's): schema.
std::unique_ptr<Source> OpenSource(const Endpoint &endpoint, int jobs, const DatabaseSchema *schema = nullptr);

// OpenDestination returns the destination endpoint names; nothing is written before Begin.
std::unique_ptr<Destination> OpenDestination(const Endpoint &endpoint, const DestinationOptions &options);

std::unique_ptr<Source> MakePgSource(const std::string &uri, int jobs);
std::unique_ptr<Source> MakeSqliteSource(const std::string &path);
std::unique_ptr<Source> MakeJsonSource(const std::string &path);
std::unique_ptr<Source> MakeSqlDumpSource(const std::string &path);
std::unique_ptr<Source> MakeMongoSource(const std::string &uri, const DatabaseSchema &schema);

std::unique_ptr<Destination> MakePgDestination(const std::string &uri, const DestinationOptions &options);
std::unique_ptr<Destination> MakeSqliteDestination(const std::string &path, const DestinationOptions &options);
std::unique_ptr<Destination> MakeJsonDestination(const std::string &path, const DestinationOptions &options);
std::unique_ptr<Destination> MakeSqlDumpDestination(const std::string &path, const DestinationOptions &options);
std::unique_ptr<Destination> MakeMongoDestination(const std::string &uri, const DestinationOptions &options);

} // namespace mosta::copy
