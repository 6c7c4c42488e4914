/*
 * etcd_wire.cpp
 *     The gateway's JSON (see etcd_wire.hpp).
 */
#include "dcs/etcd_wire.hpp"

#include <array>
#include <charconv>

#include "mosta/common/canonical_row.hpp"
#include "util/json_text.hpp"

namespace mosta::sidecar::dcs::wire {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Excerpt returns the start of a body for an error message.
std::string
Excerpt(std::string_view body) {
	constexpr std::size_t kMax = 200;
	return body.size() <= kMax ? std::string(body) : std::string(body.substr(0, kMax)) + "...";
}

// Parsed runs read over body's root object, turning a JSON error into a DcsError naming the body.
template <typename Read>
auto
Parsed(std::string_view body, Read read) {
	try {
		JsonParse parse(body);
		ondemand::object root = parse.Document().get_object().value();
		return read(root);
	} catch (const simdjson::simdjson_error &error) {
		throw DcsError("etcd's answer is not the JSON expected (" + JsonErrorText(error) + "): " + Excerpt(body));
	}
}

// Int64 reads an int64 the gateway writes as a decimal string (or, leniently, as a number).
std::int64_t
Int64(ondemand::value value) {
	if (value.type().value() != ondemand::json_type::string)
		return value.get_int64().value();
	std::string_view text = value.get_string().value();
	std::int64_t number = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
	if (error != std::errc() || end != text.data() + text.size())
		throw DcsError("etcd sent \"" + std::string(text) + "\" where an integer was expected");
	return number;
}

KeyValue
ReadKeyValue(ondemand::object object) {
	KeyValue kv;
	for (auto field : object) {
		std::string_view name = field.unescaped_key().value();
		if (name == "key")
			kv.key = Base64Decode(field.value().get_string().value());
		else if (name == "value")
			kv.value = Base64Decode(field.value().get_string().value());
		else if (name == "create_revision")
			kv.create_revision = Int64(field.value());
		else if (name == "mod_revision")
			kv.mod_revision = Int64(field.value());
		else if (name == "version")
			kv.version = Int64(field.value());
		else if (name == "lease")
			kv.lease = Int64(field.value());
	}
	return kv;
}

void
AppendField(std::string &out, std::string_view name, std::string_view text, bool quoted = true) {
	if (out.back() != '{')
		out += ',';
	out += '"';
	out += name;
	out += "\":";
	if (quoted)
		AppendJsonQuoted(out, text);
	else
		out += text;
}

void
AppendBytes(std::string &out, std::string_view name, std::string_view bytes) {
	AppendField(out, name, Base64Encode(bytes));
}

void
AppendInt64(std::string &out, std::string_view name, std::int64_t number) {
	AppendField(out, name, std::to_string(number));
}

std::string
CompareJson(const Compare &compare) {
	std::string out = "{";
	AppendBytes(out, "key", compare.key);
	AppendField(out, "result", "EQUAL");
	switch (compare.target) {
	case Compare::Target::Value:
		AppendField(out, "target", "VALUE");
		AppendBytes(out, "value", compare.value);
		break;
	case Compare::Target::CreateRevision:
		AppendField(out, "target", "CREATE");
		AppendInt64(out, "create_revision", compare.number);
		break;
	case Compare::Target::ModRevision:
		AppendField(out, "target", "MOD");
		AppendInt64(out, "mod_revision", compare.number);
		break;
	case Compare::Target::Lease:
		AppendField(out, "target", "LEASE");
		AppendInt64(out, "lease", compare.number);
		break;
	}
	return out + "}";
}

std::string
OperationJson(const Operation &operation) {
	if (operation.kind == Operation::Kind::Delete)
		return "{\"request_delete_range\":" + DeleteRangeRequest(operation.key) + "}";
	return "{\"request_put\":" + PutRequest(operation.key, operation.value, operation.lease) + "}";
}

template <typename T, typename Each>
std::string
JsonArray(const std::vector<T> &items, Each each) {
	std::string out = "[";
	for (const T &item : items) {
		if (out.size() > 1)
			out += ',';
		out += each(item);
	}
	return out + "]";
}

} // namespace

