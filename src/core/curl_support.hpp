#pragma once
// libcurl plumbing shared by the project's HTTP clients (the S3 store and the OpenAI provider).

#include <curl/curl.h>

namespace imageproc {

// curl_global_init, once per process, before the first easy handle (thread-safe).
void ensure_curl_initialised();

// Curl failures that are the configuration's fault (bad URL, unsupported scheme, TLS setup): retrying
// cannot help. Everything else (DNS, connect, timeouts, resets) may succeed later.
bool is_permanent_curl_error(CURLcode code);

}  // namespace imageproc
