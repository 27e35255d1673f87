// Flags, RVC_* environment variables and a config file onto the same fields, in one precedence.
#include "rvc/core/settings.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "rvc/core/error.h"

namespace rvc {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string normalize_key(std::string k) {
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

double parse_number(const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x)) {
    fail("expected a number, got '", v, "'");
  }
  return x;
}

long long parse_integer(const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) fail("expected an integer, got '", v, "'");
  return x;
}

bool parse_bool(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
  if (l == "0" || l == "false" || l == "no" || l == "off") return false;
  fail("expected true or false, got '", v, "'");
}

std::string show_number(double x) {
  std::ostringstream os;
  os.precision(std::numeric_limits<double>::max_digits10 - 2);
  os << x;
  return os.str();
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A config-file value: a double-quoted string (escapes \" and \\, '#' kept) or bare text up to
// an unquoted '#'.
std::string parse_file_value(const std::string& raw) {
  const std::string t = trim(raw);
  if (t.empty() || t[0] != '"') return trim(t.substr(0, t.find('#')));
  std::string out;
  size_t i = 1;
  for (; i < t.size() && t[i] != '"'; ++i) {
    if (t[i] == '\\' && i + 1 < t.size()) ++i;
    out += t[i];
  }
  if (i >= t.size()) fail("unterminated string");
  const std::string rest = trim(t.substr(i + 1));
  if (!rest.empty() && rest[0] != '#') fail("unexpected text after the string: '", rest, "'");
  return out;
}

}  // namespace

const char* setting_source_name(SettingSource s) {
  switch (s) {
    case SettingSource::kDefault:
      return "default";
    case SettingSource::kConfigFile:
      return "config file";
    case SettingSource::kEnvironment:
      return "environment";
    case SettingSource::kFlag:
      return "flag";
  }
  return "?";
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Settings::Entry& Settings::Entry::range(double lo_value, double hi_value) {
  lo = lo_value;
  hi = hi_value;
  return *this;
}
Settings::Entry& Settings::Entry::choices(std::vector<std::string> values) {
  allowed = std::move(values);
  return *this;
}
Settings::Entry& Settings::Entry::alias(std::string flag) {
  aliases.push_back(std::move(flag));
  return *this;
}
Settings::Entry& Settings::Entry::cli_only() {
  only_cli = true;
  return *this;
}

Settings::Settings(std::string command, std::string positional_usage)
    : command_(std::move(command)), positional_usage_(std::move(positional_usage)) {}

std::string Settings::env_name(const std::string& key) {
  std::string n = "RVC_";
  for (char c : key) {
    n += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return n;
}

Settings::Entry& Settings::add_entry(const std::string& key, const std::string& metavar,
                                     const std::string& help) {
  if (find_key(key)) fail("setting '", key, "' registered twice");
  Entry& e = entries_.emplace_back();
  e.key = key;
  e.metavar = metavar;
  e.help = help;
  return e;
}

namespace {
void check_range(double x, const std::optional<double>& lo, const std::optional<double>& hi) {
  if (lo && hi && (x < *lo || x > *hi)) {
    fail("expected ", show_number(*lo), "..", show_number(*hi), ", got ", show_number(x));
  }
}
}  // namespace

Settings::Entry& Settings::add(const std::string& key, const std::string& metavar,
                               const std::string& help, std::string* out) {
  Entry& e = add_entry(key, metavar, help);
  Entry* ep = &e;
  e.parse = [out, ep](const std::string& v) {
    if (!ep->allowed.empty() &&
        std::find(ep->allowed.begin(), ep->allowed.end(), v) == ep->allowed.end()) {
      std::string list;
      for (const auto& a : ep->allowed) list += (list.empty() ? "" : " | ") + a;
      fail("expected ", list, ", got '", v, "'");
    }
    *out = v;
  };
  e.show = [out] { return quote(*out); };
  return e;
}

Settings::Entry& Settings::add(const std::string& key, const std::string& metavar,
                               const std::string& help, int* out) {
  Entry& e = add_entry(key, metavar, help);
  Entry* ep = &e;
  e.parse = [out, ep](const std::string& v) {
    const long long x = parse_integer(v);
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) {
      fail("integer out of range: '", v, "'");
    }
    check_range(static_cast<double>(x), ep->lo, ep->hi);
    *out = static_cast<int>(x);
  };
  e.show = [out] { return std::to_string(*out); };
  return e;
}

Settings::Entry& Settings::add(const std::string& key, const std::string& metavar,
                               const std::string& help, int64_t* out) {
  Entry& e = add_entry(key, metavar, help);
  Entry* ep = &e;
  e.parse = [out, ep](const std::string& v) {
    const long long x = parse_integer(v);
    check_range(static_cast<double>(x), ep->lo, ep->hi);
    *out = static_cast<int64_t>(x);
  };
  e.show = [out] { return std::to_string(*out); };
  return e;
}

Settings::Entry& Settings::add(const std::string& key, const std::string& metavar,
                               const std::string& help, uint64_t* out) {
  Entry& e = add_entry(key, metavar, help);
  e.parse = [out](const std::string& v) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || *end != '\0' || errno == ERANGE) {
      fail("expected a non-negative integer, got '", v, "'");
    }
    *out = static_cast<uint64_t>(x);
  };
  e.show = [out] { return std::to_string(*out); };
  return e;
}

