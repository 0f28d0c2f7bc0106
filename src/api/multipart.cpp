#include "api/multipart.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/errors.hpp"

namespace imageproc::api {

namespace {

using namespace std::string_view_literals;

constexpr std::string_view kWhitespace = " \t";

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kWhitespace);
  return s.substr(first, last - first + 1);
}

AppError malformed(std::string_view what) {
  return errors::bad_request("Malformed multipart body: " + std::string(what) + ".");
}

// RFC 2046 §5.1.1 bchars; the space is allowed but not as the last character.
bool is_boundary_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return "'()+_,-./:=? "sv.find(c) != std::string_view::npos;
}

bool is_valid_boundary(std::string_view boundary) {
  return !boundary.empty() && boundary.size() <= kMaxBoundaryLength && boundary.back() != ' ' &&
         std::all_of(boundary.begin(), boundary.end(), is_boundary_char);
}

struct Parameter {
  std::string name;  // lower-cased
  std::string value;
};

// Parses the `*( OWS ";" OWS name "=" ( token / quoted-string ) )` tail of a header value (RFC 9110 §5.6.6).
// Inside quotes, a backslash escapes only '"' and '\': browsers do not escape backslashes in filenames
// (the HTML spec percent-encodes '"' instead), so "C:\x\y.jpg" must keep its backslashes.
// Returns nullopt when malformed.
std::optional<std::vector<Parameter>> parse_parameters(std::string_view s) {
  std::vector<Parameter> params;
  std::size_t i = 0;
  const auto skip_whitespace = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  for (;;) {
    skip_whitespace();
    if (i == s.size()) return params;
    if (s[i] != ';') return std::nullopt;
    ++i;
    skip_whitespace();
    if (i == s.size() || s[i] == ';') continue;  // empty parameter: harmless, tolerated

    const std::size_t name_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != ' ' && s[i] != '\t') ++i;
    Parameter param{lower(s.substr(name_start, i - name_start)), {}};
    skip_whitespace();
    if (param.name.empty() || i == s.size() || s[i] != '=') return std::nullopt;
    ++i;
    skip_whitespace();

    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < s.size() && (s[i] == '"' || s[i] == '\\')) {
          param.value.push_back(s[i++]);
          continue;
        }
        param.value.push_back(c);
      }
      if (!closed) return std::nullopt;
    } else {
      const std::size_t value_start = i;
      while (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t') ++i;
      if (i == value_start) return std::nullopt;
      param.value = std::string(s.substr(value_start, i - value_start));
    }
    params.push_back(std::move(param));
  }
}

// The one parameter called `name`; nullopt when absent. Throws when it appears twice, because two
// implementations could pick different ones (a classic smuggling trick).
std::optional<std::string> single_parameter(const std::vector<Parameter>& params, std::string_view name,
                                            std::string_view context) {
  std::optional<std::string> found;
  for (const auto& p : params) {
    if (p.name != name) continue;
    if (found) {
      throw malformed(std::string(context) + " has more than one '" + std::string(name) + "' parameter");
    }
    found = p.value;
  }
  return found;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 8187 (was 5987) ext-value: charset "'" [language] "'" pct-encoded. UTF-8 bytes are passed through
// (invalid UTF-8 is the display sanitiser's job); ISO-8859-1 is converted to UTF-8; other charsets and bad
// percent-encoding give nullopt, and the plain `filename` is used instead.
std::optional<std::string> decode_ext_value(std::string_view value) {
  const auto first_quote = value.find('\'');
  if (first_quote == std::string_view::npos) return std::nullopt;
  const auto second_quote = value.find('\'', first_quote + 1);
  if (second_quote == std::string_view::npos) return std::nullopt;
  const std::string_view charset = value.substr(0, first_quote);
  const std::string_view encoded = value.substr(second_quote + 1);

  std::string bytes;
  bytes.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      bytes.push_back(encoded[i]);
      continue;
    }
    if (i + 2 >= encoded.size()) return std::nullopt;
    const int high = hex_value(encoded[i + 1]);
    const int low = hex_value(encoded[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }

  if (iequals(charset, "utf-8")) return bytes;
  if (iequals(charset, "iso-8859-1")) {
    std::string utf8;
    utf8.reserve(bytes.size() * 2);
    for (const char c : bytes) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x80) {
        utf8.push_back(c);
      } else {
        utf8.push_back(static_cast<char>(0xC0 | (b >> 6)));
        utf8.push_back(static_cast<char>(0x80 | (b & 0x3F)));
      }
    }
    return utf8;
  }
  return std::nullopt;
}

