// Fuzzes the streaming multipart/form-data parser (src/api/multipart.hpp).
//
// Input: an optional Content-Type value, a '\n', then the request body (without a '\n' the whole input is the
// body, under a default boundary). Checked on every input:
//   - boundary_from_content_type throws only AppError 400, and what it returns is a valid boundary;
//   - MultipartParser gives the same transcript (parts, their headers, their bytes, the outcome) whether the
//     body arrives whole, byte by byte, or in chunk sizes drawn from the input; events are well nested, data
//     is never empty and never more than the body; the only exceptions are AppError 400;
//   - FileFieldCollector (limits drawn from the input) gives the same outcome and bytes for two chunkings,
//     never passes the writer more than max_file_bytes, throws only AppError 400/413, and what it accepts is
//     the one "file" part of the parser's transcript;
//   - a body built from the input (the input as the file's content and as its quoted filename and filename*,
//     under a boundary the input does not contain) parses back to exactly those values.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/multipart.hpp"
#include "core/errors.hpp"
#include "fuzz_support.hpp"

namespace {

using imageproc::AppError;
using imageproc::api::FileFieldCollector;
using imageproc::api::MultipartParser;
using imageproc::api::PartHeaders;
using imageproc::api::UploadLimits;
using imageproc::fuzz::printable;
using imageproc::fuzz::Rng;

constexpr std::string_view kDefaultBoundary = "----fuzzboundary";

// What a Sink saw, with consecutive data events merged (their split depends on the chunking, nothing else).
struct Event {
  enum class Kind { Begin, Data, End } kind;
  PartHeaders headers;  // Begin
  std::string data;     // Data
  bool operator==(const Event& o) const {
    return kind == o.kind && headers.name == o.headers.name && headers.filename == o.headers.filename &&
           headers.content_type == o.headers.content_type && data == o.data;
  }
};

struct Transcript {
  std::vector<Event> events;
  std::string outcome;
  bool operator==(const Transcript&) const = default;
};

std::string render(const Transcript& t) {
  std::string out = "outcome=" + t.outcome + " events:";
  for (const auto& e : t.events) {
    switch (e.kind) {
      case Event::Kind::Begin:
        out += " [begin " + printable(e.headers.name, 40) + " " +
               (e.headers.filename ? printable(*e.headers.filename, 40) : std::string("-")) + "]";
        break;
      case Event::Kind::Data:
        out += " [data " + printable(e.data, 40) + "]";
        break;
      case Event::Kind::End:
        out += " [end]";
        break;
    }
  }
  return printable(out, 600);
}

class RecordingSink : public MultipartParser::Sink {
 public:
  explicit RecordingSink(std::size_t body_size) : body_size_(body_size) {}

  void on_part_begin(const PartHeaders& headers) override {
    FUZZ_CHECK(!in_part_, "a part began inside another part");
    in_part_ = true;
    ++begun_;
    events_.push_back({Event::Kind::Begin, headers, {}});
  }
  void on_part_data(std::string_view chunk) override {
    FUZZ_CHECK(in_part_, "data outside a part");
    FUZZ_CHECK(!chunk.empty(), "an empty data chunk");
    data_bytes_ += chunk.size();
    FUZZ_CHECK(data_bytes_ <= body_size_, "more data than body bytes");
    if (events_.back().kind != Event::Kind::Data) events_.push_back({Event::Kind::Data, {}, {}});
    events_.back().data.append(chunk);
  }
  void on_part_end() override {
    FUZZ_CHECK(in_part_, "a part ended that never began");
    in_part_ = false;
    events_.push_back({Event::Kind::End, {}, {}});
  }

  std::vector<Event> events_;
  bool in_part_ = false;
  std::size_t begun_ = 0;
  std::size_t data_bytes_ = 0;

