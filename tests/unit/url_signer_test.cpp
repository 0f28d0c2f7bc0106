// UrlSigner: canonical string, verification, URL shape and the strict decimal parser. No I/O.

#include "storage/local/url_signer.hpp"

#include <gtest/gtest.h>

#include "core/text.hpp"

#include <cctype>
#include <cstdint>

#include "core/crypto.hpp"

using imageproc::storage::parse_decimal;
using imageproc::text::percent_encode;
using imageproc::storage::UploadConstraints;
using imageproc::storage::UrlSigner;

namespace {

const std::string kSecret = "unit-test-url-signing-secret-0123456789";

TEST(UrlSigner, SignatureIsHexHmacOverTheCanonicalString) {
  const UrlSigner signer(kSecret);
  EXPECT_EQ(signer.sign("GET", "originals/u/j", 1700000000),
            imageproc::crypto::hex_encode(
                imageproc::crypto::hmac_sha256(kSecret, "GET\noriginals/u/j\n1700000000")));
  EXPECT_EQ(
      signer.sign("PUT", "k", 5, UploadConstraints{"image/png", 1024}),
      imageproc::crypto::hex_encode(imageproc::crypto::hmac_sha256(kSecret, "PUT\nk\n5\nimage/png\n1024")));
}

TEST(UrlSigner, VerifyAcceptsOnlyTheExactFields) {
  const UrlSigner signer(kSecret);
  const auto sig = signer.sign("GET", "a/b", 100);
  EXPECT_TRUE(signer.verify("GET", "a/b", 100, sig));
  EXPECT_FALSE(signer.verify("GET", "a/b", 101, sig));
  EXPECT_FALSE(signer.verify("GET", "a/c", 100, sig));
  EXPECT_FALSE(signer.verify("PUT", "a/b", 100, sig));
  EXPECT_FALSE(signer.verify("GET", "a/b", 100, sig.substr(1)));
  EXPECT_FALSE(signer.verify("GET", "a/b", 100, ""));
  std::string upper = sig;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(signer.verify("GET", "a/b", 100, upper)) << "one spelling per signature";
}

TEST(UrlSigner, UploadSignatureCoversContentTypeAndMaxBytes) {
  const UrlSigner signer(kSecret);
  const UploadConstraints c{"image/jpeg", 1000};
  const auto sig = signer.sign("PUT", "k", 100, c);
  EXPECT_TRUE(signer.verify("PUT", "k", 100, sig, c));
  EXPECT_FALSE(signer.verify("PUT", "k", 100, sig, UploadConstraints{"image/png", 1000}));
  EXPECT_FALSE(signer.verify("PUT", "k", 100, sig, UploadConstraints{"image/jpeg", 1001}));
  EXPECT_FALSE(signer.verify("PUT", "k", 100, sig)) << "a read signature is not an upload signature";
}

TEST(UrlSigner, DifferentSecretsDisagree) {
  EXPECT_NE(UrlSigner(kSecret).sign("GET", "k", 1), UrlSigner(kSecret + "x").sign("GET", "k", 1));
}

TEST(UrlSigner, RefusesShortSecrets) {
  EXPECT_THROW(UrlSigner(std::string(31, 'x')), std::invalid_argument);
  EXPECT_NO_THROW(UrlSigner(std::string(32, 'x')));
}

TEST(UrlSigner, GetUrlEncodesTheKeyAndKeepsSlashes) {
  const UrlSigner signer(kSecret, "https://img.example.com/");
  const std::string key = "dir/a b+c%ü.png";
  EXPECT_EQ(signer.get_url(key, 42), "https://img.example.com/files/dir/a%20b%2Bc%25%C3%BC.png?exp=42&sig=" +
                                         signer.sign("GET", key, 42));
}

TEST(UrlSigner, RelativeUrlsWithoutABase) {
  const UrlSigner signer(kSecret);
  EXPECT_EQ(signer.get_url("k", 7).rfind("/files/k?exp=7&sig=", 0), 0u);
}

TEST(UrlSigner, PutUrlCarriesTheSignedConstraints) {
  const UrlSigner signer(kSecret, "http://h");
  const UploadConstraints c{"image/svg+xml; charset=utf-8", 99};
  EXPECT_EQ(signer.put_url("k", 7, c), "http://h/files/k?exp=7&sig=" + signer.sign("PUT", "k", 7, c) +
                                           "&ct=image%2Fsvg%2Bxml%3B%20charset%3Dutf-8&max=99");
}

TEST(PercentEncode, UnreservedCharactersStay) {
  EXPECT_EQ(percent_encode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(percent_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(percent_encode("a/b", true), "a/b");
  EXPECT_EQ(percent_encode(std::string("\x00\xff", 2), false), "%00%FF");
}

TEST(ParseDecimal, AcceptsOnlyPlainNonNegativeIntegers) {
  EXPECT_EQ(parse_decimal("0"), 0);
  EXPECT_EQ(parse_decimal("1700000000"), 1700000000);
  EXPECT_EQ(parse_decimal("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_decimal("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parse_decimal("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_decimal(""), std::nullopt);
  EXPECT_EQ(parse_decimal("-1"), std::nullopt);
  EXPECT_EQ(parse_decimal("+1"), std::nullopt);
  EXPECT_EQ(parse_decimal(" 1"), std::nullopt);
  EXPECT_EQ(parse_decimal("1e3"), std::nullopt);
  EXPECT_EQ(parse_decimal("007"), std::nullopt);
}

}  // namespace
