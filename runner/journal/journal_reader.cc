#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "base/status.h"
#include "base/text.h"
#include "journal/journal.h"
#include "posix/file.h"

namespace jobrunner {
namespace {

// Reads a file front to back through one buffer, so records are parsed without a system call
// each and without loading the whole journal.
class SequentialFile {
 public:
  SequentialFile(const Dir& dir, const std::string& name) : path_(dir.PathOf(name)) {
    StatusOr<UniqueFd> file = dir.OpenForRead(name);
    if (!file.ok()) Throw("open", file.status());
    file_ = std::move(*file);
    StatusOr<std::uint64_t> size = FileSize(file_.get());
    if (!size.ok()) Throw("fstat", size.status());
    size_ = *size;
  }

  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Bytes [offset, offset + n), which must lie inside the file; valid until the next call.
  std::string_view Read(std::uint64_t offset, std::size_t n) {
    if (offset < buffer_offset_ || offset + n > buffer_offset_ + buffer_.size()) {
      Fill(offset, std::max<std::uint64_t>(n, std::min<std::uint64_t>(kChunk, size_ - offset)));
    }
    return std::string_view(buffer_).substr(offset - buffer_offset_, n);
  }

  bool OnlyZerosFrom(std::uint64_t offset) {
    for (; offset < size_; offset += kChunk) {
      const std::string_view chunk = Read(offset, std::min<std::uint64_t>(kChunk, size_ - offset));
      if (chunk.find_first_not_of('\0') != std::string_view::npos) return false;
    }
    return true;
  }

 private:
  static constexpr std::uint64_t kChunk = 1 << 20;

  void Fill(std::uint64_t offset, std::uint64_t n) {
    buffer_.resize(n);
    buffer_offset_ = offset;
    StatusOr<std::size_t> got = ReadAt(file_.get(), buffer_.data(), n, offset);
    if (!got.ok()) Throw("read", got.status());
    if (*got < n) throw JournalError("journal " + path_ + ": file shrank while being read");
  }

  [[noreturn]] void Throw(const char* operation, const Status& error) {
    throw JournalError("journal " + path_ + ": " + operation + " failed: " + error.message());
  }

  std::string path_;
  UniqueFd file_;
  std::uint64_t size_ = 0;
  std::string buffer_;
  std::uint64_t buffer_offset_ = 0;
};

// A journal already in memory, read through the same calls as SequentialFile.
class MemoryBytes {
 public:
  explicit MemoryBytes(std::string_view bytes) : bytes_(bytes) {}

  std::uint64_t size() const { return bytes_.size(); }
  std::string_view Read(std::uint64_t offset, std::size_t n) const {
    return bytes_.substr(offset, n);
  }
  bool OnlyZerosFrom(std::uint64_t offset) const {
    return bytes_.find_first_not_of('\0', offset) == std::string_view::npos;
  }

