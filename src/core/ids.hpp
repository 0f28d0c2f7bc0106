#pragma once
// Identifiers. Job and user ids are UUIDv7 (time-ordered, so B-tree inserts stay local); request ids are short
// random hex strings. Thread-safe.

#include <string>
#include <string_view>

namespace imageproc::ids {

std::string new_uuid();        // UUIDv7, lower-case canonical form
std::string new_request_id();  // 16 hex characters
bool is_uuid(std::string_view s);  // canonical 8-4-4-4-12 hex form, any version
// A client-supplied X-Request-Id is kept only when it is short and made of safe characters.
bool is_acceptable_request_id(std::string_view s);

}  // namespace imageproc::ids
