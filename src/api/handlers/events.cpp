#include "api/handlers/events.hpp"

#include "core/logging.hpp"

namespace imageproc::api {

std::string sse_frame(std::string_view event, std::string_view data) {
  std::string frame;
  frame.reserve(event.size() + data.size() + 16);
  frame.append("event: ").append(event).append("\ndata: ").append(data).append("\n\n");
  return frame;
}

// --- SseStream ---------------------------------------------------------------------------------------------------

bool SseStream::push(std::string frame) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (pending_.size() >= kMaxPendingFrames) {
      // Too slow to keep up: end the stream (the client reconnects and refetches) instead of growing memory.
      closed_ = true;
    } else {
      pending_.push_back(std::move(frame));
    }
    wake = wake_;
  }
  if (wake) wake();
  return true;
}

bool SseStream::closed() {
  std::lock_guard lock(mutex_);
  return closed_;
}

void SseStream::start(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

std::optional<std::string> SseStream::take() {
  std::lock_guard lock(mutex_);
  std::string out;
  for (auto& frame : pending_) out += frame;
  pending_.clear();
  if (out.empty() && closed_) return std::nullopt;
  return out;
}

void SseStream::stop() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  pending_.clear();
  wake_ = nullptr;
}

// --- EventHub ----------------------------------------------------------------------------------------------------

EventHub::EventHub(Renderer render, std::chrono::milliseconds heartbeat)
    : render_(std::move(render)), heartbeat_(heartbeat) {}

std::shared_ptr<SseStream> EventHub::subscribe(const std::string& user_id) {
  auto stream = std::make_shared<SseStream>(heartbeat_);
  // Tell the client how long to wait before reconnecting, and that the stream is live.
  stream->push("retry: 3000\n\n" + sse_frame("ready", "{}"));
  std::lock_guard lock(mutex_);
  // Drop entries of streams that ended, so the map does not grow with every reconnect.
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    auto s = it->second.lock();
    it = (!s || s->closed()) ? subscribers_.erase(it) : std::next(it);
  }
  subscribers_.emplace(user_id, stream);
  return stream;
}

std::vector<std::shared_ptr<SseStream>> EventHub::streams_of(const std::string& user_id) {
  std::vector<std::shared_ptr<SseStream>> out;
  std::lock_guard lock(mutex_);
  const auto [begin, end] = subscribers_.equal_range(user_id);
  for (auto it = begin; it != end; ++it) {
    if (auto s = it->second.lock()) out.push_back(std::move(s));
  }
  return out;
}

void EventHub::broadcast(const std::string& user_id, const std::string& frame) {
  for (auto& stream : streams_of(user_id)) stream->push(frame);
}

void EventHub::dispatch(std::string_view body) {
  try {
    const auto event = nlohmann::json::parse(body);
    const auto summary = contracts::summary_from_event(event);
    if (streams_of(summary.user_id).empty()) return;  // nobody of this user listens here: skip the signing
    if (event.value("deleted", false)) {
      broadcast(summary.user_id, sse_frame("job-deleted", nlohmann::json{{"id", summary.id}}.dump()));
    } else {
      broadcast(summary.user_id, sse_frame("job", render_(summary).dump()));
    }
  } catch (const std::exception& e) {
    log::warn("ignored a malformed job event", {{"error", e.what()}});
  }
}

void EventHub::resync_all() {
  std::vector<std::shared_ptr<SseStream>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [user, weak] : subscribers_) {
      if (auto s = weak.lock()) all.push_back(std::move(s));
    }
  }
  for (auto& s : all) s->push(sse_frame("resync", "{}"));
}

std::size_t EventHub::subscriber_count() {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto& [user, weak] : subscribers_) {
    if (auto s = weak.lock(); s && !s->closed()) ++n;
  }
  return n;
}

// --- handler -----------------------------------------------------------------------------------------------------

void EventsHandlers::register_routes(Router& router) {
  router.add("GET", "/api/images/events", [this](Request& r) { return events(r); },
             {.access = Access::User, .rate = RateClass::Read});
}

Response EventsHandlers::events(Request& request) {
  Response response;
  response.status = 200;
  response.headers.set("Content-Type", "text/event-stream; charset=utf-8");
  response.headers.set("Cache-Control", "no-store");
  response.headers.set("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  response.stream = hub_.subscribe(request.principal->user_id);
  return response;
}

}  // namespace imageproc::api
