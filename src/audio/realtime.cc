// Real-time thread scheduling: pthread_setschedparam on the calling thread, raise only.
#include "rvc/audio/realtime.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <system_error>

#include "rvc/core/error.h"

namespace rvc::audio {

int thread_rt_priority() {
  int policy = SCHED_OTHER;
  sched_param p{};
  if (pthread_getschedparam(pthread_self(), &policy, &p) != 0) return 0;
  return (policy == SCHED_FIFO || policy == SCHED_RR) ? p.sched_priority : 0;
}

namespace {

// 0 or the errno of pthread_setschedparam; the priority is in range.
int raise_to(int priority) noexcept {
  if (thread_rt_priority() >= priority) return 0;
  sched_param p{};
  p.sched_priority = priority;
  return pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
}

}  // namespace

bool try_raise_thread_priority(int priority) noexcept {
  return priority >= kMinRtPriority && priority <= kMaxRtPriority && raise_to(priority) == 0;
}

std::string raise_thread_priority(int priority) {
  if (priority < kMinRtPriority || priority > kMaxRtPriority) {
    fail("rt-priority: expected ", kMinRtPriority, "..", kMaxRtPriority, ", got ", priority);
  }
  const int err = raise_to(priority);
  if (err == 0) return "";
  if (err == EPERM) {
    return "SCHED_FIFO " + std::to_string(priority) +
           " not permitted (needs root, CAP_SYS_NICE or an rtprio limit of at least " +
           std::to_string(priority) + ": ulimit -r, or rtprio in /etc/security/limits.conf)";
  }
  return "SCHED_FIFO " + std::to_string(priority) + ": " + std::generic_category().message(err);
}

}  // namespace rvc::audio
