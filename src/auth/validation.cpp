#include "auth/validation.hpp"

#include <optional>
#include <vector>

namespace imageproc::auth {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view trim_ascii(std::string_view text) {
  while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back())) text.remove_suffix(1);
  return text;
}

// Strict UTF-8 decoding (RFC 3629): rejects overlong forms, surrogates and values above U+10FFFF, so the
// code-point count cannot be gamed with malformed sequences.
std::optional<std::vector<char32_t>> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (lead < 0x80) {
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1;
      cp = lead & 0x1F;
      min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2;
      cp = lead & 0x0F;
      min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3;
      cp = lead & 0x07;
      min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (extra > text.size() - i - 1) return std::nullopt;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cont & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

// C0 controls, DEL and C1 controls (Unicode general category Cc).
bool is_control(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 "atext": the unquoted local-part characters. Quoted local parts, comments and non-ASCII are not
// accepted: real users hardly need them, and they are a classic source of parser disagreements and header
// injection further down the line (mail headers, logs).
bool is_atext(char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return is_ascii_alnum(c) || kSpecials.find(c) != std::string_view::npos;
}

bool valid_local_part(std::string_view local) {
  if (local.empty() || local.size() > kMaxEmailLocalPartLength) return false;
  // Dot-atom: dots only between atext runs (no leading, trailing or doubled dots).
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (const char c : local) {
    if (c != '.' && !is_atext(c)) return false;
  }
  return true;
}

bool valid_domain(std::string_view domain) {
  // RFC 1035 limits: 253 characters in total, 63 per label. At least two labels (a dot) so that
  // "user@localhost" and other intranet-only names are refused.
  if (domain.empty() || domain.size() > 253 || domain.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (const char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool valid_email_syntax(std::string_view email) {
  const std::size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) return false;
  return valid_local_part(email.substr(0, at)) && valid_domain(email.substr(at + 1));
}

void check_name(std::string_view raw, FieldErrors& errors) {
  const std::string_view name = trim_ascii(raw);
  if (name.empty()) {
    errors["name"].push_back("Name is required.");
    return;
  }
  const auto code_points = decode_utf8(name);
  if (!code_points) {
    errors["name"].push_back("Name must be valid UTF-8 text.");
    return;
  }
  if (code_points->size() < kMinNameLength || code_points->size() > kMaxNameLength) {
    errors["name"].push_back("Name must be between 2 and 100 characters.");
  }
  for (const char32_t cp : *code_points) {
    if (is_control(cp)) {
      errors["name"].push_back("Name must not contain control characters.");
      break;
    }
  }
}

void check_email(std::string_view raw, FieldErrors& errors) {
  const std::string email = normalize_email(raw);
  if (email.empty()) {
    errors["email"].push_back("Email is required.");
    return;
  }
  if (email.size() > kMaxEmailLength) {
    errors["email"].push_back("Email must be at most 256 characters.");
    return;
  }
  if (!valid_email_syntax(email)) errors["email"].push_back("Email must be a valid email address.");
}

void check_password(std::string_view password, FieldErrors& errors) {
  if (password.empty()) {
    errors["password"].push_back("Password is required.");
    return;
  }
  const auto code_points = decode_utf8(password);
  if (!code_points) {
    errors["password"].push_back("Password must be valid UTF-8 text.");
    return;
  }
  if (code_points->size() < kMinPasswordLength || code_points->size() > kMaxPasswordLength) {
    errors["password"].push_back("Password must be between 8 and 128 characters.");
  }
}

}  // namespace

std::string normalize_email(std::string_view email) {
  std::string out(trim_ascii(email));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

FieldErrors validate_registration(std::string_view name, std::string_view email, std::string_view password) {
  FieldErrors errors;
  check_name(name, errors);
  check_email(email, errors);
  check_password(password, errors);
  return errors;
}

}  // namespace imageproc::auth
