#include "manifest/task_input.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace jobrunner {
namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::uint64_t Fnv(const std::string& text, std::uint64_t hash = 14695981039346656037ull) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

bool IsYamlInput(const std::string& path, InputFormat format) {
  if (format != InputFormat::kAuto) return format == InputFormat::kYaml;
  return EndsWith(path, ".yaml") || EndsWith(path, ".yml");
}

LoadedInput LoadInput(const std::string& path, const InputOptions& options,
                      const std::string& name) {
  LoadedInput input;
  if (IsYamlInput(path, options.format)) {
    input.yaml_text = ReadManifestFile(path);
    input.manifest = ParseManifest(input.yaml_text, path, options.list.shell_program);
    return input;
  }
  std::shared_ptr<CommandList> list;
  if (path == "-") {
    std::FILE* copy = std::tmpfile();
    if (copy == nullptr) {
      throw ManifestError({"stdin", 0, 0},
                          std::string("cannot make a temporary copy: ") + std::strerror(errno));
    }
    char buffer[1 << 16];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0;) {
      if (std::fwrite(buffer, 1, n, copy) != n) {
        const int error = errno;
        (void)std::fclose(copy);  // a temporary file; the write's error is the one to report
        throw ManifestError({"stdin", 0, 0},
                            std::string("cannot make a temporary copy: ") + std::strerror(error));
      }
    }
    if (std::ferror(stdin) != 0) {
      const int error = errno;
      (void)std::fclose(copy);  // a temporary file; the read's error is the one to report
      throw ManifestError({"stdin", 0, 0}, std::string("cannot read: ") + std::strerror(error));
    }
    list = CommandList::FromStream(copy, name.empty() ? "stdin" : name);
  } else {
    list = CommandList::Open(path, name.empty() ? path : name);
  }
  // A manifest without .yaml in its name would run its lines as commands: `version: 1` first is
  // never a command anyone means.
  if (options.format == InputFormat::kAuto && list->size() > 0) {
    const CommandList::Task first = list->At(0);
    std::string text = first.command;
    text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == ' '; }),
               text.end());
    if (text == "version:1") {
      throw ManifestError({list->name(), static_cast<int>(first.line), 0},
                          "this looks like a YAML manifest, read as a command list because its "
                          "name does not end in .yaml or .yml; rename it, or give --format yaml");
    }
  }
  input.manifest = CommandListManifest(std::move(list), options.list);
  return input;
}

std::uint64_t InputHash(const std::string& yaml_text, const Manifest& manifest) {
  std::uint64_t hash = Fnv(yaml_text);
  for (const TaskEntry& entry : manifest.entries) {
    if (entry.list == nullptr) continue;
    hash = Fnv(std::to_string(entry.list->content_hash()), hash);
  }
  return hash;
}

}  // namespace jobrunner
