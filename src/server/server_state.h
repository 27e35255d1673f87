// src/server/server_state.h: what every connection and session of one Server shares: the
// config, metrics, the voice registry, the inference worker pool and the session table.
// All members are thread-safe (atomics, or a mutex inside).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics.h"
#include "model_registry.h"
#include "rvc/server/server.h"

namespace rvc::server {

class Session;

// Inference worker threads: a FIFO of tasks (a session's next block, a session's set-up).
// Sessions re-post themselves after each block, so sessions take turns block by block.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  void post(std::function<void()> task);
  // Runs what is queued, then joins. Idempotent.
  void stop();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Open sessions: the max-sessions cap and GET /api/sessions.
class SessionTable {
 public:
  explicit SessionTable(int max) : max_(max) {}
  // A reserved slot id (> 0), or 0 when max-sessions are open.
  uint64_t reserve();
  void attach(uint64_t id, const std::shared_ptr<Session>& s);
  void release(uint64_t id);
  size_t size() const;
  std::vector<std::shared_ptr<Session>> sessions() const;

 private:
  int max_;
  mutable std::mutex mu_;
  uint64_t next_ = 1;
  size_t reserved_ = 0;
  std::map<uint64_t, std::weak_ptr<Session>> live_;
};

struct ServerState {
  explicit ServerState(const ServerConfig& c)
      : config(c),
        models(c.models_dir, c.hubert, c.rmvpe),
        pool(c.workers),
        sessions(c.max_sessions) {}

  ServerConfig config;
  Metrics metrics;
  ModelRegistry models;
  WorkerPool pool;
  SessionTable sessions;
  std::atomic<bool> ready{false};
  std::atomic<bool> shutting_down{false};
  std::mutex ready_mu;
  std::string not_ready_reason = "loading";  // under ready_mu
};

}  // namespace rvc::server
