#pragma once
// Typed application errors. A handler throws AppError; the server turns it into an RFC 9457 problem body.
// Clients see status, title and public detail; `internal` goes to the log only (with the trace id).

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace imageproc {

using FieldErrors = std::map<std::string, std::vector<std::string>>;

class AppError : public std::runtime_error {
 public:
  AppError(int status, std::string title, std::string public_detail, std::string internal = {})
      : std::runtime_error(internal.empty() ? public_detail : internal),
        status_(status),
        title_(std::move(title)),
        detail_(std::move(public_detail)),
        internal_(std::move(internal)) {}

  int status() const { return status_; }
  const std::string& title() const { return title_; }
  const std::string& detail() const { return detail_; }
  const std::string& internal() const { return internal_; }
  const FieldErrors& field_errors() const { return field_errors_; }
  std::optional<int> retry_after_seconds() const { return retry_after_; }

  AppError& with_field_errors(FieldErrors errors) {
    field_errors_ = std::move(errors);
    return *this;
  }
  AppError& with_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::string title_;
  std::string detail_;
  std::string internal_;
  FieldErrors field_errors_;
  std::optional<int> retry_after_;
};

namespace errors {
AppError bad_request(std::string detail);
AppError validation(FieldErrors fields);
AppError unauthorized(std::string detail = "Authentication is required.");
AppError forbidden(std::string detail = "You are not allowed to do this.");
AppError not_found(std::string detail = "The resource does not exist.");
AppError method_not_allowed();
AppError conflict(std::string detail);
AppError payload_too_large(std::string detail);
AppError unsupported_media_type(std::string detail);
AppError too_many_requests(int retry_after_seconds);
AppError service_unavailable(std::string detail, std::string internal = {});
AppError internal(std::string internal_detail);
}  // namespace errors

// The standard reason phrase for an HTTP status ("Not Found"); "Error" when unknown.
std::string status_title(int status);

}  // namespace imageproc
