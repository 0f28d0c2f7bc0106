#pragma once
// The ObjectStore contract (src/storage/object_store.hpp), one value-parameterised GoogleTest suite that
// every backend must pass. The cases (TEST_P) live in storage_contract.cpp; a backend only instantiates them:
//
//   #include "storage_contract.hpp"
//
//   INSTANTIATE_TEST_SUITE_P(
//       S3, ObjectStoreContract,
//       ::testing::Values(imageproc::testing::StoreFactory{
//           "S3",
//           [] { return std::make_unique<imageproc::storage::S3ObjectStore>(config_for_the_test_bucket()); },
//           [](const std::string& url) { return imageproc::testing::http_get_body(url); }}),
//       imageproc::testing::store_factory_name);
//
// `make` is called once per test and must return a store that is ready to use (bucket or root created). The
// fixture puts every key under a fresh random prefix and deletes that prefix afterwards, so the cases can
// share one bucket and run in any order. `fetch` downloads a presigned GET URL over real HTTP and returns the
// body; for a non-2xx answer it throws FetchError (http_get_body does exactly that).

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "storage/object_store.hpp"

namespace imageproc::testing {

struct StoreFactory {
  std::string name;  // the instantiation's test-name suffix: letters, digits and '_' only
  std::function<std::unique_ptr<storage::ObjectStore>()> make;
  std::function<std::string(const std::string& url)> fetch;
};

// A presigned URL answered with a non-2xx status.
class FetchError : public std::runtime_error {
 public:
  FetchError(long status, const std::string& url)
      : std::runtime_error("HTTP " + std::to_string(status) + " for " + url), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

// Any request to an absolute http:// URL ("http://host:port/path?query") through the harness' libcurl client.
HttpResponse http_url(const std::string& method, const std::string& url,
                      std::vector<std::pair<std::string, std::string>> headers = {}, std::string body = {});
// GET of an absolute URL: the body on 2xx, FetchError otherwise. The usual StoreFactory::fetch.
std::string http_get_body(const std::string& url);

// So that GoogleTest prints "S3" rather than the bytes of the std::function members.
inline void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

inline std::string store_factory_name(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

// Per test: a store from the factory and a unique key prefix ("contract-<random>/") removed afterwards.
class ObjectStoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // `name` under this test's prefix.
  std::string key(const std::string& name) const { return prefix_ + name; }
  storage::ObjectStore& store() { return *store_; }

  std::unique_ptr<storage::ObjectStore> store_;
  std::string prefix_;
};

}  // namespace imageproc::testing

// GoogleTest's name for the suite lives at global scope in the test files.
using ObjectStoreContract = imageproc::testing::ObjectStoreContract;
