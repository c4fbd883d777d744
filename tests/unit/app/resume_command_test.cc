#include "app/resume_command.h"

#include <catch2/catch.hpp>

namespace jobrunner {
namespace {

TEST_CASE("The resume command repeats mpirun's options and the run's flags, with the full path") {
  ResumeCommandInput input;
  input.own_command_line = {"build/jobrunner", "--slots", "2",
                            "--out",           "runs/a",  "config/demo.yaml"};
  input.parent_command_line = {
      "mpirun", "--oversubscribe", "--allow-run-as-root", "-n", "3", "--mca", "btl", "self,vader",
      "-q"};
  input.parent_command_line.insert(input.parent_command_line.end(), input.own_command_line.begin(),
                                   input.own_command_line.end());
  input.fallback_launcher = {"mpirun", "-n", "3"};
  input.binary = "/src/build/jobrunner";
  input.cwd = "/src";
  input.run_dir = "runs/a";
  input.manifest = "config/demo.yaml";
  CHECK(ResumeCommand(input) ==
        "cd /src && mpirun --oversubscribe --allow-run-as-root -n 3 --mca btl self,vader -q "
        "/src/build/jobrunner --resume /src/runs/a /src/config/demo.yaml --slots 2");
}

TEST_CASE("A parent that is not mpirun, or did not start this command, gives the fallback") {
  ResumeCommandInput input;
  input.own_command_line = {"jobrunner", "m.yaml"};
  input.fallback_launcher = {"mpirun", "-n", "4"};
  input.binary = "/bin/jobrunner";
  input.cwd = "/w";
  input.run_dir = "/runs/r";
  input.manifest = "m.yaml";
  input.parent_command_line = {"/usr/bin/orted", "-mca", "ess", "env"};
  CHECK(ResumeCommand(input) == "cd /w && mpirun -n 4 /bin/jobrunner --resume /runs/r /w/m.yaml");
  input.parent_command_line = {"mpirun", "-n", "4", "sh", "-c", "jobrunner m.yaml"};
  CHECK(ResumeCommand(input) == "cd /w && mpirun -n 4 /bin/jobrunner --resume /runs/r /w/m.yaml");
}

TEST_CASE("In local mode the resume command has no launcher") {
  ResumeCommandInput input;
  input.own_command_line = {"jobrunner", "--timeout", "30s", "tasks.txt"};
  input.parent_command_line = {"-bash"};
  input.binary = "/bin/jobrunner";
  input.cwd = "/home/u";
  input.run_dir = "jobrunner-out/tasks-1";
  input.manifest = "tasks.txt";
  CHECK(ResumeCommand(input) ==
        "cd /home/u && /bin/jobrunner --resume /home/u/jobrunner-out/tasks-1 /home/u/tasks.txt "
        "--timeout 30s");
}

TEST_CASE("A resumed run's resume command names its directory once, and keeps --force") {
  ResumeCommandInput input;
  input.own_command_line = {"jobrunner", "--resume=/r", "--force", "m.yaml", "--name", "x"};
  input.binary = "/bin/jobrunner";
  input.cwd = "/w";
  input.run_dir = "/r";
  input.manifest = "m.yaml";
  CHECK(ResumeCommand(input) == "cd /w && /bin/jobrunner --resume /r /w/m.yaml --force");
}

TEST_CASE("Words a shell would act on are quoted") {
  ResumeCommandInput input;
  input.own_command_line = {"jobrunner", "--env", "A=b c", "m.yaml"};
  input.binary = "/opt/my jobs/jobrunner";
  input.cwd = "/home/it's";
  input.run_dir = "/runs/r";
  input.manifest = "m.yaml";
  CHECK(ResumeCommand(input) ==
        "cd '/home/it'\\''s' && '/opt/my jobs/jobrunner' --resume /runs/r "
        "'/home/it'\\''s/m.yaml' --env 'A=b c'");
}

}  // namespace
}  // namespace jobrunner
