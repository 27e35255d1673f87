// rvc/audio/realtime.h: real-time scheduling for the stream's threads (Linux SCHED_FIFO).
//
// A live stream's worker computes for most of each block; on a busy desktop or VM, any other
// runnable thread (a compiler, a browser tab, a kernel worker) can take its core for a few ms
// and push a block past its deadline. Under SCHED_FIFO the worker runs before every ordinary
// thread, and the audio callback thread one step above it, the layout JACK uses.
//
// Threads inherit the policy of the thread that creates them, so a worker that raises itself
// before its first OpenMP region gets a team that runs at its priority too.
#pragma once

#include <string>

namespace rvc::audio {

// Lowest and highest priority raise_thread_priority() accepts (POSIX SCHED_FIFO is 1..99; 99 is
// left to the kernel's watchdogs and the audio thread one above the worker).
inline constexpr int kMinRtPriority = 1;
inline constexpr int kMaxRtPriority = 98;

// Puts the calling thread under SCHED_FIFO at `priority` unless it already runs under a
// real-time policy at that priority or higher (a JACK callback thread keeps its own). Returns ""
// on success, else a one-line reason naming what is missing; the thread's scheduling is then
// unchanged. Throws rvc::Error for a priority outside kMinRtPriority..kMaxRtPriority.
std::string raise_thread_priority(int priority);

// The same without the message, for an audio thread (allocates nothing, never throws): false
// when the priority is out of range or was refused.
bool try_raise_thread_priority(int priority) noexcept;

// The calling thread's SCHED_FIFO / SCHED_RR priority; 0 under an ordinary policy.
int thread_rt_priority();

}  // namespace rvc::audio
