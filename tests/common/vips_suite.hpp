#pragma once
// A test suite that needs libvips: one imaging::VipsRuntime for the whole suite (libvips allows one at a time,
// and gtest runs suites one after another). Derive the suite's fixture from it.

#include <gtest/gtest.h>

#include "imaging/vips_runtime.hpp"

namespace imageproc::testing {

class VipsSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { runtime_ = new imaging::VipsRuntime(); }
  static void TearDownTestSuite() {
    delete runtime_;
    runtime_ = nullptr;
  }

 private:
  static inline imaging::VipsRuntime* runtime_ = nullptr;
};

}  // namespace imageproc::testing
