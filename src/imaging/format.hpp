#pragma once
// Image format detection from magic bytes, and display-name sanitising for uploads (DESIGN §4, §12).
//
// The client's file extension and Content-Type are never consulted: the reference trusted them, which let any
// file through as "image/jpeg". Everything here is pure, allocation-light and thread-safe (no shared state).

#include <cstddef>
#include <string>
#include <string_view>

namespace imageproc::imaging {

enum class ImageFormat { Jpeg, Png, WebP, Gif, Tiff, Heif, Avif, Unknown };

// How many leading bytes of a file `sniff_format` needs to decide. Fewer is allowed (a short input just
// yields Unknown, or a decision from what is there); more is ignored. Large enough for an ISO-BMFF `ftyp` box
// with ~26 compatible brands, which covers every HEIF/AVIF writer seen in practice.
inline constexpr std::size_t kSniffBytes = 128;

// Decides the format from magic bytes only; anything not recognised (SVG, HTML, XML, PDF, ZIP, text, video
// containers, empty or short input) is Unknown. Only the first kSniffBytes bytes are examined.
// A positive answer means "looks like", not "decodes": the decoder still has the final word (422).
ImageFormat sniff_format(std::string_view first_bytes);

// "image/jpeg", ...; "application/octet-stream" for Unknown. Heif maps to the generic "image/heif".
std::string_view mime_type(ImageFormat format);

// Lower-case short name: "jpeg", "png", "webp", "gif", "tiff", "heif", "avif", "unknown".
std::string_view format_name(ImageFormat format);

// Which formats uploads may use. JPEG, PNG and WebP are always allowed (the product depends on them); the
// others are opt-in because their decoders are larger attack surface and optional in libvips builds.
struct AllowedFormats {
  bool gif = false;   // may be animated: the caller sums frames against the pixel limit
  bool tiff = false;  // classic and BigTIFF
  bool heif = false;  // HEIC and other HEIF brands (needs libheif with an HEVC decoder)
  bool avif = false;  // AVIF (needs libheif with an AV1 decoder)
};

// True for JPEG/PNG/WebP, for the optional formats when their flag is set; never for Unknown.
bool is_allowed(ImageFormat format, const AllowedFormats& allowed);

// Maximum size in bytes of a sanitised display filename (common filesystem limit; it is never used as one).
inline constexpr std::size_t kMaxDisplayFilenameBytes = 255;

// Turns a client-supplied filename into something safe to *display* (never to build storage keys or paths):
//   - keeps only the last path component (both '/' and '\' separate, so "C:\x\y.jpg" becomes "y.jpg");
//   - replaces invalid UTF-8 with U+FFFD (one per maximal invalid subpart, as Unicode recommends);
//   - removes C0/C1 control characters, DEL, NUL and bidi controls (U+200E/U+200F, U+061C, U+202A–U+202E,
//     U+2066–U+2069), so "photo<RLO>gpj.exe" cannot render as "photoexe.jpg";
//   - trims spaces and dots at both ends ("..", "...", " x. " → "x");
//   - limits the result to kMaxDisplayFilenameBytes without splitting a UTF-8 sequence, keeping a short
//     extension when it can;
//   - returns "upload" when nothing is left.
// Letters of any script, emoji and joiners are kept as they are (no normalisation).
std::string sanitize_display_filename(std::string_view raw);

}  // namespace imageproc::imaging
