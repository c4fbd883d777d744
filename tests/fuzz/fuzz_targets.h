#pragma once

// What each fuzzer feeds its input to (tests/fuzz/README.md). Shared by the libFuzzer binaries
// that scripts/fuzz builds and by the unit test that replays the committed corpus and every
// input a fuzzer ever found a problem with, so that a fixed problem stays fixed.
//
// Each target accepts any bytes: an input that the code rejects the documented way (a
// ManifestError, a JournalError, a DecodeError) is fine. Anything else escaping, a crash, or a
// broken promise (FuzzFailure, thrown when a result contradicts what the code guarantees) is a
// finding.

#include <stdexcept>
#include <string_view>

namespace jobrunner::fuzz {

class FuzzFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// ParseManifest, then the tasks' expansion: TaskSource, id checks, Render and the dependency
// graph (for manifests of up to 10^4 tasks, so that each input stays quick).
void Manifest(std::string_view input);
// Template::Parse, Names and Render, with and without shell quoting, and ShellQuote.
void Template(std::string_view input);
// Durations and byte sizes, both ways.
void Units(std::string_view input);
// The journal reader (ParseJournal, from bytes), feeding a RunLedger. The first byte chooses
// between the rest as the whole journal and a valid header followed by the rest cut into records
// with correct lengths and checksums, which reaches the record decoder far more often.
void Journal(std::string_view input);
// DecodeValue of the message (or kind helper file) type chosen by the first byte, on the rest.
void Protocol(std::string_view input);

}  // namespace jobrunner::fuzz
