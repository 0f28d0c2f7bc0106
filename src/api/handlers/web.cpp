#include "api/handlers/web.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <utility>

#include "api/router.hpp"
#include "core/crypto.hpp"
#include "core/errors.hpp"

namespace imageproc::api {
namespace fs = std::filesystem;

namespace {

bool starts_with_segment(std::string_view path, std::string_view prefix) {
  // "/api" and "/api/..." but not "/apis".
  return path == prefix || (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
                            path[prefix.size()] == '/');
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_html(std::string_view filename) {
  const std::string name = lower(filename);
  return name.ends_with(".html") || name.ends_with(".htm");
}

std::optional<std::string> read_file(const fs::path& file, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return std::nullopt;
  if (size > max_bytes) {
    throw errors::internal(
        fmt::format("web file '{}' ({} bytes) exceeds the response cap", file.string(), size));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return body;
}

}  // namespace

WebTarget classify_web_path(std::string_view path) {
  if (starts_with_segment(path, "/api") || starts_with_segment(path, "/files")) return WebTarget::NotWeb;
  if (starts_with_segment(path, "/assets")) return WebTarget::Asset;
  return WebTarget::Page;
}

std::optional<std::string> safe_relative_path(std::string_view path) {
  std::string out;
  for (const auto& segment : split_path(path)) {
    if (segment.front() == '.') return std::nullopt;  // "..", "." and hidden files
    if (segment.find('\\') != std::string::npos || segment.find('\0') != std::string::npos)
      return std::nullopt;
    if (!out.empty()) out += '/';
    out += segment;
  }
  return out;
}

std::optional<fs::path> resolve_inside(const fs::path& root, std::string_view relative) {
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path real = fs::canonical(real_root / fs::path(relative), ec);
  if (ec) return std::nullopt;
  if (!fs::is_regular_file(real, ec) || ec) return std::nullopt;
  // Component-wise prefix, so "/srv/app-evil" is not inside "/srv/app".
  const auto [root_end, file_it] =
      std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
  if (root_end != real_root.end()) return std::nullopt;
  return real;
}

std::string web_content_type(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".wasm", "application/wasm"},
  }};
  const std::string name = lower(filename);
  for (const auto& [extension, type] : kTypes) {
    if (name.ends_with(extension)) return std::string(type);
  }
  return "application/octet-stream";
}

std::vector<std::string> inline_script_hashes(std::string_view html) {
  std::vector<std::string> hashes;
  const std::string text = lower(html);  // same length and offsets as `html`
  std::size_t pos = 0;
  while ((pos = text.find("<script", pos)) != std::string::npos) {
    const std::size_t name_end = pos + 7;
    // "<scripts>" or "<script-x>" are other elements.
    if (name_end < text.size() && text[name_end] != '>' &&
        !std::isspace(static_cast<unsigned char>(text[name_end]))) {
      pos = name_end;
      continue;
    }
    const std::size_t tag_end = text.find('>', name_end);
    if (tag_end == std::string::npos) break;
    const std::string_view attributes = std::string_view(text).substr(name_end, tag_end - name_end);
    const std::size_t close = text.find("</script", tag_end + 1);
    if (close == std::string::npos) break;
    bool has_src = false;
    for (std::size_t a = attributes.find("src"); a != std::string_view::npos;
         a = attributes.find("src", a + 3)) {
      const bool starts_attribute = a > 0 && std::isspace(static_cast<unsigned char>(attributes[a - 1]));
      const std::size_t after = a + 3;
      const bool ends_attribute = after == attributes.size() || attributes[after] == '=' ||
                                  attributes[after] == '/' ||
                                  std::isspace(static_cast<unsigned char>(attributes[after]));
      if (starts_attribute && ends_attribute) {
        has_src = true;
        break;
      }
    }
    if (!has_src) {
      const std::string_view body = html.substr(tag_end + 1, close - tag_end - 1);
      hashes.push_back("'sha256-" + crypto::base64_encode(crypto::sha256(body)) + "'");
    }
    pos = close + 8;
  }
  return hashes;
}

std::string url_origin(std::string_view url) {
  std::size_t scheme_end = 0;
  if (url.starts_with("https://")) {
    scheme_end = 8;
  } else if (url.starts_with("http://")) {
    scheme_end = 7;
  } else {
    return "";
  }
  const std::size_t end = url.find_first_of("/?#", scheme_end);
  const std::string_view origin = url.substr(0, end == std::string_view::npos ? url.size() : end);
  if (origin.size() == scheme_end) return "";
  return std::string(origin);
}

std::string app_content_security_policy(const std::vector<std::string>& script_hashes,
                                        const std::vector<std::string>& extra_image_origins) {
  std::string script_src = "'self'";
  for (const auto& hash : script_hashes) script_src += " " + hash;
  std::string img_src = "'self' data: blob:";
  for (const auto& origin : extra_image_origins) img_src += " " + origin;
  return fmt::format(
      "default-src 'none'; script-src {}; style-src 'self'; img-src {}; font-src 'self'; connect-src 'self'; "
      "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      script_src, img_src);
}

WebHandlers::WebHandlers(fs::path dist_dir, std::vector<std::string> image_origins)
    : root_(std::move(dist_dir)), image_origins_(std::move(image_origins)) {}

void WebHandlers::register_routes(Router& router) {
  router.set_get_fallback("/{path...}", [this](Request& r) { return get(r); });
}

Response WebHandlers::file_response(const fs::path& file, bool immutable) const {
  auto body = read_file(file, kMaxFileBytes);
  if (!body) throw errors::not_found("No resource exists at this path.");
  Response response;
  const std::string name = file.filename().string();
  response.headers.set("Content-Type", web_content_type(name));
  if (is_html(name)) {
    // Revalidated on every visit, so a new deployment's asset names are picked up at once.
    response.headers.set("Cache-Control", "no-cache");
    response.headers.set("Content-Security-Policy",
                         app_content_security_policy(inline_script_hashes(*body), image_origins_));
  } else {
    response.headers.set("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "public, max-age=3600");
  }
  response.body = std::move(*body);
  return response;
}

Response WebHandlers::get(Request& request) {
  const WebTarget target = classify_web_path(request.path);
  if (target == WebTarget::NotWeb) throw errors::not_found("No resource exists at this path.");
  const auto relative = safe_relative_path(request.path);
  if (!relative) throw errors::not_found("No resource exists at this path.");
  if (!relative->empty()) {
    if (auto file = resolve_inside(root_, *relative)) return file_response(*file, target == WebTarget::Asset);
  }
  if (target == WebTarget::Asset) throw errors::not_found("No resource exists at this path.");
  const auto index = resolve_inside(root_, "index.html");
  if (!index) {
    throw AppError(404, status_title(404), "The web app is not built.",
                   "index.html is missing under " + root_.string());
  }
  return file_response(*index, false);
}

}  // namespace imageproc::api