std::string
Base64Encode(std::string_view data) {
	std::string out;
	out.reserve((data.size() + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 2 < data.size(); i += 3) {
		unsigned n = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
					 static_cast<unsigned char>(data[i + 2]);
		out += kAlphabet[(n >> 18) & 63];
		out += kAlphabet[(n >> 12) & 63];
		out += kAlphabet[(n >> 6) & 63];
		out += kAlphabet[n & 63];
	}
	if (i < data.size()) {
		unsigned n = static_cast<unsigned char>(data[i]) << 16;
		if (i + 1 < data.size())
			n |= static_cast<unsigned char>(data[i + 1]) << 8;
		out += kAlphabet[(n >> 18) & 63];
		out += kAlphabet[(n >> 12) & 63];
		out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
		out += '=';
	}
	return out;
}

std::string
Base64Decode(std::string_view text) {
	while (!text.empty() && text.back() == '=')
		text.remove_suffix(1);
	std::string out;
	out.reserve(text.size() * 3 / 4);
	unsigned bits = 0;
	int count = 0;
	for (char c : text) {
		std::size_t index = kAlphabet.find(c);
		if (index == std::string_view::npos)
			throw DcsError("etcd sent \"" + Excerpt(text) + "\" where base64 was expected");
		bits = (bits << 6) | static_cast<unsigned>(index);
		count += 6;
		if (count >= 8) {
			count -= 8;
			out += static_cast<char>((bits >> count) & 0xff);
		}
	}
	if (count >= 6) // one character left over: not base64
		throw DcsError("etcd sent \"" + Excerpt(text) + "\" where base64 was expected");
	return out;
}

std::string
PrefixEnd(std::string_view prefix) {
	std::string end(prefix);
	while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff)
		end.pop_back();
	if (end.empty())
		return std::string(1, '\0');
	end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
	return end;
}

std::string
RangeRequest(std::string_view key, std::string_view range_end) {
	std::string out = "{";
	AppendBytes(out, "key", key);
	if (!range_end.empty())
		AppendBytes(out, "range_end", range_end);
	return out + "}";
}

std::string
PutRequest(std::string_view key, std::string_view value, std::int64_t lease) {
	std::string out = "{";
	AppendBytes(out, "key", key);
	AppendBytes(out, "value", value);
	if (lease != 0)
		AppendInt64(out, "lease", lease);
	return out + "}";
}

std::string
DeleteRangeRequest(std::string_view key) {
	std::string out = "{";
	AppendBytes(out, "key", key);
	return out + "}";
}

std::string
TxnRequest(const std::vector<Compare> &compares, const std::vector<Operation> &success,
		   const std::vector<Operation> &failure) {
	std::string out = "{";
	AppendField(out, "compare", JsonArray(compares, CompareJson), false);
	AppendField(out, "success", JsonArray(success, OperationJson), false);
	AppendField(out, "failure", JsonArray(failure, OperationJson), false);
	return out + "}";
}

std::string
LeaseGrantRequest(std::int64_t ttl_seconds) {
	std::string out = "{";
	AppendInt64(out, "TTL", ttl_seconds);
	return out + "}";
}

std::string
LeaseIdRequest(std::int64_t lease) {
	std::string out = "{";
	AppendInt64(out, "ID", lease);
	return out + "}";
}

