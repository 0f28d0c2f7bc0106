#pragma once
// Structured logging over spdlog. JSON lines in production (LOG_FORMAT=json), `key=value` text in a terminal.
// Call setup_logging() once from the composition root; the functions below are thread-safe.
// Never pass secrets as fields: the log is read by operators and shipped to other systems.

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/config.hpp"

namespace imageproc::log {

// Services log to stdout; operator commands to stderr, keeping stdout for their answer.
enum class Sink { Stdout, Stderr };
void setup_logging(const LogConfig& config, std::string_view component, Sink sink = Sink::Stdout);

void debug(std::string_view message, const nlohmann::json& fields = nlohmann::json::object());
void info(std::string_view message, const nlohmann::json& fields = nlohmann::json::object());
void warn(std::string_view message, const nlohmann::json& fields = nlohmann::json::object());
void error(std::string_view message, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace imageproc::log