// `block` is the header lines of one part, each ending in CRLF, without the empty line.
PartHeaders parse_part_headers(std::string_view block) {
  struct Field {
    std::string name;  // lower-cased
    std::string value;
  };
  std::vector<Field> fields;
  while (!block.empty()) {
    const auto eol = block.find("\r\n");
    // The block ends with CRLF and holds no blank line (the first one ended it): `line` is never empty.
    const std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol + 2);
    // A lone CR or LF (or NUL) inside a header line is how header injection starts; refuse it.
    if (line.find_first_of("\r\n\0"sv) != std::string_view::npos) {
      throw malformed("invalid character in part headers");
    }
    if (line.front() == ' ' || line.front() == '\t') {
      // Obsolete line folding (RFC 5322 §3.2.2): a continuation of the previous field.
      if (fields.empty()) throw malformed("part headers start with a continuation line");
      fields.back().value.push_back(' ');
      fields.back().value.append(trim(line));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) throw malformed("a part header line has no name");
    const std::string_view name = line.substr(0, colon);
    if (name.find_first_of(kWhitespace) != std::string_view::npos) {
      throw malformed("invalid part header name");
    }
    fields.push_back({lower(name), std::string(trim(line.substr(colon + 1)))});
  }

  const std::string* disposition = nullptr;
  const std::string* content_type = nullptr;
  for (const auto& field : fields) {
    if (field.name == "content-disposition") {
      if (disposition) throw malformed("a part has two Content-Disposition headers");
      disposition = &field.value;
    } else if (field.name == "content-type") {
      if (content_type) throw malformed("a part has two Content-Type headers");
      content_type = &field.value;
    }
  }
  if (!disposition) throw malformed("a part has no Content-Disposition header");

  const std::string_view value = *disposition;
  const auto semicolon = value.find(';');
  if (!iequals(trim(value.substr(0, semicolon)), "form-data")) {
    throw malformed("a part's Content-Disposition is not form-data");
  }
  const auto params =
      parse_parameters(semicolon == std::string_view::npos ? std::string_view{} : value.substr(semicolon));
  if (!params) throw malformed("a part's Content-Disposition cannot be parsed");

  constexpr std::string_view kContext = "a part's Content-Disposition";
  PartHeaders headers;
  auto name = single_parameter(*params, "name", kContext);
  if (!name) throw malformed("a part has no field name");
  headers.name = std::move(*name);
  headers.filename = single_parameter(*params, "filename", kContext);
  if (const auto extended = single_parameter(*params, "filename*", kContext)) {
    // RFC 6266 §4.3: the extended form wins when the recipient understands it.
    if (auto decoded = decode_ext_value(*extended)) headers.filename = std::move(decoded);
  }
  if (content_type) headers.content_type = *content_type;
  return headers;
}

// Transport padding after a boundary is legal but has no reason to be long; a cap keeps a stream of spaces
// from being "valid" forever.
constexpr std::size_t kMaxTransportPadding = 256;

}  // namespace

std::string boundary_from_content_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semicolon)), "multipart/form-data")) {
    throw errors::bad_request("The request body must be multipart/form-data.");
  }
  const auto params = parse_parameters(semicolon == std::string_view::npos ? std::string_view{}
                                                                           : content_type.substr(semicolon));
  if (!params) throw errors::bad_request("The multipart/form-data Content-Type cannot be parsed.");

  std::optional<std::string> boundary;
  for (const auto& p : *params) {
    if (p.name != "boundary") continue;
    if (boundary) {
      throw errors::bad_request("The multipart/form-data Content-Type has more than one boundary.");
    }
    boundary = p.value;
  }
  if (!boundary) throw errors::bad_request("The multipart/form-data Content-Type has no boundary.");
  if (!is_valid_boundary(*boundary)) {
    throw errors::bad_request(
        "The multipart boundary is invalid: it must be 1 to 70 letters, digits or '()+_,-./:=? characters, "
        "not ending in a space.");
  }
  return std::move(*boundary);
}

MultipartParser::MultipartParser(std::string_view boundary, Sink& sink, std::size_t max_parts)
    : delimiter_("\r\n--" + std::string(boundary)), sink_(sink), max_parts_(max_parts) {
  if (!is_valid_boundary(boundary)) throw std::invalid_argument("MultipartParser: invalid boundary");
  pending_.reserve(delimiter_.size() + 1);
  // The first delimiter may open the body without a preceding line break (RFC 2046 §5.1.1 allows no
  // preamble); pretending the body starts with CRLF lets one delimiter pattern serve every case.
  pending_ = "\r\n";
}

