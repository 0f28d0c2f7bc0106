#pragma once
// /files/{key...}: serves the signed URLs of the local-disk backend (DESIGN §4). The signature is the
// credential, so the routes are public; a missing, wrong or expired signature is a 403 problem.
//
// GET (and HEAD through the router's fallback) returns the object with its stored Content-Type, cached
// privately until the link expires, sandboxed by CSP and nosniff so a hostile upload cannot run as a page on
// our origin, with single-range support for media players and resumable downloads.
// PUT is the presigned direct upload: the signature also covers the Content-Type the client must send and the
// largest body it may send.
//
// Thread-safety: stateless apart from references to thread-safe collaborators; handlers run concurrently.

#include <cstddef>
#include <optional>

#include "api/http.hpp"
#include "api/router.hpp"
#include "storage/local/local_store.hpp"
#include "storage/local/url_signer.hpp"

namespace imageproc::api {

class FilesHandlers {
 public:
  static constexpr std::size_t kDefaultMaxUploadBytes = 50 * 1024 * 1024;
  // Response has an in-memory body, so a GET reads the requested bytes into memory; objects are images of at
  // most a few tens of MiB, and anything above this cap is refused rather than risk the process.
  static constexpr std::size_t kMaxResponseBytes = 128 * 1024 * 1024;

  FilesHandlers(storage::LocalObjectStore& store, const storage::UrlSigner& signer,
                std::size_t max_upload_bytes = kDefaultMaxUploadBytes);
  void register_routes(Router& router);

  Response get(Request& request);
  Response put(Request& request);

 private:
  // Throws a 403 AppError unless the request carries a valid, unexpired signature; returns its expiry.
  std::int64_t require_signature(const Request& request, const std::string& key,
                                 const std::optional<storage::UploadConstraints>& upload) const;

  storage::LocalObjectStore& store_;
  const storage::UrlSigner& signer_;
  std::size_t max_upload_bytes_;
};

}  // namespace imageproc::api
