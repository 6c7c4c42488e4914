// wire.hpp
//     The MongoDB wire protocol as mosta-test-mongod speaks it, as a pure codec over byte buffers:
//     the 16-byte message header, OP_MSG (opcode 2013: a kind-0 body section, kind-1 document
//     sequences, flagBits checksumPresent and moreToCome) and the legacy OP_QUERY commands on
//     "<db>.$cmd" that drivers send for their first isMaster, answered with OP_REPLY.
#pragma once

#include "store.hpp"

#include <cstdint>
#include <vector>

namespace mosta::testmongod {

constexpr size_t kHeaderSize = 16;
constexpr int32_t kOpReply = 1;
constexpr int32_t kOpQuery = 2004;
constexpr int32_t kOpMsg = 2013;
constexpr uint32_t kChecksumPresent = 1u << 0;
constexpr uint32_t kMoreToCome = 1u << 1;
constexpr int32_t kMaxMessageBytes = 48'000'000;

struct MessageHeader {
	int32_t length;
	int32_t request_id;
	int32_t response_to;
	int32_t op_code;
};

MessageHeader ParseHeader(const uint8_t *bytes);

// Runs the message's command against store and returns the whole reply message, or nothing when
// the client asked for none (moreToCome) or when the command asks to wait (context.wait set: the
// connection runs the same message again later). Throws std::runtime_error on a malformed or
// unsupported message: the connection then closes, as a real server's would.
std::vector<uint8_t> HandleMessage(Store &store, const MessageHeader &header, const uint8_t *body, size_t length,
								   CommandContext &context, int32_t reply_id);

} // namespace mosta::testmongod
