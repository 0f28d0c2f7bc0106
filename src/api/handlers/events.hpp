#pragma once
// GET /api/images/events: Server-Sent Events for the caller's jobs (DESIGN §4, §6).
//
// Every API instance receives every `job.{userId}` event from the imageproc.events exchange (one private queue
// per instance, see queue::EventSubscriber) and EventHub fans each one out to the SSE streams of that user on
// this instance only. Frames:
//   event: job          data: JobSummary        on every state change of one of the caller's jobs
//   event: job-deleted  data: {"id": ...}       when a job was deleted
//   event: resync       data: {}                events may have been missed (broker reconnect): refetch
//   : heartbeat                                 every 15 s without other traffic
// A client that cannot keep up (more than kMaxPendingFrames unsent) is disconnected rather than buffered
// without bound; EventSource-style clients reconnect and refetch.
// Thread-safe: dispatch() runs on the subscriber thread, streams are drained by the network threads.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http.hpp"
#include "api/router.hpp"
#include "contracts/jobs.hpp"

namespace imageproc::api {

class SseStream;

class EventHub {
 public:
  // Renders a job event into the JobSummary JSON clients receive (signs the thumbnail URL).
  using Renderer = std::function<nlohmann::json(const contracts::JobSummaryData&)>;
  explicit EventHub(Renderer render, std::chrono::milliseconds heartbeat = std::chrono::seconds(15));

  std::shared_ptr<SseStream> subscribe(const std::string& user_id);
  // Handles one event body from the broker; malformed events are logged and ignored.
  void dispatch(std::string_view body);
  // Tells every client to refetch (events may have been lost while the broker was away).
  void resync_all();
  std::size_t subscriber_count();

 private:
  void broadcast(const std::string& user_id, const std::string& frame);
  std::vector<std::shared_ptr<SseStream>> streams_of(const std::string& user_id);

  Renderer render_;
  std::chrono::milliseconds heartbeat_;
  std::mutex mutex_;
  std::multimap<std::string, std::weak_ptr<SseStream>> subscribers_;
};

class SseStream : public ResponseStream {
 public:
  static constexpr std::size_t kMaxPendingFrames = 1000;
  explicit SseStream(std::chrono::milliseconds heartbeat) : heartbeat_(heartbeat) {}

  // Queues a frame for the client; returns false once the stream is over.
  bool push(std::string frame);
  bool closed();

  void start(std::function<void()> wake) override;
  std::optional<std::string> take() override;
  std::string idle_chunk() override { return ": heartbeat\n\n"; }
  std::chrono::milliseconds idle_interval() const override { return heartbeat_; }
  void stop() override;

 private:
  std::chrono::milliseconds heartbeat_;
  std::mutex mutex_;
  std::vector<std::string> pending_;
  std::function<void()> wake_;
  bool closed_ = false;
};

// Formats one SSE frame; `data` must be single-line (JSON dumps are).
std::string sse_frame(std::string_view event, std::string_view data);

class EventsHandlers {
 public:
  explicit EventsHandlers(EventHub& hub) : hub_(hub) {}
  void register_routes(Router& router);
  Response events(Request& request);

 private:
  EventHub& hub_;
};

}  // namespace imageproc::api
