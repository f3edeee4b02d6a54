#pragma once
// One function per `synclab` subcommand; argv[0] is the subcommand name. Each returns the
// process exit code and prints its own --help. Errors escape as synclab::Error.
namespace synclab::app {
int cmd_train(int argc, char** argv);
int cmd_sim(int argc, char** argv);
int cmd_launch(int argc, char** argv);
int cmd_ps(int argc, char** argv);
int cmd_worker(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_calibrate(int argc, char** argv);
}  // namespace synclab::app
