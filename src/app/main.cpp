// `imageproc`: one binary, several roles (DESIGN §1). Parses the command line, loads and validates the
// configuration, and hands over to the subcommand's composition root.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "app/commands.hpp"
#include "auth/validation.hpp"
#include "core/errors.hpp"
#include "core/logging.hpp"

namespace {

std::string self_path(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : p.string();
}

}  // namespace

int main(int argc, char** argv) {
  using imageproc::Config;
  CLI::App cli{"ImageProcessor: private image processing with thumbnails, metadata and AI analysis"};
  cli.set_version_flag("--version", std::string("imageproc ") + IMAGEPROC_VERSION);
  cli.require_subcommand(1);
  std::string config_file;
  cli.add_option("-c,--config", config_file, "TOML configuration file (default: $IMAGEPROC_CONFIG)");

  auto* api = cli.add_subcommand("api", "Serve the HTTP API (stateless; run several behind a load balancer)");
  auto* worker = cli.add_subcommand("worker",
                                    "Run the image and AI stage consumers, an outbox relay and the scheduler "
                                    "(run several; they share work)");
  auto* up = cli.add_subcommand("up",
                                "Run the whole stack on this machine (PostgreSQL, RabbitMQ, local storage, "
                                "API, worker) and print its URL");
  auto* migrate = cli.add_subcommand("migrate", "Apply database migrations and exit");
  auto* user = cli.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  auto* promote = user->add_subcommand("promote", "Give a user the admin role");
  std::string promote_email;
  promote->add_option("email", promote_email, "The user's email")->required();
  auto* schedule = cli.add_subcommand("schedule", "Inspect and run the scheduled jobs");
  schedule->require_subcommand(1);
  auto* schedule_list =
      schedule->add_subcommand("list", "Show every schedule: cron, next run, last run and status");
  bool list_json = false;
  schedule_list->add_flag("--json", list_json, "Print JSON instead of a table");
  auto* schedule_run =
      schedule->add_subcommand("run", "Run one scheduled job now, in this process, and record it");
  std::string schedule_name;
  schedule_run->add_option("name", schedule_name, "The schedule, e.g. cleanup-expired-jobs")->required();

  CLI11_PARSE(cli, argc, argv);

  auto [config, problems] = Config::load(
      imageproc::process_env(), config_file.empty() ? std::nullopt : std::optional<std::string>(config_file));
  Config::Role role = Config::Role::Migrate;
  std::string component = "cli";
  if (api->parsed()) role = Config::Role::Api, component = "api";
  if (worker->parsed()) role = Config::Role::Worker, component = "worker";
  if (up->parsed()) role = Config::Role::Up, component = "up";
  if (migrate->parsed()) component = "migrate";
  if (schedule->parsed()) role = Config::Role::Operator, component = "schedule";
  if (up->parsed() && !std::getenv("LOG_FORMAT")) config.log.format = "text";  // a person is watching
  // Operator commands next to a stack started by `imageproc up` find its database without DATABASE_URL.
  const bool operator_command = schedule->parsed() || user->parsed() || migrate->parsed();
  if (operator_command && config.database.url.empty()) {
    if (auto url = imageproc::app::local_stack_database_url(config.data_dir)) config.database.url = *url;
  }
  for (auto& p : config.validate(role)) problems.push_back(p);
  if (!problems.empty()) {
    std::cerr << "imageproc: invalid configuration:\n";
    for (const auto& p : problems) std::cerr << "  - " << p << "\n";
    return 2;
  }
  // Operator commands answer on stdout; their log goes to stderr.
  imageproc::log::setup_logging(
      config.log, component, operator_command ? imageproc::log::Sink::Stderr : imageproc::log::Sink::Stdout);

  try {
    if (api->parsed()) {
      imageproc::log::info("starting",
                           {{"version", IMAGEPROC_VERSION}, {"config", config.redacted_summary()}});
      return imageproc::app::run_api(config);
    }
    if (worker->parsed()) {
      imageproc::log::info("starting",
                           {{"version", IMAGEPROC_VERSION}, {"config", config.redacted_summary()}});
      return imageproc::app::run_worker(config);
    }
    if (up->parsed()) {
      // The children (api, worker) read the same file.
      if (!config_file.empty())
        ::setenv("IMAGEPROC_CONFIG", std::filesystem::absolute(config_file).c_str(), 1);
      return imageproc::app::run_up(config, self_path(argv[0]));
    }
    if (migrate->parsed()) return imageproc::app::run_migrate(config);
    if (schedule_list->parsed()) return imageproc::app::run_schedule_list(config, list_json);
    if (schedule_run->parsed()) return imageproc::app::run_schedule_run(config, schedule_name);
    if (promote->parsed()) {
      return imageproc::app::run_user_promote(config, imageproc::auth::normalize_email(promote_email));
    }
  } catch (const imageproc::AppError& e) {
    imageproc::log::error("fatal", {{"error", e.detail()}, {"detail", e.internal()}});
    return 1;
  } catch (const std::exception& e) {
    imageproc::log::error("fatal", {{"error", e.what()}});
    return 1;
  }
  return 0;
}
