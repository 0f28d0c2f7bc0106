// The hostile-input corpus (issue 9), generated here and uploaded through the real API to a real worker:
// names that lie about the bytes, polyglots, markup disguised as images, decompression bombs (declared sizes,
// real zlib bombs, frame counts), truncated and bit-flipped files, giant EXIF and ICC blocks, odd EXIF
// orientations and malformed GPS, extreme shapes, CMYK and 16-bit, hostile filenames, broken multipart
// bodies, huge headers and a slow-loris body. Every input must get its documented status, or be accepted and
// end in Completed or in an Error with a readable message; the worker must keep consuming and its memory stay
// bounded. Prints how many inputs were tried and how many outcomes were unexpected (must be 0).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "images_fixture.hpp"
#include "raw_connection.hpp"

namespace imageproc::testing {
namespace {

// What an input may lead to.
enum class Want {
  Completes,  // 202, then the image stage Completed
  Fails,      // 202, then the image stage Error with a readable message
  Finishes,   // 202, then Completed or a readable Error (damaged data: either is documented)
  Refused,    // one of `statuses`, a problem body with a readable detail, no job
  Any,        // a refusal from `statuses` or 202 then Completed / readable Error
};

struct Case {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string bytes;
  Want want = Want::Completes;
  std::set<long> statuses;  // for Refused / Any
};

std::string le16(unsigned v) {
  return {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)};
}

// A real JPEG whose frame header (SOF0/SOF2) is rewritten to declare width × height.
std::string jpeg_declaring(std::string jpeg_bytes, unsigned width, unsigned height) {
  for (std::size_t i = 2; i + 9 < jpeg_bytes.size(); ++i) {
    const auto m = static_cast<unsigned char>(jpeg_bytes[i + 1]);
    if (static_cast<unsigned char>(jpeg_bytes[i]) == 0xFF && (m == 0xC0 || m == 0xC2)) {
      jpeg_bytes[i + 5] = static_cast<char>(height >> 8);
      jpeg_bytes[i + 6] = static_cast<char>(height & 0xff);
      jpeg_bytes[i + 7] = static_cast<char>(width >> 8);
      jpeg_bytes[i + 8] = static_cast<char>(width & 0xff);
      return jpeg_bytes;
    }
  }
  ADD_FAILURE() << "no SOF marker";
  return jpeg_bytes;
}

// A real lossy WebP whose VP8 frame header declares width × height (14 bits each, at most 16383).
std::string webp_declaring(std::string webp_bytes, unsigned width, unsigned height) {
  const auto at = webp_bytes.find("\x9d\x01\x2a");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no VP8 start code";
    return webp_bytes;
  }
  webp_bytes.replace(at + 3, 4, le16(width) + le16(height));
  return webp_bytes;
}

// A real GIF whose logical screen and first image descriptor declare width × height.
std::string gif_declaring(std::string gif_bytes, unsigned width, unsigned height) {
  gif_bytes.replace(6, 4, le16(width) + le16(height));
  std::size_t i = 13;
  const auto flags = static_cast<unsigned char>(gif_bytes[10]);
  if (flags & 0x80) i += 3u * (2u << (flags & 7));
  while (i < gif_bytes.size() && gif_bytes[i] == 0x21) {  // extensions: label, then sub-blocks up to a 0 size
    i += 2;
    while (i < gif_bytes.size() && gif_bytes[i] != 0) i += 1 + static_cast<unsigned char>(gif_bytes[i]);
    ++i;
  }
  if (i + 9 > gif_bytes.size() || gif_bytes[i] != 0x2C) {
    ADD_FAILURE() << "no image descriptor";
    return gif_bytes;
  }
  gif_bytes.replace(i + 5, 4, le16(width) + le16(height));
  return gif_bytes;
}

std::string gif_of_frames(int frames, int width, int height) {
  VImage strip = (VImage::black(width, height * frames, VImage::option()->set("bands", 3)) + 120)
                     .cast(VIPS_FORMAT_UCHAR);
  strip = strip.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  strip.set("page-height", height);
  void* data = nullptr;
  std::size_t size = 0;
  strip.write_to_buffer(".gif", &data, &size);
  return buffer_of(data, size);
}

