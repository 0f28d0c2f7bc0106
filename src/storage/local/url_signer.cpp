#include "storage/local/url_signer.hpp"

#include "core/text.hpp"

#include <limits>
#include <stdexcept>

#include "core/crypto.hpp"

namespace imageproc::storage {
namespace {

std::string canonical_string(std::string_view method, std::string_view key, std::int64_t expires_epoch,
                             const std::optional<UploadConstraints>& upload) {
  std::string s;
  s.reserve(method.size() + key.size() + 64);
  s.append(method).append("\n").append(key).append("\n").append(std::to_string(expires_epoch));
  if (upload) {
    s.append("\n").append(upload->content_type).append("\n").append(std::to_string(upload->max_bytes));
  }
  return s;
}

}  // namespace

UrlSigner::UrlSigner(std::string secret, std::string public_base_url)
    : secret_(std::move(secret)), base_url_(std::move(public_base_url)) {
  if (secret_.size() < kMinSecretBytes) {
    throw std::invalid_argument("the URL signing secret must be at least 32 bytes");
  }
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

std::string UrlSigner::sign(std::string_view method, std::string_view key, std::int64_t expires_epoch,
                            const std::optional<UploadConstraints>& upload) const {
  return crypto::hex_encode(
      crypto::hmac_sha256(secret_, canonical_string(method, key, expires_epoch, upload)));
}

bool UrlSigner::verify(std::string_view method, std::string_view key, std::int64_t expires_epoch,
                       std::string_view signature, const std::optional<UploadConstraints>& upload) const {
  return crypto::constant_time_equals(sign(method, key, expires_epoch, upload), signature);
}

std::string UrlSigner::get_url(std::string_view key, std::int64_t expires_epoch) const {
  return base_url_ + "/files/" + text::percent_encode(key, true) + "?exp=" + std::to_string(expires_epoch) +
         "&sig=" + sign("GET", key, expires_epoch);
}

std::string UrlSigner::put_url(std::string_view key, std::int64_t expires_epoch,
                               const UploadConstraints& upload) const {
  return base_url_ + "/files/" + text::percent_encode(key, true) + "?exp=" + std::to_string(expires_epoch) +
         "&sig=" + sign("PUT", key, expires_epoch, upload) +
         "&ct=" + text::percent_encode(upload.content_type, false) + "&max=" + std::to_string(upload.max_bytes);
}

std::optional<std::int64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;  // one spelling per value
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

}  // namespace imageproc::storage
