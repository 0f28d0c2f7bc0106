#pragma once
// Streaming multipart/form-data (RFC 7578 over RFC 2046 §5.1) for uploads (DESIGN §4: "enforced while
// streaming, never buffered whole in memory").
//
// MultipartParser is a push parser: feed() it the body in chunks of any size, split anywhere, and it calls a
// Sink as parts begin, carry data and end. Part data is handed on as slices of the caller's chunks; the
// parser itself holds at most one possible delimiter (≤ 75 bytes) and one part's header block (≤
// kMaxPartHeaderBytes), whatever the size of the parts.
//
// Wire format choices:
//   - CRLF is required, as RFC 2046 says. Bare-LF bodies are not accepted: with LF-only lines "\n--boundary"
//     inside file data would become ambiguous, and every browser, curl and HTTP library sends CRLF. Such a
//     body never shows a valid delimiter and fails with "ended before its closing boundary".
//   - "CRLF--boundary" followed by anything other than "--", transport padding (SP/HT) or CRLF is not a
//     delimiter but part data (as Go's mime/multipart does): the boundary was merely a prefix of that line.
//   - The preamble before the first delimiter and the epilogue after the closing one are ignored.
//   - Part headers: Content-Disposition must be "form-data" with a name; filename* (RFC 5987, UTF-8 or
//     ISO-8859-1) wins over filename; Content-Type is passed on as sent. Other headers are ignored, obsolete
//     line folding is unfolded, duplicate Content-Disposition/Content-Type or duplicate parameters are
//     rejected (two parsers could otherwise disagree on which one counts).
//
// Errors are AppError: 400 for malformed input and limits on the form's shape, 413 for size limits in
// FileFieldCollector. Exceptions thrown by a Sink or writer propagate unchanged. After any exception the
// parser is spent; using it again is a programming error (std::logic_error).
//
// Thread-safety: none; one parser per request body, used by one thread at a time.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace imageproc::api {

// RFC 2046 §5.1.1: a boundary is 1–70 characters.
inline constexpr std::size_t kMaxBoundaryLength = 70;
// Limit on one part's header block, counted from after the boundary line up to and including the empty line.
inline constexpr std::size_t kMaxPartHeaderBytes = std::size_t{8} * 1024;
inline constexpr std::size_t kDefaultMaxParts = 8;

// Returns the boundary of a `multipart/form-data` Content-Type value (media type and parameter names are
// case-insensitive; the boundary may be a token or a quoted string). Throws AppError 400 when the type is
// something else, or the boundary is missing, duplicated, longer than 70 characters, or uses characters
// outside RFC 2046 `bchars`.
std::string boundary_from_content_type(std::string_view content_type);

// What a part declares about itself. All values are client-controlled and unsanitised.
struct PartHeaders {
  std::string name;                     // form field name (Content-Disposition `name`)
  std::optional<std::string> filename;  // nullopt when neither filename nor a usable filename* was sent;
                                        // may be "" (browsers send that for an empty file input)
  std::string content_type;             // as sent; "" when absent (RFC 7578 then means text/plain)
};

