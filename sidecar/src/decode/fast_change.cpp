/*
 * fast_change.cpp
 *     TryParseChangeFast: the one-pass reader of fast_change.hpp. FastTree parses the strict subset into a flat
 *     node array (reused per thread, so a document costs no allocation beyond the Change itself); FastReader
 *     then reads the fields as change.cpp's DocumentReader does, giving up (false) where that one would throw.
 */
#include "decode/fast_change.hpp"

#include <charconv>
#include <cstdint>
#include <utility>
#include <vector>

#include "pg/lsn.hpp"

namespace mosta::sidecar {

namespace {

// kRetainedNodes is how many nodes a thread's FastTree keeps allocated between documents (about 48 bytes each); a
// bigger document's array is freed once read, so one huge document does not pin its memory.
constexpr std::size_t kRetainedNodes = 4096;

// kFastMaxNumberBytes is the longest number the fast path reads: cJSON 1.7 copies at most 63 bytes to strtod.
constexpr std::size_t kFastMaxNumberBytes = 63;

// What a node holds.
enum class NodeType : std::uint8_t { Null, False, True, Number, String, Object, Array };

// kNoNode marks a missing child or sibling.
constexpr std::int32_t kNoNode = -1;

// One value of the document. Children are linked in document order through first_child and next.
struct Node {
	NodeType type = NodeType::Null;
	bool escaped = false;	// a string holding backslash escapes (text is then the raw, escaped content)
	std::string_view key;	// member name (never escaped), empty for the root and array items
	std::string_view text;	// string: the content between the quotes; any other value: its exact source text
	std::int32_t first_child = kNoNode;
	std::int32_t next = kNoNode;
};

// IsDigit tells whether c is an ASCII digit.
bool
IsDigit(char c) {
	return c >= '0' && c <= '9';
}

// FastTree parses one document of the strict subset into nodes; the root is node 0.
class FastTree {
  public:
	// Parse reads text (one value, whitespace around it allowed); false when text is outside the subset.
	bool
	Parse(std::string_view text) {
		text_ = text;
		pos_ = 0;
		nodes_.clear();
		std::int32_t root = kNoNode;
		if (!ParseValue(0, {}, root))
			return false;
		SkipWhitespace();
		return pos_ == text_.size();
	}

	// Trim frees the node array when it grew past kRetainedNodes.
	void
	Trim() {
		if (nodes_.capacity() > kRetainedNodes)
			std::vector<Node>().swap(nodes_);
	}

	// At returns node index.
	const Node &
	At(std::int32_t index) const {
		return nodes_[static_cast<std::size_t>(index)];
	}

