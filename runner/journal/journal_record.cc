#include "journal/journal_record.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#endif

#include <boost/crc.hpp>
#include <cstring>
#include <tuple>
#include <type_traits>

namespace jobrunner {
namespace {

template <typename Int>
void PutInt(std::string& out, Int value) {
  auto bits = static_cast<std::make_unsigned_t<Int>>(value);
  for (std::size_t i = 0; i < sizeof(Int); ++i) {
    out.push_back(static_cast<char>(bits & 0xFF));
    bits = static_cast<decltype(bits)>(bits >> 8);
  }
}

template <typename Int>
Int GetInt(const char* bytes) {
  std::make_unsigned_t<Int> bits = 0;
  for (std::size_t i = sizeof(Int); i-- > 0;) {
    bits = static_cast<decltype(bits)>((bits << 8) | static_cast<unsigned char>(bytes[i]));
  }
  return static_cast<Int>(bits);
}

// Reads a payload front to back; every method returns false instead of reading past the end.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view bytes) : bytes_(bytes) {}

  template <typename Int>
  bool Read(Int& out) {
    if (bytes_.size() < sizeof(Int)) return false;
    out = GetInt<Int>(bytes_.data());
    bytes_.remove_prefix(sizeof(Int));
    return true;
  }

  // Only 0 and 1 are accepted, so every valid payload has exactly one encoding.
  bool Read(bool& out) {
    std::uint8_t byte = 0;
    if (!Read(byte) || byte > 1) return false;
    out = byte == 1;
    return true;
  }

  bool Read(JournalOutcome& out) {
    std::uint8_t byte = 0;
    if (!Read(byte) || byte >= kJournalOutcomeCount) return false;
    out = static_cast<JournalOutcome>(byte);
    return true;
  }

  bool Read(std::string& out) {
    std::uint32_t size = 0;
    if (!Read(size) || bytes_.size() < size) return false;
    out.assign(bytes_.data(), size);
    bytes_.remove_prefix(size);
    return true;
  }

  template <typename... Fields>
  bool ReadAll(Fields&... fields) {
    return (Read(fields) && ...) && bytes_.empty();
  }

