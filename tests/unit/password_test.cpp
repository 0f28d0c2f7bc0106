#include "auth/password.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace imageproc::auth {
namespace {

// Argon2id at the default 19 MiB costs tens of milliseconds (more under ASan), so one hasher and one stored
// hash are shared by the whole suite and each test adds as few hashes as it can.
class PasswordTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    hasher_ = std::make_unique<PasswordHasher>();
    stored_ = new std::string(hasher_->hash("correct horse battery staple"));
  }
  static void TearDownTestSuite() {
    hasher_.reset();
    delete stored_;
    stored_ = nullptr;
  }

  static std::unique_ptr<PasswordHasher> hasher_;
  static std::string* stored_;
};

std::unique_ptr<PasswordHasher> PasswordTest::hasher_;
std::string* PasswordTest::stored_ = nullptr;

TEST_F(PasswordTest, HashThenVerifySucceeds) {
  EXPECT_TRUE(hasher_->verify("correct horse battery staple", *stored_));
}

TEST_F(PasswordTest, WrongPasswordFails) {
  EXPECT_FALSE(hasher_->verify("correct horse battery staplE", *stored_));
  EXPECT_FALSE(hasher_->verify("", *stored_));
}

TEST_F(PasswordTest, HashIsArgon2idPhcStringWithOwaspParameters) {
  EXPECT_EQ(stored_->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *stored_;
}

TEST_F(PasswordTest, TwoHashesOfOnePasswordDiffer) {
  const std::string second = hasher_->hash("correct horse battery staple");
  EXPECT_NE(second, *stored_);  // fresh random salt each time
}

TEST_F(PasswordTest, MalformedStoredHashIsRejectedWithoutThrowing) {
  const std::string truncated = stored_->substr(0, stored_->size() - 5);
  std::string corrupted = *stored_;
  corrupted[corrupted.size() / 2] = '!';
  const std::string with_nul = *stored_ + std::string(1, '\0') + "trailing";
  for (const std::string& bad : {std::string(), std::string("not a hash"), std::string("$argon2id$"),
                                 std::string("$argon2id$v=19$m=0,t=0,p=0$$"),
                                 std::string("$2b$12$abcdefghijklmnopqrstuuAbCdEfGhIjKlMnOpQrStUvWxYz01234"),
                                 std::string(500, 'x'), truncated, corrupted, with_nul}) {
    bool result = true;
    EXPECT_NO_THROW(result = hasher_->verify("correct horse battery staple", bad)) << bad;
    EXPECT_FALSE(result) << bad;
  }
}

TEST_F(PasswordTest, VerifyAgainstDummyIsAlwaysFalse) {
  EXPECT_FALSE(hasher_->verify_against_dummy("correct horse battery staple"));
  EXPECT_FALSE(hasher_->verify_against_dummy(""));
}

TEST_F(PasswordTest, NeedsRehashOnlyWhenParametersDiffer) {
  EXPECT_FALSE(hasher_->needs_rehash(*stored_));
  EXPECT_TRUE(hasher_->needs_rehash("not a hash"));
  EXPECT_TRUE(hasher_->needs_rehash(""));

  // A cheap hasher keeps this test fast; its hashes are valid but weaker than the default's.
  const PasswordHasher cheap(PasswordHashParams{1, 64 * 1024});
  const std::string weak = cheap.hash("pw");
  EXPECT_EQ(weak.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << weak;
  EXPECT_TRUE(hasher_->needs_rehash(weak));
  EXPECT_FALSE(cheap.needs_rehash(weak));
  // Parameters travel inside the string, so a hasher verifies hashes made with other settings.
  EXPECT_TRUE(hasher_->verify("pw", weak));
}

TEST(PasswordHasherTest, RejectsParametersBelowLibsodiumMinimum) {
  EXPECT_THROW(PasswordHasher(PasswordHashParams{0, 64 * 1024}), std::invalid_argument);
  EXPECT_THROW(PasswordHasher(PasswordHashParams{1, 1024}), std::invalid_argument);
}

TEST(PasswordHasherTest, HandlesEmptyAndBinaryPasswords) {
  const PasswordHasher cheap(PasswordHashParams{1, 64 * 1024});
  const std::string empty_hash = cheap.hash("");
  EXPECT_TRUE(cheap.verify("", empty_hash));
  EXPECT_FALSE(cheap.verify("x", empty_hash));
  const std::string binary("a\0b", 3);
  const std::string binary_hash = cheap.hash(binary);
  EXPECT_TRUE(cheap.verify(binary, binary_hash));
  EXPECT_FALSE(cheap.verify("a", binary_hash));  // the NUL does not truncate the password
}

}  // namespace
}  // namespace imageproc::auth
