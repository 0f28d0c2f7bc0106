// Fuzzes the cron parser and evaluator (src/core/cron.hpp).
//
// The input is an expression. parse() may only throw CronError. For an accepted expression, from a start
// time drawn from the input (mostly 1970–2200, sometimes up to year 6000), a chain of next_after() calls
// is checked: each result exists (parse() refuses expressions that never fire), is a whole minute strictly
// after the previous one, matches(), and no minute in between matches (every one for gaps up to two days,
// the first and last day plus random samples beyond); next_after from any instant in the gap gives the
// same answer; re-parsing text() behaves the same; a macro behaves as its five-field expansion.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/cron.hpp"
#include "core/text.hpp"
#include "fuzz_support.hpp"

namespace {

using imageproc::CronError;
using imageproc::CronExpression;
using imageproc::fuzz::Rng;
using namespace std::chrono;

std::string show(CronExpression::TimePoint t) { return imageproc::text::rfc3339(t); }

std::optional<CronExpression> try_parse(const std::string& text) {
  try {
    return CronExpression::parse(text);
  } catch (const CronError& e) {
    FUZZ_CHECK(std::string_view(e.what()).size() > 0, "a CronError without a message");
    return std::nullopt;
  }
}

std::optional<std::string> macro_expansion(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos || text[first] != '@') return std::nullopt;
  std::string m(text.substr(first, text.find_last_not_of(" \t") - first + 1));
  for (auto& c : m) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (m == "@yearly" || m == "@annually") return "0 0 1 1 *";
  if (m == "@monthly") return "0 0 1 * *";
  if (m == "@weekly") return "0 0 * * 0";
  if (m == "@daily" || m == "@midnight") return "0 0 * * *";
  if (m == "@hourly") return "0 * * * *";
  return std::nullopt;
}

// No minute strictly between `after` and `next` may match.
void check_gap(const CronExpression& e, CronExpression::TimePoint after, CronExpression::TimePoint next,
               Rng& rng) {
  const auto first = floor<minutes>(after) + minutes(1);
  const auto count = duration_cast<minutes>(next - first).count();  // minutes in the gap
  const auto check = [&](CronExpression::TimePoint t) {
    FUZZ_CHECK(!e.matches(t), "'" + e.text() + "': " + show(t) + " matches, but next_after(" + show(after) +
                                  ") = " + show(next));
  };
  constexpr long kExhaustive = 2 * 24 * 60;
  if (count <= kExhaustive) {
    for (long m = 0; m < count; ++m) check(first + minutes(m));
    return;
  }
  for (long m = 0; m < 24 * 60; ++m) {
    check(first + minutes(m));
    check(next - minutes(m + 1));
  }
  for (int i = 0; i < 256; ++i) check(first + minutes(rng.between(0, static_cast<std::uint64_t>(count - 1))));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(imageproc::fuzz::as_view(data, size));
  const auto expression = try_parse(text);
  if (!expression) return 0;
  const CronExpression& e = *expression;
  FUZZ_CHECK(e.text() == text, "text() is not the parsed text");
  const auto reparsed = try_parse(e.text());
  FUZZ_CHECK(reparsed.has_value(), "text() does not parse again");
  std::optional<CronExpression> expanded;
  if (const auto expansion = macro_expansion(text)) {
    expanded = try_parse(*expansion);
    FUZZ_CHECK(expanded.has_value(), "a macro's expansion does not parse");
  }

  Rng rng(imageproc::fuzz::hash_bytes(text));
  constexpr std::int64_t k1970 = 0;
  constexpr std::int64_t k2200 = 7258118400;
  constexpr std::int64_t k6000 = 127174492800;
  const std::int64_t start = rng.next() % 4 != 0 ? static_cast<std::int64_t>(rng.between(k1970, k2200))
                                                 : static_cast<std::int64_t>(rng.between(k1970, k6000));
  auto after = CronExpression::TimePoint(seconds(start));
  for (int step = 0; step < 5; ++step) {
    const auto next = e.next_after(after);
    FUZZ_CHECK(next.has_value(), "'" + text + "' was accepted but has no fire time after " + show(after));
    FUZZ_CHECK(*next > after, "next_after went backwards");
    FUZZ_CHECK(next->time_since_epoch().count() % 60 == 0, "next_after is not a whole minute");
    FUZZ_CHECK(e.matches(*next), "next_after(" + show(after) + ") = " + show(*next) + " does not match");
    FUZZ_CHECK(e.matches(*next + seconds(59)), "matches() looked at the seconds");
    FUZZ_CHECK(reparsed->next_after(after) == next, "the re-parsed expression disagrees");
    if (expanded) FUZZ_CHECK(expanded->next_after(after) == next, "the macro disagrees with its expansion");
    check_gap(e, after, *next, rng);
    const auto gap = (*next - after).count();
    const auto inside =
        after + seconds(static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(gap)));
    FUZZ_CHECK(e.next_after(inside) == next, "next_after from inside the gap (" + show(inside) + ") differs");
    after = *next;
  }
  return 0;
}
