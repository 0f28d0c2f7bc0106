#include "core/errors.hpp"

namespace imageproc {

std::string status_title(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

namespace errors {
AppError bad_request(std::string detail) { return {400, status_title(400), std::move(detail)}; }
AppError validation(FieldErrors fields) {
  AppError e(400, "Validation failed", "One or more fields are invalid.");
  e.with_field_errors(std::move(fields));
  return e;
}
AppError unauthorized(std::string detail) { return {401, status_title(401), std::move(detail)}; }
AppError forbidden(std::string detail) { return {403, status_title(403), std::move(detail)}; }
AppError not_found(std::string detail) { return {404, status_title(404), std::move(detail)}; }
AppError method_not_allowed() {
  return {405, status_title(405), "This method is not allowed on this resource."};
}
AppError conflict(std::string detail) { return {409, status_title(409), std::move(detail)}; }
AppError payload_too_large(std::string detail) { return {413, status_title(413), std::move(detail)}; }
AppError unsupported_media_type(std::string detail) { return {415, status_title(415), std::move(detail)}; }
AppError too_many_requests(int retry_after_seconds) {
  AppError e(429, status_title(429), "Too many requests; retry after the time given in Retry-After.");
  e.with_retry_after(retry_after_seconds);
  return e;
}
AppError service_unavailable(std::string detail, std::string internal) {
  return {503, status_title(503), std::move(detail), std::move(internal)};
}
AppError internal(std::string internal_detail) {
  return {500, status_title(500), "An unexpected error occurred.", std::move(internal_detail)};
}
}  // namespace errors

}  // namespace imageproc
