/*
 * etcd_wire.hpp
 *     The JSON of etcd 3.4's gRPC gateway, both ways, with no I/O (EtcdClient sends and reads it; the unit tests
 *     check it): request bodies for /v3/kv/range, put, deleterange, txn and /v3/lease/grant, keepalive, revoke,
 *     timetolive; the answers read back with simdjson On-Demand. On the wire keys and values are base64, int64
 *     fields decimal strings, and proto3 omits every field at its default (no "value" for "", no "succeeded" for
 *     false, no "TTL" for 0), so an absent field reads as its default here.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dcs/etcd_client.hpp"

namespace mosta::sidecar::dcs::wire {

// Base64Encode returns data in standard base64 with padding (what the gateway takes for bytes fields).
std::string Base64Encode(std::string_view data);

// Base64Decode reads standard base64 (padding optional); throws DcsError on any other character.
std::string Base64Decode(std::string_view text);

// PrefixEnd returns the range_end that selects every key starting with prefix: prefix with its last byte below
// 0xff incremented (trailing 0xff bytes dropped); "\0" (every key from prefix on) when there is none.
std::string PrefixEnd(std::string_view prefix);

// The request bodies.
std::string RangeRequest(std::string_view key, std::string_view range_end = {});
std::string PutRequest(std::string_view key, std::string_view value, std::int64_t lease);
std::string DeleteRangeRequest(std::string_view key);
std::string TxnRequest(const std::vector<Compare> &compares, const std::vector<Operation> &success,
					   const std::vector<Operation> &failure);
std::string LeaseGrantRequest(std::int64_t ttl_seconds);
std::string LeaseIdRequest(std::int64_t lease); // keepalive, revoke, timetolive

// An error as the gateway writes it: {"error": "text", "message": "text", "code": N} for unary calls,
// {"error": {"grpc_code": N, "message": "text", ...}} for the streaming keep-alive.
struct ErrorReply {
	int code = 0; // the gRPC status code (14 Unavailable, 4 DeadlineExceeded, 5 NotFound, 3 InvalidArgument)
	std::string message;
};

// ParseError returns the error body holds, nullopt when it is an answer; throws DcsError when body is not JSON.
std::optional<ErrorReply> ParseError(std::string_view body);

// Retryable tells whether an error means "this member cannot serve now, ask another": an HTTP 5xx status, gRPC
// Unavailable or DeadlineExceeded, or etcd's "no leader" / "request timed out" / "leader changed".
bool Retryable(unsigned http_status, const std::optional<ErrorReply> &error);

// The answers (throw DcsError on a malformed body).
std::vector<KeyValue> ParseRange(std::string_view body);
bool ParseTxn(std::string_view body);										  // "succeeded"
std::pair<std::int64_t, std::int64_t> ParseLeaseGrant(std::string_view body); // ID, TTL
LeaseState ParseKeepAlive(std::string_view body); // {"result": {"ID", "TTL"}}: no TTL (or <= 0) → gone
std::optional<std::int64_t> ParseTimeToLive(std::string_view body); // remaining seconds; nullopt: gone (TTL -1)

} // namespace mosta::sidecar::dcs::wire
