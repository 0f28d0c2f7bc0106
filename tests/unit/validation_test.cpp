#include "auth/validation.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace imageproc::auth {
namespace {

constexpr std::string_view kGoodName = "Alice Example";
constexpr std::string_view kGoodEmail = "alice@example.com";
constexpr std::string_view kGoodPassword = "correct horse";

std::vector<std::string> errors_for(const FieldErrors& errors, const std::string& field) {
  const auto it = errors.find(field);
  return it == errors.end() ? std::vector<std::string>{} : it->second;
}

std::string repeat(std::string_view unit, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out.append(unit);
  return out;
}

TEST(ValidationTest, NormalizeEmailTrimsAndLowerCasesAscii) {
  EXPECT_EQ(normalize_email("  Alice@Example.COM "), "alice@example.com");
  EXPECT_EQ(normalize_email("\tBOB@EXAMPLE.ORG\r\n"), "bob@example.org");
  EXPECT_EQ(normalize_email("already@normal.io"), "already@normal.io");
  EXPECT_EQ(normalize_email("   "), "");
  EXPECT_EQ(normalize_email("\xC3\x89MILE@x.fr"), "\xC3\x89mile@x.fr");  // non-ASCII bytes untouched
}

TEST(ValidationTest, AcceptsValidRegistration) {
  EXPECT_TRUE(validate_registration(kGoodName, kGoodEmail, kGoodPassword).empty());
  EXPECT_TRUE(validate_registration("  Al  ", "  Alice@Example.COM ", "12345678").empty());
}

TEST(ValidationTest, NameRules) {
  struct Case {
    std::string name;
    std::vector<std::string> expected;
  };
  const std::string kLength = "Name must be between 2 and 100 characters.";
  const std::string kControl = "Name must not contain control characters.";
  const std::vector<Case> cases = {
      {"", {"Name is required."}},
      {"   \t ", {"Name is required."}},
      {"A", {kLength}},
      {"  A  ", {kLength}},  // trimmed before counting
      {"Al", {}},
      {"Zoë", {}},
      {"\xF0\x9F\x98\x80\xF0\x9F\x98\x80", {}},  // two emoji: 2 code points, 8 bytes
      {"\xF0\x9F\x98\x80", {kLength}},           // one emoji: 1 code point although 4 bytes
      {repeat("a", 100), {}},
      {repeat("a", 101), {kLength}},
      {repeat("\xF0\x9F\x98\x80", 100), {}},  // 400 bytes, 100 code points
      {repeat("\xF0\x9F\x98\x80", 101), {kLength}},
      {repeat("\xC3\xA9", 100), {}},
      {"Al\nice", {kControl}},
      {"Al\x7Fice", {kControl}},
      {"Al\xC2\x85ice", {kControl}},  // U+0085 NEL, a C1 control
      {std::string("Al\0ice", 6), {kControl}},
      {"\x01", {kLength, kControl}},
      {"Al\xFFice", {"Name must be valid UTF-8 text."}},
      {"Al\xC0\xAFice", {"Name must be valid UTF-8 text."}},      // overlong '/'
      {"Al\xED\xA0\x80ice", {"Name must be valid UTF-8 text."}},  // surrogate
      {"Al\xF0\x9F\x98", {"Name must be valid UTF-8 text."}},     // truncated
  };
  for (const Case& c : cases) {
    EXPECT_EQ(errors_for(validate_registration(c.name, kGoodEmail, kGoodPassword), "name"), c.expected)
        << c.name;
  }
}

TEST(ValidationTest, EmailRules) {
  const std::string kInvalid = "Email must be a valid email address.";
  const std::string local64 = repeat("a", 64);
  const std::string long_domain = repeat("d", 60) + "." + repeat("e", 60) + "." + repeat("f", 60) + ".com";
  struct Case {
    std::string email;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"", {"Email is required."}},
      {"   ", {"Email is required."}},
      {"  Alice@Example.COM ", {}},
      {"first.last+tag@sub.example.co.uk", {}},
      {"o'brien@example.ie", {}},
      {"user@xn--bcher-kva.example", {}},
      {"a@b.co", {}},
      {local64 + "@example.com", {}},
      {local64 + "a@example.com", {kInvalid}},
      {"no-at-sign.example.com", {kInvalid}},
      {"two@@example.com", {kInvalid}},
      {"a@b@example.com", {kInvalid}},
      {"@example.com", {kInvalid}},
      {"user@", {kInvalid}},
      {"user@localhost", {kInvalid}},
      {"user@example", {kInvalid}},
      {"user@-example.com", {kInvalid}},
      {"user@example-.com", {kInvalid}},
      {"user@exa_mple.com", {kInvalid}},
      {"user@example..com", {kInvalid}},
      {"user@.example.com", {kInvalid}},
      {"user@example.com.", {kInvalid}},
      {"us er@example.com", {kInvalid}},
      {"user@exa mple.com", {kInvalid}},
      {"user\t@example.com", {kInvalid}},
      {"user\x01@example.com", {kInvalid}},
      {"us\"er@example.com", {kInvalid}},
      {"<user>@example.com", {kInvalid}},
      {".user@example.com", {kInvalid}},
      {"user.@example.com", {kInvalid}},
      {"us..er@example.com", {kInvalid}},
      {"\xC3\xA9@example.com", {kInvalid}},
      {"user@b\xC3\xBC"
       "cher.de",
       {kInvalid}},
      {"a@" + long_domain, {}},
      {"a@" + repeat("x", 64) + ".com", {kInvalid}},  // label over 63
      {local64 + "@" + repeat("b", 63) + "." + repeat("c", 63) + "." + repeat("d", 30) + "." +
           repeat("e", 32),
       {}},  // exactly 256
      {local64 + "@" + repeat("b", 63) + "." + repeat("c", 63) + "." + repeat("d", 30) + "." +
           repeat("e", 33),
       {"Email must be at most 256 characters."}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(errors_for(validate_registration(kGoodName, c.email, kGoodPassword), "email"), c.expected)
        << c.email;
  }
}

TEST(ValidationTest, PasswordRules) {
  const std::string kLength = "Password must be between 8 and 128 characters.";
  struct Case {
    std::string password;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"", {"Password is required."}},
      {"1234567", {kLength}},
      {"12345678", {}},
      {"        ", {}},  // passwords are never trimmed
      {repeat("p", 128), {}},
      {repeat("p", 129), {kLength}},
      {repeat("\xC3\xA9", 7), {kLength}},  // 14 bytes but 7 code points
      {repeat("\xC3\xA9", 8), {}},
      {repeat("\xF0\x9F\x94\x91", 128), {}},  // 512 bytes, 128 code points
      {repeat("\xF0\x9F\x94\x91", 129), {kLength}},
      {"abcdefg\xFF", {"Password must be valid UTF-8 text."}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(errors_for(validate_registration(kGoodName, kGoodEmail, c.password), "password"), c.expected)
        << c.password;
  }
}

TEST(ValidationTest, ReportsEveryInvalidFieldAtOnce) {
  const FieldErrors errors = validate_registration("", "nope", "short");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors.at("name"), std::vector<std::string>{"Name is required."});
  EXPECT_EQ(errors.at("email"), std::vector<std::string>{"Email must be a valid email address."});
  EXPECT_EQ(errors.at("password"),
            std::vector<std::string>{"Password must be between 8 and 128 characters."});
}

}  // namespace
}  // namespace imageproc::auth
