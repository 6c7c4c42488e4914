/*
 * type_name.cpp
 *     SplitTypeName (see type_name.hpp).
 */
#include "decode/type_name.hpp"

namespace mosta::sidecar {

TypeName
SplitTypeName(std::string_view type) {
	TypeName result;
	while (type.size() >= 2 && type.substr(type.size() - 2) == "[]") {
		++result.dims;
		type.remove_suffix(2);
	}
	int depth = 0;
	for (char c : type) {
		if (c == '(')
			++depth;
		else if (c == ')')
			depth = depth > 0 ? depth - 1 : 0;
		else if (depth == 0)
			result.base += c;
	}
	while (!result.base.empty() && result.base.back() == ' ')
		result.base.pop_back();
	return result;
}

} // namespace mosta::sidecar