std::string flat_png(int width, int height) {
  void* data = nullptr;
  std::size_t size = 0;
  VImage::black(width, height, VImage::option()->set("bands", 3))
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .write_to_buffer(".png", &data, &size, VImage::option()->set("compression", 9));
  return buffer_of(data, size);
}

// 16 bits per sample (libvips writes a 16-bit PNG only from a 16-bit image).
VImage deep(const VImage& image) {
  return (image * 257)
      .cast(VIPS_FORMAT_USHORT)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
}

std::string cmyk_jpeg(const VImage& image) {
  void* data = nullptr;
  std::size_t size = 0;
  image.icc_transform("cmyk").write_to_buffer(".jpg", &data, &size);
  return buffer_of(data, size);
}

std::string flipped(std::string bytes, std::uint32_t seed, int flips) {
  std::mt19937 rng(seed);
  // Leave the first 16 bytes (the magic) so the sniffer routes it to the decoder under test.
  std::uniform_int_distribution<std::size_t> where(16, bytes.size() - 1);
  for (int i = 0; i < flips; ++i) bytes[where(rng)] ^= static_cast<char>(1u << (rng() % 8));
  return bytes;
}

class HostileInputTest : public ImagesTest {
 protected:
  std::string exif_jpeg(const std::string& name, const std::string& exiftool_args) {
    const fs::path file = scratch_.path() / (name + ".jpg");
    std::ofstream(file, std::ios::binary) << jpeg(picture(400, 300));
    run_command("exiftool -q -q -overwrite_original -n " + exiftool_args + " '" + file.string() + "'");
    return read_file(file);
  }

  // A JPEG carrying an ICC profile of `size` bytes (split over several APP2 segments): a real profile header
  // in front of filler, as a camera or a hostile client could send.
  std::string jpeg_with_big_icc(std::size_t size) {
    const fs::path icc = scratch_.path() / "big.icc";
    std::string profile(size, '\0');
    profile.replace(0, 4, be32(static_cast<std::uint32_t>(size)));
    profile.replace(12, 12, "mntrRGB XYZ ");
    profile.replace(36, 4, "acsp");
    std::ofstream(icc, std::ios::binary) << profile;
    const fs::path file = scratch_.path() / "icc.jpg";
    std::ofstream(file, std::ios::binary) << jpeg(picture(400, 300));
    run_command("exiftool -q -q -overwrite_original '-ICC_Profile<=" + icc.string() + "' '" + file.string() +
                "'");
    return read_file(file);
  }