std::optional<ErrorReply>
ParseError(std::string_view body) {
	return Parsed(body, [](ondemand::object &root) -> std::optional<ErrorReply> {
		std::optional<ErrorReply> reply;
		std::string error_text;
		for (auto field : root) {
			std::string_view name = field.unescaped_key().value();
			if (name == "error") {
				reply.emplace();
				ondemand::value error = field.value();
				if (error.type().value() == ondemand::json_type::object) {
					for (auto inner : error.get_object().value()) {
						std::string_view inner_name = inner.unescaped_key().value();
						if (inner_name == "grpc_code")
							reply->code = static_cast<int>(Int64(inner.value()));
						else if (inner_name == "message")
							reply->message = std::string(inner.value().get_string().value());
					}
				} else if (error.type().value() == ondemand::json_type::string) {
					error_text = std::string(error.get_string().value());
				}
			} else if (name == "message") {
				if (!reply)
					reply.emplace();
				reply->message = std::string(field.value().get_string().value());
			} else if (name == "code") {
				if (!reply)
					reply.emplace();
				reply->code = static_cast<int>(Int64(field.value()));
			}
		}
		if (reply && reply->message.empty())
			reply->message = error_text.empty() ? "(no message)" : error_text;
		return reply;
	});
}

bool
Retryable(unsigned http_status, const std::optional<ErrorReply> &error) {
	if (http_status >= 500)
		return true;
	if (!error)
		return false;
	constexpr int kDeadlineExceeded = 4;
	constexpr int kUnavailable = 14;
	constexpr std::array<std::string_view, 3> kTransient = {"etcdserver: no leader", "etcdserver: request timed out",
															"etcdserver: leader changed"};
	if (error->code == kDeadlineExceeded || error->code == kUnavailable)
		return true;
	for (std::string_view text : kTransient)
		if (error->message.find(text) != std::string::npos)
			return true;
	return false;
}

std::vector<KeyValue>
ParseRange(std::string_view body) {
	return Parsed(body, [](ondemand::object &root) {
		std::vector<KeyValue> kvs;
		for (auto field : root) {
			if (field.unescaped_key().value() != "kvs")
				continue;
			for (auto element : field.value().get_array().value())
				kvs.push_back(ReadKeyValue(element.value().get_object().value()));
		}
		return kvs;
	});
}

bool
ParseTxn(std::string_view body) {
	return Parsed(body, [](ondemand::object &root) {
		bool succeeded = false;
		for (auto field : root)
			if (field.unescaped_key().value() == "succeeded")
				succeeded = field.value().get_bool().value();
		return succeeded;
	});
}

std::pair<std::int64_t, std::int64_t>
ParseLeaseGrant(std::string_view body) {
	auto granted = Parsed(body, [](ondemand::object &root) {
		std::pair<std::int64_t, std::int64_t> id_ttl{0, 0};
		for (auto field : root) {
			std::string_view name = field.unescaped_key().value();
			if (name == "ID")
				id_ttl.first = Int64(field.value());
			else if (name == "TTL")
				id_ttl.second = Int64(field.value());
		}
		return id_ttl;
	});
	if (granted.first == 0)
		throw DcsError("etcd granted no lease ID: " + Excerpt(body));
	return granted;
}

LeaseState
ParseKeepAlive(std::string_view body) {
	return Parsed(body, [&body](ondemand::object &root) {
		LeaseState state;
		bool result = false;
		for (auto field : root) {
			if (field.unescaped_key().value() != "result")
				continue;
			result = true;
			for (auto inner : field.value().get_object().value())
				if (inner.unescaped_key().value() == "TTL")
					state.ttl_seconds = Int64(inner.value());
		}
		if (!result)
			throw DcsError("etcd's keep-alive answer has no result: " + Excerpt(body));
		state.alive = state.ttl_seconds > 0;
		return state;
	});
}

std::optional<std::int64_t>
ParseTimeToLive(std::string_view body) {
	return Parsed(body, [](ondemand::object &root) -> std::optional<std::int64_t> {
		std::int64_t ttl = 0;
		for (auto field : root)
			if (field.unescaped_key().value() == "TTL")
				ttl = Int64(field.value());
		if (ttl < 0)
			return std::nullopt;
		return ttl;
	});
}

} // namespace mosta::sidecar::dcs::wire
