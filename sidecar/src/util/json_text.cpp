/*
 * json_text.cpp
 *     simdjson On-Demand helpers (see json_text.hpp): the per-thread parser pool, exact value text, compact JSON.
 */
#include "util/json_text.hpp"

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "mosta/common/canonical_row.hpp" // JsonQuote: the escapes PostgreSQL and cJSON write

namespace mosta::sidecar {

namespace {

// Texts up to this size leave their parser's memory allocated for the next parse; a bigger one frees it.
constexpr std::size_t kKeptParseBytes = 1 << 20;

// A parser and the padded buffer it iterates.
struct ParseSlot {
	ondemand::parser parser;
	std::string buffer;
};

// The per-thread pool: slots[0, used) belong to live JsonParse objects (nested parses stack up).
struct ParsePool {
	std::vector<std::unique_ptr<ParseSlot>> slots;
	std::size_t used = 0;
};

ParsePool &
Pool() {
	thread_local ParsePool pool;
	return pool;
}

// IsJsonSpace tells whether c is JSON whitespace.
constexpr bool
IsJsonSpace(char c) noexcept {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

} // namespace

JsonParse::JsonParse(std::string_view text) {
	ParsePool &pool = Pool();
	if (pool.used == pool.slots.size())
		pool.slots.push_back(std::make_unique<ParseSlot>());
	slot_ = pool.used++;
	try {
		ParseSlot &slot = *pool.slots[slot_];
		slot.buffer.resize(text.size() + simdjson::SIMDJSON_PADDING);
		if (!text.empty())
			std::memcpy(slot.buffer.data(), text.data(), text.size());
		std::memset(slot.buffer.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
		padded_ = std::string_view(slot.buffer.data(), text.size());
		document_ = slot.parser.iterate(slot.buffer.data(), text.size(), slot.buffer.size()).value();
	} catch (...) {
		--pool.used;
		throw;
	}
}

JsonParse::~JsonParse() {
	ParsePool &pool = Pool();
	ParseSlot &slot = *pool.slots[slot_];
	if (slot.buffer.capacity() > kKeptParseBytes) {
		// a parser keeps index space of several times the largest text it read: do not hold that for good
		document_ = ondemand::document();
		slot.parser = ondemand::parser();
		std::string().swap(slot.buffer);
	}
	--pool.used;
}

void
JsonParse::ExpectEnd() {
	const char *location = nullptr;
	if (!document_.current_location().get(location))
		throw simdjson::simdjson_error(simdjson::TRAILING_CONTENT);
}

void
JsonParse::ExpectScalarEnd(std::string_view root_token) const {
	if (root_token.data() + root_token.size() != padded_.data() + padded_.size())
		throw simdjson::simdjson_error(simdjson::TRAILING_CONTENT);
}

std::string_view
TrimJsonSpace(std::string_view token) noexcept {
	while (!token.empty() && IsJsonSpace(token.back()))
		token.remove_suffix(1);
	return token;
}

std::string_view
RawJsonText(ondemand::value value) {
	switch (value.type().value()) {
	case ondemand::json_type::object:
		return TrimJsonSpace(value.get_object().value().raw_json().value());
	case ondemand::json_type::array:
		return TrimJsonSpace(value.get_array().value().raw_json().value());
	default:
		return TrimJsonSpace(value.raw_json_token());
	}
}

void
AppendCompactJson(ondemand::value value, std::string &out) {
	switch (value.type().value()) {
	case ondemand::json_type::object: {
		out += '{';
		bool first = true;
		// named: a range over value()'s result would refer into a destroyed temporary
		ondemand::object object_of_field = value.get_object().value();
		for (auto field : object_of_field) {
			if (!first)
				out += ',';
			first = false;
			out += JsonQuote(field.unescaped_key().value());
			out += ':';
			AppendCompactJson(field.value().value(), out);
		}
		out += '}';
		return;
	}
	case ondemand::json_type::array: {
		out += '[';
		bool first = true;
		// named: a range over value()'s result would refer into a destroyed temporary
		ondemand::array array_of_element = value.get_array().value();
		for (auto element : array_of_element) {
			if (!first)
				out += ',';
			first = false;
			AppendCompactJson(element.value(), out);
		}
		out += ']';
		return;
	}
	case ondemand::json_type::string:
		out += JsonQuote(value.get_string().value());
		return;
	case ondemand::json_type::number: {
		std::string_view token = TrimJsonSpace(value.raw_json_token());
		value.get_double().value(); // validates the number
		out += token;
		return;
	}
	case ondemand::json_type::boolean:
		out += value.get_bool().value() ? "true" : "false";
		return;
	case ondemand::json_type::null:
		if (!value.is_null())
			throw simdjson::simdjson_error(simdjson::N_ATOM_ERROR);
		out += "null";
		return;
	}
}

std::string
JsonErrorText(const simdjson::simdjson_error &error) {
	return error.what();
}

} // namespace mosta::sidecar