  std::vector<Case> corpus() {
    const std::string small_jpeg = jpeg(picture(320, 240));
    const std::string small_png = png(picture(320, 240));
    const std::string small_webp = webp(picture(320, 240));
    const std::string small_gif = gif_of_frames(1, 64, 48);
    std::vector<Case> c;
    const std::set<long> refusals = {400, 413, 415, 422};
    // Names and declared types that lie.
    c.push_back({"png named .jpg", "photo.jpg", "image/jpeg", small_png, Want::Completes, {}});
    c.push_back({"jpeg named .txt", "notes.txt", "text/plain", small_jpeg, Want::Completes, {}});
    c.push_back({"text named .png",
                 "image.png",
                 "image/png",
                 "just some text, not an image\n",
                 Want::Refused,
                 {415}});
    c.push_back({"html named .jpg",
                 "x.jpg",
                 "image/jpeg",
                 "<html><script>alert(1)</script></html>",
                 Want::Refused,
                 {415}});
    c.push_back(
        {"svg named .png",
         "x.png",
         "image/png",
         R"(<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>)",
         Want::Refused,
         {415}});
    c.push_back(
        {"xml named .webp", "x.webp", "image/webp", "<?xml version=\"1.0\"?><root/>", Want::Refused, {415}});
    c.push_back({"svg with BOM",
                 "x.svg",
                 "image/svg+xml",
                 "\xEF\xBB\xBF<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                 Want::Refused,
                 {415}});
    c.push_back({"pdf", "x.jpg", "image/jpeg", "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", Want::Refused, {415}});
    c.push_back({"zip named .png",
                 "x.png",
                 "image/png",
                 std::string("PK\x03\x04", 4) + std::string(200, 'z'),
                 Want::Refused,
                 {415}});
    // Polyglots: a valid image with something else behind it. Accepted (the image is real); outputs are
    // re-encoded, so nothing of the rest survives.
    c.push_back({"jpeg+zip polyglot",
                 "poly.jpg",
                 "image/jpeg",
                 small_jpeg + std::string("PK\x03\x04", 4) + std::string(500, '\x01') + "PK\x05\x06" +
                     std::string(18, '\0'),
                 Want::Completes,
                 {}});
    c.push_back({"png with trailing html",
                 "poly.png",
                 "image/png",
                 small_png + "<html><body><script>alert(document.cookie)</script></body></html>",
                 Want::Completes,
                 {}});
    c.push_back({"gif with trailing javascript",
                 "poly.gif",
                 "image/gif",
                 small_gif + "/*\n*/alert(1)//",
                 Want::Completes,
                 {}});
    // Decompression bombs: declared sizes far over IMAGE_MAX_PIXELS are refused from the header.
    c.push_back({"png declaring 100000x100000",
                 "bomb.png",
                 "image/png",
                 png_declaring(100000, 100000),
                 Want::Refused,
                 {422}});
    c.push_back({"png declaring 2^31 wide",
                 "bomb2.png",
                 "image/png",
                 png_declaring(0x7fffffffu, 1),
                 Want::Refused,
                 {422}});
    c.push_back({"jpeg declaring 65500x65500",
                 "bomb.jpg",
                 "image/jpeg",
                 jpeg_declaring(small_jpeg, 65500, 65500),
                 Want::Refused,
                 {422}});
    c.push_back({"webp declaring 16383x16383",
                 "bomb.webp",
                 "image/webp",
                 webp_declaring(small_webp, 16383, 16383),
                 Want::Refused,
                 {422}});
    c.push_back({"gif declaring 65535x65535",
                 "bomb.gif",
                 "image/gif",
                 gif_declaring(small_gif, 65535, 65535),
                 Want::Refused,
                 {422}});
    c.push_back({"real zlib bomb over the limit (9 MP of zeros)",
                 "zeros.png",
                 "image/png",
                 flat_png(3000, 3000),
                 Want::Refused,
                 {422}});
    c.push_back({"zlib bomb under the limit (3.6 MP of zeros)",
                 "zeros-ok.png",
                 "image/png",
                 flat_png(1900, 1900),
                 Want::Completes,
                 {}});
    c.push_back(
        {"gif with 1001 frames", "frames.gif", "image/gif", gif_of_frames(1001, 1, 1), Want::Refused, {422}});
    c.push_back({"gif whose frames sum over the pixel limit",
                 "sum.gif",
                 "image/gif",
                 gif_of_frames(40, 320, 320),
                 Want::Refused,
                 {422}});
    // Truncated and damaged.
    c.push_back({"jpeg truncated at half",
                 "half.jpg",
                 "image/jpeg",
                 small_jpeg.substr(0, small_jpeg.size() / 2),
                 Want::Fails,
                 {}});
    c.push_back({"png truncated at half",
                 "half.png",
                 "image/png",
                 small_png.substr(0, small_png.size() / 2),
                 Want::Fails,
                 {}});
    c.push_back({"webp truncated at half", "half.webp", "image/webp",
                 small_webp.substr(0, small_webp.size() / 2), Want::Any, refusals});
    c.push_back(
        {"jpeg header only", "head.jpg", "image/jpeg", small_jpeg.substr(0, 20), Want::Refused, {422}});
    c.push_back({"png signature only", "sig.png", "image/png", small_png.substr(0, 8), Want::Refused, {422}});
    c.push_back({"gif header only", "head.gif", "image/gif", small_gif.substr(0, 13), Want::Refused, {422}});
    for (std::uint32_t seed = 1; seed <= 4; ++seed) {
      c.push_back({fmt::format("bit-flipped jpeg #{}", seed), "flip.jpg", "image/jpeg",
                   flipped(small_jpeg, seed, 40), Want::Any, refusals});
      c.push_back({fmt::format("bit-flipped png #{}", seed), "flip.png", "image/png",
                   flipped(small_png, seed, 40), Want::Any, refusals});
      c.push_back({fmt::format("bit-flipped webp #{}", seed), "flip.webp", "image/webp",
                   flipped(small_webp, seed, 40), Want::Any, refusals});
      c.push_back({fmt::format("bit-flipped gif #{}", seed), "flip.gif", "image/gif",
                   flipped(small_gif, seed, 20), Want::Any, refusals});
    }
    // Metadata abuse.
    c.push_back({"jpeg with a 60 KB EXIF comment",
                 "exif.jpg",
                 "image/jpeg",
                 exif_jpeg("bigexif", "-UserComment=" + std::string(60000, 'A')),
                 Want::Completes,
                 {}});
    c.push_back({"jpeg with a 300 KB ICC profile",
                 "icc.jpg",
                 "image/jpeg",
                 jpeg_with_big_icc(300 * 1024),
                 Want::Finishes,
                 {}});
    for (const int orientation : {0, 9, 255}) {
      c.push_back(
          {fmt::format("exif orientation {}", orientation),
           "o.jpg",
           "image/jpeg",
           exif_jpeg(fmt::format("orient{}", orientation), fmt::format("-Orientation={}", orientation)),
           Want::Completes,
           {}});
    }
    c.push_back(
        {"gps out of range",
         "gps.jpg",
         "image/jpeg",
         exif_jpeg("gpsbad", "-GPSLatitude=95 -GPSLatitudeRef=N -GPSLongitude=400 -GPSLongitudeRef=E"),
         Want::Completes,
         {}});
    c.push_back({"gps without its references",
                 "gps2.jpg",
                 "image/jpeg",
                 exif_jpeg("gpsnoref", "-GPSLatitude=10"),
                 Want::Completes,
                 {}});
    // Shapes and pixel formats.
    c.push_back({"1x1 png", "dot.png", "image/png", png(picture(1, 1)), Want::Completes, {}});
    c.push_back({"65535x1 png", "line.png", "image/png", png(picture(65535, 1)), Want::Completes, {}});
    c.push_back({"1x65535 png", "column.png", "image/png", png(picture(1, 65535)), Want::Completes, {}});
    c.push_back({"cmyk jpeg", "cmyk.jpg", "image/jpeg", cmyk_jpeg(picture(320, 240)), Want::Completes, {}});
    c.push_back({"16-bit png",
                 "deep.png",
                 "image/png",
                 png(deep(picture(320, 240)), false, 16),
                 Want::Completes,
                 {}});
    c.push_back({"palette png", "pal.png", "image/png", png(picture(320, 240), true), Want::Completes, {}});
    // Filenames: any name is only ever displayed, sanitised.
    for (const std::string name :
         {std::string("../../../etc/passwd.jpg"), std::string("..\\..\\windows\\win.ini.jpg"),
          std::string("photo\xE2\x80\xAEgpj.exe"), std::string(1000, 'n') + ".jpg",
          std::string("\xF0\x9F\x90\xB1 cat \xF0\x9F\x93\xB7.jpg"), std::string("bad\xFF\xFEutf8.jpg"),
          std::string("tab\tand\x01control.jpg"), std::string("   ...   ")}) {
      c.push_back({"filename " + name.substr(0, 40), name, "image/jpeg", small_jpeg, Want::Completes, {}});
    }
    // A line break inside the part header ends it: the form is malformed, or the name is cut there.
    c.push_back({"filename with CRLF", "cr\r\nlf.jpg", "image/jpeg", small_jpeg, Want::Any, {400}});
    return c;
  }