 private:
  std::string_view bytes_;
};

void PutField(std::string& out, bool value) { PutInt(out, static_cast<std::uint8_t>(value)); }

void PutField(std::string& out, JournalOutcome value) {
  PutInt(out, static_cast<std::uint8_t>(value));
}

void PutField(std::string& out, const std::string& text) {
  PutInt(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

template <typename Int>
void PutField(std::string& out, Int value) {
  PutInt(out, value);
}

// Each record's fields in payload order: the one list that encoding, decoding and comparison all
// follow, so they cannot disagree.
auto PayloadFields(const RunStartedRecord&) {
  using R = RunStartedRecord;
  return std::make_tuple(&R::unix_ms, &R::run_number, &R::worker_count);
}

auto PayloadFields(const TaskDispatchedRecord&) {
  using R = TaskDispatchedRecord;
  return std::make_tuple(&R::index, &R::attempt, &R::worker_rank);
}

auto PayloadFields(const TaskFinishedRecord&) {
  using R = TaskFinishedRecord;
  return std::make_tuple(&R::index, &R::attempt, &R::worker_rank, &R::outcome, &R::exit_code,
                         &R::signal, &R::start_ms, &R::end_ms, &R::will_retry);
}

auto PayloadFields(const TaskSkippedRecord&) {
  using R = TaskSkippedRecord;
  return std::make_tuple(&R::index, &R::reason);
}

auto PayloadFields(const RunEndedRecord&) {
  using R = RunEndedRecord;
  return std::make_tuple(&R::unix_ms, &R::exit_status, &R::interrupted);
}

auto PayloadFields(const TaskOutputRecord&) {
  using R = TaskOutputRecord;
  return std::make_tuple(&R::index, &R::attempt, &R::result, &R::data);
}

auto PayloadFields(const WorkerJoinedRecord&) {
  using R = WorkerJoinedRecord;
  return std::make_tuple(&R::rank, &R::host, &R::pid, &R::slots);
}

auto PayloadFields(const TaskStartedRecord&) {
  using R = TaskStartedRecord;
  return std::make_tuple(&R::index, &R::attempt, &R::start_ms, &R::task_id);
}

auto PayloadFields(const WorkerRetiredRecord&) {
  using R = WorkerRetiredRecord;
  return std::make_tuple(&R::rank, &R::reason);
}

template <typename Record>
void EncodePayload(const Record& record, std::string& out) {
  std::apply([&](auto... fields) { (PutField(out, record.*fields), ...); }, PayloadFields(record));
}

template <typename Record>
std::optional<JournalRecord> DecodePayload(std::string_view payload) {
  Record record;
  PayloadReader in(payload);
  const bool ok = std::apply([&](auto... fields) { return in.ReadAll((record.*fields)...); },
                             PayloadFields(record));
  if (!ok) return std::nullopt;
  return record;
}

template <typename Record>
bool SameFields(const Record& a, const Record& b) {
  return std::apply([&](auto... fields) { return ((a.*fields == b.*fields) && ...); },
                    PayloadFields(a));
}

}  // namespace

bool operator==(const RunStartedRecord& a, const RunStartedRecord& b) { return SameFields(a, b); }
bool operator==(const TaskDispatchedRecord& a, const TaskDispatchedRecord& b) {
  return SameFields(a, b);
}
bool operator==(const TaskFinishedRecord& a, const TaskFinishedRecord& b) {
  return SameFields(a, b);
}
bool operator==(const TaskSkippedRecord& a, const TaskSkippedRecord& b) { return SameFields(a, b); }
bool operator==(const RunEndedRecord& a, const RunEndedRecord& b) { return SameFields(a, b); }
bool operator==(const TaskOutputRecord& a, const TaskOutputRecord& b) { return SameFields(a, b); }
bool operator==(const WorkerJoinedRecord& a, const WorkerJoinedRecord& b) {
  return SameFields(a, b);
}
bool operator==(const TaskStartedRecord& a, const TaskStartedRecord& b) { return SameFields(a, b); }
bool operator==(const WorkerRetiredRecord& a, const WorkerRetiredRecord& b) {
  return SameFields(a, b);
}

JournalOutcome ToJournalOutcome(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSucceeded:
      return JournalOutcome::kSucceeded;
    case Outcome::kFailed:
      return JournalOutcome::kFailed;
    case Outcome::kSignaled:
      return JournalOutcome::kSignaled;
    case Outcome::kTimedOut:
      return JournalOutcome::kTimedOut;
    case Outcome::kSpawnError:
      return JournalOutcome::kSpawnError;
    case Outcome::kInterrupted:
      return JournalOutcome::kInterrupted;
    case Outcome::kSkipped:
      return JournalOutcome::kSkipped;
    case Outcome::kOom:
      return JournalOutcome::kOom;
  }
  // Only a value outside the enum gets here; -Wswitch flags any Outcome left out above.
  return JournalOutcome::kFailed;
}

std::string_view JournalOutcomeName(JournalOutcome outcome) {
  switch (outcome) {
    case JournalOutcome::kWorkerLost:
      return "worker_lost";
    case JournalOutcome::kSkipped:
      return OutcomeName(Outcome::kSkipped);
    case JournalOutcome::kSucceeded:
      return OutcomeName(Outcome::kSucceeded);
    case JournalOutcome::kFailed:
      return OutcomeName(Outcome::kFailed);
    case JournalOutcome::kSignaled:
      return OutcomeName(Outcome::kSignaled);
    case JournalOutcome::kTimedOut:
      return OutcomeName(Outcome::kTimedOut);
    case JournalOutcome::kSpawnError:
      return OutcomeName(Outcome::kSpawnError);
    case JournalOutcome::kInterrupted:
      return OutcomeName(Outcome::kInterrupted);
    case JournalOutcome::kOom:
      return OutcomeName(Outcome::kOom);
  }
  return "unknown";
}

std::uint32_t Crc32cPortable(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace {

// SSE 4.2's crc32 instruction computes exactly this CRC (Castagnoli's polynomial, bits
// reflected), eight bytes at a time; the initial value and the final inversion are ours.
__attribute__((target("sse4.2"))) std::uint32_t Crc32cSse42(std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t crc = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    crc = _mm_crc32_u64(crc, word);
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = _mm_crc32_u8(crc32, static_cast<unsigned char>(*p));
  return ~crc32;
}

// Asked once, at start-up. A Crc32c called by another file's static initialiser before this one
// has run finds it false and takes the portable path: the same CRC, only slower.
const bool kHasSse42 = [] {
  __builtin_cpu_init();  // the CPU model may not be read yet this early in start-up
  return __builtin_cpu_supports("sse4.2") != 0;
}();

}  // namespace

std::uint32_t Crc32c(std::string_view bytes) {
  return kHasSse42 ? Crc32cSse42(bytes) : Crc32cPortable(bytes);
}
#else
std::uint32_t Crc32c(std::string_view bytes) { return Crc32cPortable(bytes); }
#endif

std::string EncodeJournalHeader(const JournalHeader& header) {
  std::string out(kJournalMagic);
  PutInt(out, header.format_version);
  PutInt(out, header.manifest_hash);
  PutInt(out, header.task_count);
  PutInt(out, Crc32c(out));
  return out;
}

JournalHeader DecodeJournalHeader(std::string_view bytes, const std::string& path) {
  const std::string where = "journal " + path + ": ";
  if (bytes.size() < kJournalHeaderSize) {
    // Create() syncs the header before anything else is written, so a short one means the run
    // died before it could record any progress.
    throw JournalError(where + "header is incomplete (" + std::to_string(bytes.size()) + " of " +
                       std::to_string(kJournalHeaderSize) +
                       " bytes); the run wrote nothing resumable");
  }
  if (bytes.substr(0, kJournalMagic.size()) != kJournalMagic) {
    throw JournalError(where + "not a jobrunner journal (no JRJOURNL magic)");
  }
  JournalHeader header;
  header.format_version = GetInt<std::uint32_t>(bytes.data() + 8);
  // The version is checked before the CRC because a later version may lay out (and checksum) the
  // rest of its header differently; "unsupported version" is then the useful message.
  if (header.format_version < kOldestJournalFormatVersion ||
      header.format_version > kJournalFormatVersion) {
    throw JournalError(where + "format version " + std::to_string(header.format_version) +
                       " is not supported (this build reads versions " +
                       std::to_string(kOldestJournalFormatVersion) + " to " +
                       std::to_string(kJournalFormatVersion) + ")");
  }
  if (GetInt<std::uint32_t>(bytes.data() + 28) != Crc32c(bytes.substr(0, 28))) {
    throw JournalError(where + "header is corrupt (CRC mismatch)");
  }
  header.manifest_hash = GetInt<std::uint64_t>(bytes.data() + 12);
  header.task_count = GetInt<std::uint64_t>(bytes.data() + 20);
  return header;
}

void AppendFramedRecord(const JournalRecord& record, std::string& out) {
  const std::size_t frame_at = out.size();
  out.append(kRecordFrameSize, '\0');
  out.push_back(static_cast<char>(TypeOf(record)));
  std::visit([&out](const auto& r) { EncodePayload(r, out); }, record);
  const std::size_t length = out.size() - frame_at - kRecordFrameSize;
  if (length > kMaxRecordLength) {
    out.resize(frame_at);
    throw JournalError("journal record of " + std::to_string(length) +
                       " bytes exceeds the limit of " + std::to_string(kMaxRecordLength));
  }
  const std::uint32_t frame[2] = {
      static_cast<std::uint32_t>(length),
      Crc32c(std::string_view(out).substr(frame_at + kRecordFrameSize))};
  for (std::size_t i = 0; i < kRecordFrameSize; ++i) {
    out[frame_at + i] = static_cast<char>(frame[i / 4] >> (8 * (i % 4)));  // little-endian
  }
}

RecordFrame DecodeRecordFrame(const char* bytes) {
  return RecordFrame{GetInt<std::uint32_t>(bytes), GetInt<std::uint32_t>(bytes + 4)};
}

std::optional<JournalRecord> DecodeRecord(std::string_view type_and_payload) {
  if (type_and_payload.empty()) return std::nullopt;
  const std::string_view payload = type_and_payload.substr(1);
  switch (static_cast<JournalRecordType>(type_and_payload[0])) {
    case JournalRecordType::kRunStarted:
      return DecodePayload<RunStartedRecord>(payload);
    case JournalRecordType::kTaskDispatched:
      return DecodePayload<TaskDispatchedRecord>(payload);
    case JournalRecordType::kTaskFinished:
      return DecodePayload<TaskFinishedRecord>(payload);
    case JournalRecordType::kTaskSkipped:
      return DecodePayload<TaskSkippedRecord>(payload);
    case JournalRecordType::kRunEnded:
      return DecodePayload<RunEndedRecord>(payload);
    case JournalRecordType::kTaskOutput:
      return DecodePayload<TaskOutputRecord>(payload);
    case JournalRecordType::kWorkerJoined:
      return DecodePayload<WorkerJoinedRecord>(payload);
    case JournalRecordType::kTaskStarted:
      return DecodePayload<TaskStartedRecord>(payload);
    case JournalRecordType::kWorkerRetired:
      return DecodePayload<WorkerRetiredRecord>(payload);
  }
  return std::nullopt;
}

}  // namespace jobrunner
