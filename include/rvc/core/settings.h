// rvc/core/settings.h: one mechanism for command-line flags, RVC_* environment variables and a
// config file, all mapping onto the same option structs (DESIGN.md idea 9).
//
// A command registers each setting once, by key, with a pointer to the struct field it fills
// (the field's initial value is the default):
//
//   key "index-rate"  ->  flag --index-rate V (or --index-rate=V)
//                         environment RVC_INDEX_RATE   ("RVC_" + upper-cased key, '-' -> '_')
//                         config file line  index-rate = V   (or index_rate = V)
//
// Precedence, highest first: flags > environment > config file > defaults. The config file is
// --config FILE, else $RVC_CONFIG, else none. File format (docs/configuration.md):
//
//   # comment                 blank lines and '#' comments (also after a value) are ignored
//   pitch = 3                 top-level keys apply to every command that reads the file
//   model = "my voice"        strings may be double-quoted (then '#' inside is kept)
//   [convert]                 a section applies only to that command; other commands' sections
//   index-rate = 0.5          are skipped, so one file can serve convert, stream and serve
//
// Errors (rvc::Error, one line): an unknown key or a malformed value in the file names the file,
// the line and the key; a malformed value of a known RVC_* variable names the variable; unknown
// RVC_* variables are ignored (other programs may set them); unknown flags name the flag.
// Empty environment values count as unset. Booleans accept true/false/1/0/yes/no/on/off; on the
// command line a boolean is a bare flag (--no-noise).
//
// Settings is a plain single-threaded builder; it never prints (usage() and effective_config()
// return text for the app to print) and never calls exit().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rvc {

enum class SettingSource { kDefault, kConfigFile, kEnvironment, kFlag };
const char* setting_source_name(SettingSource s);

// Reads an environment variable; nullopt when unset. The default reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

class Settings {
 public:
  class Entry {
   public:
    // Numbers outside [lo, hi] are errors naming the source.
    Entry& range(double lo, double hi);
    // The value must be one of these strings.
    Entry& choices(std::vector<std::string> allowed);
    // Another command-line spelling, e.g. "-o".
    Entry& alias(std::string flag);
    // Only on the command line: no environment variable, not allowed in the config file, not
    // printed by effective_config() (inputs, outputs, --print-config ...).
    Entry& cli_only();

   private:
    friend class Settings;
    std::string key, metavar, help;
    std::vector<std::string> aliases;
    std::function<void(const std::string&)> parse;  // throws a bare reason on bad text
    std::function<std::string()> show;
    bool boolean = false, only_cli = false;
    std::optional<double> lo, hi;
    std::vector<std::string> allowed;
    SettingSource source = SettingSource::kDefault;
    std::string origin;  // where the value came from, for effective_config()
  };

  // command: the subcommand name (its config-file section and usage line).
  explicit Settings(std::string command, std::string positional_usage = "");
  Settings(const Settings&) = delete;
  Settings& operator=(const Settings&) = delete;

  // Registers a setting; out must outlive this object and holds the default. An empty metavar
  // for bool makes a bare flag.
  Entry& add(const std::string& key, const std::string& metavar, const std::string& help,
             std::string* out);
  Entry& add(const std::string& key, const std::string& metavar, const std::string& help, int* out);
  Entry& add(const std::string& key, const std::string& metavar, const std::string& help,
             int64_t* out);
  Entry& add(const std::string& key, const std::string& metavar, const std::string& help,
             uint64_t* out);
  Entry& add(const std::string& key, const std::string& metavar, const std::string& help,
             double* out);
  Entry& add(const std::string& key, const std::string& metavar, const std::string& help,
             float* out);
  Entry& add_flag(const std::string& key, const std::string& help, bool* out);

  // Parses args (flags and positionals; "--" ends flags), then applies the config file, the
  // environment and the flags in that order. Returns false when --help/-h was given (nothing
  // else is applied; print usage()). Throws rvc::Error as described above.
  bool load(const std::vector<std::string>& args, const EnvLookup& env = process_environment());

  const std::vector<std::string>& positional() const { return positional_; }
  SettingSource source(const std::string& key) const;
  bool given(const std::string& key) const { return source(key) != SettingSource::kDefault; }
  // The config file that was read ("" when none).
  const std::string& config_path() const { return config_path_; }

  std::string usage() const;
  // The effective settings in config-file syntax, one "key = value  # source" line each, so the
  // output can be saved and used as a config file.
  std::string effective_config() const;

  // "index-rate" -> "RVC_INDEX_RATE".
  static std::string env_name(const std::string& key);

 private:
  Entry& add_entry(const std::string& key, const std::string& metavar, const std::string& help);
  Entry* find_key(const std::string& key);
  Entry* find_flag(const std::string& flag);
  void set(Entry& e, const std::string& value, SettingSource src, const std::string& where);
  void apply_file(const std::string& path);

  std::string command_, positional_usage_;
  std::deque<Entry> entries_;  // stable addresses for the Entry& handed out
  std::vector<std::string> positional_;
  std::string config_path_;
};

}  // namespace rvc