  // Posts one case; checks the immediate answer; returns the job id when accepted.
  std::optional<std::string> submit(const Case& k) {
    ++tried_;
    const auto r = upload(token_, k.filename, k.bytes, k.content_type);
    if (r.status != 202)
      outcomes_.push_back(fmt::format("{}: {} {}", k.name, r.status, r.json().value("detail", "")));
    if (r.status == 202) {
      if (k.want == Want::Refused)
        unexpected(k, fmt::format("accepted ({}), wanted one of the refusals", r.status));
      const auto id = r.json().at("id").get<std::string>();
      return id;
    }
    const bool refusal_ok = (k.want == Want::Refused || k.want == Want::Any) && k.statuses.contains(r.status);
    if (!refusal_ok) {
      unexpected(k, fmt::format("answered {}: {}", r.status, r.body.substr(0, 200)));
    } else {
      check_problem(k, r);
    }
    return std::nullopt;
  }

  void check_problem(const Case& k, const HttpResponse& r) {
    if (r.header("content-type").value_or("") != "application/problem+json")
      unexpected(k, "refusal is not a problem body");
    const auto detail = r.json().value("detail", "");
    if (detail.size() < 10 || !readable(detail)) unexpected(k, "refusal detail is not readable: " + detail);
  }

  // A message for a person: sentences, not internals.
  static bool readable(const std::string& text) {
    static const std::regex internal(
        R"((std::|\.cpp|vips_|VipsForeign|0x[0-9a-f]{6,}|/tmp/|/work/|SELECT ))");
    return !text.empty() && !std::regex_search(text, internal);
  }

