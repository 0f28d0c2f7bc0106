#include "api/multipart.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace imageproc::api {
namespace {

using namespace std::string_literals;

struct RecordedPart {
  PartHeaders headers;
  std::string data;
  bool ended = false;
  std::size_t data_calls = 0;
};

class RecordingSink : public MultipartParser::Sink {
 public:
  void on_part_begin(const PartHeaders& headers) override {
    if (!parts.empty()) {
      EXPECT_TRUE(parts.back().ended) << "a part began before the previous one ended";
    }
    parts.push_back({headers, {}, false, 0});
  }
  void on_part_data(std::string_view chunk) override {
    EXPECT_FALSE(chunk.empty()) << "empty data callbacks are noise";
    ASSERT_FALSE(parts.empty());
    EXPECT_FALSE(parts.back().ended);
    parts.back().data.append(chunk);
    ++parts.back().data_calls;
  }
  void on_part_end() override {
    ASSERT_FALSE(parts.empty());
    EXPECT_FALSE(parts.back().ended);
    parts.back().ended = true;
  }

  std::vector<RecordedPart> parts;
};

// Runs `f` and returns the AppError it throws; a test failure if it throws nothing.
template <typename F>
AppError error_from(F&& f) {
  try {
    f();
  } catch (const AppError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an AppError";
  return AppError(0, "", "");
}

std::vector<RecordedPart> parse(std::string_view body, std::string_view boundary,
                                const std::vector<std::size_t>& cuts = {},
                                std::size_t max_parts = kDefaultMaxParts) {
  RecordingSink sink;
  MultipartParser parser(boundary, sink, max_parts);
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    parser.feed(body.substr(from, cut - from));
    from = cut;
  }
  parser.feed(body.substr(from));
  parser.finish();
  EXPECT_TRUE(parser.complete());
  return sink.parts;
}

std::vector<RecordedPart> parse_bytewise(std::string_view body, std::string_view boundary) {
  RecordingSink sink;
  MultipartParser parser(boundary, sink);
  for (const char c : body) parser.feed(std::string_view(&c, 1));
  parser.finish();
  return sink.parts;
}

const std::string kJpegBytes = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\r\n\r\n\x00\x01binary\r\n--"s;

std::string file_and_text_body() {
  return "--XyZ\r\n"
         "Content-Disposition: form-data; name=\"title\"\r\n"
         "\r\n"
         "Holiday\r\n"
         "--XyZ\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"cat.jpg\"\r\n"
         "Content-Type: image/jpeg\r\n"
         "\r\n" +
         kJpegBytes +
         "\r\n"
         "--XyZ--\r\n";
}

TEST(MultipartParser, ParsesFileAndTextField) {
  const auto parts = parse(file_and_text_body(), "XyZ");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].headers.name, "title");
  EXPECT_FALSE(parts[0].headers.filename.has_value());
  EXPECT_EQ(parts[0].headers.content_type, "");
  EXPECT_EQ(parts[0].data, "Holiday");
  EXPECT_TRUE(parts[0].ended);
  EXPECT_EQ(parts[1].headers.name, "file");
  EXPECT_EQ(parts[1].headers.filename, "cat.jpg");
  EXPECT_EQ(parts[1].headers.content_type, "image/jpeg");
  EXPECT_EQ(parts[1].data, kJpegBytes);  // NUL, CRLFs and a trailing "--" are data, untouched
  EXPECT_TRUE(parts[1].ended);
}

TEST(MultipartParser, IgnoresPreambleAndEpilogue) {
  const std::string body =
      "This is the preamble.\r\n--not the boundary\r\n--b\r\n"
      "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
      "1\r\n--b--\r\nepilogue with --b\r\n--b\r\n inside";
  const auto parts = parse(body, "b");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].data, "1");
}

// File data holding every kind of near miss: prefixes of the delimiter cut short, the boundary without its
// CRLF, the full "CRLF--boundary" followed by a character that makes it a longer line, "-" but not "--", and
// a CR right before the real delimiter.
std::string near_miss_data() {
  return "\r\n--boun"           // prefix, then a different character
         "\r\r\n--boundx"       // CR before the CR; whole boundary, then a letter: not a delimiter
         "--bound\r\n"          // dashes and boundary without the leading CRLF
         "\r\n-"                // partial
         "\r\n--boundX"         // whole boundary, then a letter
         "\r\n--bound-x"        // whole boundary, then one dash only
         "\r\n--boun\r\n--bou"  // two prefixes back to back
         "\r";                  // ends with CR right before the real delimiter
}

