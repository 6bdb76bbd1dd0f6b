//! `--profile=guest`: where guest code spends its time, by wasm function. A sampler
//! (`vm::sampler`) takes the wasm call stack of every thread of the program each interval it
//! runs (not while it is blocked in a host wait); a sample taken in a host call is the calling wasm function's, with
//! the host call as its innermost frame. The result is written in the Firefox Profiler's
//! processed format (fxprof-processed-profile; <https://profiler.firefox.com> opens it: call
//! tree, flame graph, a track per thread) and as an SVG flame graph (inferno), which any
//! browser opens.

use crate::vm::sampler::{Sampler, Samples, HOST_CALL};
use fxprof_processed_profile as fx;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// The default time between two samples of a running thread: 1 ms.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(1);

/// A running guest profiler, shared by the programs and threads it samples.
pub struct GuestProfiler {
    sampler: Sampler,
}

/// A thread being sampled; sampling it stops when this is dropped (before its store).
pub struct Sampling {
    _attached: crate::vm::sampler::Attached,
}

impl GuestProfiler {
    /// Starts sampling each attached thread every `interval` (at least 100 µs) that it is not
    /// blocked in a host wait.
    /// The engine the programs run on needs [`crate::Config::guest_profiling`] for samples in
    /// host calls to reach their wasm caller. Errors: the SIGPROF handler or the collector
    /// thread cannot be set up (the OS error). Linux on x86-64 only.
    pub fn start(interval: Duration) -> std::io::Result<Arc<GuestProfiler>> {
        Ok(Arc::new(GuestProfiler {
            sampler: Sampler::start(interval)?,
        }))
    }

    /// Samples the calling thread, which runs `store`'s wasm code as thread `tid` of guest
    /// process `pid`, until the result is dropped (on this thread, before the store).
    pub fn attach<T>(&self, store: &crate::Store<T>, pid: u32, tid: u32) -> Sampling {
        // SAFETY: the callers drop the `Sampling` on this thread before the store (see
        // `Sampling`).
        let attached = unsafe { self.sampler.attach(store.vm_store_context(), pid, tid) };
        Sampling {
            _attached: attached,
        }
    }

    /// Stops sampling and returns the profile.
    pub fn finish(&self) -> GuestProfile {
        GuestProfile {
            samples: self.sampler.finish(),
        }
    }
}

/// What a [`GuestProfiler`] recorded.
pub struct GuestProfile {
    samples: Samples,
}

/// Characters that would end a frame in the folded-stack format inferno reads.
fn folded_name(name: &str) -> String {
    name.replace([';', '\n'], ":")
}

impl GuestProfile {
    /// Samples taken, of all threads.
    pub fn sample_count(&self) -> usize {
        self.samples.threads.iter().map(|t| t.samples.len()).sum()
    }

    /// Samples lost (a thread's buffer full, or taken while code was being loaded).
    pub fn dropped(&self) -> u64 {
        self.samples.dropped
    }

    /// Time between two samples of a thread that is not blocked.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.samples.interval_ns)
    }

    /// The `n` frames with the most samples in which they are the innermost frame (self
    /// time), with their sample counts, most first.
    pub fn hottest(&self, n: usize) -> Vec<(String, usize)> {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for t in &self.samples.threads {
            for s in &t.samples {
                if let Some(leaf) = s.stack.last() {
                    *counts.entry(*leaf).or_default() += 1;
                }
            }
        }
        let mut v: Vec<_> = counts
            .into_iter()
            .map(|(f, c)| (self.samples.frames[f as usize].clone(), c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Writes the profile in the Firefox Profiler's processed format (JSON) for `program`: a
    /// process per guest process, a thread per guest thread, each sample counting one interval
    /// of CPU. Errors: writing to `out` failed.
    pub fn write_firefox(&self, program: &str, out: impl Write) -> std::io::Result<()> {
        let s = &self.samples;
        let mut profile = fx::Profile::new(
            program,
            fx::ReferenceTimestamp::from_duration_since_unix_epoch(Duration::from_nanos(
                s.start_unix_ns,
            )),
            fx::SamplingInterval::from_nanos(s.interval_ns),
        );
        let wasm =
            fx::CategoryPairHandle::from(profile.add_category("Wasm", fx::CategoryColor::Blue));
        let host = fx::CategoryPairHandle::from(
            profile.add_category("Host call", fx::CategoryColor::Orange),
        );
        let at = fx::Timestamp::from_nanos_since_reference;
        // Strings are the profile's, shared by its threads: each frame's is made once.
        let labels: Vec<_> = s
            .frames
            .iter()
            .map(|f| {
                let category = if f.ends_with(HOST_CALL) { host } else { wasm };
                (profile.intern_string(f), category)
            })
            .collect();
        let mut processes = HashMap::new();
        // The program's threads attach first; its children's after.
        let root = s.threads.first().map_or(0, |t| t.pid);
        for t in &s.threads {
            let process = *processes.entry(t.pid).or_insert_with(|| {
                let name = match t.pid {
                    pid if pid == root => program.to_string(),
                    pid => format!("{program} (child process {pid})"),
                };
                profile.add_process(&name, t.pid, at(t.start_ns))
            });
            let thread = profile.add_thread(process, t.tid, at(t.start_ns), t.tid == 1);
            let name = match t.tid {
                1 => "main".to_string(),
                tid => format!("thread {tid}"),
            };
            profile.set_thread_name(thread, &name);
            profile.set_thread_end_time(thread, at(t.end_ns));
            for sample in &t.samples {
                let frames = sample.stack.iter().map(|f| {
                    let (label, category_pair) = labels[*f as usize];
                    fx::FrameInfo {
                        frame: fx::Frame::Label(label),
                        category_pair,
                        flags: fx::FrameFlags::empty(),
                    }
                });
                let stack = profile.intern_stack_frames(thread, frames);
                let cpu = fx::CpuDelta::from_nanos(s.interval_ns);
                profile.add_sample(thread, at(sample.time_ns), stack, cpu, 1);
            }
        }
        serde_json::to_writer(out, &profile).map_err(std::io::Error::other)
    }

    /// Writes an SVG flame graph of all threads' samples (inferno), titled `title`. Errors:
    /// writing to `out` failed, or there is no sample to draw.
    pub fn write_flamegraph(&self, title: &str, out: impl Write) -> std::io::Result<()> {
        let mut folded: HashMap<&[u32], usize> = HashMap::new();
        for t in &self.samples.threads {
            for s in &t.samples {
                *folded.entry(&s.stack[..]).or_default() += 1;
            }
        }
        let names: Vec<String> = self.samples.frames.iter().map(|f| folded_name(f)).collect();
        let mut lines: Vec<String> = folded
            .into_iter()
            .filter(|(stack, _)| !stack.is_empty())
            .map(|(stack, n)| {
                let path: Vec<&str> = stack.iter().map(|f| names[*f as usize].as_str()).collect();
                format!("{} {n}", path.join(";"))
            })
            .collect();
        lines.sort();
        let mut options = inferno::flamegraph::Options::default();
        options.title = title.to_string();
        options.count_name = "samples".to_string();
        inferno::flamegraph::from_lines(&mut options, lines.iter().map(|l| l.as_str()), out)
    }
}