class MultipartParser {
 public:
  // Receives the parts in order. For each part: on_part_begin once, on_part_data zero or more times with
  // non-empty chunks (valid only during the call), on_part_end once when its delimiter has been seen. A body
  // that ends early gets no on_part_end for its last part; finish() throws instead.
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void on_part_begin(const PartHeaders& headers) = 0;
    virtual void on_part_data(std::string_view chunk) = 0;
    virtual void on_part_end() = 0;
  };

  // `boundary` as returned by boundary_from_content_type (std::invalid_argument if it is not valid).
  // `sink` is borrowed and must outlive the parser. At most `max_parts` parts are accepted (400 beyond).
  MultipartParser(std::string_view boundary, Sink& sink, std::size_t max_parts = kDefaultMaxParts);

  MultipartParser(const MultipartParser&) = delete;
  MultipartParser& operator=(const MultipartParser&) = delete;

  // Consumes the next piece of the body; any size, including empty. Bytes after the closing delimiter are
  // ignored. Throws AppError 400 on malformed input or a limit.
  void feed(std::string_view chunk);

  // Declares the end of the body. Throws AppError 400 if the closing delimiter has not been seen.
  void finish();

  // True once the closing delimiter has been seen (the rest of the body is epilogue).
  bool complete() const { return state_ == State::Epilogue; }
  std::size_t part_count() const { return part_count_; }

 private:
  enum class State {
    Preamble,         // before the first delimiter: discarded
    Body,             // inside a part: looking for the next delimiter
    AfterDelimiter,   // saw "CRLF--boundary": deciding between close, open and "just data"
    Padding,          // in the transport padding after an open delimiter, waiting for its CRLF
    PaddingLineFeed,  // saw the CR ending the delimiter line
    Headers,          // collecting a part's header block
    Epilogue,         // after the closing delimiter: discarded
    Failed,           // an exception escaped; the parser is spent
  };

  std::string_view scan_for_delimiter(std::string_view input);
  std::string_view after_delimiter(std::string_view input);
  std::string_view delimiter_padding(std::string_view input);
  std::string_view read_headers(std::string_view input);
  void not_a_delimiter();
  void end_current_part();
  void emit(std::string_view data);

  const std::string delimiter_;  // "\r\n--" + boundary
  Sink& sink_;
  const std::size_t max_parts_;
  State state_ = State::Preamble;
  bool in_part_ = false;
  bool finished_ = false;
  std::size_t part_count_ = 0;
  std::size_t padding_bytes_ = 0;
  // A possible delimiter straddling chunks: a proper prefix of delimiter_, or all of it plus at most one '-'.
  std::string pending_;
  // The header block being collected, behind a synthetic CRLF so an empty block is also "\r\n\r\n".
  std::string header_buffer_;
};

// Upload limits for FileFieldCollector; the defaults are DESIGN §4's.
struct UploadLimits {
  std::uint64_t max_file_bytes = 50ULL * 1024 * 1024;   // the file field's content
  std::size_t max_field_bytes = std::size_t{8} * 1024;  // each other (ignored) field's content
  std::size_t max_parts = kDefaultMaxParts;             // all parts of the form
};

struct UploadedFile {
  std::string filename;      // raw, as sent: sanitise before display, never use in storage keys or paths
  std::string content_type;  // as declared; informational only, the format is decided from the bytes
  std::uint64_t size = 0;    // bytes passed to the writer
};

// The upload use case on top of MultipartParser: exactly one field named "file" carrying a filename, its
// bytes streamed to `writer` as they arrive (never buffered) and counted. Other fields are read and dropped,
// each limited to max_field_bytes. Errors (AppError):
//   400 "Only one file per upload."                      a second "file" field
//   400 "The field 'file' must be a file, ..."          "file" sent as a text field (no filename)
//   400 "A file field named 'file' is required."        none, or a browser's empty file input (filename="")
//   400 "The uploaded file is empty."                    a named file with no bytes
//   413 "The file exceeds the 50 MiB limit."             thrown before the writer sees byte max+1
//   413 "A form field exceeds the 8 KiB limit."
// plus the parser's 400s. The writer's own exceptions propagate unchanged.
// Not thread-safe; not copyable or movable (the parser points back at it).
class FileFieldCollector : private MultipartParser::Sink {
 public:
  using Writer = std::function<void(std::string_view)>;
  static constexpr std::string_view kFileFieldName = "file";

  FileFieldCollector(std::string_view boundary, Writer writer, UploadLimits limits = {});

  FileFieldCollector(const FileFieldCollector&) = delete;
  FileFieldCollector& operator=(const FileFieldCollector&) = delete;

  void feed(std::string_view chunk) { parser_.feed(chunk); }

  // Ends the body and checks a file arrived. Returns its description; the bytes already went to the writer.
  UploadedFile finish();

 private:
  enum class Receiving { Nothing, File, OtherField };

  void on_part_begin(const PartHeaders& headers) override;
  void on_part_data(std::string_view chunk) override;
  void on_part_end() override;

  Writer writer_;
  const UploadLimits limits_;
  Receiving receiving_ = Receiving::Nothing;
  bool file_seen_ = false;
  std::size_t field_bytes_ = 0;
  UploadedFile file_;
  MultipartParser parser_;  // last: it refers to *this as its Sink
};

// "50 MiB", "8 KiB" or "1000 bytes": the largest unit that divides the size exactly, for limit messages.
std::string describe_byte_size(std::uint64_t bytes);

}  // namespace imageproc::api
