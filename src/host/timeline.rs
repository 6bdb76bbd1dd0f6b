//! `--profile-trace FILE`: a timeline of host calls in the Chrome trace-event format (JSON),
//! which ui.perfetto.dev and chrome://tracing open.
//!
//! Each host call is a complete event (`"ph": "X"`) named by its WASI/WASIX name, with the
//! arguments its entry in `host_calls!` lists, its errno and the bytes it moved; the time it
//! blocked is a `wait` event inside it; a guest thread's life is a `thread` event around its
//! calls, `serve` wraps each connection in a `connection` event; thread spawns and exits and
//! delivered signals are instant events. Every OS thread is a track, named after its thread.
//!
//! Recording must cost a busy server little (a keep-alive server makes ~750,000 calls a second
//! on this machine), so it is done neither through `tracing` spans nor by writing JSON as the
//! program runs: formatting that much JSON takes a core's sixth, which a 2-core server under
//! load loses. A call pushes one fixed-size [`Raw`] record (names interned to numbers) into its
//! thread's buffer (an uncontended lock); a writer thread at low priority moves the buffers to
//! an unnamed temporary file every [`DRAIN_EVERY`], as bytes; [`finish`] turns that file into
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
const WAIT: u8 = 1;
const SLICE: u8 = 2;
const INSTANT: u8 = 3;
/// The track's name (`"ph": "M"`), in the label.
const TRACK_NAME: u8 = 4;

/// One event as recorded and spilled: names are ids of [`Timeline::names`], times ns since the
/// timeline started.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Raw {
    start: u64,
    end: u64,
    nbytes: u64,
    values: [u64; 3],
    name: u32,
    keys: [u32; 3],
    tid: u32,
    /// Index in [`Timeline::labels`], or [`NONE32`].
    label: u32,
    /// errno, or [`NONE32`].
    errno: u32,
    kind: u8,
    nargs: u8,
    _pad: [u8; 2],
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
    /// Every name and argument key met, by id.
    names: Mutex<Vec<&'static str>>,
    /// Text arguments (a connection's peer, a track's name): (key id, value).
    labels: Mutex<Vec<(u32, String)>>,
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
    /// This thread's cache of [`Timeline::names`]: (address, length) of a name -> its id.
    static IDS: RefCell<rustc_hash::FxHashMap<(usize, usize), u32>> = RefCell::default();
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
        names: Mutex::new(Vec::new()),
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

fn raw(kind: u8, name: &'static str, start: u64, end: u64) -> Raw {
    Raw {
        start,
        end,
        nbytes: NONE64,
        values: [0; 3],
        name: intern(name),
        keys: [0; 3],
        tid: 0,
        label: NONE32,
        errno: NONE32,
        kind,
        nargs: 0,
        _pad: [0; 2],
    }
}

fn set_args(r: &mut Raw, args: &[(&'static str, u64)]) {
    for (i, (k, v)) in args.iter().take(3).enumerate() {
        r.keys[i] = intern(k);
        r.values[i] = *v;
    }
    r.nargs = args.len().min(3) as u8;
}

/// Records host call `name` of this thread from `start` (ns from [`now`]) to now, with its
/// arguments (the first three), its errno (0: success) and the bytes it moved
/// ([`set_nbytes`]).
pub fn call(name: &'static str, start: u64, args: &[(&'static str, u64)], errno: u16) {
    let mut r = raw(CALL, name, start, now());
    set_args(&mut r, args);
    r.errno = errno as u32;
    r.nbytes = NBYTES.with(|c| c.replace(NONE64));
    push(r);
}

/// Records a wait of this thread from `start` to now, inside the host call it is in.
pub fn wait(start: u64) {
    push(raw(WAIT, "wait", start, now()));
}

/// Records an instant event on this thread's track, with up to three arguments.
pub fn instant(name: &'static str, args: &[(&'static str, u64)]) {
    let at = now();
    let mut r = raw(INSTANT, name, at, at);
    set_args(&mut r, args);
    push(r);
}

/// A slice of this thread's track from its [`Slice::begin`] to its drop (a connection, a
/// guest thread's life).
pub struct Slice {
    record: Option<Raw>,
}

impl Slice {
    /// Begins slice `name` with one numeric argument, if any; nothing when no timeline is
    /// recorded.
    pub fn begin(name: &'static str, arg: Option<(&'static str, u64)>) -> Slice {
        if !enabled() {
            return Slice { record: None };
        }
        let mut r = raw(SLICE, name, now(), 0);
        set_args(&mut r, arg.as_slice());
        Slice { record: Some(r) }
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

/// The id of `name` in [`Timeline::names`]: from this thread's cache, else registered.
fn intern(name: &'static str) -> u32 {
    let key = (name.as_ptr() as usize, name.len());
    if let Some(id) = IDS.with(|ids| ids.borrow().get(&key).copied()) {
        return id;
    }
    let Some(t) = TIMELINE.get() else { return 0 };
    let id = {
        let mut names = t.names.lock();
        names.push(name);
        names.len() as u32 - 1
    };
    IDS.with(|ids| ids.borrow_mut().insert(key, id));
    id
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
        let key = intern(key);
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
        let mut r = raw(TRACK_NAME, "thread_name", 0, 0);
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
        let names = self.names.lock().clone();
        let labels = std::mem::take(&mut *self.labels.lock());
        let pid = std::process::id();
        out.write_all(b"[\n")?;
        let mut raw = Raw::zeroed();
        let mut written = 0u64;
        for _ in 0..files.spilled {
            spill.read_exact(bytemuck::bytes_of_mut(&mut raw))?;
            let event = Event {
                r: &raw,
                names: &names,
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
    names: &'a [&'static str],
    labels: &'a [(u32, String)],
    pid: u32,
}

impl Event<'_> {
    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).copied().unwrap_or("?")
    }
}

impl serde::Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let us = |ns: u64| ns as f64 / 1e3;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name(r.name))?;
        let (ph, cat) = match r.kind {
            CALL => ("X", "host call"),
            WAIT => ("X", "wait"),
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
        for i in 0..r.nargs as usize {
            m.serialize_entry(e.name(r.keys[i]), &r.values[i])?;
        }
        if r.errno != NONE32 {
            m.serialize_entry("errno", &r.errno)?;
        }
        if r.nbytes != NONE64 {
            m.serialize_entry("nbytes", &r.nbytes)?;
        }
        if let Some((key, value)) = e.labels.get(r.label as usize) {
            m.serialize_entry(e.name(*key), value)?;
        }
        m.end()
    }
}