void MultipartParser::feed(std::string_view chunk) {
  if (state_ == State::Failed || finished_) {
    throw std::logic_error("MultipartParser used after an error or finish()");
  }
  try {
    while (!chunk.empty()) {
      switch (state_) {
        case State::Preamble:
        case State::Body:
          chunk = scan_for_delimiter(chunk);
          break;
        case State::AfterDelimiter:
          chunk = after_delimiter(chunk);
          break;
        case State::Padding:
        case State::PaddingLineFeed:
          chunk = delimiter_padding(chunk);
          break;
        case State::Headers:
          chunk = read_headers(chunk);
          break;
        case State::Epilogue:
          return;
        case State::Failed:
          throw std::logic_error("unreachable");
      }
    }
  } catch (...) {
    state_ = State::Failed;
    throw;
  }
}

void MultipartParser::finish() {
  if (state_ == State::Failed || finished_) {
    throw std::logic_error("MultipartParser used after an error or finish()");
  }
  if (state_ != State::Epilogue) {
    state_ = State::Failed;
    throw errors::bad_request("The multipart body ended before its closing boundary.");
  }
  finished_ = true;
}

void MultipartParser::emit(std::string_view data) {
  if (in_part_ && !data.empty()) sink_.on_part_data(data);
}

// Looks for delimiter_ in `input`, passing everything before it on as data. The boundary alphabet has no CR,
// so '\r' occurs in delimiter_ only at position 0: a failed partial match can never hide the start of a real
// one, and scanning for the next '\r' after a miss is exact (no KMP needed).
std::string_view MultipartParser::scan_for_delimiter(std::string_view input) {
  const std::string_view delimiter = delimiter_;
  if (!pending_.empty()) {
    const std::size_t wanted = std::min(delimiter.size() - pending_.size(), input.size());
    if (input.substr(0, wanted) == delimiter.substr(pending_.size(), wanted)) {
      pending_.append(input.substr(0, wanted));
      if (pending_.size() == delimiter.size()) state_ = State::AfterDelimiter;
      return input.substr(wanted);
    }
    emit(pending_);  // it was data after all
    pending_.clear();
  }
  for (std::size_t from = 0;;) {
    const auto cr = input.find('\r', from);
    if (cr == std::string_view::npos) {
      emit(input);
      return {};
    }
    const std::size_t available = std::min(delimiter.size(), input.size() - cr);
    if (input.substr(cr, available) == delimiter.substr(0, available)) {
      emit(input.substr(0, cr));
      pending_.assign(input.substr(cr, available));
      if (available == delimiter.size()) state_ = State::AfterDelimiter;
      return input.substr(cr + available);
    }
    from = cr + 1;
  }
}

// pending_ holds the whole delimiter, possibly followed by one '-'. What follows decides what it was.
std::string_view MultipartParser::after_delimiter(std::string_view input) {
  const char next = input.front();
  if (pending_.size() > delimiter_.size()) {  // seen "<delimiter>-"
    if (next == '-') {
      end_current_part();
      pending_.clear();
      state_ = State::Epilogue;
      return input.substr(1);
    }
    not_a_delimiter();
    return input;  // `next` is re-scanned as data
  }
  if (next == '-') {
    pending_.push_back('-');
    return input.substr(1);
  }
  if (next == ' ' || next == '\t' || next == '\r') {
    end_current_part();
    pending_.clear();
    padding_bytes_ = 0;
    state_ = State::Padding;
    return input;
  }
  not_a_delimiter();
  return input;
}

void MultipartParser::not_a_delimiter() {
  emit(pending_);
  pending_.clear();
  state_ = in_part_ ? State::Body : State::Preamble;
}

void MultipartParser::end_current_part() {
  if (!in_part_) return;
  in_part_ = false;
  sink_.on_part_end();
}

