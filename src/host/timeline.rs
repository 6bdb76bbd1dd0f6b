//! `--profile-trace FILE`: a timeline of host calls in the Chrome trace-event format (JSON),
//! which ui.perfetto.dev and chrome://tracing open.
//!
//! Each host call is a complete event (`"ph": "X"`) named by its WASI/WASIX name, with the
//! arguments its entry in `host_calls!` lists, its errno and the bytes it moved; the time it
//! blocked is a `wait` event inside it; a guest thread's life is a `thread` event around its
//! calls, `serve` wraps each connection in a `connection` event; thread spawns and exits and
//! delivered signals are instant events. Every OS thread is a track, named after its thread.
//!
//! Recording must cost a busy server little (the keep-alive `c-baseline/http_poll.c` makes
//! ~375,000 calls and waits a second on this 2-core machine), so it is done neither through
//! `tracing` spans (0.26x of its requests/s with `tracing-chrome`) nor by writing JSON as the
//! program runs (0.78x with the formatting on a low-priority thread). A call pushes one fixed-size `Raw` record (its call site by number) into its
//! thread's buffer (an uncontended lock); a writer thread at low priority moves the buffers to
//! an unnamed temporary file every `DRAIN_EVERY` (20 ms), as bytes; [`finish`] turns that file into
//! the JSON (serde_json) once the program has ended. A thread whose buffer already holds
//! [`MAX_PENDING`] records (the writer is behind) drops new ones, so memory stays bounded; the
//! number dropped is reported by [`finish`].

use bytemuck::{Pod, Zeroable};
use parking_lot::Mutex;
use serde::ser::{SerializeMap, Serializer};
use std::cell::RefCell;
use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How often the writer takes the threads' records.
const DRAIN_EVERY: Duration = Duration::from_millis(20);
/// Records a thread may hold before the writer takes them; past it, new ones are dropped.
pub const MAX_PENDING: usize = 1 << 18;
/// No label, no errno, no byte count.
const NONE32: u32 = u32::MAX;
const NONE64: u64 = u64::MAX;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TIMELINE: OnceLock<Timeline> = OnceLock::new();

const CALL: u8 = 0;
const WAIT_KIND: u8 = 1;
const SLICE: u8 = 2;
const INSTANT: u8 = 3;
/// The track's name (`"ph": "M"`), in the label.
const TRACK_NAME: u8 = 4;

/// One event as recorded and spilled: its [`Site`] by id, times in ns since the timeline
/// started, the values of the site's arguments.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Raw {
    start: u64,
    end: u64,
    nbytes: u64,
    values: [u64; 3],
    site: u32,
    tid: u32,
    /// Index in [`Timeline::labels`], or [`NONE32`].
    label: u32,
    /// errno, or [`NONE32`].
    errno: u32,
    kind: u8,
    _pad: [u8; 7],
}

/// Where events come from: a name and the names of up to three arguments, made once per call
/// site (a `static`), so that recording an event looks nothing up.
pub struct Site {
    name: &'static str,
    keys: &'static [&'static str],
    /// 1 + the site's index in [`Timeline::sites`] once registered, else 0.
    id: std::sync::atomic::AtomicU32,
}

