#include "api/router.hpp"

#include <stdexcept>

namespace imageproc::api {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

namespace {

bool is_param(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}
bool is_rest_param(const std::string& seg) {
  return is_param(seg) && seg.ends_with("...}");
}
std::string param_name(const std::string& seg) {
  auto inner = seg.substr(1, seg.size() - 2);
  if (inner.ends_with("...")) inner.resize(inner.size() - 3);
  return inner;
}

// Returns the number of literal segments matched (for specificity), or -1 when the pattern does not match.
int match_segments(const Route& route, const std::vector<std::string>& parts,
                   std::map<std::string, std::string>& params) {
  int literals = 0;
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    const auto& seg = route.segments[i];
    if (is_rest_param(seg)) {
      if (i >= parts.size()) return -1;
      std::string rest;
      for (std::size_t k = i; k < parts.size(); ++k) rest += (k == i ? "" : "/") + parts[k];
      params[param_name(seg)] = rest;
      return literals;
    }
    if (i >= parts.size()) return -1;
    if (is_param(seg)) {
      params[param_name(seg)] = parts[i];
    } else if (seg == parts[i]) {
      ++literals;
    } else {
      return -1;
    }
  }
  return route.segments.size() == parts.size() ? literals : -1;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  Route r{std::move(method), pattern, split_path(pattern), std::move(handler), options};
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    if (is_rest_param(r.segments[i]) && i + 1 != r.segments.size()) {
      throw std::invalid_argument("a {name...} parameter must be the last segment: " + pattern);
    }
  }
  routes_.push_back(std::move(r));
}

void Router::set_get_fallback(std::string pattern, Handler handler, RouteOptions options) {
  get_fallback_ = Route{"GET", std::move(pattern), {}, std::move(handler), options};
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  const auto parts = split_path(path);
  RouteMatch best;
  int best_score = -1;
  for (int pass = 0; pass < 2 && best.route == nullptr; ++pass) {
    // Pass 0: the method itself; pass 1: HEAD served by GET.
    const std::string_view wanted = pass == 0 ? method : std::string_view("GET");
    if (pass == 1 && method != "HEAD") break;
    for (const auto& route : routes_) {
      std::map<std::string, std::string> params;
      const int score = match_segments(route, parts, params);
      if (score < 0) continue;
      if (route.method != wanted) {
        if (pass == 0) best.allowed_methods.push_back(route.method);
        continue;
      }
      if (score > best_score) {
        best_score = score;
        best.route = &route;
        best.params = std::move(params);
      }
    }
  }
  if (best.route) best.allowed_methods.clear();
  if (!best.route && best.allowed_methods.empty() && get_fallback_ && (method == "GET" || method == "HEAD")) {
    std::string rest;
    for (const auto& part : parts) rest += (rest.empty() ? "" : "/") + part;
    best.route = &*get_fallback_;
    best.params = {{"path", rest}};
  }
  return best;
}

}  // namespace imageproc::api
