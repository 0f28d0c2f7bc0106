#pragma once
// Cron expressions for the scheduler (DESIGN §8): the classic 5 fields, evaluated in UTC.
//
//   minute (0–59)  hour (0–23)  day-of-month (1–31)  month (1–12 or JAN–DEC)  day-of-week (0–7 or SUN–SAT;
//   0 and 7 are Sunday)
//
// Each field is `*` or a comma-separated list of `n`, `a-b`, `*/s`, `a-b/s` or `a/s` (from a to the field's
// end). Names are case-insensitive. Macros: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
// @hourly. As in Vixie cron, when both day-of-month and day-of-week are restricted (neither starts with `*`),
// a day matches if either does; otherwise it must match both (so `*/10` with `MON` means Mondays that are the
// 1st, 11th, 21st or 31st). An expression that can never fire
// (`0 0 30 2 *`) is refused when parsed. No seconds field, no `L`, `W`, `#` or `?`.
// Checked against a table of expressions and their next fire times, and against the npm package
// cron-parser as a peer (tests/unit/cron_test.cpp).

#include <bitset>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace imageproc {

class CronError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class CronExpression {
 public:
  using TimePoint = std::chrono::sys_seconds;

  // Throws CronError with a message naming the field and the problem.
  static CronExpression parse(const std::string& text);

  // The first matching minute strictly after `after` (UTC). nullopt only if the expression never fires (none
  // within the calendar's 400-year cycle), which parse() already rules out.
  std::optional<TimePoint> next_after(TimePoint after) const;

  bool matches(TimePoint minute) const;  // whether this minute (seconds ignored) is a fire time
  const std::string& text() const { return text_; }

 private:
  bool day_matches(std::chrono::year_month_day date) const;
  static unsigned weekday_of(std::chrono::year_month_day date);

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1–31
  std::bitset<13> months_;   // 1–12
  std::bitset<7> weekdays_;  // 0–6, Sunday = 0
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace imageproc