std::string near_miss_body() {
  return "--bound\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
         "Content-Type: application/octet-stream\r\n"
         "\r\n" +
         near_miss_data() +
         "\r\n--bound\r\n"
         "Content-Disposition: form-data; name=\"note\"\r\n"
         "\r\n"
         "\r\n--boun\r\n"
         "\r\n--bound--";
}

TEST(MultipartParser, NearMissDelimitersAreData) {
  const auto parts = parse(near_miss_body(), "bound");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].data, near_miss_data());
  EXPECT_EQ(parts[1].headers.name, "note");
  EXPECT_EQ(parts[1].data, "\r\n--boun\r\n");
}

TEST(MultipartParser, EverySplitPositionGivesTheSameParts) {
  const std::string body = near_miss_body();
  const auto expected = parse(body, "bound");
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    const auto parts = parse(body, "bound", {cut});
    ASSERT_EQ(parts.size(), expected.size()) << "cut at " << cut;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      EXPECT_EQ(parts[i].headers.name, expected[i].headers.name) << "cut at " << cut;
      EXPECT_EQ(parts[i].headers.filename, expected[i].headers.filename) << "cut at " << cut;
      EXPECT_EQ(parts[i].data, expected[i].data) << "cut at " << cut;
      EXPECT_TRUE(parts[i].ended) << "cut at " << cut;
    }
  }
}

TEST(MultipartParser, EveryPairOfSplitPositionsGivesTheSameParts) {
  const std::string body = near_miss_body();
  const auto expected = parse(body, "bound");
  for (std::size_t first = 0; first <= body.size(); ++first) {
    for (std::size_t second = first; second <= body.size(); ++second) {
      const auto parts = parse(body, "bound", {first, second});
      ASSERT_EQ(parts.size(), 2u) << first << "," << second;
      ASSERT_EQ(parts[0].data, expected[0].data) << first << "," << second;
      ASSERT_EQ(parts[1].data, expected[1].data) << first << "," << second;
    }
  }
}

TEST(MultipartParser, ByteAtATimeGivesTheSameParts) {
  for (const std::string& body : {near_miss_body(), file_and_text_body()}) {
    const std::string boundary = body.substr(2, body.find("\r\n") - 2);
    const auto expected = parse(body, boundary);
    const auto parts = parse_bytewise(body, boundary);
    ASSERT_EQ(parts.size(), expected.size());
    for (std::size_t i = 0; i < parts.size(); ++i) EXPECT_EQ(parts[i].data, expected[i].data);
  }
}

TEST(MultipartParser, StreamsDataBeforeThePartEnds) {
  RecordingSink sink;
  MultipartParser parser("b", sink);
  parser.feed("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n");
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 64; ++i) {
    parser.feed(chunk);
    ASSERT_EQ(sink.parts.size(), 1u);
    // Everything but a possible delimiter prefix has been handed on already: nothing is held back.
    EXPECT_EQ(sink.parts[0].data.size(), (i + 1) * chunk.size());
  }
  parser.feed("\r\n--b--");
  parser.finish();
  EXPECT_TRUE(sink.parts[0].ended);
  EXPECT_EQ(sink.parts[0].data_calls, 64u);  // slices of the caller's chunks, no extra copies or splits
}

TEST(MultipartParser, AcceptsTransportPaddingAfterBoundary) {
  const std::string body =
      "--b \t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b\t\r\n"
      "Content-Disposition: form-data; name=\"b\"\r\n\r\ny\r\n--b--";
  const auto parts = parse(body, "b");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].data, "x");
  EXPECT_EQ(parts[1].data, "y");
}

