#include "manifest/command_list.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "manifest/manifest.h"
#include "temp_dir.h"

using jobrunner::CommandList;
using jobrunner::ManifestError;
using jobrunner::testing::TempDir;

namespace {

std::shared_ptr<CommandList> Load(const TempDir& dir, const std::string& text) {
  const std::string path = dir / "tasks.txt";
  std::ofstream(path, std::ios::binary) << text;
  return CommandList::Open(path, "tasks.txt");
}

std::string ErrorOf(const std::string& text) {
  TempDir dir;
  try {
    Load(dir, text);
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::string> Commands(const CommandList& list) {
  std::vector<std::string> out;
  for (std::uint64_t i = 0; i < list.size(); ++i) out.push_back(list.At(i).command);
  return out;
}

}  // namespace

TEST_CASE("Each non-empty, non-comment line is one task, numbered by its line") {
  TempDir dir;
  auto list = Load(dir, "echo a\n\n# a comment\n   \n  echo b  \necho c");
  REQUIRE(list->size() == 3);
  CHECK(list->lines() == 6);
  CHECK(Commands(*list) == std::vector<std::string>{"echo a", "  echo b  ", "echo c"});
  CHECK(list->At(1).line == 5);
  CHECK(list->At(2).line == 6);
  CHECK(list->At(2).disbatch_id == 2);
  CHECK_FALSE(list->At(0).repeated);
  CHECK(list->warnings().empty());
}

TEST_CASE("Windows line ends are line ends; a carriage return inside a line is text") {
  TempDir dir;
  auto list = Load(dir, "echo a\r\necho b\rc\r\n");
  CHECK(Commands(*list) == std::vector<std::string>{"echo a", "echo b\rc"});
}

TEST_CASE("An empty file, or one of comments and directives only, has no tasks") {
  TempDir dir;
  CHECK(Load(dir, "")->size() == 0);
  TempDir other;
  auto list = Load(other, "# nothing\n#DISBATCH PREFIX x\n#DISBATCH REPEAT 0\n");
  CHECK(list->size() == 0);
}

TEST_CASE("PREFIX and SUFFIX are glued on without a separator, the latest in force") {
  TempDir dir;
  auto list = Load(dir,
                   "#DISBATCH PREFIX cd out ; \n"
                   "#DISBATCH SUFFIX  > log\n"
                   "echo a\n"
                   "#DISBATCH PREFIX foo # bar\n"
                   "echo z\n"
                   "#DISBATCH SUFFIX \n"
                   "#DISBATCH PREFIX \n"
                   "echo c\n");
  CHECK(Commands(*list) ==
        std::vector<std::string>{"cd out ; echo a > log", "foo # barecho z > log", "echo c"});
}

TEST_CASE("REPEAT gives n tasks with start + i * step, all on the REPEAT's line") {
  TempDir dir;
  auto list = Load(dir,
                   "#DISBATCH PREFIX p:\n"
                   "#DISBATCH REPEAT 3 start 10 step 5 run $DISBATCH_REPEAT_INDEX\n"
                   "#DISBATCH REPEAT 2\n"
                   "#DISBATCH Repeat 2 START 7 x\n"
                   "#DISBATCH REPEAT 2 step 2 start 1 y\n"
                   "#DISBATCH REPEAT\t1 cmd  \n");
  REQUIRE(list->size() == 10);
  const CommandList::Task t = list->At(1);
  CHECK(t.line == 2);
  CHECK(t.repeated);
  CHECK(t.repetition == 1);
  CHECK(t.repeat_index == 15);
  CHECK(t.command == "p:run $DISBATCH_REPEAT_INDEX");
  CHECK(list->At(3).command == "p:");  // a REPEAT without a command runs PREFIX + SUFFIX
  CHECK(list->At(5).repeat_index == 7);
  CHECK(list->At(6).repeat_index == 8);
  CHECK(list->At(5).command == "p:x");
  // start must come before step: here "start 1 y" is the command.
  CHECK(list->At(8).repeat_index == 2);
  CHECK(list->At(8).command == "p:start 1 y");
  CHECK(list->At(9).command == "p:cmd  ");
}

TEST_CASE("Barriers take a DISBATCH_TASKID, as in disBatch; keys and CHECK are kept") {
  TempDir dir;
  auto list = Load(dir,
                   "a\n"
                   "#DISBATCH BARRIER\n"
                   "#DISBATCH BARRIER CHECK k2\n"
                   "b\n"
                   "#DISBATCH BARRIER check\n"
                   "#DISBATCH BARRIERS\n"
                   "#DISBATCH BARRIER CHECKPOINT\n"
                   "c\n");
  REQUIRE(list->size() == 3);
  CHECK(list->At(1).disbatch_id == 3);
  CHECK(list->At(2).disbatch_id == 7);
  const auto& b = list->barriers();
  REQUIRE(b.size() == 5);
  CHECK((b[0].before_task == 1 && !b[0].check && b[0].key.empty() && b[0].line == 2));
  CHECK((b[1].check && b[1].key == "k2" && b[1].disbatch_id == 2));
  CHECK((!b[2].check && b[2].key == "check"));
  CHECK((!b[3].check && b[3].key.empty()));
  CHECK((b[4].check && b[4].key.empty()));
  // BARRIERS and BARRIER CHECKPOINT are read as disBatch reads them, with a warning.
  CHECK(list->warning_count() == 2);
}

TEST_CASE("Lines that look like directives but are not are comments or commands, with warnings") {
  TempDir dir;
  auto list = Load(dir,
                   "#disbatch prefix x\n"
                   "  #DISBATCH PREFIX x\n"
                   "#DISBATCH  PREFIX x\n"
                   "#DISBATCH barrier\n"
                   "#DISBATCH PERNODE hostname\n"
                   "#DISBATCHfoo\n"
                   "#DISBATCH\n"
                   "#DISBATCH\tPREFIX x\n");
  CHECK(Commands(*list) ==
        std::vector<std::string>{"#DISBATCHfoo", "#DISBATCH", "#DISBATCH\tPREFIX x"});
  REQUIRE(list->warning_count() == 8);
  CHECK(list->warnings()[0].line == 1);
  CHECK_THAT(list->warnings()[0].message, Catch::StartsWith("read as a comment"));
  CHECK_THAT(list->warnings()[2].message, Catch::StartsWith("unknown directive, skipped"));
  CHECK_THAT(list->warnings()[5].message, Catch::StartsWith("runs as a command"));
}

TEST_CASE("PERENGINE commands come before the tasks, with the PREFIX and SUFFIX in force") {
  TempDir dir;
  auto list = Load(dir,
                   "#DISBATCH PREFIX cd x ; \n"
                   "#DISBATCH PERENGINE START hostname\n"
                   "#DISBATCH perengine stop date\n"
                   "#DISBATCH PERENGINE START uptime\n"
                   "echo a\n");
  const auto& p = list->per_engine();
  REQUIRE(p.size() == 3);
  CHECK((p[0].start && p[0].line == 2 && p[0].ordinal == 0 && p[0].command == "cd x ; hostname"));
  CHECK((!p[1].start && p[1].ordinal == 0 && p[1].command == "cd x ; date"));
  CHECK((p[2].start && p[2].ordinal == 1));
  CHECK(list->size() == 1);
}

TEST_CASE("A PERENGINE line after a task is an error at its line") {
  CHECK(ErrorOf("echo a\n#DISBATCH PERENGINE START b\n") ==
        "tasks.txt:2: #DISBATCH PERENGINE after the first task, REPEAT or BARRIER; per-engine "
        "commands must come before them (only comments, PREFIX and SUFFIX may come first)");
}

TEST_CASE("What cannot run is an error at its line") {
  CHECK_THAT(ErrorOf("a\n#DISBATCH REPEAT 99999999999999999999\n"),
             Catch::StartsWith("tasks.txt:2: a REPEAT number larger than"));
  CHECK_THAT(ErrorOf(std::string("a\nb\0c\n", 6)), Catch::StartsWith("tasks.txt:2: a NUL byte"));
  std::string many;  // past the first block read, in a last line without its newline
  for (int i = 0; i < 300'000; ++i) many += "echo x\n";
  CHECK_THAT(ErrorOf(many + std::string("echo \0", 6)),
             Catch::StartsWith("tasks.txt:300001: a NUL byte"));
  CHECK_THAT(ErrorOf("a\n" + std::string(2 << 20, 'x') + "\n"),
             Catch::StartsWith("tasks.txt:2: a line longer than 1 MiB"));
  CHECK_THROWS_WITH(CommandList::Open("/nonexistent/x", "x"),
                    "x: cannot read the command list: No such file or directory");
}

TEST_CASE("Tasks are found from any point, in any order, across many marks") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "echo " + std::to_string(i) + "\n";
    if (i % 1000 == 999) text += "#DISBATCH REPEAT 1500 start 3 r\n#DISBATCH BARRIER\n";
  }
  auto list = Load(dir, text);
  REQUIRE(list->size() == 5000 + 5 * 1500);
  std::vector<CommandList::Task> forward;
  list->ForEach([&](std::uint64_t, const CommandList::Task& t) { forward.push_back(t); });
  REQUIRE(forward.size() == list->size());
  for (std::uint64_t i : {std::uint64_t{12000}, std::uint64_t{3}, std::uint64_t{2501},
                          std::uint64_t{2500}, std::uint64_t{12499}, std::uint64_t{0}}) {
    const CommandList::Task t = list->At(i);
    CHECK(t.line == forward[i].line);
    CHECK(t.repetition == forward[i].repetition);
    CHECK(t.disbatch_id == forward[i].disbatch_id);
  }
  for (std::uint64_t i = 0; i < list->size(); i += 97) {
    CHECK(list->At(i, /*with_command=*/false).line == forward[i].line);
  }
  CHECK(list->At(1000).command == "r");
  CHECK(list->At(1000).disbatch_id == 1000);
  CHECK(list->At(2500).command == "echo 1000");
  CHECK(list->At(2500).disbatch_id == 2501);  // after one barrier
}

TEST_CASE("The content hash tells a changed file from the same one") {
  TempDir a, b, c;
  CHECK(Load(a, "echo 1\necho 2\n")->content_hash() == Load(b, "echo 1\necho 2\n")->content_hash());
  CHECK(Load(a, "echo 1\necho 2\n")->content_hash() != Load(c, "echo 1\necho 3\n")->content_hash());
}

TEST_CASE("disBatch's example with every directive is numbered as disBatch numbers it") {
  auto list = CommandList::Open(FIXTURES_DIR "/disbatch/DBtasksOneBadOneLeaky", "DB");
  REQUIRE(list->size() == 35);
  std::vector<CommandList::Task> tasks;
  list->ForEach([&](std::uint64_t, const CommandList::Task& t) { tasks.push_back(t); });
  CHECK((tasks[0].line == 11 && tasks[0].disbatch_id == 0));
  CHECK((tasks[13].line == 26 && tasks[13].disbatch_id == 13));
  CHECK((tasks[17].line == 34 && tasks[17].disbatch_id == 20));
  CHECK((tasks[23].line == 45 && tasks[23].disbatch_id == 26 && tasks[23].repeat_index == 39));
  CHECK((tasks[24].line == 53 && tasks[24].disbatch_id == 28 && tasks[24].repeat_index == 40));
  CHECK((tasks[30].line == 53 && tasks[30].disbatch_id == 34 && tasks[30].repeat_index == 46));
  CHECK((tasks[32].line == 57 && tasks[32].repeat_index == 51));
  CHECK((tasks[34].line == 62 && tasks[34].disbatch_id == 39));
  REQUIRE(list->barriers().size() == 5);
  CHECK(list->barriers()[1].key == "mykey");
  CHECK(list->barriers()[1].disbatch_id == 18);
  CHECK(list->barriers()[3].line == 51);
  REQUIRE(list->per_engine().size() == 2);
  CHECK(list->per_engine()[0].command ==
        "cd dbTestOutputDir ; ( echo -n \"perengine start on \" ; hostname ; date ; sleep 10 ; "
        "date ) &>> ${DISBATCH_NAMETASKS}_engine_${DISBATCH_ENGINE_RANK}.log");
  CHECK(list->At(34).command ==
        "cd dbTestOutputDir ; ( echo \"55 running on\" $(hostname) ; date ; sleep 10 ; date ; ) "
        "&> ${DISBATCH_NAMETASKS}_task_${DISBATCH_TASKID}.log");
  CHECK(list->warning_count() == 0);
}

TEST_CASE("A run reads its tasks from its own copy once it has one") {
  TempDir dir;
  auto list = Load(dir, "echo 1\necho 2\n");
  std::ofstream(dir / "copy.txt", std::ios::binary) << "echo 1\necho 2\n";
  list->ReadFrom(std::fopen((dir / "copy.txt").c_str(), "rb"), dir / "copy.txt");
  std::ofstream(dir / "tasks.txt", std::ios::binary) << "echo X\necho Y\n";
  CHECK(list->At(1).command == "echo 2");
  std::ofstream(dir / "short.txt", std::ios::binary) << "echo 1\n";
  CHECK_THROWS_WITH(
      list->ReadFrom(std::fopen((dir / "short.txt").c_str(), "rb"), dir / "short.txt"),
      Catch::Contains("changed"));
}

TEST_CASE("A list reads from a copy made elsewhere once the copy is ready, not before") {
  TempDir dir;
  auto list = Load(dir, "echo 1\necho 2\necho 3\n");
  bool ready = false;
  int asked = 0;
  list->ReadFromWhenReady(
      [&]() -> std::FILE* {
        ++asked;
        if (!ready) return nullptr;
        std::ofstream(dir / "copy.txt", std::ios::binary) << "echo 1\necho 2\necho 3\n";
        return std::fopen((dir / "copy.txt").c_str(), "rb");
      },
      dir / "copy.txt");
  CHECK(list->At(0).command == "echo 1");
  CHECK(list->path() == dir / "tasks.txt");
  ready = true;
  std::ofstream(dir / "tasks.txt", std::ios::binary) << "echo X\necho Y\necho Z\n";
  CHECK(list->At(2).command == "echo 3");
  CHECK(list->path() == dir / "copy.txt");
  CHECK(list->At(1).command == "echo 2");
  CHECK(asked == 2);
}

TEST_CASE("A copy that cannot be had ends the look-up with its error, once") {
  TempDir dir;
  auto list = Load(dir, "echo 1\necho 2\n");
  list->ReadFromWhenReady(
      []() -> std::FILE* {
        throw ManifestError({"tasks.txt", 0, 0}, "the command list changed while the run started");
      },
      dir / "copy.txt");
  CHECK_THROWS_WITH(list->At(0), Catch::Contains("changed while the run started"));
  CHECK(list->At(1).command == "echo 2");
}

TEST_CASE("ContentHash does not depend on how the bytes are split") {
  const std::string text = "echo 1\necho 22\n#DISBATCH BARRIER\necho 333\n";
  CommandList::ContentHash whole;
  whole.Update(text.data(), text.size());
  for (std::size_t split = 0; split <= text.size(); ++split) {
    CommandList::ContentHash parts;
    parts.Update(text.data(), split);
    parts.Update(text.data() + split, text.size() - split);
    CHECK(parts.Final() == whole.Final());
  }
  TempDir dir;
  CHECK(Load(dir, text)->content_hash() == whole.Final());
}