impl Site {
    /// The site of events named `name` with arguments `keys` (the first three are kept).
    pub const fn new(name: &'static str, keys: &'static [&'static str]) -> Site {
        Site {
            name,
            keys,
            id: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The events' name (a host call's WASI/WASIX name).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The name as one pointer, for a signal handler to read in one load
    /// (`vm::sampler::enter_host_call`).
    pub fn name_ref(&'static self) -> &'static &'static str {
        &self.name
    }

    fn id(&'static self) -> u32 {
        match self.id.load(Ordering::Relaxed) {
            0 => TIMELINE.get().map_or(0, |t| {
                let mut sites = t.sites.lock();
                // Another thread may have registered it meanwhile.
                match self.id.load(Ordering::Relaxed) {
                    0 => {
                        sites.push(self);
                        self.id.store(sites.len() as u32, Ordering::Relaxed);
                        sites.len() as u32 - 1
                    }
                    id => id - 1,
                }
            }),
            id => id - 1,
        }
    }
}

/// One OS thread's records not yet spilled.
struct Track {
    tid: u32,
    records: Mutex<Vec<Raw>>,
    dropped: AtomicU64,
}

struct Timeline {
    started: Instant,
    tracks: Mutex<Vec<Arc<Track>>>,
    /// Every site recorded from, by id.
    sites: Mutex<Vec<&'static Site>>,
    /// Text arguments (a connection's peer, a track's name): (key, value).
    labels: Mutex<Vec<(&'static str, String)>>,
    /// The spill file and the JSON file it becomes.
    files: Mutex<Option<Files>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    stop: AtomicBool,
}

struct Files {
    spill: std::io::BufWriter<std::fs::File>,
    spilled: u64,
    out: std::fs::File,
    error: Option<std::io::Error>,
}

thread_local! {
    static TRACK: RefCell<Option<Arc<Track>>> = const { RefCell::new(None) };
    /// Bytes moved by the host call running on this thread ([`set_nbytes`]).
    static NBYTES: std::cell::Cell<u64> = const { std::cell::Cell::new(NONE64) };
}

/// Whether a timeline is being recorded: one relaxed load.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Starts recording for `out` (complete after [`finish`]); the records go to an unnamed
/// temporary file meanwhile. Errors: a timeline is already being recorded, or the temporary
/// file or the writer thread cannot be made.
pub fn start(out: std::fs::File) -> std::io::Result<()> {
    let spill = std::io::BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
    let timeline = Timeline {
        started: Instant::now(),
        tracks: Mutex::new(Vec::new()),
        sites: Mutex::new(Vec::new()),
        labels: Mutex::new(Vec::new()),
        files: Mutex::new(Some(Files {
            spill,
            spilled: 0,
            out,
            error: None,
        })),
        writer: Mutex::new(None),
        stop: AtomicBool::new(false),
    };
    TIMELINE
        .set(timeline)
        .map_err(|_| std::io::Error::other("a timeline is already being recorded"))?;
    let writer = std::thread::Builder::new()
        .name("timeline-writer".into())
        .spawn(|| {
            // Behind the program's threads: what it costs them is the point of the design.
            // SAFETY: setpriority on this thread's own id; no pointers.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
            let t = TIMELINE.get().expect("set before the writer starts");
            while !t.stop.load(Ordering::Relaxed) {
                std::thread::sleep(DRAIN_EVERY);
                t.spill();
            }
        })?;
    *TIMELINE.get().expect("just set").writer.lock() = Some(writer);
    ENABLED.store(true, Ordering::Relaxed);
    Ok(())
}

/// What [`finish`] wrote.
pub struct Summary {
    /// Events written.
    pub events: u64,
    /// Events dropped because a thread's buffer was full ([`MAX_PENDING`]).
    pub dropped: u64,
}

/// Stops recording and writes the JSON file from everything recorded. `None` when no timeline
/// was started or it was finished already. Errors: the temporary file or the output could not
/// be written or read (the first error met).
pub fn finish() -> Option<std::io::Result<Summary>> {
    let t = TIMELINE.get()?;
    ENABLED.store(false, Ordering::Relaxed);
    t.stop.store(true, Ordering::Relaxed);
    if let Some(w) = t.writer.lock().take() {
        let _ = w.join();
    }
    t.spill();
    let files = t.files.lock().take()?;
    let dropped = t
        .tracks
        .lock()
        .iter()
        .map(|k| k.dropped.load(Ordering::Relaxed))
        .sum();
    Some(
        t.write_json(files)
            .map(|events| Summary { events, dropped }),
    )
}

/// ns since the timeline started (0 when none is recorded).
#[inline]
pub fn now() -> u64 {
    TIMELINE
        .get()
        .map_or(0, |t| t.started.elapsed().as_nanos() as u64)
}

/// Records that the host call running on this thread moved `n` bytes.
pub fn set_nbytes(n: u64) {
    NBYTES.with(|c| c.set(n));
}

fn raw(kind: u8, site: &'static Site, start: u64, end: u64, values: &[u64]) -> Raw {
    let mut r = Raw {
        start,
        end,
        nbytes: NONE64,
        values: [0; 3],
        site: site.id(),
        tid: 0,
        label: NONE32,
        errno: NONE32,
        kind,
        _pad: [0; 7],
    };
    for (slot, v) in r.values.iter_mut().zip(values) {
        *slot = *v;
    }
    r
}

/// Records a host call of `site` on this thread from `start` (ns from [`now`]) to now, with the
/// values of the site's arguments, its errno (0: success) and the bytes it moved
/// ([`set_nbytes`]).
pub fn call(site: &'static Site, start: u64, values: &[u64], errno: u16) {
    let mut r = raw(CALL, site, start, now(), values);
    r.errno = errno as u32;
    r.nbytes = NBYTES.with(|c| c.replace(NONE64));
    push(r);
}

/// Records a wait of this thread from `start` to now, inside the host call it is in.
pub fn wait(start: u64) {
    static WAIT: Site = Site::new("wait", &[]);
    push(raw(WAIT_KIND, &WAIT, start, now(), &[]));
}

/// Records an instant event of `site` on this thread's track, with its arguments' values.
pub fn instant(site: &'static Site, values: &[u64]) {
    let at = now();
    push(raw(INSTANT, site, at, at, values));
}

/// A slice of this thread's track from its [`Slice::begin`] to its drop (a connection, a
/// guest thread's life).
pub struct Slice {
    record: Option<Raw>,
}

impl Slice {
    /// Begins a slice of `site` with its arguments' values; nothing when no timeline is
    /// recorded.
    pub fn begin(site: &'static Site, values: &[u64]) -> Slice {
        if !enabled() {
            return Slice { record: None };
        }
        Slice {
            record: Some(raw(SLICE, site, now(), 0, values)),
        }
    }

    /// Adds a text argument (e.g. a connection's peer address).
    pub fn label(mut self, key: &'static str, value: impl FnOnce() -> String) -> Slice {
        if let (Some(r), Some(t)) = (&mut self.record, TIMELINE.get()) {
            r.label = t.label(key, value());
        }
        self
    }
}

impl Drop for Slice {
    fn drop(&mut self) {
        if let Some(mut r) = self.record.take() {
            r.end = now();
            push(r);
        }
    }
}

fn push(mut r: Raw) {
    let Some(t) = TIMELINE.get() else { return };
    TRACK.with(|cell| {
        let mut cell = cell.borrow_mut();
        let track = cell.get_or_insert_with(|| t.new_track());
        let mut records = track.records.lock();
        if records.len() >= MAX_PENDING {
            track.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            r.tid = track.tid;
            records.push(r);
        }
    });
}

impl Timeline {
    fn label(&self, key: &'static str, value: String) -> u32 {
        let mut labels = self.labels.lock();
        labels.push((key, value));
        labels.len() as u32 - 1
    }

    /// The calling thread's track, named after the thread; its first record is its name.
    fn new_track(&self) -> Arc<Track> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        let name = std::thread::current()
            .name()
            .map_or_else(|| format!("thread {tid}"), str::to_string);
        static NAME: Site = Site::new("thread_name", &[]);
        let mut r = raw(TRACK_NAME, &NAME, 0, 0, &[]);
        r.tid = tid;
        r.label = self.label("name", name);
        let track = Arc::new(Track {
            tid,
            records: Mutex::new(Vec::with_capacity(4096)),
            dropped: AtomicU64::new(0),
        });
        track.records.lock().push(r);
        self.tracks.lock().push(track.clone());
        track
    }

    /// Moves every track's records to the spill file.
    fn spill(&self) {
        let tracks: Vec<Arc<Track>> = self.tracks.lock().clone();
        let mut guard = self.files.lock();
        let Some(files) = guard.as_mut() else { return };
        for track in tracks {
            let records = std::mem::take(&mut *track.records.lock());
            if files.error.is_none() {
                match files.spill.write_all(bytemuck::cast_slice(&records)) {
                    Ok(()) => files.spilled += records.len() as u64,
                    Err(e) => files.error = Some(e),
                }
            }
        }
    }

    /// Writes the JSON array of every spilled record; returns how many.
    fn write_json(&self, files: Files) -> std::io::Result<u64> {
        if let Some(e) = files.error {
            return Err(e);
        }
        let mut spill = files.spill.into_inner().map_err(|e| e.into_error())?;
        spill.rewind()?;
        let mut spill = std::io::BufReader::with_capacity(1 << 20, spill);
        let mut out = std::io::BufWriter::with_capacity(1 << 20, files.out);
        let sites = self.sites.lock().clone();
        let labels = std::mem::take(&mut *self.labels.lock());
        let pid = std::process::id();
        out.write_all(b"[\n")?;
        let mut raw = Raw::zeroed();
        let mut written = 0u64;
        for _ in 0..files.spilled {
            spill.read_exact(bytemuck::bytes_of_mut(&mut raw))?;
            let event = Event {
                r: &raw,
                sites: &sites,
                labels: &labels,
                pid,
            };
            if written > 0 {
                out.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut out, &event)?;
            written += 1;
        }
        out.write_all(b"\n]\n")?;
        out.flush()?;
        Ok(written)
    }
}

/// A record as a trace event object.
struct Event<'a> {
    r: &'a Raw,
    sites: &'a [&'static Site],
    labels: &'a [(&'static str, String)],
    pid: u32,
}

