// Real-time scheduling: raise_thread_priority() puts the calling thread under SCHED_FIFO, never
// lowers a thread that already runs higher, and an OpenMP team created afterwards by that thread
// runs at its priority. Where the system refuses (no root, CAP_SYS_NICE or rtprio limit), the
// reason is one line and the thread is unchanged; the priority checks are then skipped, saying
// so. Every check runs on a thread of its own, so the test process keeps ordinary scheduling.
#include "rvc/audio/realtime.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <string>
#include <thread>

#include "rvc/core/error.h"

namespace rvc::audio {
namespace {

template <class F>
void on_new_thread(F f) {
  std::thread t(f);
  t.join();
}

TEST(Realtime, RaisesOnlyAndTheOpenMpTeamInherits) {
  std::string note;
  int first = -1, after_lower = -1, after_higher = -1, team_min = -1, team_max = -1, team = 0;
  on_new_thread([&] {
    EXPECT_EQ(thread_rt_priority(), 0);
    note = raise_thread_priority(5);
    first = thread_rt_priority();
    if (!note.empty()) return;
    EXPECT_EQ(raise_thread_priority(3), "");  // lower: left at 5
    EXPECT_TRUE(try_raise_thread_priority(4));
    after_lower = thread_rt_priority();
    EXPECT_EQ(raise_thread_priority(7), "");
    after_higher = thread_rt_priority();
    team_min = 99;
    team_max = 0;
#pragma omp parallel num_threads(2) reduction(min : team_min) reduction(max : team_max) \
    reduction(+ : team)
    {
      team_min = std::min(team_min, thread_rt_priority());
      team_max = std::max(team_max, thread_rt_priority());
      team += 1;
    }
  });
  if (!note.empty()) {
    EXPECT_EQ(first, 0) << "a refusal must leave the thread as it was";
    EXPECT_EQ(note.find('\n'), std::string::npos);
    EXPECT_NE(note.find("SCHED_FIFO 5"), std::string::npos) << note;
    GTEST_SKIP() << "this system refuses SCHED_FIFO: " << note;
  }
  EXPECT_EQ(first, 5);
  EXPECT_EQ(after_lower, 5);
  EXPECT_EQ(after_higher, 7);
  EXPECT_EQ(team, 2);
  EXPECT_EQ(team_min, 7) << "an OpenMP thread created after the raise runs at ordinary priority";
  EXPECT_EQ(team_max, 7);
}

TEST(Realtime, RejectsPrioritiesOutOfRange) {
  on_new_thread([] {
    EXPECT_THROW(raise_thread_priority(0), Error);
    EXPECT_THROW(raise_thread_priority(kMaxRtPriority + 1), Error);
    EXPECT_FALSE(try_raise_thread_priority(0));
    EXPECT_FALSE(try_raise_thread_priority(kMaxRtPriority + 1));
    EXPECT_EQ(thread_rt_priority(), 0);
  });
}

}  // namespace
}  // namespace rvc::audio