TEST(MultipartParser, RejectsGarbageAfterBoundaryPadding) {
  RecordingSink sink;
  MultipartParser parser("b", sink);
  const auto e = error_from([&] { parser.feed("--b x\r\n"); });
  EXPECT_EQ(e.status(), 400);
  const auto cr_without_lf = error_from([&] {
    MultipartParser other("b", sink);
    other.feed("--b\rX");
  });
  EXPECT_EQ(cr_without_lf.status(), 400);
}

TEST(MultipartParser, EmptyPartAndEmptyFormAreParsed) {
  const auto parts = parse("--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--b--", "b");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].data, "");
  EXPECT_EQ(parts[0].data_calls, 0u);
  EXPECT_TRUE(parts[0].ended);
  EXPECT_TRUE(parse("--b--\r\n", "b").empty());
}

TEST(MultipartParser, DecodesUtf8ExtendedFilename) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.jpg\"; "
      "filename*=UTF-8''%E2%82%AC%20rates%F0%9F%93%B7.jpg\r\n\r\nx\r\n--b--";
  const auto parts = parse(body, "b");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].headers.filename, "\u20AC rates\U0001F4F7.jpg");
}

TEST(MultipartParser, ExtendedFilenameWorksAloneAndInLatin1) {
  auto filename_of = [](const std::string& disposition) {
    const auto parts = parse("--b\r\nContent-Disposition: " + disposition + "\r\n\r\nx\r\n--b--", "b");
    return parts.at(0).headers.filename;
  };
  EXPECT_EQ(filename_of("form-data; name=file; filename*=utf-8'en'na%C3%AFve.png"), "na\u00EFve.png");
  EXPECT_EQ(filename_of("form-data; name=file; filename*=ISO-8859-1''na%EFve.png"), "na\u00EFve.png");
  // Unusable extended values fall back to the plain parameter (or to no filename at all).
  EXPECT_EQ(filename_of("form-data; name=file; filename=plain.png; filename*=UTF-8''bad%zz"), "plain.png");
  EXPECT_EQ(filename_of("form-data; name=file; filename=plain.png; filename*=KOI8-R''%C1"), "plain.png");
  EXPECT_EQ(filename_of("form-data; name=file; filename=plain.png; filename*=UTF-8''cut%4"), "plain.png");
  EXPECT_EQ(filename_of("form-data; name=file; filename*=no-quotes"), std::nullopt);
}

TEST(MultipartParser, KeepsBackslashesOfWindowsPathsInQuotedFilenames) {
  auto filename_of = [](const std::string& disposition) {
    return parse("--b\r\nContent-Disposition: " + disposition + "\r\n\r\nx\r\n--b--", "b")
        .at(0)
        .headers.filename;
  };
  EXPECT_EQ(filename_of(R"(form-data; name="file"; filename="C:\x\y.jpg")"), R"(C:\x\y.jpg)");
  EXPECT_EQ(filename_of(R"(form-data; name="file"; filename="a\"b\\c.jpg")"), R"(a"b\c.jpg)");
  EXPECT_EQ(filename_of(R"(form-data; name="file"; filename="semi;colon.jpg")"), "semi;colon.jpg");
  EXPECT_EQ(filename_of(R"(form-data; name="file"; filename="")"), "");
}

TEST(MultipartParser, HeaderNamesAreCaseInsensitiveAndFoldedLinesJoined) {
  const std::string body =
      "--b\r\ncontent-DISPOSITION:form-data;NAME=\"file\";\r\n FileName=\"a.png\"\r\n"
      "X-Other: ignored\r\nCONTENT-TYPE:   image/png  \r\n\r\nx\r\n--b--";
  const auto parts = parse(body, "b");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].headers.name, "file");
  EXPECT_EQ(parts[0].headers.filename, "a.png");
  EXPECT_EQ(parts[0].headers.content_type, "image/png");
}