  private:
	// SkipWhitespace moves past JSON whitespace.
	void
	SkipWhitespace() {
		while (pos_ < text_.size() &&
			   (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t'))
			++pos_;
	}

	// Consume moves past c when it is next (no whitespace skipped).
	bool
	Consume(char c) {
		if (pos_ >= text_.size() || text_[pos_] != c)
			return false;
		++pos_;
		return true;
	}

	// ParseString reads a string token at pos_: its raw content, and whether it holds escapes.
	bool
	ParseString(std::string_view &content, bool &escaped) {
		if (!Consume('"'))
			return false;
		std::size_t start = pos_;
		escaped = false;
		while (pos_ < text_.size()) {
			char c = text_[pos_];
			if (c == '"') {
				content = text_.substr(start, pos_ - start);
				++pos_;
				return true;
			}
			if (static_cast<unsigned char>(c) < ' ')
				return false;
			if (c == '\\') {
				if (pos_ + 1 >= text_.size())
					return false;
				switch (text_[pos_ + 1]) {
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					break;
				default:
					return false; // \u (and anything invalid) is left to cJSON
				}
				escaped = true;
				pos_ += 2;
				continue;
			}
			++pos_;
		}
		return false;
	}

	// ParseNumber reads an RFC 8259 number at pos_.
	bool
	ParseNumber() {
		std::size_t start = pos_;
		Consume('-');
		if (Consume('0')) {
		} else if (pos_ < text_.size() && IsDigit(text_[pos_])) {
			while (pos_ < text_.size() && IsDigit(text_[pos_]))
				++pos_;
		} else {
			return false;
		}
		if (Consume('.')) {
			if (pos_ >= text_.size() || !IsDigit(text_[pos_]))
				return false;
			while (pos_ < text_.size() && IsDigit(text_[pos_]))
				++pos_;
		}
		if (Consume('e') || Consume('E')) {
			if (!Consume('+'))
				Consume('-');
			if (pos_ >= text_.size() || !IsDigit(text_[pos_]))
				return false;
			while (pos_ < text_.size() && IsDigit(text_[pos_]))
				++pos_;
		}
		return pos_ - start <= kFastMaxNumberBytes;
	}

	// ParseLiteral reads word (true, false, null) at pos_.
	bool
	ParseLiteral(std::string_view word) {
		if (text_.substr(pos_, word.size()) != word)
			return false;
		pos_ += word.size();
		return true;
	}

	// ParseContainer reads the members or items of the object or array node index, whose opening is consumed.
	bool
	ParseContainer(int depth, std::int32_t index, bool is_object) {
		char close = is_object ? '}' : ']';
		SkipWhitespace();
		if (Consume(close))
			return true;
		std::int32_t previous = kNoNode;
		while (true) {
			std::string_view key;
			if (is_object) {
				bool escaped = false;
				SkipWhitespace();
				if (!ParseString(key, escaped) || escaped)
					return false;
				SkipWhitespace();
				if (!Consume(':'))
					return false;
			}
			std::int32_t child = kNoNode;
			if (!ParseValue(depth + 1, key, child))
				return false;
			if (previous == kNoNode)
				nodes_[static_cast<std::size_t>(index)].first_child = child;
			else
				nodes_[static_cast<std::size_t>(previous)].next = child;
			previous = child;
			SkipWhitespace();
			if (Consume(','))
				continue;
			return Consume(close);
		}
	}

	// ParseValue reads one value (after whitespace) into a new node, whose index it stores in index.
	bool
	ParseValue(int depth, std::string_view key, std::int32_t &index) {
		SkipWhitespace();
		if (pos_ >= text_.size() || depth >= kFastMaxDepth)
			return false;
		index = static_cast<std::int32_t>(nodes_.size());
		nodes_.emplace_back().key = key;
		std::size_t start = pos_;
		NodeType type = NodeType::Null;
		bool ok = false;
		switch (text_[pos_]) {
		case '{':
		case '[': {
			bool is_object = text_[pos_] == '{';
			type = is_object ? NodeType::Object : NodeType::Array;
			++pos_;
			ok = ParseContainer(depth, index, is_object);
			break;
		}
		case '"': {
			std::string_view content;
			bool escaped = false;
			if (!ParseString(content, escaped))
				return false;
			Node &node = nodes_[static_cast<std::size_t>(index)];
			node.type = NodeType::String;
			node.text = content;
			node.escaped = escaped;
			return true;
		}
		case 't':
			type = NodeType::True;
			ok = ParseLiteral("true");
			break;
		case 'f':
			type = NodeType::False;
			ok = ParseLiteral("false");
			break;
		case 'n':
			type = NodeType::Null;
			ok = ParseLiteral("null");
			break;
		default:
			type = NodeType::Number;
			ok = ParseNumber();
			break;
		}
		if (!ok)
			return false;
		Node &node = nodes_[static_cast<std::size_t>(index)];
		node.type = type;
		node.text = text_.substr(start, pos_ - start);
		return true;
	}

	std::string_view text_;
	std::size_t pos_ = 0;
	std::vector<Node> nodes_;
};

// Unescaped returns a string node's value, its escapes decoded as cJSON decodes them.
std::string
Unescaped(const Node &node) {
	if (!node.escaped)
		return std::string(node.text);
	std::string value;
	value.reserve(node.text.size());
	for (std::size_t i = 0; i < node.text.size(); ++i) {
		char c = node.text[i];
		if (c != '\\') {
			value += c;
			continue;
		}
		switch (node.text[++i]) {
		case 'b':
			value += '\b';
			break;
		case 'f':
			value += '\f';
			break;
		case 'n':
			value += '\n';
			break;
		case 'r':
			value += '\r';
			break;
		case 't':
			value += '\t';
			break;
		default: // '"', '\\', '/': the character itself (FastTree lets no other escape through)
			value += node.text[i];
			break;
		}
	}
	return value;
}

// FastReader reads the fields of a parsed document; each method returns false where DocumentReader would throw.
class FastReader {
  public:
	// FastReader reads tree, whose root must be an object.
	explicit FastReader(const FastTree &tree) : tree_(tree) {}

	// Field returns the first member called name of object (the root by default), or null.
	const Node *
	Field(std::string_view name, std::int32_t object = 0) const {
		for (std::int32_t i = tree_.At(object).first_child; i != kNoNode; i = tree_.At(i).next)
			if (tree_.At(i).key == name)
				return &tree_.At(i);
		return nullptr;
	}

	// OptionalString reads a string member into out, leaving out as is when absent.
	bool
	OptionalString(std::string_view name, std::string &out, std::int32_t object = 0) const {
		const Node *node = Field(name, object);
		if (node == nullptr)
			return true;
		if (node->type != NodeType::String)
			return false;
		out = Unescaped(*node);
		return true;
	}

	// RequiredString reads a string member that must be present.
	bool
	RequiredString(std::string_view name, std::string &out, std::int32_t object = 0) const {
		return Field(name, object) != nullptr && OptionalString(name, out, object);
	}

	// OptionalLsn reads a string member that must hold an LSN.
	bool
	OptionalLsn(std::string_view name, std::string &out) const {
		return OptionalString(name, out) && (out.empty() ? Field(name) == nullptr : ParseLsn(out).has_value());
	}

	// OptionalBool reads a boolean member, false when absent.
	bool
	OptionalBool(std::string_view name, bool &out) const {
		const Node *node = Field(name);
		if (node == nullptr)
			return true;
		if (node->type != NodeType::True && node->type != NodeType::False)
			return false;
		out = node->type == NodeType::True;
		return true;
	}

	// OptionalXid reads "xid", a non-negative integer.
	bool
	OptionalXid(std::optional<std::uint64_t> &out) const {
		const Node *node = Field("xid");
		if (node == nullptr)
			return true;
		if (node->type != NodeType::Number)
			return false;
		std::uint64_t xid = 0;
		const char *last = node->text.data() + node->text.size();
		auto [end, error] = std::from_chars(node->text.data(), last, xid);
		if (error != std::errc() || end != last)
			return false;
		out = xid;
		return true;
	}

	// StringArray reads an array of strings member, empty when absent.
	bool
	StringArray(std::string_view name, std::vector<std::string> &out) const {
		const Node *array = Field(name);
		if (array == nullptr)
			return true;
		if (array->type != NodeType::Array)
			return false;
		for (std::int32_t i = array->first_child; i != kNoNode; i = tree_.At(i).next) {
			if (tree_.At(i).type != NodeType::String)
				return false;
			out.push_back(Unescaped(tree_.At(i)));
		}
		return true;
	}

	// ReadValue converts one node to a Value.
	static Value
	ReadValue(const Node &node) {
		switch (node.type) {
		case NodeType::Null:
			return std::monostate();
		case NodeType::False:
			return false;
		case NodeType::True:
			return true;
		case NodeType::String:
			return Unescaped(node);
		case NodeType::Number:
			return NumberValue(node.text);
		default:
			return RawJson{std::string(node.text)};
		}
	}

	// Row reads an object member of column values in document order; present reports whether it was there.
	bool
	Row(std::string_view name, std::vector<Column> &out, bool &present) const {
		const Node *object = Field(name);
		present = object != nullptr;
		if (object == nullptr)
			return true;
		if (object->type != NodeType::Object)
			return false;
		std::size_t count = 0;
		for (std::int32_t i = object->first_child; i != kNoNode; i = tree_.At(i).next)
			++count;
		out.reserve(count);
		for (std::int32_t i = object->first_child; i != kNoNode; i = tree_.At(i).next)
			out.push_back(Column{std::string(tree_.At(i).key), ReadValue(tree_.At(i))});
		return true;
	}

	// Types reads "types", an object of column name to type name (the first of duplicate names wins).
	bool
	Types(std::map<std::string, std::string> &out) const {
		const Node *object = Field("types");
		if (object == nullptr)
			return true;
		if (object->type != NodeType::Object)
			return false;
		for (std::int32_t i = object->first_child; i != kNoNode; i = tree_.At(i).next) {
			if (tree_.At(i).type != NodeType::String)
				return false;
			out.emplace(std::string(tree_.At(i).key), Unescaped(tree_.At(i)));
		}
		return true;
	}

	// TruncateTables reads "tables" of a truncate.
	bool
	TruncateTables(std::vector<TruncateTarget> &out) const {
		const Node *array = Field("tables");
		if (array == nullptr || array->type != NodeType::Array)
			return false;
		for (std::int32_t i = array->first_child; i != kNoNode; i = tree_.At(i).next) {
			if (tree_.At(i).type != NodeType::Object)
				return false;
			TruncateTarget target;
			if (!RequiredString("schema", target.schema, i) || !RequiredString("table", target.table, i))
				return false;
			if (const Node *partition = Field("partition", i); partition != nullptr) {
				if (partition->type != NodeType::Object)
					return false;
				std::int32_t index = static_cast<std::int32_t>(partition - &tree_.At(0));
				TableName name;
				if (!RequiredString("schema", name.schema, index) || !RequiredString("table", name.table, index))
					return false;
				target.partition = std::move(name);
			}
			out.push_back(std::move(target));
		}
		return true;
	}

  private:
	const FastTree &tree_;
};

// ReadRowChangeFast fills the fields of insert, update and delete.
bool
ReadRowChangeFast(const FastReader &reader, Change &change) {
	return reader.RequiredString("schema", change.schema) && reader.RequiredString("table", change.table) &&
		   reader.StringArray("key", change.key) && reader.Row("new", change.new_row, change.has_new) &&
		   reader.Row("old", change.old_row, change.has_old) && reader.StringArray("unchanged", change.unchanged) &&
		   reader.Types(change.types) && (change.op == Op::Delete || change.has_new);
}

// ReadMessageFast fills the fields of a message.
bool
ReadMessageFast(const FastReader &reader, Change &change) {
	if (!reader.OptionalBool("transactional", change.transactional) || !reader.RequiredString("prefix", change.prefix) ||
		!reader.OptionalString("encoding", change.encoding))
		return false;
	const Node *content = reader.Field("content");
	if (content == nullptr)
		return false;
	change.content = FastReader::ReadValue(*content);
	return true;
}

// ReadParsed reads the fields ParseChangeWithCJson reads from tree, parsed from document.
bool
ReadParsed(const FastTree &tree, std::string_view document, Change &change) {
	if (tree.At(0).type != NodeType::Object)
		return false;
	FastReader reader(tree);

	const Node *op_node = reader.Field("op");
	if (op_node == nullptr || op_node->type != NodeType::String || op_node->escaped)
		return false;
	std::optional<Op> op = LookupOp(op_node->text);
	if (!op)
		return false;
	change.op = *op;
	if (!reader.OptionalXid(change.xid) || !reader.OptionalString("ts", change.ts) ||
		!reader.OptionalString("origin", change.origin) || !reader.OptionalString("gid", change.gid) ||
		!reader.OptionalLsn("lsn", change.lsn) || !reader.OptionalLsn("commit_lsn", change.commit_lsn) ||
		!reader.OptionalLsn("end_lsn", change.end_lsn))
		return false;
	change.raw = std::string(document);

	switch (change.op) {
	case Op::Insert:
	case Op::Update:
	case Op::Delete:
		return ReadRowChangeFast(reader, change);
	case Op::Truncate:
		return reader.TruncateTables(change.truncate_tables) && reader.OptionalBool("cascade", change.cascade) &&
			   reader.OptionalBool("restart_identity", change.restart_identity);
	case Op::Message:
		return ReadMessageFast(reader, change);
	default:
		return true;
	}
}

} // namespace

// TryParseChangeFast parses into this thread's FastTree, then reads the fields.
bool
TryParseChangeFast(std::string_view document, Change &change) {
	thread_local FastTree tree;
	bool read = tree.Parse(document) && ReadParsed(tree, document, change);
	tree.Trim();
	return read;
}

} // namespace mosta::sidecar
