#pragma once
// One composition root per subcommand: each builds its components from the validated Config and runs.
// main.cpp only parses the command line and loads configuration.

#include "core/config.hpp"

namespace imageproc::app {

int run_api(const Config& config);
int run_worker(const Config& config);
int run_migrate(const Config& config);
int run_up(Config config, const std::string& self_path);
int run_user_promote(const Config& config, const std::string& email);

}  // namespace imageproc::app
