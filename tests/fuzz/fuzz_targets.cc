#include "fuzz_targets.h"

#include <jobrunner/serialize.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_set>

#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "manifest/manifest.h"
#include "manifest/task_graph_builder.h"
#include "manifest/task_source.h"
#include "manifest/template.h"
#include "manifest/units.h"
#include "transport/message_codec.h"
#include "transport/protocol.h"
#include "worker/kind_helper.h"

namespace jobrunner::fuzz {
namespace {

void Expect(bool condition, const std::string& what) {
  if (!condition) throw FuzzFailure(what);
}

// Larger manifests are expanded only in part: their ids are checked and their graph built only
// up to this many tasks, so that every input runs in milliseconds.
constexpr std::uint64_t kMaxExpanded = 10'000;

// What CheckUniqueIds requires of an id (task_source.h).
bool UsableId(const std::string& id) {
  if (id.empty() || id.size() > 200 || id == "." || id == "..") return false;
  for (char c : id) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == '\x7f') return false;
  }
  return true;
}

}  // namespace

void Manifest(std::string_view input) {
  std::optional<TaskSource> source;
  try {
    source.emplace(ParseManifest(std::string(input), "fuzz.yaml"), "/base");
  } catch (const ManifestError&) {
    return;
  }
  const std::uint64_t size = source->size();
  if (size == 0) return;  // empty sweeps are zero tasks, and such a run exits 0
  for (std::uint64_t index : {std::uint64_t{0}, size / 2, size - 1}) {
    const TaskSpec spec = source->Render(index, 1);
    Expect(spec.index == index && spec.id == source->Id(index), "Render and Id disagree");
    Expect(spec.argv.empty() != spec.kind.empty(), "a task is neither a command nor a kind");
  }
  if (size > kMaxExpanded) return;
  std::unordered_set<std::string> ids;
  bool all_usable_and_distinct = true;
  for (std::uint64_t index = 0; index < size; ++index) {
    const std::string id = source->Id(index);
    all_usable_and_distinct = all_usable_and_distinct && UsableId(id) && ids.insert(id).second;
  }
  if (source->IdsProvablyUnique()) {
    Expect(all_usable_and_distinct, "ids proven unique by the manifest's shape are not");
  }
  try {
    source->CheckUniqueIds();
    Expect(all_usable_and_distinct, "CheckUniqueIds let a bad or repeated id through");
    BuildTaskGraph(*source);
  } catch (const ManifestError&) {
  }
}

void Template(std::string_view input) {
  const jobrunner::Template parsed = jobrunner::Template::Parse(input);
  Expect(parsed.IsLiteral() == parsed.Names().empty(), "IsLiteral and Names disagree");
  // Written back as a manifest would hold it, a template parses into the same parts.
  std::string text;
  for (const auto& part : parsed.parts()) {
    if (part.is_placeholder) {
      text += "{" + part.text + "}";
      continue;
    }
    for (char c : part.text) text += c == '{' ? "{{" : c == '}' ? "}}" : std::string(1, c);
  }
  const jobrunner::Template reparsed = jobrunner::Template::Parse(text);
  const auto& again = reparsed.parts();
  Expect(again.size() == parsed.parts().size(), "a template written back parses differently");
  for (std::size_t i = 0; i < again.size(); ++i) {
    Expect(again[i].is_placeholder == parsed.parts()[i].is_placeholder &&
               again[i].text == parsed.parts()[i].text,
           "a template written back parses differently");
  }
  const auto lookup = [](std::string_view name) { return name; };
  parsed.Render(lookup, /*shell_quote=*/false);
  parsed.Render(lookup, /*shell_quote=*/true);
  const std::string quoted = ShellQuote(input);
  Expect(!quoted.empty(), "ShellQuote returned nothing");
}

