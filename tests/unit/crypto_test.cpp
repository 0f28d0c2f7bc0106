#include "core/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace imageproc::crypto {
namespace {

TEST(CryptoTest, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(CryptoTest, Base64UrlOmitsPaddingAndUsesUrlAlphabet) {
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xfb\xef\xbe"), "++++");
  EXPECT_EQ(base64url_encode("\xfb\xef\xbe"), "----");
  EXPECT_EQ(base64_encode("\xff\xff\xff"), "////");
  EXPECT_EQ(base64url_encode("\xff\xff\xff"), "____");
}

TEST(CryptoTest, Base64UrlRoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    const std::string bytes = all.substr(0, len);
    const std::string encoded = base64url_encode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(encoded), bytes);
  }
  const std::string encoded = base64url_encode(all);
  EXPECT_NE(encoded.find('-'), std::string::npos);
  EXPECT_NE(encoded.find('_'), std::string::npos);
}

TEST(CryptoTest, Base64UrlDecodeAcceptsMissingOrCorrectPadding) {
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_EQ(base64url_decode("Zg=="), "f");
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_EQ(base64url_decode("Zm8="), "fo");
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
}

TEST(CryptoTest, Base64UrlDecodeRejectsInvalidInput) {
  EXPECT_EQ(base64url_decode("Zm9v+mFy"), std::nullopt);  // standard alphabet
  EXPECT_EQ(base64url_decode("Zm9v/mFy"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9 v"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(base64url_decode(std::string("Zm\0v", 4)), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9vY"), std::nullopt);  // 4n+1 characters cannot encode whole bytes
  EXPECT_EQ(base64url_decode("Zg="), std::nullopt);    // wrong amount of padding
  EXPECT_EQ(base64url_decode("Zg==="), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm8=="), std::nullopt);
  EXPECT_EQ(base64url_decode("===="), std::nullopt);
  EXPECT_EQ(base64url_decode("Z=g="), std::nullopt);  // padding in the middle
  EXPECT_EQ(base64url_decode("Zh"), std::nullopt);    // non-zero unused bits: non-canonical "Zg"
  EXPECT_EQ(base64url_decode("Zm9"), std::nullopt);   // non-canonical "Zm8"
}

TEST(CryptoTest, HexEncodeIsLowerCase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(CryptoTest, Sha256MatchesNistVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256("abc").size(), 32u);
}

TEST(CryptoTest, HmacSha256MatchesRfc4231) {
  // Test case 1.
  EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2 ("Jefe").
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: key longer than the block size is hashed first.
  EXPECT_EQ(hex_encode(hmac_sha256(std::string(131, '\xaa'),
                                   "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(CryptoTest, HmacSha256AcceptsEmptyKeyAndData) {
  // Known value: HMAC-SHA256("", "").
  EXPECT_EQ(hex_encode(hmac_sha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(CryptoTest, ConstantTimeEqualsComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equals("", ""));
  EXPECT_TRUE(constant_time_equals("secret", "secret"));
  EXPECT_FALSE(constant_time_equals("secret", "secreT"));
  EXPECT_FALSE(constant_time_equals("secret", "secret!"));
  EXPECT_FALSE(constant_time_equals("", "x"));
  EXPECT_TRUE(constant_time_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(CryptoTest, RandomBytesHaveRequestedLengthAndDiffer) {
  EXPECT_EQ(random_bytes(0).size(), 0u);
  EXPECT_EQ(random_bytes(17).size(), 17u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

TEST(CryptoTest, RandomTokenIsUnpaddedBase64UrlOfRequestedEntropy) {
  const std::string token = random_token();
  EXPECT_EQ(token.size(), 43u);  // 32 bytes -> ceil(256 / 6) characters
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(base64url_decode(token)->size(), 32u);
  EXPECT_EQ(random_token(16).size(), 22u);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(random_token());
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace imageproc::crypto
