#include "core/cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <sstream>
#include <vector>

namespace imageproc {

namespace {

using namespace std::chrono;

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names[i] ↔ min + i (nullptr: numbers only)
};

// 400 Gregorian years, exactly 20871 weeks: the calendar (dates and weekdays) repeats after this many days.
// 28 years are not enough: the weekday of a leap day can skip a combination for 40 years across a century
// that is not a leap year (Feb 29 is a Sunday in 2088 and next in 2128).
constexpr int kCycleDays = 146097;

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr std::array<FieldSpec, 5> kFields = {{{"minute", 0, 59, nullptr},
                                               {"hour", 0, 23, nullptr},
                                               {"day-of-month", 1, 31, nullptr},
                                               {"month", 1, 12, kMonthNames},
                                               {"day-of-week", 0, 7, kDayNames}}};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::stringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.emplace_back();
  return parts;
}

[[noreturn]] void fail(const FieldSpec& field, const std::string& value, const std::string& problem) {
  throw CronError("cron " + std::string(field.name) + " field '" + value + "': " + problem);
}

int parse_value(const FieldSpec& field, const std::string& token, const std::string& whole) {
  if (field.names != nullptr && token.size() == 3 && std::isalpha(static_cast<unsigned char>(token[0]))) {
    std::string upper = token;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int i = 0; i < (field.max == 7 ? 7 : field.max - field.min + 1); ++i) {
      if (upper == field.names[i]) return field.min + i;
    }
    fail(field, whole, "unknown name '" + token + "'");
  }
  int value = 0;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (token.empty() || ec != std::errc{} || ptr != token.data() + token.size()) {
    fail(field, whole, "'" + token + "' is not a number");
  }
  if (value < field.min || value > field.max) {
    fail(
        field, whole,
        std::to_string(value) + " is outside " + std::to_string(field.min) + "–" + std::to_string(field.max));
  }
  return value;
}

// Parses one field into the set of its values (indices min..max). Returns whether it starts with `*`.
bool parse_field(const FieldSpec& field, const std::string& text, std::vector<bool>& values) {
  values.assign(static_cast<std::size_t>(field.max + 1), false);
  if (text.empty()) fail(field, text, "empty");
  for (const auto& item : split(text, ',')) {
    if (item.empty()) fail(field, text, "empty list item");
    const auto slash = item.find('/');
    const std::string range = item.substr(0, slash);
    int step = 1;
    if (slash != std::string::npos) {
      const std::string step_text = item.substr(slash + 1);
      const auto [ptr, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc{} || ptr != step_text.data() + step_text.size() || step < 1 ||
          step > field.max) {
        fail(field, text, "step '" + step_text + "' must be a number from 1 to " + std::to_string(field.max));
      }
    }
    int low = field.min;
    int high = field.max;
    if (range == "*") {
      // the whole range
    } else if (const auto dash = range.find('-'); dash != std::string::npos) {
      low = parse_value(field, range.substr(0, dash), text);
      high = parse_value(field, range.substr(dash + 1), text);
      if (low > high) fail(field, text, "range " + range + " runs backwards");
    } else {
      low = parse_value(field, range, text);
      high = slash == std::string::npos ? low : field.max;  // `a/s`: from a to the end
    }
    for (int v = low; v <= high; v += step) values[static_cast<std::size_t>(v)] = true;
  }
  return text.front() == '*';
}

std::string expand_macro(const std::string& text) {
  std::string lower = text;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "@yearly" || lower == "@annually") return "0 0 1 1 *";
  if (lower == "@monthly") return "0 0 1 * *";
  if (lower == "@weekly") return "0 0 * * 0";
  if (lower == "@daily" || lower == "@midnight") return "0 0 * * *";
  if (lower == "@hourly") return "0 * * * *";
  throw CronError("unknown cron macro '" + text + "' (use @yearly, @monthly, @weekly, @daily or @hourly)");
}

}  // namespace