void Units(std::string_view input) {
  if (const std::optional<std::int64_t> ms = ParseDurationMs(input)) {
    Expect(*ms >= 0 && *ms <= kMaxDurationMs, "a duration beyond its bounds was accepted");
    Expect(!DurationOverLimit(input), "an accepted duration is said to be too long");
    Expect(!FormatDurationMs(*ms).empty(), "a duration formats as nothing");
  }
  if (const std::optional<std::uint64_t> bytes = ParseByteSize(input)) {
    Expect(*bytes <= kMaxByteSize, "a size beyond its bound was accepted");
    Expect(!ByteSizeOverLimit(input), "an accepted size is said to be too large");
  }
  if (input.size() >= sizeof(std::int64_t)) {
    std::int64_t ms = 0;
    std::memcpy(&ms, input.data(), sizeof ms);
    Expect(!FormatDurationMs(ms).empty(), "a duration formats as nothing");
  }
}

void Journal(std::string_view input) {
  if (input.empty()) return;
  constexpr std::uint64_t kTasks = 64;
  std::string file;
  if (input[0] & 1) {
    file = input.substr(1);
  } else {
    file = EncodeJournalHeader(JournalHeader{kJournalFormatVersion, 0, kTasks});
    // Each record: a length byte, then up to that many bytes of type and payload.
    for (std::string_view rest = input.substr(1); !rest.empty();) {
      const std::size_t length =
          std::min<std::size_t>(static_cast<unsigned char>(rest[0]), rest.size() - 1);
      const std::string_view body = rest.substr(1, length);
      rest.remove_prefix(1 + length);
      const std::uint32_t frame[2] = {static_cast<std::uint32_t>(length), Crc32c(body)};
      file.append(reinterpret_cast<const char*>(frame), sizeof frame);  // little-endian host
      file.append(body);
    }
  }
  RunLedger ledger(kTasks);
  try {
    const JournalInfo info =
        ParseJournal(file, "fuzz-journal", [&ledger](const JournalRecord& r) { ledger.Apply(r); });
    Expect(info.valid_end >= kJournalHeaderSize && info.valid_end <= file.size(),
           "the journal's valid end lies outside the file");
  } catch (const JournalError&) {
    return;
  }
  Expect(ledger.succeeded() + ledger.failed() <= kTasks, "the ledger counts too many tasks");
  for (bool retry_failed : {false, true}) {
    const ResumePoint point = ledger.ResumeState(retry_failed);
    Expect(point.settled.size() == kTasks, "a resume point of the wrong size");
  }
  ledger.InFlight();
}

namespace {

// Decodes `bytes` as a T; whatever decodes must encode to bytes that decode to the same value.
// Messages between ranks go through message_codec.h, the kind helper's files through DecodeValue.
template <class T, bool kMessage>
void Decode(std::string_view bytes) {
  const auto decode = [](const std::string& in) {
    if constexpr (kMessage)
      return DecodeMessage<T>(in);
    else
      return DecodeValue<T>(in);
  };
  const auto encode = [](const T& value) {
    if constexpr (kMessage)
      return EncodeMessage(value);
    else
      return EncodeValue(value);
  };
  T value;
  try {
    value = decode(std::string(bytes));
  } catch (const DecodeError&) {
    return;
  }
  const std::string encoded = encode(value);
  Expect(encode(decode(encoded)) == encoded, "a decoded value does not round-trip");
}

}  // namespace

void Protocol(std::string_view input) {
  if (input.empty()) return;
  const std::string_view bytes = input.substr(1);
  switch (static_cast<unsigned char>(input[0]) % 9) {
    case 0:
      return Decode<Hello, true>(bytes);
    case 1:
      return Decode<Welcome, true>(bytes);
    case 2:
      return Decode<TaskBatch, true>(bytes);
    case 3:
      return Decode<ResultBatch, true>(bytes);
    case 4:
      return Decode<Drain, true>(bytes);
    case 5:
      return Decode<Shutdown, true>(bytes);
    case 6:
      return Decode<KindInvocation, false>(bytes);
    case 7:
      return Decode<KindHelperOutput, false>(bytes);
    default:
      return Decode<Stopping, true>(bytes);  // Heartbeat has no fields to decode
  }
}

}  // namespace jobrunner::fuzz
