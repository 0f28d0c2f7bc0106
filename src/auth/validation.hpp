#pragma once
// Input rules for account registration. Pure functions: no I/O, no globals, thread-safe.
//
// Lengths are counted in Unicode code points of valid UTF-8 (so "Zoë" is 3, an emoji is 1), matching what a
// user perceives far better than bytes. Text that is not valid UTF-8 is refused outright.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/errors.hpp"

namespace imageproc::auth {

inline constexpr std::size_t kMinNameLength = 2;
inline constexpr std::size_t kMaxNameLength = 100;
inline constexpr std::size_t kMaxEmailLength = 256;
inline constexpr std::size_t kMaxEmailLocalPartLength = 64;
inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 128;

// Trims ASCII whitespace and lower-cases ASCII letters; other bytes are left untouched. Used both before
// validation and before storing or looking up an account, so "  Alice@Example.COM " and "alice@example.com"
// are the same account.
std::string normalize_email(std::string_view email);

// Checks all three fields and reports every problem found, keyed "name", "email" and "password"; an empty map
// means the input is acceptable. Empty inputs get a "... is required." message. The name is judged after
// trimming, the email after normalize_email(); the password is taken exactly as given (never trimmed).
FieldErrors validate_registration(std::string_view name, std::string_view email, std::string_view password);

}  // namespace imageproc::auth
