#include "core/logging.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace imageproc::log {
namespace {

// Set once in setup_logging() before any other thread starts; read-only afterwards.
bool g_json = true;
std::string g_component = "imageproc";

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
                     static_cast<int>(ms));
}

void write(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  std::string line;
  if (g_json) {
    nlohmann::json j = nlohmann::json::object();
    j["ts"] = timestamp();
    j["level"] = std::string(spdlog::level::to_string_view(level).data());
    j["component"] = g_component;
    j["msg"] = message;
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) j[k] = v;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = fmt::format("{} {:<5} [{}] {}", timestamp(), spdlog::level::to_string_view(level), g_component,
                       message);
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) {
        line += fmt::format(" {}={}", k,
                            v.is_string() ? v.get<std::string>()
                                          : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    }
  }
  logger->log(level, line);
}

}  // namespace

void setup_logging(const LogConfig& config, std::string_view component, Sink sink) {
  g_json = config.format == "json";
  g_component = component;
  spdlog::sink_ptr out;
  if (sink == Sink::Stderr) {
    out = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    out = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("imageproc", out);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void debug(std::string_view m, const nlohmann::json& f) {
  write(spdlog::level::debug, m, f);
}
void info(std::string_view m, const nlohmann::json& f) {
  write(spdlog::level::info, m, f);
}
void warn(std::string_view m, const nlohmann::json& f) {
  write(spdlog::level::warn, m, f);
}
void error(std::string_view m, const nlohmann::json& f) {
  write(spdlog::level::err, m, f);
}

}  // namespace imageproc::log