Settings::Entry& Settings::add(const std::string& key, const std::string& metavar,
                               const std::string& help, double* out) {
  Entry& e = add_entry(key, metavar, help);
  Entry* ep = &e;
  e.parse = [out, ep](const std::string& v) {
    const double x = parse_number(v);
    check_range(x, ep->lo, ep->hi);
    *out = x;
  };
  e.show = [out] { return show_number(*out); };
  return e;
}

Settings::Entry& Settings::add(const std::string& key, const std::string& metavar,
                               const std::string& help, float* out) {
  Entry& e = add_entry(key, metavar, help);
  Entry* ep = &e;
  e.parse = [out, ep](const std::string& v) {
    const double x = parse_number(v);
    check_range(x, ep->lo, ep->hi);
    *out = static_cast<float>(x);
  };
  e.show = [out] { return show_number(static_cast<double>(*out)); };
  return e;
}

Settings::Entry& Settings::add_flag(const std::string& key, const std::string& help, bool* out) {
  Entry& e = add_entry(key, "", help);
  e.boolean = true;
  e.parse = [out](const std::string& v) { *out = parse_bool(v); };
  e.show = [out] { return std::string(*out ? "true" : "false"); };
  return e;
}

Settings::Entry* Settings::find_key(const std::string& key) {
  for (auto& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

Settings::Entry* Settings::find_flag(const std::string& flag) {
  for (auto& e : entries_) {
    if ("--" + e.key == flag) return &e;
    for (const auto& a : e.aliases) {
      if (a == flag) return &e;
    }
  }
  return nullptr;
}

SettingSource Settings::source(const std::string& key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return e.source;
  }
  return SettingSource::kDefault;
}

void Settings::set(Entry& e, const std::string& value, SettingSource src,
                   const std::string& where) {
  try {
    e.parse(value);
  } catch (const Error& err) {
    throw Error(where + ": " + err.what());
  }
  e.source = src;
  e.origin = where;
}

void Settings::apply_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(path, ": cannot read the config file");
  std::string line, section;
  for (int n = 1; std::getline(f, line); ++n) {
    const std::string where = path + ":" + std::to_string(n);
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t[0] == '[') {
      const auto close = t.find(']');
      const std::string rest = close == std::string::npos ? "" : trim(t.substr(close + 1));
      if (close == std::string::npos || close < 2 || (!rest.empty() && rest[0] != '#')) {
        fail(where, ": expected a section header like [", command_, "], got '", t, "'");
      }
      section = trim(t.substr(1, close - 1));
      continue;
    }
    if (!section.empty() && section != command_) continue;  // another command's section
    const auto eq = t.find('=');
    if (eq == std::string::npos) fail(where, ": expected 'key = value', got '", t, "'");
    const std::string key = normalize_key(trim(t.substr(0, eq)));
    if (key.empty()) fail(where, ": missing key before '='");
    Entry* e = find_key(key);
    if (!e || e->only_cli) {
      fail(where, ": ", key, ": unknown setting for 'rvc-rt ", command_, "' (see rvc-rt ", command_,
           " --help)");
    }
    std::string value;
    try {
      value = parse_file_value(t.substr(eq + 1));
    } catch (const Error& err) {
      fail(where, ": ", key, ": ", err.what());
    }
    set(*e, value, SettingSource::kConfigFile, where + ": " + key);
  }
}

