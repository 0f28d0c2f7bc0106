#pragma once
// The built web app (web/dist/client) at `/` and every other non-API path (DESIGN §4): files under the app's
// directory as they are, `/assets/*` (content-hashed names) cached for a year and a 404 when missing, and
// index.html for every other path the app's client-side router owns (SPA fallback). HTML responses carry a
// Content-Security-Policy made for the app: its own scripts and styles only (the inline bootstrap scripts of
// the build are allowed by their SHA-256), images from itself, data:/blob: URLs and the object store's
// origin (signed URLs), and API calls to itself.
//
// Paths are checked twice before a file is opened: lexically (no `..`, `.` or hidden segments, no
// backslash or NUL), and after resolving symlinks (the file must still lie inside the app's directory).
// Both rules are plain functions below, unit-tested without HTTP.
//
// Thread-safety: immutable after construction; handlers run concurrently.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.hpp"
#include "api/router.hpp"

namespace imageproc::api {

// What a GET path means to the web app.
enum class WebTarget {
  NotWeb,  // an API-owned prefix (/api/, /files/): never the app, a missing route is a plain 404 problem
  Asset,   // /assets/...: a build output with a hashed name; must exist
  Page,    // anything else: the file if the build has it, else index.html (the client-side router decides)
};
WebTarget classify_web_path(std::string_view path);

// The request path (already percent-decoded) as a relative path of safe segments, e.g. "/assets/app.js" →
// "assets/app.js", "/" → "". nullopt when a segment is "..", ".", starts with '.', or contains '\\' or NUL,
// so nothing outside the directory (or hidden in it) can be named.
std::optional<std::string> safe_relative_path(std::string_view path);

// `root / relative` with symlinks resolved, when that is a regular file whose real location is still inside
// `root`'s real location; nullopt when it is missing, not a regular file, or escapes (a symlink pointing
// out).
std::optional<std::filesystem::path> resolve_inside(const std::filesystem::path& root,
                                                    std::string_view relative);

// Content-Type by file extension (case-insensitive); application/octet-stream when unknown.
std::string web_content_type(std::string_view filename);

// "'sha256-<base64>'" for the text of every inline <script> (one without a src attribute) in `html`, in
// document order, for the CSP's script-src.
std::vector<std::string> inline_script_hashes(std::string_view html);

// The scheme://host[:port] of an absolute http(s) URL, "" for a relative one (or anything else).
std::string url_origin(std::string_view url);

// The policy of HTML responses; `extra_image_origins` are added to img-src (the object store's origin when
// signed URLs are absolute), `script_hashes` to script-src.
std::string app_content_security_policy(const std::vector<std::string>& script_hashes,
                                        const std::vector<std::string>& extra_image_origins);

class WebHandlers {
 public:
  // A response body is read into memory (Response has no file body); the app's files are a few hundred KiB,
  // anything larger than this is refused rather than risk the process.
  static constexpr std::size_t kMaxFileBytes = 32 * 1024 * 1024;

  // `dist_dir` must contain index.html (checked by Config::validate); `image_origins` as for
  // app_content_security_policy.
  WebHandlers(std::filesystem::path dist_dir, std::vector<std::string> image_origins);
  void register_routes(Router& router);

  Response get(Request& request);

 private:
  Response file_response(const std::filesystem::path& file, bool immutable) const;

  std::filesystem::path root_;
  std::vector<std::string> image_origins_;
};

}  // namespace imageproc::api
