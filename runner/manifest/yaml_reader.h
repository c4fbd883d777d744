#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/manifest.h"

namespace jobrunner {

// A YAML node with the place to blame when it is wrong. That is its own position, except for an
// empty value (`timeout:` with nothing after it), whose mark is that of the next token, so its
// key's position is used instead.
struct LocatedNode {
  YAML::Node yaml;
  SourcePos pos;
};

// One `key: value` of a map; keys are always strings in a manifest.
struct MapField {
  std::string name;
  SourcePos key_pos;
  LocatedNode value;
};

// Typed access to a parsed manifest. Every method either returns what was asked for or throws
// a ManifestError at the offending node that says what was expected, so the manifest parser
// reads as a description of the format.
class YamlReader {
 public:
  // `text` is the source the nodes were parsed from; it must outlive the reader.
  YamlReader(std::string file, std::string_view text) : file_(std::move(file)), text_(text) {}

  // 1-based; line 0 when there is no position (yaml-cpp marks an absent document -1:-1).
  SourcePos Pos(const YAML::Mark& mark) const;
  SourcePos Pos(const YAML::Node& node) const { return Pos(node.Mark()); }
  LocatedNode Locate(const YAML::Node& node) const { return {node, Pos(node)}; }

  // The elements of a list; `label` and `expected` describe it for the wrong-type message.
  std::vector<LocatedNode> Sequence(const LocatedNode& node, const std::string& label,
                                    const std::string& expected) const;

  // The entries of a map in file order; a key that is not a string, or that repeats, is an
  // error. `what` names the map in messages ("task", "env", ...).
  std::vector<MapField> Entries(const LocatedNode& node, const std::string& what,
                                const std::string& expected) const;

  // Entries restricted to `allowed` keys (any other is an "unknown field" error).
  std::vector<MapField> Fields(const LocatedNode& node, const std::string& what,
                               const std::string& expected,
                               const std::vector<std::string_view>& allowed) const;

  // The text of a scalar: strings, numbers and booleans alike, as written. NUL is rejected
  // here once for all strings, since no argument, variable or path can carry it, and so is a
  // quoted string without its closing quote, which yaml-cpp 0.7 lets run to the end of the file
  // (silently swallowing every task after it).
  std::string Scalar(const LocatedNode& node, const std::string& label,
                     const std::string& expected) const;

  // A decimal integer that fits in 64 bits.
  std::int64_t Integer(const LocatedNode& node, const std::string& label,
                       const std::string& expected) const;

 private:
  void CheckQuoteClosed(const LocatedNode& node) const;

  std::string file_;
  std::string_view text_;
};

[[noreturn]] void FailAt(const SourcePos& pos, const std::string& message);

// The field called `name`, or nullptr.
const MapField* FindField(const std::vector<MapField>& fields, std::string_view name);

// What a node is, for the "got ..." part of messages: "a map", "a list", "null" or "'text'".
std::string DescribeNode(const YAML::Node& node);

}  // namespace jobrunner
