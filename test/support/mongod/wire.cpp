// wire.cpp
//     OP_MSG / OP_QUERY decoding and OP_MSG / OP_REPLY encoding (see wire.hpp).
#include "wire.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mosta::testmongod {

static_assert(std::endian::native == std::endian::little, "the wire protocol is little-endian");

namespace {

template <typename T>
T
Read(const uint8_t *data, size_t length, size_t &position) {
	if (position + sizeof(T) > length)
		throw std::runtime_error("truncated message");
	T value;
	std::memcpy(&value, data + position, sizeof value);
	position += sizeof value;
	return value;
}

template <typename T>
void
Write(std::vector<uint8_t> &out, T value) {
	const auto *bytes = reinterpret_cast<const uint8_t *>(&value);
	out.insert(out.end(), bytes, bytes + sizeof value);
}

std::string
ReadCString(const uint8_t *data, size_t length, size_t &position) {
	const void *end = std::memchr(data + position, 0, length - position);
	if (!end)
		throw std::runtime_error("unterminated C string");
	std::string value(reinterpret_cast<const char *>(data + position));
	position = static_cast<const uint8_t *>(end) - data + 1;
	return value;
}

// One BSON document at position: its bytes, bounds-checked.
std::pair<const uint8_t *, uint32_t>
ReadDocument(const uint8_t *data, size_t length, size_t &position) {
	size_t start = position;
	int32_t size = Read<int32_t>(data, length, position);
	if (size < 5 || start + static_cast<size_t>(size) > length || data[start + size - 1] != 0)
		throw std::runtime_error("malformed BSON document in message");
	position = start + static_cast<size_t>(size);
	return {data + start, static_cast<uint32_t>(size)};
}

std::vector<uint8_t>
Frame(int32_t reply_id, int32_t response_to, int32_t op_code, std::vector<uint8_t> payload) {
	std::vector<uint8_t> out;
	out.reserve(kHeaderSize + payload.size());
	Write<int32_t>(out, static_cast<int32_t>(kHeaderSize + payload.size()));
	Write<int32_t>(out, reply_id);
	Write<int32_t>(out, response_to);
	Write<int32_t>(out, op_code);
	out.insert(out.end(), payload.begin(), payload.end());
	return out;
}

void
AppendBson(std::vector<uint8_t> &out, const bson_t *doc) {
	const uint8_t *data = bson_get_data(doc);
	out.insert(out.end(), data, data + doc->len);
}

} // namespace

MessageHeader
ParseHeader(const uint8_t *bytes) {
	size_t position = 0;
	MessageHeader header{};
	header.length = Read<int32_t>(bytes, kHeaderSize, position);
	header.request_id = Read<int32_t>(bytes, kHeaderSize, position);
	header.response_to = Read<int32_t>(bytes, kHeaderSize, position);
	header.op_code = Read<int32_t>(bytes, kHeaderSize, position);
	return header;
}

std::vector<uint8_t>
HandleMessage(Store &store, const MessageHeader &header, const uint8_t *body, size_t length, CommandContext &context,
			  int32_t reply_id) {
	size_t position = 0;
	if (header.op_code == kOpMsg) {
		uint32_t flags = Read<uint32_t>(body, length, position);
		size_t end = length;
		if (flags & kChecksumPresent) {
			if (end < position + 4)
				throw std::runtime_error("OP_MSG too short for its checksum");
			end -= 4; // CRC-32C: not verified (TCP on loopback)
		}
		std::pair<const uint8_t *, uint32_t> command{nullptr, 0};
		std::vector<DocumentSequence> sequences;
		while (position < end) {
			uint8_t kind = Read<uint8_t>(body, end, position);
			if (kind == 0) {
				if (command.first)
					throw std::runtime_error("OP_MSG with two body sections");
				command = ReadDocument(body, end, position);
			} else if (kind == 1) {
				size_t start = position;
				int32_t size = Read<int32_t>(body, end, position);
				if (size < 5 || start + static_cast<size_t>(size) > end)
					throw std::runtime_error("malformed OP_MSG document sequence");
				size_t section_end = start + static_cast<size_t>(size);
				DocumentSequence sequence;
				sequence.identifier = ReadCString(body, section_end, position);
				while (position < section_end)
					sequence.documents.push_back(ReadDocument(body, section_end, position));
				sequences.push_back(std::move(sequence));
			} else {
				throw std::runtime_error("OP_MSG section kind " + std::to_string(kind) + " is unknown");
			}
		}
		if (!command.first)
			throw std::runtime_error("OP_MSG without a body section");
		StaticBson doc(command.first, command.second);
		BsonPtr reply = store.RunCommand("", doc.get(), sequences, context);
		if ((flags & kMoreToCome) || context.wait.count() > 0)
			return {};
		std::vector<uint8_t> payload;
		Write<uint32_t>(payload, 0);
		payload.push_back(0);
		AppendBson(payload, reply.get());
		return Frame(reply_id, header.request_id, kOpMsg, std::move(payload));
	}
	if (header.op_code == kOpQuery) {
		Read<int32_t>(body, length, position); // flags
		std::string ns = ReadCString(body, length, position);
		Read<int32_t>(body, length, position); // numberToSkip
		Read<int32_t>(body, length, position); // numberToReturn
		auto query = ReadDocument(body, length, position);
		StaticBson doc(query.first, query.second);
		BsonPtr reply;
		context.may_wait = false; // legacy commands (the first isMaster) never wait
		const std::string suffix = ".$cmd";
		if (ns.size() > suffix.size() && ns.compare(ns.size() - suffix.size(), suffix.size(), suffix) == 0) {
			std::string db = ns.substr(0, ns.size() - suffix.size());
			// Drivers wrap commands sent with a read preference as {$query: {...}, $readPreference: ...}.
			bson_iter_t it;
			if (bson_iter_init_find(&it, doc.get(), "$query") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
				StaticBson inner(&it);
				reply = store.RunCommand(db, inner.get(), {}, context);
			} else {
				reply = store.RunCommand(db, doc.get(), {}, context);
			}
		} else {
			reply = NewBson();
			BSON_APPEND_DOUBLE(reply.get(), "ok", 0.0);
			BSON_APPEND_UTF8(reply.get(), "errmsg", "OP_QUERY is supported only for commands (on <db>.$cmd)");
			BSON_APPEND_INT32(reply.get(), "code", 352);
			BSON_APPEND_UTF8(reply.get(), "codeName", "UnsupportedOpQueryCommand");
		}
		std::vector<uint8_t> payload;
		Write<int32_t>(payload, 0); // responseFlags
		Write<int64_t>(payload, 0); // cursorID
		Write<int32_t>(payload, 0); // startingFrom
		Write<int32_t>(payload, 1); // numberReturned
		AppendBson(payload, reply.get());
		return Frame(reply_id, header.request_id, kOpReply, std::move(payload));
	}
	throw std::runtime_error("opcode " + std::to_string(header.op_code) + " is not implemented");
}

} // namespace mosta::testmongod
