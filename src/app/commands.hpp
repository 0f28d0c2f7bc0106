#pragma once
// One composition root per subcommand: each builds its components from the validated Config and runs.
// main.cpp only parses the command line and loads configuration.

#include <optional>
#include <string>

#include "core/config.hpp"

namespace imageproc::app {

int run_api(const Config& config);
int run_worker(const Config& config);
int run_migrate(const Config& config);
int run_up(Config config, const std::string& self_path);
int run_user_promote(const Config& config, const std::string& email);
// The database of the stack `imageproc up` runs under `data_dir`, if it ever ran there (operator commands use
// it when DATABASE_URL is unset).
std::optional<std::string> local_stack_database_url(const std::string& data_dir);
int run_schedule_list(const Config& config, bool as_json);
int run_schedule_run(const Config& config, const std::string& name);

}  // namespace imageproc::app
