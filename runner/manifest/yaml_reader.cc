#include "manifest/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <unordered_set>

namespace jobrunner {

void FailAt(const SourcePos& pos, const std::string& message) { throw ManifestError(pos, message); }

const MapField* FindField(const std::vector<MapField>& fields, std::string_view name) {
  auto it = std::find_if(fields.begin(), fields.end(),
                         [name](const MapField& field) { return field.name == name; });
  return it == fields.end() ? nullptr : &*it;
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar: {
      constexpr std::size_t kShown = 40;
      const std::string& text = node.Scalar();
      return "'" + (text.size() > kShown ? text.substr(0, kShown) + "..." : text) + "'";
    }
    default:
      return "null";
  }
}

SourcePos YamlReader::Pos(const YAML::Mark& mark) const {
  if (mark.line < 0) return {file_, 0, 0};
  return {file_, mark.line + 1, mark.column + 1};
}

std::vector<LocatedNode> YamlReader::Sequence(const LocatedNode& node, const std::string& label,
                                              const std::string& expected) const {
  if (!node.yaml.IsSequence()) {
    FailAt(node.pos, "wrong type for " + label + ": expected " + expected + ", got " +
                         DescribeNode(node.yaml));
  }
  std::vector<LocatedNode> elements;
  for (const YAML::Node& element : node.yaml) elements.push_back(Locate(element));
  return elements;
}

std::vector<MapField> YamlReader::Entries(const LocatedNode& node, const std::string& what,
                                          const std::string& expected) const {
  if (!node.yaml.IsMap()) {
    FailAt(node.pos, "wrong type for " + what + ": expected " + expected + ", got " +
                         DescribeNode(node.yaml));
  }
  std::vector<MapField> fields;
  std::unordered_set<std::string> seen;
  for (const auto& entry : node.yaml) {
    const LocatedNode key = Locate(entry.first);
    const std::string name = Scalar(key, "a key in " + what, "a name");
    if (!seen.insert(name).second) FailAt(key.pos, "duplicate key '" + name + "' in " + what);
    // An empty value's mark points at whatever follows it; its key is where the user looks.
    const LocatedNode value{entry.second, entry.second.IsNull() ? key.pos : Pos(entry.second)};
    fields.push_back(MapField{name, key.pos, value});
  }
  return fields;
}

std::vector<MapField> YamlReader::Fields(const LocatedNode& node, const std::string& what,
                                         const std::string& expected,
                                         const std::vector<std::string_view>& allowed) const {
  std::vector<MapField> fields = Entries(node, what, expected);
  for (const MapField& field : fields) {
    if (std::find(allowed.begin(), allowed.end(), field.name) != allowed.end()) continue;
    std::string message = "unknown field '" + field.name + "' in " + what + "; expected one of: ";
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      message += (i == 0 ? "" : ", ") + std::string(allowed[i]);
    }
    FailAt(field.key_pos, message);
  }
  return fields;
}

void YamlReader::CheckQuoteClosed(const LocatedNode& node) const {
  const int start = node.yaml.Mark().pos;
  if (start < 0 || static_cast<std::size_t>(start) >= text_.size()) return;
  const char quote = text_[static_cast<std::size_t>(start)];
  if (quote != '"' && quote != '\'') return;  // a plain scalar never starts with a quote
  for (std::size_t i = static_cast<std::size_t>(start) + 1; i < text_.size(); ++i) {
    if (quote == '"' && text_[i] == '\\') {
      ++i;  // an escape: \" does not close the string
    } else if (text_[i] == quote) {
      if (quote == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
        ++i;  // '' is an escaped quote inside a single-quoted string
        continue;
      }
      return;
    }
  }
  FailAt(node.pos, std::string("YAML syntax error: a string opened with ") + quote +
                       " here is never closed; expected a closing " + quote);
}

std::string YamlReader::Scalar(const LocatedNode& node, const std::string& label,
                               const std::string& expected) const {
  if (!node.yaml.IsScalar()) {
    FailAt(node.pos, "wrong type for " + label + ": expected " + expected + ", got " +
                         DescribeNode(node.yaml));
  }
  CheckQuoteClosed(node);
  const std::string& text = node.yaml.Scalar();
  if (text.find('\0') != std::string::npos) {
    FailAt(node.pos, label + " contains a NUL character; expected " + expected);
  }
  return text;
}

std::int64_t YamlReader::Integer(const LocatedNode& node, const std::string& label,
                                 const std::string& expected) const {
  const std::string text = Scalar(node, label, expected);
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error == std::errc::result_out_of_range && stop == end) {
    FailAt(node.pos, label + " " + text + " is out of range; expected " + expected);
  }
  if (text.empty() || error != std::errc() || stop != end) {
    FailAt(node.pos, "wrong type for " + label + ": expected " + expected + ", got " +
                         DescribeNode(node.yaml));
  }
  return value;
}

}  // namespace jobrunner
