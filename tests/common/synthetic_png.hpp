#pragma once
// Hand-made PNG bytes for refusal tests (decompression bombs): libvips will not write an image it could not
// hold, so the file is assembled chunk by chunk. CRC-32 as in the PNG specification (ISO 3309 polynomial);
// checked against the well-known CRC of "IEND" (0xAE426082) in the unit tests.

#include <cstdint>
#include <string>

namespace imageproc::testing {

inline std::uint32_t png_crc32(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

inline std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(png_crc32(type + data));
}

// A ~60-byte 8-bit RGB PNG whose header declares width × height pixels (no real pixel data).
inline std::string png_declaring(std::uint32_t width, std::uint32_t height) {
  const std::string ihdr = be32(width) + be32(height) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) +
         png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + png_chunk("IEND", "");
}

}  // namespace imageproc::testing
