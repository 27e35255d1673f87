#include "server_state.h"

#include "session.h"

namespace rvc::server {

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WorkerPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();  // tasks catch their own errors (Session turns them into protocol errors)
  }
}

uint64_t SessionTable::reserve() {
  std::lock_guard<std::mutex> lk(mu_);
  if (reserved_ >= static_cast<size_t>(max_)) return 0;
  ++reserved_;
  return next_++;
}

void SessionTable::attach(uint64_t id, const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> lk(mu_);
  live_[id] = s;
}

void SessionTable::release(uint64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  live_.erase(id);
  if (reserved_ > 0) --reserved_;
}

size_t SessionTable::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return reserved_;
}

std::vector<std::shared_ptr<Session>> SessionTable::sessions() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, w] : live_) {
    if (auto s = w.lock()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace rvc::server