TEST(MultipartParser, RejectsMalformedPartHeaders) {
  const std::vector<std::string> bad_headers = {
      "",                                                            // no headers at all
      "Content-Type: text/plain\r\n",                                // no Content-Disposition
      "Content-Disposition: attachment; name=\"a\"\r\n",             // not form-data
      "Content-Disposition: form-data; filename=\"a\"\r\n",          // no name
      "Content-Disposition: form-data; name=\"a\"; name=\"b\"\r\n",  // ambiguous name
      "Content-Disposition: form-data; name=\"a\"; filename=x; filename=y\r\n",
      "Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\"\r\n",
      "Content-Disposition: form-data; name=\"a\"\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n",
      "Content-Disposition: form-data; name=\"unterminated\r\n",
      "Content-Disposition: form-data; name\r\n",  // parameter without a value
      "Content-Disposition: form-data; name=\"a\"\r\nNo colon here\r\n",
      "Content-Disposition: form-data; name=\"a\"\r\nBad Name: x\r\n",
      " folded: first\r\nContent-Disposition: form-data; name=\"a\"\r\n",  // continuation of nothing
      "Content-Disposition: form-data; name=\"a\nb\"\r\n",                 // bare LF inside a line
      "Content-Disposition: form-data; name=\"a\rb\"\r\n",                 // bare CR inside a line
  };
  for (const auto& headers : bad_headers) {
    const auto e = error_from([&] { parse("--b\r\n" + headers + "\r\nx\r\n--b--", "b"); });
    EXPECT_EQ(e.status(), 400) << headers;
    EXPECT_NE(e.detail().find("Malformed multipart body"), std::string::npos) << e.detail();
  }
}

TEST(MultipartParser, MissingClosingBoundaryIsBadRequest) {
  const std::vector<std::string> truncated = {
      "",
      "just text, no boundary at all",
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata",
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata\r\n--b",
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata\r\n--b-",
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata\r\n--b\r\n",
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n",
      // LF-only lines are not accepted (see the header): such a body never shows a delimiter.
      "--b\nContent-Disposition: form-data; name=\"a\"\n\ndata\n--b--\n",
  };
  for (const auto& body : truncated) {
    RecordingSink sink;
    MultipartParser parser("b", sink);
    parser.feed(body);
    const auto e = error_from([&] { parser.finish(); });
    EXPECT_EQ(e.status(), 400) << body;
    EXPECT_EQ(e.detail(), "The multipart body ended before its closing boundary.");
    EXPECT_FALSE(parser.complete());
  }
}

TEST(MultipartParser, TruncatedBodyDoesNotEndItsLastPart) {
  RecordingSink sink;
  MultipartParser parser("b", sink);
  parser.feed("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata\r\n--b");
  EXPECT_THROW(parser.finish(), AppError);
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].data, "data");  // the possible delimiter was never passed on as data
  EXPECT_FALSE(sink.parts[0].ended);
}

std::string part_with_header_block_of(std::size_t block_bytes) {
  // Block = "Content-Disposition: form-data; name=\"a\"\r\n" + "X-Pad: ...\r\n" + "\r\n".
  const std::string disposition = "Content-Disposition: form-data; name=\"a\"\r\n";
  const std::size_t pad = block_bytes - disposition.size() - std::string("X-Pad: \r\n\r\n").size();
  return "--b\r\n" + disposition + "X-Pad: " + std::string(pad, 'p') + "\r\n\r\nx\r\n--b--";
}

TEST(MultipartParser, HeaderBlockUpToTheLimitIsAccepted) {
  const std::string body = part_with_header_block_of(kMaxPartHeaderBytes);
  EXPECT_EQ(parse(body, "b").size(), 1u);
  EXPECT_EQ(parse_bytewise(body, "b").size(), 1u);
}

TEST(MultipartParser, HeaderBlockOverTheLimitIsRejected) {
  const std::string body = part_with_header_block_of(kMaxPartHeaderBytes + 1);
  for (const std::size_t cut : {std::size_t{0}, std::size_t{100}, body.size() - 10}) {
    const auto e = error_from([&] { parse(body, "b", {cut}); });
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.detail(), "Part headers too large (the limit is 8 KiB).");
  }
  // A header block that never ends is cut off at the limit, not buffered until the body ends.
  RecordingSink sink;
  MultipartParser parser("b", sink);
  parser.feed("--b\r\n");
  const std::string endless(1024, 'h');
  const auto e = error_from([&] {
    for (int i = 0; i < 100; ++i) parser.feed(endless);
  });
  EXPECT_EQ(e.status(), 400);
}

std::string form_with_parts(int count) {
  std::string body;
  for (int i = 0; i < count; ++i) {
    body += "--b\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nv\r\n";
  }
  return body + "--b--";
}