 private:
  std::string_view bytes_;
};

// The record framed by `frame` and starting at `offset`, or why it is unusable. An unknown type
// under a valid CRC is no accident of a crash but a journal from a newer format, so it throws
// instead.
template <class Bytes>
StatusOr<JournalRecord> CheckRecord(const RecordFrame& frame, Bytes& bytes, std::uint64_t offset,
                                    const std::string& name) {
  if (frame.length == 0 || frame.length > kMaxRecordLength) {
    return Status::Error("length " + std::to_string(frame.length) + " is out of range");
  }
  const std::string_view body = bytes.Read(offset + kRecordFrameSize, frame.length);
  if (Crc32c(body) != frame.crc) return Status::Error("CRC mismatch");
  const auto type = static_cast<std::uint8_t>(body[0]);
  if (!IsKnownRecordType(type)) {
    throw JournalError(
        fmt::format("journal {}: record at offset {} has type {}, unknown in format "
                    "version {}",
                    name, offset, type, kJournalFormatVersion));
  }
  std::optional<JournalRecord> record = DecodeRecord(body);
  if (!record) return Status::Error("payload does not match its type");
  return std::move(*record);
}

std::string TornTail(const std::string& name, std::uint64_t offset, std::uint64_t size,
                     const std::string& why) {
  return fmt::format(
      "journal {}: dropped a torn last record at offset {} ({} bytes up to end of file: {})", name,
      offset, size - offset, why);
}

// The rules of docs/journal-format.md, over a file or bytes in memory; `name` (a path) names the
// journal in messages.
template <class Bytes>
JournalInfo Parse(Bytes& bytes, const std::string& name,
                  const std::function<void(const JournalRecord&)>& on_record) {
  const std::uint64_t size = bytes.size();
  JournalInfo info;
  static_cast<JournalHeader&>(info) =
      DecodeJournalHeader(bytes.Read(0, std::min<std::uint64_t>(size, kJournalHeaderSize)), name);
  std::uint64_t offset = kJournalHeaderSize;
  while (offset < size) {
    if (size - offset < kRecordFrameSize) {
      info.torn_tail = TornTail(name, offset, size, "record frame cut short");
      break;
    }
    const RecordFrame frame = DecodeRecordFrame(bytes.Read(offset, kRecordFrameSize).data());
    const std::uint64_t end = offset + kRecordFrameSize + frame.length;
    if (end > size) {
      info.torn_tail =
          TornTail(name, offset, size,
                   "declared length " + std::to_string(frame.length) + " runs past end of file");
      break;
    }
    const StatusOr<JournalRecord> record = CheckRecord(frame, bytes, offset, name);
    if (!record.ok()) {
      const std::string& problem = record.status().message();
      // A crash damages only what was being appended, so a bad record counts as torn when it ends
      // at end of file, or when all that follows it is zeros (blocks the file system allocated
      // but the crash kept from being written; they start at a block boundary, which usually
      // falls inside a record, zeroing its end). Otherwise dropping it would silently drop the
      // records after it too, so it is an error.
      if (end == size || bytes.OnlyZerosFrom(end)) {
        info.torn_tail = TornTail(name, offset, size, problem);
        break;
      }
      throw JournalError(fmt::format(
          "journal {}: corrupt record at offset {} ({}); records after it cannot be trusted", name,
          offset, problem));
    }
    on_record(*record);
    offset = end;
  }
  info.valid_end = offset;
  return info;
}

// An on_record that keeps every record.
std::function<void(const JournalRecord&)> AppendTo(std::vector<JournalRecord>& records) {
  return [&records](const JournalRecord& record) { records.push_back(record); };
}

}  // namespace

JournalInfo ReadJournal(const Dir& dir, const std::string& name,
                        const std::function<void(const JournalRecord&)>& on_record) {
  SequentialFile file(dir, name);
  return Parse(file, file.path(), on_record);
}

JournalInfo ReadJournal(const std::string& path,
                        const std::function<void(const JournalRecord&)>& on_record) {
  StatusOr<Dir> dir = Dir::Open(DirectoryOf(path));
  if (!dir.ok()) {
    throw JournalError("journal " + path + ": open failed: " + dir.status().message());
  }
  return ReadJournal(*dir, BaseNameOf(path), on_record);
}

JournalContents ReadJournal(const std::string& path) {
  JournalContents contents;
  static_cast<JournalInfo&>(contents) = ReadJournal(path, AppendTo(contents.records));
  return contents;
}

JournalInfo ParseJournal(std::string_view bytes, const std::string& name,
                         const std::function<void(const JournalRecord&)>& on_record) {
  MemoryBytes memory(bytes);
  return Parse(memory, name, on_record);
}

JournalContents ParseJournal(std::string_view bytes, const std::string& name) {
  JournalContents contents;
  static_cast<JournalInfo&>(contents) = ParseJournal(bytes, name, AppendTo(contents.records));
  return contents;
}

}  // namespace jobrunner
