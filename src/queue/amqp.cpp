#include "queue/amqp.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <sys/time.h>

#include <cstring>

namespace imageproc::queue {

namespace {

std::string to_string(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string describe(amqp_rpc_reply_t reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return fmt::format("connection closed by broker: {} {}", m->reply_code, to_string(m->reply_text));
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return fmt::format("channel closed by broker: {} {}", m->reply_code, to_string(m->reply_text));
      }
      return fmt::format("broker error (method {:#x})", reply.reply.id);
  }
  return "unknown AMQP error";
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

AmqpUrl parse_amqp_url(std::string_view url) {
  AmqpUrl out;
  constexpr std::string_view kScheme = "amqp://";
  if (url.substr(0, kScheme.size()) != kScheme) throw AmqpError("AMQP_URL must start with amqp://");
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const auto vhost = rest.substr(slash + 1);
    out.vhost = vhost.empty() ? "/" : percent_decode(vhost);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    out.user = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out.password = percent_decode(userinfo.substr(colon + 1));
  }
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos && authority.front() != '[') {
    out.host = std::string(authority.substr(0, colon));
    try {
      out.port = std::stoi(std::string(authority.substr(colon + 1)));
    } catch (...) {
      throw AmqpError("AMQP_URL has an invalid port");
    }
  } else if (!authority.empty()) {
    out.host = std::string(authority);
  }
  if (out.host.empty() || out.port <= 0 || out.port > 65535)
    throw AmqpError("AMQP_URL has an invalid host or port");
  return out;
}

struct AmqpConnection::State {
  amqp_connection_state_t conn = nullptr;
  static constexpr amqp_channel_t kChannel = 1;

  // Runs also when the AmqpConnection constructor throws half-way (state_ is already constructed then).
  ~State() {
    if (conn) amqp_destroy_connection(conn);
  }

  void check(amqp_rpc_reply_t reply, const char* what) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL)
      throw AmqpError(fmt::format("{}: {}", what, describe(reply)));
  }
  void check_rpc(const char* what) { check(amqp_get_rpc_reply(conn), what); }
};

AmqpConnection::AmqpConnection(const AmqpUrl& url, std::string connection_name,
                               std::chrono::seconds heartbeat, std::chrono::milliseconds connect_timeout)
    : state_(std::make_unique<State>()) {
  state_->conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(state_->conn);
  if (!socket) throw AmqpError("cannot create AMQP socket");
  timeval tv = to_timeval(connect_timeout);
  if (const int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
      rc != AMQP_STATUS_OK) {
    throw AmqpError(
        fmt::format("cannot connect to RabbitMQ at {}:{}: {}", url.host, url.port, amqp_error_string2(rc)));
  }
  amqp_table_entry_t props[1];
  props[0].key = amqp_cstring_bytes("connection_name");
  props[0].value.kind = AMQP_FIELD_KIND_UTF8;
  props[0].value.value.bytes = amqp_cstring_bytes(connection_name.c_str());
  amqp_table_t client_properties{1, props};
  state_->check(amqp_login_with_properties(state_->conn, url.vhost.c_str(), 0, 131072,
                                           static_cast<int>(heartbeat.count()), &client_properties,
                                           AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str()),
                "AMQP login");
  amqp_channel_open(state_->conn, State::kChannel);
  state_->check_rpc("open channel");
  ok_ = true;
}

AmqpConnection::~AmqpConnection() {
  if (ok_) {
    amqp_channel_close(state_->conn, State::kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_->conn, AMQP_REPLY_SUCCESS);
  }
}

namespace {

// Owns the memory of an amqp_table_t built from Arguments for the duration of one call.
struct TableBuilder {
  std::vector<amqp_table_entry_t> entries;
  std::vector<std::string> strings;
  explicit TableBuilder(const Arguments& args) {
    strings.reserve(args.size() * 2);
    for (const auto& [key, value] : args) {
      amqp_table_entry_t e{};
      strings.push_back(key);
      e.key = amqp_cstring_bytes(strings.back().c_str());
      if (const auto* s = std::get_if<std::string>(&value)) {
        strings.push_back(*s);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = amqp_cstring_bytes(strings.back().c_str());
      } else {
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = std::get<std::int64_t>(value);
      }
      entries.push_back(e);
    }
  }
  amqp_table_t table() { return {static_cast<int>(entries.size()), entries.data()}; }
};

}  // namespace