impl Event<'_> {
    fn site(&self) -> &'static Site {
        static UNKNOWN: Site = Site::new("?", &[]);
        self.sites
            .get(self.r.site as usize)
            .copied()
            .unwrap_or(&UNKNOWN)
    }
}

impl serde::Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let us = |ns: u64| ns as f64 / 1e3;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.site().name)?;
        let (ph, cat) = match r.kind {
            CALL => ("X", "host call"),
            WAIT_KIND => ("X", "wait"),
            SLICE => ("X", "wasix-rt"),
            INSTANT => ("i", "wasix-rt"),
            _ => ("M", "__metadata"),
        };
        m.serialize_entry("ph", ph)?;
        if ph != "M" {
            m.serialize_entry("cat", cat)?;
            m.serialize_entry("ts", &us(r.start))?;
        }
        if ph == "X" {
            m.serialize_entry("dur", &us(r.end.saturating_sub(r.start)))?;
        }
        if ph == "i" {
            m.serialize_entry("s", "t")?;
        }
        m.serialize_entry("pid", &self.pid)?;
        m.serialize_entry("tid", &r.tid)?;
        m.serialize_entry("args", &Args(self))?;
        m.end()
    }
}

struct Args<'a, 'b>(&'a Event<'b>);

impl serde::Serialize for Args<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (e, r) = (self.0, self.0.r);
        let mut m = s.serialize_map(None)?;
        for (key, value) in e.site().keys.iter().zip(&r.values) {
            m.serialize_entry(key, value)?;
        }
        if r.errno != NONE32 {
            m.serialize_entry("errno", &r.errno)?;
        }
        if r.nbytes != NONE64 {
            m.serialize_entry("nbytes", &r.nbytes)?;
        }
        if let Some((key, value)) = e.labels.get(r.label as usize) {
            m.serialize_entry(key, value)?;
        }
        m.end()
    }
}