  void finished(const Case& k, const nlohmann::json& d) {
    const std::string status = d.value("status", "");
    outcomes_.push_back(fmt::format("{}: 202 then {}{}", k.name, status,
                                    status == "Error" ? " (" + d.value("errorMessage", "") + ")" : ""));
    const bool completed = status == "Completed";
    const bool failed = status == "Error";
    if (failed) {
      const auto message = d.value("errorMessage", "");
      if (message.size() < 10 || !readable(message))
        unexpected(k, "error message is not readable: " + message);
    }
    switch (k.want) {
      case Want::Completes:
        if (!completed) unexpected(k, "ended " + status + ": " + d.value("errorMessage", ""));
        break;
      case Want::Fails:
        if (!failed) unexpected(k, "ended " + status + ", wanted Error");
        break;
      default:
        if (!completed && !failed) unexpected(k, "ended " + status);
    }
    if (completed) check_outputs(k, d);
    const auto name = d.value("originalFilename", "");
    if (name.empty() || name.size() > 255 || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos || name.find('\0') != std::string::npos ||
        name.find("\xE2\x80\xAE") != std::string::npos || name.find('\n') != std::string::npos) {
      unexpected(k, "filename not sanitised: " + name);
    }
    const auto& metadata = d["metadata"];
    if (const auto gps = metadata.is_object() ? metadata.value("gps", nlohmann::json()) : nlohmann::json();
        gps.is_object()) {
      const double lat = gps.value("lat", 0.0), lon = gps.value("lon", 0.0);
      if (lat < -90 || lat > 90 || lon < -180 || lon > 180)
        unexpected(k, "impossible GPS reported: " + gps.dump());
    }
  }

  void check_outputs(const Case& k, const nlohmann::json& d) {
    if (d["outputs"].size() < 4) unexpected(k, "fewer than 4 outputs: " + d["outputs"].dump());
    for (const auto& o : d["outputs"]) {
      if (o.value("width", 0) < 1 || o.value("height", 0) < 1) unexpected(k, "empty output: " + o.dump());
    }
    // Re-encoded: served as WebP whatever came in, with nothing of a polyglot's tail.
    const auto url = d["optimized"].value("webp", "");
    const auto r = fetch(url);
    if (r.status != 200 || r.body.substr(0, 4) != "RIFF" || r.body.find("PK\x03\x04") != std::string::npos ||
        r.body.find("<script") != std::string::npos || r.body.find("alert(") != std::string::npos) {
      unexpected(k, fmt::format("optimized output not a clean WebP (status {})", r.status));
    }
  }

  void unexpected(const Case& k, const std::string& what) { unexpected_.push_back(k.name + ": " + what); }

  std::string token_;
  std::vector<std::string> outcomes_;
  int tried_ = 0;
  std::vector<std::string> unexpected_;
};

