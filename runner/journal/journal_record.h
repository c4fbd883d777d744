#pragma once

// The journal's records as plain values, and the bytes they become on disk. The byte layout is
// specified in docs/journal-format.md; this header and journal_record.cc are its only encoder.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "schedule/outcome.h"

namespace jobrunner {

// A journal that cannot be read or written. Corruption, an unusable header and I/O errors all end
// up here; a torn last record does not (ReadJournal reports it in JournalInfo::torn_tail).
class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kJournalMagic = "JRJOURNL";
// Version 2 added TaskOutput records, version 3 WorkerJoined, TaskStarted and WorkerRetired,
// version 4 the outcome oom; older journals read as before, and resuming one appends the newer
// records after its own (docs/journal-format.md).
inline constexpr std::uint32_t kJournalFormatVersion = 4;
inline constexpr std::uint32_t kOldestJournalFormatVersion = 1;
// magic (8) + version (4) + manifest hash (8) + task count (8) + CRC-32C of those 28 bytes (4).
inline constexpr std::size_t kJournalHeaderSize = 32;
// u32 length + u32 CRC-32C in front of every record's type byte and payload.
inline constexpr std::size_t kRecordFrameSize = 8;
// Records are a few dozen bytes; anything claiming more than this is damage, not data, and the cap
// keeps a damaged length field from making the reader allocate gigabytes.
inline constexpr std::uint32_t kMaxRecordLength = 1 << 20;

// The type byte of a record. The values are the format: never renumber, only add (with a new
// format version).
enum class JournalRecordType : std::uint8_t {
  kRunStarted = 1,
  kTaskDispatched = 2,
  kTaskFinished = 3,
  kTaskSkipped = 4,
  kRunEnded = 5,
  kTaskOutput = 6,
  kWorkerJoined = 7,
  kTaskStarted = 8,
  kWorkerRetired = 9,
};

// How an attempt ended, as the byte stored in TaskFinished. The values are the format, like the
// type bytes; they are spelled out rather than borrowed from Outcome so that reordering Outcome can
// never change what old journals mean. kWorkerLost and kSkipped have no Outcome: the coordinator
// decides them (a worker rank vanished; the task was never run).
enum class JournalOutcome : std::uint8_t {
  kSucceeded = 0,
  kFailed = 1,
  kSignaled = 2,
  kTimedOut = 3,
  kSpawnError = 4,
  kWorkerLost = 5,
  kSkipped = 6,
  kInterrupted = 7,
  kOom = 8,
};
inline constexpr std::uint8_t kJournalOutcomeCount = 9;

JournalOutcome ToJournalOutcome(Outcome outcome);

// "succeeded", "worker_lost", ...: the name results.jsonl uses (OutcomeName's, where they share
// an outcome).
std::string_view JournalOutcomeName(JournalOutcome outcome);

struct RunStartedRecord {
  std::uint64_t unix_ms = 0;
  std::uint32_t run_number = 0;  // 1 for the first run, +1 for each resume
  std::uint32_t worker_count = 0;
};

struct TaskDispatchedRecord {
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::int32_t worker_rank = 0;
};

struct TaskFinishedRecord {
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::int32_t worker_rank = 0;
  JournalOutcome outcome = JournalOutcome::kSucceeded;
  std::int32_t exit_code = 0;
  std::int32_t signal = 0;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  bool will_retry = false;
};

struct TaskSkippedRecord {
  std::uint64_t index = 0;
  std::string reason;
};

struct RunEndedRecord {
  std::uint64_t unix_ms = 0;
  std::int32_t exit_status = 0;
  bool interrupted = false;
};

// What a task kind's successful attempt produced, written just before its TaskFinished: the
// result as results.jsonl shows it (JSON text) and its bulk output file relative to the run
// directory, so that a results.jsonl line restored from the journal lacks neither (and `gather:`
// still finds them). Attempts with neither get no such record.
struct TaskOutputRecord {
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::string result;
  std::string data;
};

// A worker rank of the run that the RunStarted before it began, and where it runs: what tells a
// reader (`jobrunner status`) the host of each rank that TaskDispatched names.
struct WorkerJoinedRecord {
  std::int32_t rank = 0;
  std::string host;
  std::int32_t pid = 0;
  std::uint32_t slots = 0;
};

// An attempt has begun on its worker. Workers report starts with their results, and only of
// attempts still running when they report, so an attempt that began and ended between two
// reports has only its TaskFinished (whose start_ms says when it began). `task_id` lets a reader
// name a running task without the manifest.
struct TaskStartedRecord {
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::int64_t start_ms = 0;  // unix time, from the worker's clock
  std::string task_id;
};

// A worker rank that gets no more tasks for the rest of the run, and why.
struct WorkerRetiredRecord {
  std::int32_t rank = 0;
  std::string reason;
};

bool operator==(const RunStartedRecord& a, const RunStartedRecord& b);
bool operator==(const TaskDispatchedRecord& a, const TaskDispatchedRecord& b);
bool operator==(const TaskFinishedRecord& a, const TaskFinishedRecord& b);
bool operator==(const TaskSkippedRecord& a, const TaskSkippedRecord& b);
bool operator==(const RunEndedRecord& a, const RunEndedRecord& b);
bool operator==(const TaskOutputRecord& a, const TaskOutputRecord& b);
bool operator==(const WorkerJoinedRecord& a, const WorkerJoinedRecord& b);
bool operator==(const TaskStartedRecord& a, const TaskStartedRecord& b);
bool operator==(const WorkerRetiredRecord& a, const WorkerRetiredRecord& b);

// One journal record. The alternatives are listed in type-byte order, so index() + 1 is the type
// byte; switch with std::visit or on TypeOf().
using JournalRecord = std::variant<RunStartedRecord, TaskDispatchedRecord, TaskFinishedRecord,
                                   TaskSkippedRecord, RunEndedRecord, TaskOutputRecord,
                                   WorkerJoinedRecord, TaskStartedRecord, WorkerRetiredRecord>;

inline JournalRecordType TypeOf(const JournalRecord& record) {
  return static_cast<JournalRecordType>(record.index() + 1);
}

inline bool IsKnownRecordType(std::uint8_t type) {
  return type >= 1 && type <= std::variant_size_v<JournalRecord>;
}

// The fields of a journal's header.
struct JournalHeader {
  std::uint32_t format_version = kJournalFormatVersion;
  std::uint64_t manifest_hash = 0;
  std::uint64_t task_count = 0;
};

// The length and CRC in front of a record.
struct RecordFrame {
  std::uint32_t length = 0;  // bytes of type + payload
  std::uint32_t crc = 0;     // CRC-32C of those bytes
};

// CRC-32C (Castagnoli), the checksum of the header and of every record. With the CPU's crc32
// instruction where it has one (SSE 4.2), else Crc32cPortable.
std::uint32_t Crc32c(std::string_view bytes);
// The same CRC, table-driven, on any CPU.
std::uint32_t Crc32cPortable(std::string_view bytes);

std::string EncodeJournalHeader(const JournalHeader& header);

// Parses the first kJournalHeaderSize bytes of a journal (fewer if the file is shorter). Throws
// JournalError, naming `path`, when they are not a complete, intact header of a known version.
JournalHeader DecodeJournalHeader(std::string_view bytes, const std::string& path);

// Appends `record` with its frame to `out`. Throws JournalError if it would exceed
// kMaxRecordLength (only a skip reason can make it that long), leaving `out` unchanged.
void AppendFramedRecord(const JournalRecord& record, std::string& out);

// Reads a frame from the kRecordFrameSize bytes at `bytes`.
RecordFrame DecodeRecordFrame(const char* bytes);

// Decodes the type byte and payload that a frame covers. nullopt when the type is unknown or the
// payload does not have exactly the layout its type requires.
std::optional<JournalRecord> DecodeRecord(std::string_view type_and_payload);

}  // namespace jobrunner