TEST(MultipartParser, LimitsTheNumberOfParts) {
  EXPECT_EQ(parse(form_with_parts(8), "b").size(), 8u);  // the default
  EXPECT_EQ(parse(form_with_parts(2), "b", {}, 2).size(), 2u);
  const auto e = error_from([&] { parse(form_with_parts(3), "b", {}, 2); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.detail(), "The form has too many parts (the limit is 2).");
  EXPECT_EQ(error_from([&] { parse(form_with_parts(9), "b"); }).status(), 400);
}

TEST(MultipartParser, IsSpentAfterAnError) {
  class ThrowingSink : public RecordingSink {
   public:
    void on_part_data(std::string_view) override { throw std::runtime_error("disk full"); }
  };
  ThrowingSink sink;
  MultipartParser parser("b", sink);
  EXPECT_THROW(parser.feed("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxyz"),
               std::runtime_error);
  EXPECT_THROW(parser.feed("more"), std::logic_error);
  EXPECT_THROW(parser.finish(), std::logic_error);
}

TEST(MultipartParser, RejectsInvalidBoundaryAtConstruction) {
  RecordingSink sink;
  EXPECT_THROW(MultipartParser("", sink), std::invalid_argument);
  EXPECT_THROW(MultipartParser("a\r\nb", sink), std::invalid_argument);
  EXPECT_THROW(MultipartParser(std::string(71, 'a'), sink), std::invalid_argument);
}

TEST(MultipartParser, LongestBoundaryStraddlingChunksIsFound) {
  const std::string boundary(kMaxBoundaryLength, 'B');
  const std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" +
                           "data\r\n--" + boundary.substr(0, 69) + "\r\n--" + boundary + "--";
  const auto expected = parse(body, boundary);
  ASSERT_EQ(expected.size(), 1u);
  EXPECT_EQ(expected[0].data, "data\r\n--" + boundary.substr(0, 69));
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    ASSERT_EQ(parse(body, boundary, {cut}).at(0).data, expected[0].data) << cut;
  }
}

// --- boundary_from_content_type ---

TEST(BoundaryFromContentType, ReadsTokenAndQuotedBoundaries) {
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk"),
            "----WebKitFormBoundary7MA4YWxk");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=\"simple boundary\""),
            "simple boundary");
  EXPECT_EQ(boundary_from_content_type("Multipart/Form-Data;BOUNDARY=\"a:b=c?d\""), "a:b=c?d");
  EXPECT_EQ(boundary_from_content_type("  multipart/form-data ;\tcharset=utf-8 ; Boundary=x  "), "x");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=" + std::string(70, 'z')),
            std::string(70, 'z'));
}

TEST(BoundaryFromContentType, RejectsOtherTypesAndBadBoundaries) {
  const std::vector<std::string> bad = {
      "",
      "application/json",
      "multipart/mixed; boundary=x",
      "multipart/form-data-x; boundary=x",
      "text/plain; boundary=x",
      "multipart/form-data",
      "multipart/form-data; charset=utf-8",
      "multipart/form-data; boundary=",
      "multipart/form-data; boundary=\"\"",
      "multipart/form-data; boundary=" + std::string(71, 'z'),
      "multipart/form-data; boundary=\"trailing space \"",
      "multipart/form-data; boundary=\"unterminated",
      "multipart/form-data; boundary=a; boundary=b",
      "multipart/form-data; boundary=semi\"quote",
      "multipart/form-data; boundary=\"back\\\\slash\"",
      "multipart/form-data; boundary=\"new\r\nline\"",
      "multipart/form-data; boundary=\"t\xC3\xA9st\"",
      "multipart/form-data boundary=x",
  };
  for (const auto& content_type : bad) {
    const auto e = error_from([&] { boundary_from_content_type(content_type); });
    EXPECT_EQ(e.status(), 400) << content_type;
    EXPECT_FALSE(e.detail().empty());
  }
  EXPECT_EQ(error_from([&] { boundary_from_content_type("image/png"); }).detail(),
            "The request body must be multipart/form-data.");
  EXPECT_EQ(error_from([&] { boundary_from_content_type("multipart/form-data"); }).detail(),
            "The multipart/form-data Content-Type has no boundary.");
}