long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_F(HostileInputTest, EveryInputGetsItsDocumentedOutcomeAndTheWorkerKeepsGoing) {
  // A smaller pixel limit than production keeps the bombs that pass it quick to process under the sanitizers.
  const std::map<std::string, std::string> limits = {{"IMAGE_MAX_PIXELS", "4000000"},
                                                     {"UPLOAD_MAX_BYTES", "8388608"}};
  auto api_env = limits;
  api_env["HTTP_BODY_TIMEOUT_SECONDS"] = "2";
  start(api_env, /*with_worker=*/true, limits);
  token_ = register_user("hostile@example.com");

  std::vector<std::pair<Case, std::string>> accepted;
  for (auto& k : corpus()) {
    if (auto id = submit(k)) accepted.emplace_back(std::move(k), *id);
  }
  for (const auto& [k, id] : accepted) finished(k, wait_for_image_stage(token_, id, 240s));

  // Multipart and HTTP abuse, straight at the server.
  const auto raw_upload = [&](const std::string& content_type, const std::string& body) {
    ++tried_;
    return api_->request({"POST",
                          "/api/images/upload",
                          body,
                          {{"Authorization", "Bearer " + token_}, {"Content-Type", content_type}}});
  };
  const auto want_status = [&](const std::string& name, const HttpResponse& r, long status) {
    if (r.status != status)
      unexpected_.push_back(fmt::format("{}: {} instead of {}: {}", name, r.status, status, r.body));
  };
  const std::string part = multipart("b0undary", "x.jpg", "image/jpeg", jpeg(picture(32, 32)));
  want_status("multipart without boundary", raw_upload("multipart/form-data", part), 400);
  want_status("not multipart", raw_upload("application/octet-stream", jpeg(picture(32, 32))), 400);
  want_status("wrong boundary", raw_upload("multipart/form-data; boundary=other", part), 400);
  const std::string twice =
      "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n" +
      jpeg(picture(32, 32)) + "\r\n" + part;
  want_status("duplicate file fields", raw_upload("multipart/form-data; boundary=b0undary", twice), 400);
  want_status("unterminated body",
              raw_upload("multipart/form-data; boundary=b0undary", part.substr(0, part.size() - 20)), 400);
  const std::string huge_part_header =
      "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + std::string(100000, 'h') +
      ".jpg\"\r\n\r\nxx\r\n--b0undary--\r\n";
  want_status("huge part header", raw_upload("multipart/form-data; boundary=b0undary", huge_part_header),
              400);
  {
    ++tried_;
    RawConnection c(api_->base_url());
    c.send("POST /api/images/upload HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(64 * 1024, 'x') +
           "\r\n\r\n");
    const auto reply = c.read_all();
    if (reply.rfind("HTTP/1.1 431", 0) != 0)
      unexpected_.push_back("huge request headers: " + reply.substr(0, 80));
  }
  {
    // Slow loris: a body promised and never delivered is cut off by HTTP_BODY_TIMEOUT_SECONDS.
    ++tried_;
    RawConnection c(api_->base_url());
    c.send("POST /api/images/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ +
           "\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: 1000000\r\n\r\n" +
           part.substr(0, 100));
    const auto reply = c.read_all();
    if (reply.rfind("HTTP/1.1 408", 0) != 0) unexpected_.push_back("slow-loris body: " + reply.substr(0, 80));
  }
  // Nothing refused left a row, and the worker still works.
  const auto accepted_rows = db_.scalar("SELECT count(*) FROM jobs");
  if (accepted_rows != std::to_string(accepted.size())) {
    unexpected_.push_back(fmt::format("{} job rows for {} accepted uploads", accepted_rows, accepted.size()));
  }
  const auto last = upload_ok(token_, "after.jpg", jpeg(picture(200, 150)));
  EXPECT_EQ(wait_for_image_stage(token_, last)["status"], "Completed");
  const long rss = peak_rss_kib(worker_->process().process().pid());
  for (const auto& o : outcomes_) std::printf("  %s\n", o.c_str());
  std::printf(
      "hostile corpus: %d inputs tried, %zu accepted, %zu unexpected outcomes, worker peak RSS %ld MiB\n",
      tried_, accepted.size(), unexpected_.size(), rss / 1024);
  // Generous for a sanitizer build; a bomb decoded in full would need gigabytes.
  EXPECT_LT(rss, 1536L * 1024);
  for (const auto& u : unexpected_) ADD_FAILURE() << u;
}

}  // namespace
}  // namespace imageproc::testing