void AmqpConnection::declare(const Topology& topology) {
  auto* c = state_->conn;
  for (const auto& ex : topology.exchanges) {
    amqp_exchange_declare(c, State::kChannel, amqp_cstring_bytes(ex.name.c_str()),
                          amqp_cstring_bytes(ex.type.c_str()), 0, /*durable=*/1, 0, 0, amqp_empty_table);
    state_->check_rpc(("declare exchange " + ex.name).c_str());
  }
  for (const auto& q : topology.queues) {
    TableBuilder args(q.arguments);
    amqp_queue_declare(c, State::kChannel, amqp_cstring_bytes(q.name.c_str()), 0, /*durable=*/1, 0, 0,
                       args.table());
    state_->check_rpc(("declare queue " + q.name).c_str());
  }
  for (const auto& b : topology.bindings) {
    amqp_queue_bind(c, State::kChannel, amqp_cstring_bytes(b.queue.c_str()),
                    amqp_cstring_bytes(b.exchange.c_str()), amqp_cstring_bytes(b.routing_key.c_str()),
                    amqp_empty_table);
    state_->check_rpc(("bind " + b.queue).c_str());
  }
}

std::string AmqpConnection::declare_private_queue(const std::string& exchange,
                                                  const std::string& binding_key) {
  auto* ok = amqp_queue_declare(state_->conn, State::kChannel, amqp_empty_bytes, 0, 0, /*exclusive=*/1,
                                /*auto_delete=*/1, amqp_empty_table);
  state_->check_rpc("declare private queue");
  const std::string name = to_string(ok->queue);
  amqp_queue_bind(state_->conn, State::kChannel, ok->queue, amqp_cstring_bytes(exchange.c_str()),
                  amqp_cstring_bytes(binding_key.c_str()), amqp_empty_table);
  state_->check_rpc("bind private queue");
  return name;
}

QueueStats AmqpConnection::queue_stats(const std::string& queue) {
  auto* ok = amqp_queue_declare(state_->conn, State::kChannel, amqp_cstring_bytes(queue.c_str()),
                                /*passive=*/1, 0, 0, 0, amqp_empty_table);
  try {
    state_->check_rpc(("inspect queue " + queue).c_str());
  } catch (...) {
    ok_ = false;  // a failed passive declare closes the channel
    throw;
  }
  return {ok->message_count, ok->consumer_count};
}

std::uint32_t AmqpConnection::queue_depth(const std::string& queue) {
  return queue_stats(queue).messages;
}

std::uint32_t AmqpConnection::purge(const std::string& queue) {
  auto* ok = amqp_queue_purge(state_->conn, State::kChannel, amqp_cstring_bytes(queue.c_str()));
  try {
    state_->check_rpc(("purge queue " + queue).c_str());
  } catch (...) {
    ok_ = false;
    throw;
  }
  return ok->message_count;
}

PublishOutcome AmqpConnection::publish(const std::string& exchange, const std::string& routing_key,
                                       std::string_view body, bool mandatory,
                                       std::chrono::milliseconds confirm_timeout) {
  auto* c = state_->conn;
  if (!confirm_mode_) {
    amqp_confirm_select(c, State::kChannel);
    state_->check_rpc("enable publisher confirms");
    confirm_mode_ = true;
  }
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  const std::uint64_t tag = next_publish_tag_++;
  const int rc = amqp_basic_publish(c, State::kChannel, amqp_cstring_bytes(exchange.c_str()),
                                    amqp_cstring_bytes(routing_key.c_str()), mandatory ? 1 : 0, 0, &props,
                                    amqp_bytes_t{body.size(), const_cast<char*>(body.data())});
  if (rc != AMQP_STATUS_OK) {
    ok_ = false;
    throw AmqpError(std::string("publish failed: ") + amqp_error_string2(rc));
  }
  bool returned = false;
  const auto deadline = std::chrono::steady_clock::now() + confirm_timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ok_ = false;  // an unconfirmed publish leaves the tag sequence unknown: reconnect
      throw AmqpError("timed out waiting for the publisher confirm");
    }
    timeval tv = to_timeval(left);
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) continue;
    if (status != AMQP_STATUS_OK) {
      ok_ = false;
      throw AmqpError(std::string("waiting for confirm: ") + amqp_error_string2(status));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_RETURN_METHOD: {
        // The returned message's header and body frames follow; read and discard them.
        amqp_message_t message;
        const auto reply = amqp_read_message(c, frame.channel, &message, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
          ok_ = false;
          throw AmqpError("reading returned message: " + describe(reply));
        }
        amqp_destroy_message(&message);
        returned = true;
        break;
      }
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        if (ack->delivery_tag == tag || (ack->multiple && ack->delivery_tag >= tag)) {
          return returned ? PublishOutcome::Returned : PublishOutcome::Confirmed;
        }
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        if (nack->delivery_tag == tag || (nack->multiple && nack->delivery_tag >= tag))
          return PublishOutcome::Nacked;
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        ok_ = false;
        throw AmqpError("broker closed the channel while publishing");
      default:
        break;
    }
  }
}