// --- FileFieldCollector ---

struct Upload {
  std::string written;
  std::size_t writes = 0;
};

std::string upload_body(const std::string& file_data, const std::string& extra_parts = "",
                        const std::string& filename = "photo.png") {
  return "--b\r\n" + extra_parts + "Content-Disposition: form-data; name=\"file\"; filename=\"" + filename +
         "\"\r\nContent-Type: image/png\r\n\r\n" + file_data + "\r\n--b--\r\n";
}

UploadedFile collect(const std::string& body, Upload& upload, UploadLimits limits = {},
                     std::size_t chunk_size = 7) {
  FileFieldCollector collector(
      "b",
      [&](std::string_view chunk) {
        upload.written.append(chunk);
        ++upload.writes;
      },
      limits);
  for (std::size_t i = 0; i < body.size(); i += chunk_size)
    collector.feed(std::string_view(body).substr(i, chunk_size));
  return collector.finish();
}

TEST(FileFieldCollector, StreamsTheFileAndIgnoresOtherFields) {
  const std::string data = "\x89PNG\r\n\x1A\n" + std::string(1000, '\0') + "\r\n--b-";
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n--b\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"../../cat.png\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n" +
      data + "\r\n--b\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\na,b\r\n--b--\r\n";
  Upload upload;
  const UploadedFile file = collect(body, upload);
  EXPECT_EQ(upload.written, data);
  EXPECT_GT(upload.writes, 1u);  // streamed, not collected first
  EXPECT_EQ(file.size, data.size());
  EXPECT_EQ(file.filename, "../../cat.png");  // raw: display sanitising is the caller's step
  EXPECT_EQ(file.content_type, "application/octet-stream");
}

TEST(FileFieldCollector, AcceptsAFileOfExactlyTheLimit) {
  UploadLimits limits;
  limits.max_file_bytes = 1000;
  for (const std::size_t chunk_size :
       {std::size_t{1}, std::size_t{7}, std::size_t{999}, std::size_t{1 << 20}}) {
    Upload upload;
    const auto file = collect(upload_body(std::string(1000, 'a')), upload, limits, chunk_size);
    EXPECT_EQ(file.size, 1000u);
    EXPECT_EQ(upload.written.size(), 1000u);
  }
}

TEST(FileFieldCollector, RejectsOneByteOverTheLimitWithoutWritingIt) {
  UploadLimits limits;
  limits.max_file_bytes = 1000;
  for (const std::size_t chunk_size :
       {std::size_t{1}, std::size_t{7}, std::size_t{999}, std::size_t{1 << 20}}) {
    Upload upload;
    const auto e =
        error_from([&] { collect(upload_body(std::string(1001, 'a')), upload, limits, chunk_size); });
    EXPECT_EQ(e.status(), 413);
    EXPECT_EQ(e.detail(), "The file exceeds the 1000 bytes limit.");
    EXPECT_LE(upload.written.size(), 1000u) << "the writer must never see more than the limit";
  }
}

TEST(FileFieldCollector, DefaultLimitIs50MiB) {
  constexpr std::size_t kLimit = 50 * 1024 * 1024;
  const std::string head =
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n";
  const std::string block(1024 * 1024, 'j');
  for (const std::size_t size : {kLimit, kLimit + 1}) {
    std::size_t written = 0;
    FileFieldCollector collector("b", [&](std::string_view chunk) { written += chunk.size(); });
    auto run = [&] {
      collector.feed(head);
      for (std::size_t sent = 0; sent < size; sent += block.size()) {
        collector.feed(std::string_view(block).substr(0, std::min(block.size(), size - sent)));
      }
      collector.feed("\r\n--b--");
      return collector.finish();
    };
    if (size == kLimit) {
      EXPECT_EQ(run().size, kLimit);
    } else {
      const auto e = error_from(run);
      EXPECT_EQ(e.status(), 413);
      EXPECT_EQ(e.detail(), "The file exceeds the 50 MiB limit.");
      EXPECT_EQ(written, kLimit);
    }
  }
}