 private:
  std::size_t body_size_;
};

std::string describe(const AppError& e) {
  return std::to_string(e.status()) + " " + e.detail();
}

// Feeds `body` in pieces of the sizes `next_size` returns (each ≥ 1).
template <typename Feed, typename NextSize>
void feed_in_chunks(std::string_view body, Feed&& feed, NextSize&& next_size) {
  while (!body.empty()) {
    const std::size_t n = std::min<std::size_t>(body.size(), next_size());
    feed(body.substr(0, n));
    body.remove_prefix(n);
  }
  feed(std::string_view{});  // an empty chunk is legal anywhere
}

template <typename NextSize>
Transcript run_parser(std::string_view boundary, std::string_view body, std::size_t max_parts,
                      NextSize&& next_size) {
  RecordingSink sink(body.size());
  Transcript t;
  MultipartParser parser(boundary, sink, max_parts);
  try {
    feed_in_chunks(
        body, [&](std::string_view chunk) { parser.feed(chunk); }, next_size);
    const bool complete = parser.complete();
    parser.finish();
    FUZZ_CHECK(complete, "finish() accepted a body without its closing delimiter");
    FUZZ_CHECK(!sink.in_part_, "finish() accepted a body whose last part never ended");
    t.outcome = "ok";
  } catch (const AppError& e) {
    FUZZ_CHECK(e.status() == 400, "parser error with status " + describe(e));
    FUZZ_CHECK(!e.detail().empty(), "an error without a message");
    t.outcome = describe(e);
  }
  FUZZ_CHECK(sink.begun_ == parser.part_count(), "part_count() disagrees with on_part_begin calls");
  FUZZ_CHECK(parser.part_count() <= max_parts, "more parts than max_parts");
  t.events = std::move(sink.events_);
  return t;
}

struct Collected {
  std::string outcome;
  std::string bytes;
  bool operator==(const Collected&) const = default;
};

template <typename NextSize>
Collected run_collector(std::string_view boundary, std::string_view body, const UploadLimits& limits,
                        NextSize&& next_size) {
  Collected c;
  FileFieldCollector collector(
      boundary,
      [&](std::string_view chunk) {
        c.bytes.append(chunk);
        FUZZ_CHECK(c.bytes.size() <= limits.max_file_bytes, "the writer received more than max_file_bytes");
      },
      limits);
  try {
    feed_in_chunks(
        body, [&](std::string_view chunk) { collector.feed(chunk); }, next_size);
    const auto file = collector.finish();
    FUZZ_CHECK(file.size == c.bytes.size(), "reported size differs from the bytes written");
    FUZZ_CHECK(file.size > 0, "an empty file was accepted");
    c.outcome = "ok filename=" + file.filename + " type=" + file.content_type;
  } catch (const AppError& e) {
    FUZZ_CHECK(e.status() == 400 || e.status() == 413, "collector error with status " + describe(e));
    c.outcome = describe(e);
  }
  return c;
}

// The round trip: a well-formed body whose file content, filename and filename* all come from the input.
void check_round_trip(std::string_view input, Rng& rng) {
  std::string boundary;
  do {
    boundary = "rt" + std::to_string(rng.next());
  } while (input.find(boundary) != std::string_view::npos);

  // A quoted filename keeps every byte but CR, LF and NUL (which header lines refuse); '"' and '\' are
  // escaped, the only escapes the parser undoes.
  std::string filename;
  std::string quoted;
  for (const char c : input.substr(0, 1000)) {
    if (c == '\r' || c == '\n' || c == '\0') continue;
    filename.push_back(c);
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  std::string extended = "UTF-8''";
  for (const char c : input.substr(0, 1000)) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const auto b = static_cast<unsigned char>(c);
    extended += '%';
    extended.push_back(kHex[b >> 4]);
    extended.push_back(kHex[b & 0x0F]);
  }
  const bool use_extended = rng.next() % 2 == 0 && !input.empty();

  std::string body = "preamble\r\n--" + boundary + "\r\n";
  body += "Content-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--" + boundary + "\r\n";
  body += "Content-Disposition: form-data; name=\"file\"; filename=\"" + quoted + "\"";
  if (use_extended) body += "; filename*=" + extended;
  body += "\r\nContent-Type: application/octet-stream\r\n\r\n";
  body.append(input);
  body += "\r\n--" + boundary + "--\r\nepilogue";

  const std::string expected_name = use_extended ? std::string(input.substr(0, 1000)) : filename;
  const UploadLimits limits{};
  const auto collected = run_collector(boundary, body, limits, [&] { return rng.between(1, 97); });
  if (input.empty()) {
    FUZZ_CHECK(collected.outcome == "400 The uploaded file is empty." ||
                   collected.outcome == "400 A file field named 'file' is required.",
               "round trip of an empty file: " + collected.outcome);
    return;
  }
  FUZZ_CHECK(collected.outcome == "ok filename=" + expected_name + " type=application/octet-stream",
             "round trip outcome: " + printable(collected.outcome));
  FUZZ_CHECK(collected.bytes == input, "round trip changed the file content");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = imageproc::fuzz::as_view(data, size);
  Rng rng(imageproc::fuzz::hash_bytes(input));

  std::string boundary(kDefaultBoundary);
  std::string_view body = input;
  if (const auto newline = input.find('\n'); newline != std::string_view::npos) {
    body = input.substr(newline + 1);
    try {
      boundary = imageproc::api::boundary_from_content_type(input.substr(0, newline));
      FUZZ_CHECK(!boundary.empty() && boundary.size() <= imageproc::api::kMaxBoundaryLength &&
                     boundary.back() != ' ' && boundary.find_first_of("\r\n\"") == std::string::npos,
                 "an invalid boundary was accepted: " + printable(boundary));
    } catch (const AppError& e) {
      FUZZ_CHECK(e.status() == 400, "Content-Type error with status " + describe(e));
      boundary = kDefaultBoundary;
    }
  }

  UploadLimits limits;
  limits.max_parts = static_cast<std::size_t>(rng.between(1, 10));
  limits.max_file_bytes = rng.next() % 4 == 0 ? rng.between(1, 256) : limits.max_file_bytes;
  limits.max_field_bytes = rng.next() % 4 == 0 ? static_cast<std::size_t>(rng.between(1, 64)) : 8192;

  const Transcript whole = run_parser(boundary, body, limits.max_parts, [] { return SIZE_MAX; });
  Rng chunk_rng(rng.next());
  const std::uint64_t max_chunk = chunk_rng.next() % 2 == 0 ? 8 : 300;
  const Transcript pieces =
      run_parser(boundary, body, limits.max_parts, [&] { return chunk_rng.between(1, max_chunk); });
  FUZZ_CHECK(whole == pieces,
             "chunking changed the result:\n whole:  " + render(whole) + "\n pieces: " + render(pieces));
  if (body.size() <= 2048) {
    const Transcript bytes = run_parser(boundary, body, limits.max_parts, [] { return 1; });
    FUZZ_CHECK(whole == bytes, "byte-by-byte feeding changed the result:\n whole: " + render(whole) +
                                   "\n bytes: " + render(bytes));
  }

  const Collected at_once = run_collector(boundary, body, limits, [] { return SIZE_MAX; });
  const Collected in_pieces = run_collector(boundary, body, limits, [&] { return chunk_rng.between(1, 64); });
  // Same outcome whatever the chunking. The bytes are the same too when it succeeds; after an error the
  // writer may have seen more or less of the doomed file, but always a prefix of the same stream.
  FUZZ_CHECK(
      at_once.outcome == in_pieces.outcome,
      "chunking changed the upload: " + printable(at_once.outcome) + " vs " + printable(in_pieces.outcome));
  const auto& shorter = at_once.bytes.size() <= in_pieces.bytes.size() ? at_once.bytes : in_pieces.bytes;
  const auto& longer = at_once.bytes.size() <= in_pieces.bytes.size() ? in_pieces.bytes : at_once.bytes;
  FUZZ_CHECK(longer.starts_with(shorter), "chunking changed the bytes written");
  FUZZ_CHECK(!at_once.outcome.starts_with("ok") || at_once.bytes == in_pieces.bytes,
             "chunking changed the bytes of an accepted upload");
  if (at_once.outcome.starts_with("ok")) {
    // The collector accepted: the parser saw a complete body with exactly one "file" part carrying these
    // bytes.
    FUZZ_CHECK(whole.outcome == "ok", "collector accepted what the parser refused: " + whole.outcome);
    std::size_t file_parts = 0;
    for (std::size_t i = 0; i < whole.events.size(); ++i) {
      const Event& e = whole.events[i];
      if (e.kind != Event::Kind::Begin || e.headers.name != FileFieldCollector::kFileFieldName) continue;
      ++file_parts;
      const bool has_data = i + 1 < whole.events.size() && whole.events[i + 1].kind == Event::Kind::Data;
      FUZZ_CHECK(has_data && whole.events[i + 1].data == at_once.bytes,
                 "collected bytes differ from the file part's data");
    }
    FUZZ_CHECK(file_parts == 1,
               "collector accepted a body with " + std::to_string(file_parts) + " file parts");
  }

  check_round_trip(input.substr(0, 4096), rng);
  return 0;
}
