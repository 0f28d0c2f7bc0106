#pragma once
// Runs a shell command from a test (exiftool, scripts/services) and returns its stdout; a non-zero exit or a
// failed popen fails the current test.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

namespace imageproc::testing {

inline std::string run_command(const std::string& command) {
  std::string output;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) {
    ADD_FAILURE() << "popen failed: " << command;
    return output;
  }
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) output.append(buffer.data(), n);
  const int status = pclose(pipe.release());
  EXPECT_EQ(status, 0) << command;
  return output;
}

}  // namespace imageproc::testing