void AmqpConnection::set_prefetch(std::uint16_t count) {
  amqp_basic_qos(state_->conn, State::kChannel, 0, count, 0);
  state_->check_rpc("set prefetch");
}

void AmqpConnection::consume(const std::string& queue, bool exclusive) {
  amqp_basic_consume(state_->conn, State::kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0,
                     /*no_ack=*/0, exclusive ? 1 : 0, amqp_empty_table);
  state_->check_rpc(("consume " + queue).c_str());
}

std::optional<Delivery> AmqpConnection::next_delivery(std::chrono::milliseconds timeout) {
  auto* c = state_->conn;
  amqp_maybe_release_buffers(c);
  amqp_envelope_t envelope;
  timeval tv = to_timeval(timeout);
  const auto reply = amqp_consume_message(c, &envelope, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    Delivery d;
    d.delivery_tag = envelope.delivery_tag;
    d.exchange = to_string(envelope.exchange);
    d.routing_key = to_string(envelope.routing_key);
    d.body = to_string(envelope.message.body);
    d.redelivered = envelope.redelivered != 0;
    if (envelope.message.properties._flags & AMQP_BASIC_HEADERS_FLAG) {
      const auto& headers = envelope.message.properties.headers;
      for (int i = 0; i < headers.num_entries; ++i) {
        if (to_string(headers.entries[i].key) != "x-delivery-count") continue;
        const auto& v = headers.entries[i].value;
        switch (v.kind) {
          case AMQP_FIELD_KIND_I64:
            d.delivery_count = v.value.i64;
            break;
          case AMQP_FIELD_KIND_I32:
            d.delivery_count = v.value.i32;
            break;
          case AMQP_FIELD_KIND_U32:
            d.delivery_count = v.value.u32;
            break;
          default:
            break;
        }
      }
    }
    amqp_destroy_envelope(&envelope);
    return d;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) {
    return std::nullopt;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    // A frame other than a delivery arrived (e.g. channel.close or a heartbeat-related frame): inspect it.
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(c, &frame) == AMQP_STATUS_OK && frame.frame_type == AMQP_FRAME_METHOD &&
        (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
         frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
      ok_ = false;
      throw AmqpError("broker closed the consumer channel");
    }
    return std::nullopt;
  }
  ok_ = false;
  throw AmqpError("consume: " + describe(reply));
}

void AmqpConnection::ack(std::uint64_t delivery_tag) {
  if (const int rc = amqp_basic_ack(state_->conn, State::kChannel, delivery_tag, 0); rc != AMQP_STATUS_OK) {
    ok_ = false;
    throw AmqpError(std::string("ack failed: ") + amqp_error_string2(rc));
  }
}

void AmqpConnection::nack(std::uint64_t delivery_tag, bool requeue) {
  if (const int rc = amqp_basic_nack(state_->conn, State::kChannel, delivery_tag, 0, requeue ? 1 : 0);
      rc != AMQP_STATUS_OK) {
    ok_ = false;
    throw AmqpError(std::string("nack failed: ") + amqp_error_string2(rc));
  }
}

}  // namespace imageproc::queue