CronExpression CronExpression::parse(const std::string& text) {
  std::string fields_text = text;
  const auto first = fields_text.find_first_not_of(" \t");
  if (first != std::string::npos && fields_text[first] == '@') {
    const auto last = fields_text.find_last_not_of(" \t");
    fields_text = expand_macro(fields_text.substr(first, last - first + 1));
  }
  std::vector<std::string> parts;
  std::stringstream in(fields_text);
  for (std::string part; in >> part;) parts.push_back(part);
  if (parts.size() != 5) {
    throw CronError("a cron expression has 5 fields (minute hour day-of-month month day-of-week), got " +
                    std::to_string(parts.size()) + " in '" + text + "'");
  }

  CronExpression e;
  e.text_ = text;
  std::vector<bool> values;
  parse_field(kFields[0], parts[0], values);
  for (int v = 0; v < 60; ++v) e.minutes_[static_cast<std::size_t>(v)] = values[static_cast<std::size_t>(v)];
  parse_field(kFields[1], parts[1], values);
  for (int v = 0; v < 24; ++v) e.hours_[static_cast<std::size_t>(v)] = values[static_cast<std::size_t>(v)];
  e.days_restricted_ = !parse_field(kFields[2], parts[2], values);
  for (int v = 1; v <= 31; ++v) e.days_[static_cast<std::size_t>(v)] = values[static_cast<std::size_t>(v)];
  parse_field(kFields[3], parts[3], values);
  for (int v = 1; v <= 12; ++v) e.months_[static_cast<std::size_t>(v)] = values[static_cast<std::size_t>(v)];
  e.weekdays_restricted_ = !parse_field(kFields[4], parts[4], values);
  for (int v = 0; v <= 7; ++v) {
    if (values[static_cast<std::size_t>(v)]) e.weekdays_[static_cast<std::size_t>(v % 7)] = true;
  }

  // The Gregorian calendar repeats every 400 years, a whole number of weeks (kCycleDays): none there means
  // never.
  if (!e.next_after(sys_days(year{2000} / January / 1))) {
    throw CronError("cron expression '" + text + "' never fires (no such date)");
  }
  return e;
}

bool CronExpression::day_matches(year_month_day date) const {
  if (!months_[static_cast<unsigned>(date.month())]) return false;
  const bool day = days_[static_cast<unsigned>(date.day())];
  const bool weekday = weekdays_[weekday_of(date)];
  // Vixie cron: either day field may match when both are restricted; otherwise both must (a plain `*` field
  // holds every value, so only the other one decides; a `*/n` field still limits the days).
  return days_restricted_ && weekdays_restricted_ ? day || weekday : day && weekday;
}

unsigned CronExpression::weekday_of(year_month_day date) {
  return weekday(sys_days(date)).c_encoding();
}

bool CronExpression::matches(TimePoint minute) const {
  const auto day = floor<days>(minute);
  const hh_mm_ss time(minute - day);
  return day_matches(year_month_day(day)) && hours_[static_cast<std::size_t>(time.hours().count())] &&
         minutes_[static_cast<std::size_t>(time.minutes().count())];
}

std::optional<CronExpression::TimePoint> CronExpression::next_after(TimePoint after) const {
  // Day by day: a matching day's first matching minute (after `after`, on the first day) is the answer.
  const auto start = floor<minutes>(after) + minutes(1);
  auto day = floor<days>(start);
  for (int i = 0; i <= kCycleDays; ++i, day += days(1)) {
    if (!day_matches(year_month_day(day))) continue;
    const auto from = day == floor<days>(start) ? duration_cast<minutes>(start - day) : minutes(0);
    for (auto m = from; m < minutes(24 * 60); m += minutes(1)) {
      const auto h = static_cast<std::size_t>(duration_cast<hours>(m).count());
      if (!hours_[h]) {
        m = hours(h + 1) - minutes(1);  // skip the rest of this hour
        continue;
      }
      if (minutes_[static_cast<std::size_t>((m - hours(h)).count())]) return TimePoint(day) + m;
    }
  }
  return std::nullopt;
}

}  // namespace imageproc
