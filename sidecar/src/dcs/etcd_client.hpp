/*
 * etcd_client.hpp
 *     EtcdClient: the few etcd v3 calls the HA code needs (leases, linearizable reads, puts, compare-and-swap
 *     transactions), spoken to etcd's JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant, ...) over
 *     HTTP/1.1 with Boost.Beast. Keys and values are base64 on the wire and plain strings here; int64 fields are
 *     decimal strings on the wire and integers here. Every call is a coroutine bounded by a deadline per endpoint:
 *     an endpoint that refuses, times out, or answers "no leader"/"timed out" is skipped for the next one in the
 *     --dcs list, so one lost etcd member costs at most one request timeout; when every endpoint failed the call
 *     throws DcsUnavailable naming each endpoint and its error. No consensus is written here: etcd decides.
 *     C++ regime; reads with simdjson On-Demand.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "dcs/dcs_url.hpp"

namespace mosta::sidecar::dcs {

// DcsUnavailable: no endpoint of the DCS answered the call (each one's error in what()). Callers treat it as
// "cannot renew": the lease may still be alive in etcd, or not.
class DcsUnavailable : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// DcsError: etcd answered, and refused the request (a bad request, a lease not found where one is required);
// what() has etcd's message and the key or lease concerned.
class DcsError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// One key as etcd holds it.
struct KeyValue {
	std::string key; // the full key, prefix included
	std::string value;
	std::int64_t create_revision = 0;
	std::int64_t mod_revision = 0;
	std::int64_t version = 0;
	std::int64_t lease = 0; // 0: no lease
};

// A comparison of a transaction (always "EQUAL").
struct Compare {
	enum class Target { Value, CreateRevision, ModRevision, Lease };
	std::string key;
	Target target = Target::Value;
	std::string value;		 // Target::Value
	std::int64_t number = 0; // the revisions, Target::Lease
};

// An operation of a transaction.
struct Operation {
	enum class Kind { Put, Delete };
	Kind kind = Kind::Put;
	std::string key;
	std::string value;		// Put
	std::int64_t lease = 0; // Put: 0 for none
};

// What a lease keep-alive found.
struct LeaseState {
	bool alive = false;			  // false: the lease is gone (expired or revoked): the keys attached to it are gone too
	std::int64_t ttl_seconds = 0; // the TTL it was renewed to (alive)
};

// EtcdClient talks to the endpoints of one DcsUrl. Not thread-safe: use it from one strand (the agent's and the
// daemon's single io_context thread). The endpoint that last answered is tried first.
// Calls of several coroutines of that strand may overlap: one that finds an endpoint's kept connection in use
// opens its own for that request. A call costs at most request_timeout per endpoint (a refused connection
// costs nothing), so at most endpoints x request_timeout in all before DcsUnavailable.
class EtcdClient {
  public:
	EtcdClient(boost::asio::any_io_executor executor, DcsUrl url,
			   std::chrono::milliseconds request_timeout = std::chrono::milliseconds(1'000));
	~EtcdClient();
	EtcdClient(const EtcdClient &) = delete;
	EtcdClient &operator=(const EtcdClient &) = delete;

	// Key returns url.prefix + "/" + relative (relative without a leading slash), the key every caller uses.
	std::string Key(const std::string &relative) const;

	// GrantLease asks for a lease of ttl (whole seconds, at least 1) and returns its ID and the TTL etcd granted
	// (etcd may raise a TTL below its minimum).
	boost::asio::awaitable<std::pair<std::int64_t, std::int64_t>> GrantLease(std::chrono::seconds ttl);

	// KeepAlive renews lease once; alive false when etcd no longer has it.
	boost::asio::awaitable<LeaseState> KeepAlive(std::int64_t lease);

	// TimeToLive returns the seconds lease has left (etcd's view), nullopt when it is gone (dcs-status).
	boost::asio::awaitable<std::optional<std::int64_t>> TimeToLive(std::int64_t lease);

	// Revoke ends lease and deletes its keys at once (a clean stop hands over without waiting for the TTL); a lease
	// already gone is not an error.
	boost::asio::awaitable<void> Revoke(std::int64_t lease);

	// Get reads one key (linearizable); nullopt when absent.
	boost::asio::awaitable<std::optional<KeyValue>> Get(const std::string &key);

	// GetPrefix reads every key starting with prefix (linearizable), sorted by key.
	boost::asio::awaitable<std::vector<KeyValue>> GetPrefix(const std::string &prefix);

	// Put writes key (attached to lease unless 0).
	boost::asio::awaitable<void> Put(const std::string &key, const std::string &value, std::int64_t lease = 0);

	// Delete removes key (absent is not an error).
	boost::asio::awaitable<void> Delete(const std::string &key);

	// Txn runs "if every compare holds then success else failure" atomically; true when the compares held.
	boost::asio::awaitable<bool> Txn(const std::vector<Compare> &compares, const std::vector<Operation> &success,
									 const std::vector<Operation> &failure = {});

	// Create puts key only if it does not exist (create_revision 0); true when this call created it.
	boost::asio::awaitable<bool> Create(const std::string &key, const std::string &value, std::int64_t lease);

	// CompareAndPut puts key (with lease) only if its value is expected; true when it did.
	boost::asio::awaitable<bool> CompareAndPut(const std::string &key, const std::string &expected,
											   const std::string &value, std::int64_t lease);

	// CompareAndDelete deletes key only if its value is expected; true when it did.
	boost::asio::awaitable<bool> CompareAndDelete(const std::string &key, const std::string &expected);

	// Endpoint returns "host:port" of the endpoint that answered last ("" before the first answer).
	std::string Endpoint() const;

	// The URL the client was made with.
	const DcsUrl &Url() const;

  private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace mosta::sidecar::dcs