bool Settings::load(const std::vector<std::string>& args, const EnvLookup& env) {
  // 1. Command line, kept aside so that it can be applied last.
  struct Given {
    Entry* entry;
    std::string flag, value;
  };
  std::vector<Given> flags;
  std::string config_flag;
  bool have_config_flag = false, flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-' || a == "-") {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") return false;
    std::string name = a, value;
    bool has_value = false;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    const bool is_config = name == "--config";
    Entry* e = is_config ? nullptr : find_flag(name);
    if (!e && !is_config) {
      fail("unknown option '", name, "' for '", command_, "' (see rvc-rt ", command_, " --help)");
    }
    if (e && e->boolean) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        fail(name, ": expected a value (", is_config ? "FILE" : e->metavar, ")");
      }
      value = args[++i];
    }
    if (is_config) {
      config_flag = value;
      have_config_flag = true;
    } else {
      flags.push_back({e, name, value});
    }
  }
  // 2. Config file.
  if (have_config_flag) {
    if (config_flag.empty()) fail("--config: expected a file name");
    config_path_ = config_flag;
  } else if (auto c = env("RVC_CONFIG"); c && !c->empty()) {
    config_path_ = *c;
  }
  if (!config_path_.empty()) apply_file(config_path_);
  // 3. Environment.
  for (auto& e : entries_) {
    if (e.only_cli) continue;
    const std::string var = env_name(e.key);
    if (auto v = env(var); v && !v->empty()) set(e, *v, SettingSource::kEnvironment, var);
  }
  // 4. Flags, in order (a repeated flag: the last wins).
  for (const Given& g : flags) set(*g.entry, g.value, SettingSource::kFlag, g.flag);
  return true;
}

std::string Settings::usage() const {
  std::ostringstream os;
  os << "usage: rvc-rt " << command_ << " [options] " << positional_usage_ << "\n\noptions:\n";
  auto line = [&os](std::string left, const std::string& help) {
    if (left.size() < 28) {
      left.resize(28, ' ');
    } else {
      left += "\n" + std::string(28, ' ');
    }
    os << left << help << "\n";
  };
  for (const auto& e : entries_) {
    std::string left = "  ";
    for (const auto& a : e.aliases) left += a + ", ";
    left += "--" + e.key + (e.metavar.empty() ? "" : " " + e.metavar);
    line(left, e.help + (e.only_cli ? " (CLI only)" : ""));
  }
  line("  --config FILE", "read settings from FILE (also $RVC_CONFIG)");
  os << "\nEvery option not marked CLI only is also read from RVC_<NAME> (e.g. "
        "--index-rate:\nRVC_INDEX_RATE) and from the config file; flags > environment > config "
        "file > defaults.\nSee docs/configuration.md.\n";
  return os.str();
}

std::string Settings::effective_config() const {
  std::ostringstream os;
  os << "# rvc-rt " << command_
     << " effective settings (flags > environment > config file > "
        "defaults)\n";
  if (!config_path_.empty()) os << "# config file: " << config_path_ << "\n";
  for (const auto& e : entries_) {
    if (e.only_cli) continue;
    std::string l = e.key + " = " + e.show();
    if (l.size() < 36) l.resize(36, ' ');
    os << l << "  # " << setting_source_name(e.source);
    if (e.source != SettingSource::kDefault) os << " (" << e.origin << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace rvc