TEST(FileFieldCollector, RejectsASecondFileField) {
  const std::string second =
      "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nfirst\r\n--b\r\n";
  Upload upload;
  const auto e = error_from([&] { collect(upload_body("second", second), upload); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.detail(), "Only one file per upload.");
}

TEST(FileFieldCollector, RequiresAFileField) {
  Upload upload;
  const auto none = error_from(
      [&] { collect("--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n--b--", upload); });
  EXPECT_EQ(none.status(), 400);
  EXPECT_EQ(none.detail(), "A file field named 'file' is required.");

  const auto empty_form = error_from([&] { collect("--b--", upload); });
  EXPECT_EQ(empty_form.detail(), "A file field named 'file' is required.");

  // Another field carrying a file does not count: the contract is the field named "file".
  const auto wrong_name = error_from([&] {
    collect("--b\r\nContent-Disposition: form-data; name=\"File\"; filename=\"a.png\"\r\n\r\nx\r\n--b--",
            upload);
  });
  EXPECT_EQ(wrong_name.detail(), "A file field named 'file' is required.");

  // What a browser sends for a file input with nothing chosen.
  const auto nothing_chosen = error_from([&] { collect(upload_body("", "", ""), upload); });
  EXPECT_EQ(nothing_chosen.detail(), "A file field named 'file' is required.");
}

TEST(FileFieldCollector, RejectsFileSentAsTextField) {
  Upload upload;
  const auto e = error_from([&] {
    collect("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nnot a file\r\n--b--", upload);
  });
  EXPECT_EQ(e.status(), 400);
  EXPECT_NE(e.detail().find("must be a file"), std::string::npos);
  EXPECT_TRUE(upload.written.empty());
}

TEST(FileFieldCollector, RejectsAnEmptyFile) {
  Upload upload;
  const auto e = error_from([&] { collect(upload_body(""), upload); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.detail(), "The uploaded file is empty.");
}

TEST(FileFieldCollector, LimitsOtherFields) {
  UploadLimits limits;
  limits.max_field_bytes = 8 * 1024;
  const auto field = [](std::size_t size) {
    return "Content-Disposition: form-data; name=\"note\"\r\n\r\n" + std::string(size, 'n') + "\r\n--b\r\n";
  };
  Upload upload;
  EXPECT_EQ(collect(upload_body("x", field(8 * 1024)), upload, limits).size, 1u);
  const auto e = error_from([&] { collect(upload_body("x", field(8 * 1024 + 1)), upload, limits); });
  EXPECT_EQ(e.status(), 413);
  EXPECT_EQ(e.detail(), "A form field exceeds the 8 KiB limit.");
}

TEST(FileFieldCollector, ReportsTruncatedBodiesAndPartLimits) {
  Upload upload;
  FileFieldCollector collector("b", [&](std::string_view chunk) { upload.written.append(chunk); });
  collector.feed("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc");
  EXPECT_EQ(error_from([&] { collector.finish(); }).detail(),
            "The multipart body ended before its closing boundary.");

  UploadLimits limits;
  limits.max_parts = 1;
  const std::string extra = "Content-Disposition: form-data; name=\"t\"\r\n\r\nv\r\n--b\r\n";
  EXPECT_EQ(error_from([&] { collect(upload_body("x", extra), upload, limits); }).status(), 400);
}

TEST(FileFieldCollector, WriterErrorsPropagate) {
  FileFieldCollector collector("b", [](std::string_view) { throw std::runtime_error("storage down"); });
  EXPECT_THROW(collector.feed(upload_body("data")), std::runtime_error);
}

TEST(DescribeByteSize, UsesTheLargestExactUnit) {
  EXPECT_EQ(describe_byte_size(50ULL * 1024 * 1024), "50 MiB");
  EXPECT_EQ(describe_byte_size(8 * 1024), "8 KiB");
  EXPECT_EQ(describe_byte_size(1536 * 1024), "1536 KiB");
  EXPECT_EQ(describe_byte_size(2ULL << 30), "2 GiB");
  EXPECT_EQ(describe_byte_size(1000), "1000 bytes");
  EXPECT_EQ(describe_byte_size(1), "1 byte");
  EXPECT_EQ(describe_byte_size(0), "0 bytes");
}

}  // namespace
}  // namespace imageproc::api