std::string_view MultipartParser::delimiter_padding(std::string_view input) {
  while (!input.empty()) {
    const char c = input.front();
    if (state_ == State::PaddingLineFeed) {
      if (c != '\n') throw malformed("a boundary line does not end with CRLF");
      if (part_count_ >= max_parts_) {
        throw errors::bad_request("The form has too many parts (the limit is " + std::to_string(max_parts_) +
                                  ").");
      }
      header_buffer_.reserve(kMaxPartHeaderBytes + 2);
      header_buffer_.assign("\r\n");
      state_ = State::Headers;
      return input.substr(1);
    }
    if (c == '\r') {
      state_ = State::PaddingLineFeed;
    } else if (c == ' ' || c == '\t') {
      if (++padding_bytes_ > kMaxTransportPadding) throw malformed("too much padding after a boundary");
    } else {
      throw malformed("unexpected characters after a boundary");
    }
    input.remove_prefix(1);
  }
  return input;
}

std::string_view MultipartParser::read_headers(std::string_view input) {
  // header_buffer_ starts with a synthetic CRLF (2 bytes) that is not part of the limit.
  constexpr std::size_t kCapacity = kMaxPartHeaderBytes + 2;
  const std::size_t old_size = header_buffer_.size();
  const std::size_t taken = std::min(kCapacity - old_size, input.size());
  header_buffer_.append(input.substr(0, taken));

  // The terminator may straddle the previous chunk: back up by its length minus one.
  const auto end = header_buffer_.find("\r\n\r\n", old_size >= 3 ? old_size - 3 : 0);
  if (end == std::string::npos) {
    if (header_buffer_.size() >= kCapacity) {
      throw errors::bad_request("Part headers too large (the limit is " +
                                describe_byte_size(kMaxPartHeaderBytes) + ").");
    }
    return input.substr(taken);
  }

  // Lines from after the synthetic CRLF up to and including the last header's CRLF.
  const PartHeaders headers = parse_part_headers(std::string_view(header_buffer_).substr(2, end));
  const std::size_t consumed = end + 4 - old_size;
  header_buffer_.clear();
  ++part_count_;
  in_part_ = true;
  state_ = State::Body;
  sink_.on_part_begin(headers);
  return input.substr(consumed);
}

std::string describe_byte_size(std::uint64_t bytes) {
  constexpr std::uint64_t kKiB = 1024;
  constexpr std::uint64_t kMiB = 1024 * kKiB;
  constexpr std::uint64_t kGiB = 1024 * kMiB;
  if (bytes != 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + " GiB";
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

FileFieldCollector::FileFieldCollector(std::string_view boundary, Writer writer, UploadLimits limits)
    : writer_(std::move(writer)), limits_(limits), parser_(boundary, *this, limits.max_parts) {
  if (!writer_) throw std::invalid_argument("FileFieldCollector: writer is empty");
}

void FileFieldCollector::on_part_begin(const PartHeaders& headers) {
  if (headers.name != kFileFieldName) {
    receiving_ = Receiving::OtherField;
    field_bytes_ = 0;
    return;
  }
  if (file_seen_) throw errors::bad_request("Only one file per upload.");
  if (!headers.filename) {
    throw errors::bad_request(
        "The field 'file' must be a file, not a text value (its part has no filename).");
  }
  file_seen_ = true;
  receiving_ = Receiving::File;
  file_.filename = *headers.filename;
  file_.content_type = headers.content_type;
}

void FileFieldCollector::on_part_data(std::string_view chunk) {
  switch (receiving_) {
    case Receiving::File:
      // Checked before writing, so the writer never receives more than the limit.
      if (chunk.size() > limits_.max_file_bytes - file_.size) {
        throw errors::payload_too_large("The file exceeds the " + describe_byte_size(limits_.max_file_bytes) +
                                        " limit.");
      }
      writer_(chunk);
      file_.size += chunk.size();
      break;
    case Receiving::OtherField:
      // Ignored, but a "text field" must not become a way to push unbounded data through the parser.
      if (chunk.size() > limits_.max_field_bytes - field_bytes_) {
        throw errors::payload_too_large("A form field exceeds the " +
                                        describe_byte_size(limits_.max_field_bytes) + " limit.");
      }
      field_bytes_ += chunk.size();
      break;
    case Receiving::Nothing:
      break;
  }
}

void FileFieldCollector::on_part_end() {
  receiving_ = Receiving::Nothing;
}

UploadedFile FileFieldCollector::finish() {
  parser_.finish();
  // A browser's file input with nothing chosen still sends the field, with filename="" and no bytes.
  if (!file_seen_ || (file_.size == 0 && file_.filename.empty())) {
    throw errors::bad_request("A file field named 'file' is required.");
  }
  if (file_.size == 0) throw errors::bad_request("The uploaded file is empty.");
  return file_;
}

}  // namespace imageproc::api
