// rvc/server/client.h: the client side of docs/protocol.md over WebSocket (Boost.Beast) or
// framed TCP, for `rvc-rt client` and tests. Asynchronous on a caller-run io_context, one
// thread: callbacks run inside io_context::run().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace rvc::server {

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  // One whole message: binary = audio, else control JSON text.
  std::function<void(bool binary, std::string data)> on_message;
  // The connection ended: "" after a normal close, else what happened (connect failure, the
  // WebSocket close code and reason, a reset).
  std::function<void(const std::string& why)> on_closed;

  // Resolves, connects (and upgrades); on_open runs when messages may be sent.
  virtual void connect(std::function<void()> on_open) = 0;
  // Queues a message; on_written (optional) runs once it is handed to the socket.
  virtual void send(std::string data, bool binary, std::function<void()> on_written) = 0;
  virtual void close() = 0;
};

// url: ws://HOST:PORT/PATH[?query] (default ws://127.0.0.1:8765/ws when both are empty);
// tcp: HOST:PORT. A non-empty token goes in "Authorization: Bearer" for WebSocket (for TCP the
// caller puts it in its config message). Throws rvc::Error for a malformed url/address.
std::unique_ptr<ClientTransport> make_client_transport(boost::asio::io_context& io,
                                                       const std::string& url,
                                                       const std::string& tcp,
                                                       const std::string& token);

}  // namespace rvc::server
