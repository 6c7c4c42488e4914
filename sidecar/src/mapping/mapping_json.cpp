/*
 * mapping_json.cpp
 *     ReadJsonTree (mapping_json.hpp): simdjson On-Demand over a padded copy of the text; every token's offset in
 *     that copy is its offset in the file, turned into a line and a column (in characters, tabs count one).
 */
#include "mapping/mapping_json.hpp"

#include <algorithm>

#include <simdjson.h>

namespace mosta::mapping {

namespace {

namespace ondemand = simdjson::ondemand;

// The nesting a mapping needs is shallow; this bounds the recursion on hostile input.
constexpr int kMaxDepth = 64;

class TreeReader {
  public:
	TreeReader(std::string_view text, const std::string &file) : text_(text), file_(file) {
		line_starts_.push_back(0);
		for (std::size_t i = 0; i < text.size(); ++i)
			if (text[i] == '\n')
				line_starts_.push_back(i + 1);
	}

	JsonNode
	Read() {
		simdjson::padded_string padded(text_);
		base_ = padded.data();
		ondemand::parser parser;
		// simdjson refuses an object whose text does not end with '}' before reading any of it: say where instead
		std::size_t last = text_.find_last_not_of(" \t\r\n");
		if (last != std::string_view::npos && text_[FirstToken()] == '{' && text_[last] != '}')
			Fail(last, "the mapping must end with the '}' that closes it, not with '" + std::string(1, text_[last]) +
						   "'; remove what follows the mapping or complete it");
		try {
			ondemand::document document = parser.iterate(padded);
			JsonNode root;
			last_ = FirstToken();
			switch (document.type().value()) {
			case ondemand::json_type::object: {
				ondemand::object object = document.get_object().value();
				root = ReadObject(object, last_, 0);
				break;
			}
			case ondemand::json_type::array:
				Fail(last_,
					 "the mapping must be a JSON object ({\"name\": ..., \"collections\": [...]}), not an array");
			default:
				Fail(last_, "the mapping must be a JSON object ({\"name\": ..., \"collections\": [...]})");
			}
			const char *end = nullptr;
			if (!document.current_location().get(end))
				Fail(static_cast<std::size_t>(end - base_), "text after the mapping's closing '}'; remove it");
			return root;
		} catch (const simdjson::simdjson_error &error) {
			Fail(last_, std::string("not valid JSON at or after this point (") + error.what() +
							"); check quotes, commas and brackets");
		}
	}

  private:
	std::size_t
	FirstToken() const {
		std::size_t i = 0;
		while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r'))
			++i;
		return i;
	}

	std::size_t
	Offset(const char *p) const {
		return static_cast<std::size_t>(p - base_);
	}

	SourceAt
	At(std::size_t offset) const {
		auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
		std::size_t line_start = *(next - 1);
		int column = 1;
		for (std::size_t i = line_start; i < offset && i < text_.size(); ++i)
			if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) // count characters, not UTF-8 bytes
				++column;
		return SourceAt{static_cast<int>(next - line_starts_.begin()), column};
	}

	[[noreturn]] void
	Fail(std::size_t offset, const std::string &message) const {
		throw MappingError(SourceText(file_, At(offset)) + ": " + message);
	}

	JsonNode
	ReadValue(ondemand::value value, int depth) {
		std::string_view token = value.raw_json_token();
		std::size_t offset = Offset(token.data());
		last_ = offset;
		JsonNode node;
		node.at = At(offset);
		switch (value.type().value()) {
		case ondemand::json_type::object: {
			ondemand::object object = value.get_object().value();
			return ReadObject(object, offset, depth + 1);
		}
		case ondemand::json_type::array: {
			if (depth + 1 > kMaxDepth)
				Fail(offset, "nested too deep");
			node.type = JsonNode::Type::Array;
			ondemand::array array = value.get_array().value();
			for (auto element : array)
				node.items.push_back(ReadValue(element.value(), depth + 1));
			return node;
		}
		case ondemand::json_type::string:
			node.type = JsonNode::Type::String;
			node.text = std::string(value.get_string().value());
			return node;
		case ondemand::json_type::number:
			node.type = JsonNode::Type::Number;
			while (!token.empty() &&
				   (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r'))
				token.remove_suffix(1);
			value.get_double().value(); // validates the number
			node.text = std::string(token);
			return node;
		case ondemand::json_type::boolean:
			node.type = JsonNode::Type::Bool;
			node.boolean = value.get_bool().value();
			return node;
		case ondemand::json_type::null:
			if (!value.is_null())
				throw simdjson::simdjson_error(simdjson::N_ATOM_ERROR);
			node.type = JsonNode::Type::Null;
			return node;
		}
		Fail(offset, "unexpected JSON value");
	}

	JsonNode
	ReadObject(ondemand::object &object, std::size_t offset, int depth) {
		if (depth > kMaxDepth)
			Fail(offset, "nested too deep");
		JsonNode node;
		node.type = JsonNode::Type::Object;
		node.at = At(offset);
		for (auto field : object) {
			ondemand::raw_json_string raw = field.key().value();
			std::size_t key_offset = Offset(raw.raw()) - 1; // raw() points after the opening quote
			last_ = key_offset;
			JsonMember member;
			member.key = std::string(field.unescaped_key().value());
			member.at = At(key_offset);
			for (const JsonMember &seen : node.members)
				if (seen.key == member.key)
					Fail(key_offset, "key \"" + member.key + "\" appears twice in this object (first at line " +
										 std::to_string(seen.at.line) + "); keep one");
			member.value = ReadValue(field.value().value(), depth);
			node.members.push_back(std::move(member));
		}
		return node;
	}

	std::string_view text_;
	const std::string &file_;
	std::vector<std::size_t> line_starts_;
	const char *base_ = nullptr;
	std::size_t last_ = 0; // the offset of the last token started: where a syntax error is reported
};

} // namespace

const char *
JsonTypeName(JsonNode::Type type) noexcept {
	switch (type) {
	case JsonNode::Type::Null:
		return "null";
	case JsonNode::Type::Bool:
		return "a boolean";
	case JsonNode::Type::Number:
		return "a number";
	case JsonNode::Type::String:
		return "a string";
	case JsonNode::Type::Object:
		return "an object";
	case JsonNode::Type::Array:
		return "an array";
	}
	return "a value";
}

JsonNode
ReadJsonTree(std::string_view text, const std::string &file) {
	return TreeReader(text, file).Read();
}

std::string
SourceText(const std::string &file, SourceAt at) {
	std::string where = file.empty() ? std::string("mapping") : file;
	if (at.line > 0)
		where += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
	return where;
}

} // namespace mosta::mapping
