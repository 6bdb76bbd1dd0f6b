//! The guest ABI: every structure a WASI or WASIX call reads from or writes to linear memory,
//! as a `#[repr(C)]` layout with explicit padding, and the enumerations and flag sets call bodies
//! compare against. The authority is the sysroot's header
//! (`../shared/toolchains/wasix-sysroot/include/wasi/api_wasix.h`, a superset of
//! `api_wasi.h`): sizes and offsets are asserted at compile time below, and the test at the end
//! checks each assertion's number against the header's own `_Static_assert`s.
//!
//! wasm32 and x86-64 agree on little-endian byte order and on the alignment of these fields, so
//! a layout is read and written whole ([`crate::host::memory::GuestMemory::read`]). Where
//! wasix-rt deliberately differs from the header (the 20-byte [`AddrPort`]), `docs/abi.md` says
//! why.

use crate::host::calls::GuestOut;
use bytemuck::{Pod, Zeroable};
use std::mem::{offset_of, size_of};

/// `__wasi_iovec_t` / `__wasi_ciovec_t`: a buffer's address and length in bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Iovec {
    pub buf: u32,
    pub buf_len: u32,
}

/// `__wasi_timeval_t` of `proc_raise_interval2`: seconds and microseconds. Not in the sysroot's
/// header; the layout wasmer reads (`docs/abi.md`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Timeval {
    pub sec: u64,
    pub usec: u64,
}

/// `__wasi_itimerval_t`: the period, then the time to the first signal (setitimer(2)).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Itimerval {
    pub interval: Timeval,
    pub value: Timeval,
}

/// `__wasi_fdstat_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Fdstat {
    pub fs_filetype: u8,
    pub _pad0: u8,
    pub fs_flags: u16,
    pub _pad1: u32,
    pub fs_rights_base: u64,
    pub fs_rights_inheriting: u64,
}

/// `__wasi_filestat_t`; times in ns since the epoch.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub _pad: [u8; 7],
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// `__wasi_dirent_t`, followed in the guest's buffer by `d_namlen` bytes of name.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Dirent {
    pub d_next: u64,
    pub d_ino: u64,
    pub d_namlen: u32,
    pub d_type: u8,
    pub _pad: [u8; 3],
}

/// `__wasi_prestat_t` with its only variant, `__WASI_PREOPENTYPE_DIR`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Prestat {
    pub tag: u8,
    pub _pad: [u8; 3],
    pub pr_name_len: u32,
}

/// `__WASI_PREOPENTYPE_DIR`, the tag of a [`Prestat`].
pub const PREOPENTYPE_DIR: u8 = 0;

/// `__wasi_subscription_clock_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SubscriptionClock {
    pub id: u32,
    pub _pad0: u32,
    pub timeout: u64,
    pub precision: u64,
    /// [`subclockflags`].
    pub flags: u16,
    pub _pad1: [u8; 6],
}

/// `__wasi_subscription_t`: what a `poll_oneoff` waits for. The union `u` is a
/// [`SubscriptionClock`] for [`eventtype::CLOCK`] and a file descriptor (its first 4 bytes) for
/// [`eventtype::FD_READ`] and [`eventtype::FD_WRITE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Subscription {
    pub userdata: u64,
    /// [`eventtype`].
    pub tag: u8,
    pub _pad: [u8; 7],
    pub u: [u8; 32],
}

impl Subscription {
    pub fn clock(&self) -> SubscriptionClock {
        bytemuck::pod_read_unaligned(&self.u[..size_of::<SubscriptionClock>()])
    }
    /// `__wasi_subscription_fd_readwrite_t.file_descriptor`.
    pub fn fd(&self) -> u32 {
        u32::from_le_bytes([self.u[0], self.u[1], self.u[2], self.u[3]])
    }
}

/// `__wasi_event_fd_readwrite_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct EventFdReadwrite {
    pub nbytes: u64,
    /// [`eventrwflags`].
    pub flags: u16,
    pub _pad: [u8; 6],
}

/// `__wasi_event_t`: one result of `poll_oneoff`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Event {
    pub userdata: u64,
    /// An errno.
    pub error: u16,
    /// [`eventtype`].
    pub ty: u8,
    pub _pad: [u8; 5],
    pub fd_readwrite: EventFdReadwrite,
}

/// `__wasi_option_timestamp_t`: a tag (0 none, 1 some) and a time in ns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct OptionTimestamp {
    pub tag: u8,
    pub _pad: [u8; 7],
    pub u: u64,
}

/// The part of `__wasi_addr_port_t` that wasix-rt reads and writes: the tag
/// ([`address_family`]), the port, and 16 bytes of address (IPv4 in the first 4). The header's
/// type is 110 bytes (its union also holds a Unix socket path); like wasmer, wasix-rt touches
/// only these 20 (see `docs/abi.md`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AddrPort {
    pub tag: u8,
    pub _pad: u8,
    /// Read as a little-endian u16, written big-endian, as wasmer does (`docs/abi.md`).
    pub port: [u8; 2],
    pub addr: [u8; 16],
}

/// `__wasi_addr_ip_t` as `resolve` writes it: the tag ([`address_family`]), a padding byte,
/// and the address in network order (IPv4 in the first 4 bytes), 18 bytes in all.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AddrIp {
    pub tag: u8,
    pub _pad: u8,
    pub addr: [u8; 16],
}

impl AddrIp {
    /// Bytes of one entry in guest memory (an array's stride).
    pub const SIZE: u32 = size_of::<AddrIp>() as u32;
}

/// `__wasi_addr_ip6_bare_t`: the 16 bytes of an IPv6 address that the multicast calls read,
/// as eight 16-bit segments in the order written (`n0` is the first), each a little-endian
/// u16 holding the segment's value, as wasix-libc fills them from an `in6_addr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AddrIp6 {
    pub segments: [u16; 8],
}

/// `__wasi_tty_t`: the terminal's size (columns and rows; width and height in pixels) and
/// modes, each `bool` one byte.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Tty {
    pub cols: u32,
    pub rows: u32,
    pub width: u32,
    pub height: u32,
    pub stdin_tty: u8,
    pub stdout_tty: u8,
    pub stderr_tty: u8,
    pub echo: u8,
    pub line_buffered: u8,
    pub line_feeds: u8,
    pub _pad: [u8; 2],
}

/// `fdflags` bits (`api_wasix.h`).
pub mod fdflags {
    pub const APPEND: u16 = 1;
    pub const DSYNC: u16 = 2;
    pub const NONBLOCK: u16 = 4;
    pub const RSYNC: u16 = 8;
    pub const SYNC: u16 = 16;
}

/// `filetype` values (`api_wasix.h`).
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `rights` bits (`api_wasix.h`); wasix-rt grants every right an fd's kind supports.
pub mod rights {
    pub const ALL: u64 = (1 << 39) - 1;
    /// What Wasmer gives a socket: FD_READ|FD_FDSTAT_SET_FLAGS|FD_WRITE|FD_FILESTAT_GET|
    /// POLL_FD_READWRITE and bits 28-38.
    pub const SOCKET: u64 = 0x0000_007F_F820_004A;

    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;

    /// The base rights a directory fd can have: the path calls and the fd calls that make
    /// sense on a directory (no read/write/seek: opening a directory for writing is ISDIR).
    pub const DIR_BASE: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;

    /// The base rights a regular-file fd can have.
    pub const FILE_BASE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
}

/// `oflags` bits (`api_wasix.h`).
pub mod oflags {
    pub const CREAT: u16 = 1;
    pub const DIRECTORY: u16 = 2;
    pub const EXCL: u16 = 4;
    pub const TRUNC: u16 = 8;
}

/// `fstflags` bits (`api_wasix.h`).
pub mod fstflags {
    pub const ATIM: u16 = 1;
    pub const ATIM_NOW: u16 = 2;
    pub const MTIM: u16 = 4;
    pub const MTIM_NOW: u16 = 8;
}

/// `lookupflags` SYMLINK_FOLLOW.
/// Layouts a host call can return as its output ([`GuestOut`]).
macro_rules! guest_out_layout {
    ($($t:ty),*) => {$(
        impl GuestOut for $t {
            const SIZE: u32 = size_of::<$t>() as u32;
            fn write_to(
                self,
                mem: &mut crate::host::memory::GuestMemory,
                ptr: u32,
            ) -> Result<(), crate::host::errno::Errno> {
                mem.write(ptr, &self)
            }
        }
    )*};
}
guest_out_layout!(Fdstat, Filestat, Prestat, OptionTimestamp, Tty);

/// `__wasi_address_family_t`.
#[allow(dead_code)] // The header's whole table, the values no call uses yet included.
pub mod address_family {
    pub const UNSPEC: u8 = 0;
    pub const INET4: u8 = 1;
    pub const INET6: u8 = 2;
    pub const UNIX: u8 = 3;
}

/// Signal numbers of `__wasi_signal_t` (WASIX inserts SIGSTKFLT at 16: Linux numbering).
pub mod signal {
    pub const ABRT: u32 = 6;
    pub const KILL: u32 = 9;
    pub const SEGV: u32 = 11;
    pub const PIPE: u32 = 13;
    pub const CHLD: u32 = 17;
    pub const CONT: u32 = 18;
    pub const URG: u32 = 23;
    pub const WINCH: u32 = 28;
    /// The highest signal number.
    pub const MAX: u32 = 31;
}

/// `__wasi_sock_type_t`.
#[allow(dead_code)] // The header's whole table, the values no call uses yet included.
pub mod sock_type {
    pub const STREAM: u8 = 1;
    pub const DGRAM: u8 = 2;
    pub const RAW: u8 = 3;
    pub const SEQPACKET: u8 = 4;
}

/// `__wasi_sock_status_t`.
#[allow(dead_code)] // The header's whole table, the values no call uses yet included.
pub mod sock_status {
    pub const OPENING: u8 = 0;
    pub const OPENED: u8 = 1;
    pub const CLOSED: u8 = 2;
    pub const FAILED: u8 = 3;
}

/// `__wasi_sock_option_t`.
#[allow(dead_code)] // The header's whole table, the values no call uses yet included.
pub mod sock_option {
    pub const NOOP: u32 = 0;
    pub const REUSE_PORT: u32 = 1;
    pub const REUSE_ADDR: u32 = 2;
    pub const NO_DELAY: u32 = 3;
    pub const DONT_ROUTE: u32 = 4;
    pub const ONLY_V6: u32 = 5;
    pub const BROADCAST: u32 = 6;
    pub const MULTICAST_LOOP_V4: u32 = 7;
    pub const MULTICAST_LOOP_V6: u32 = 8;
    pub const PROMISCUOUS: u32 = 9;
    pub const LISTENING: u32 = 10;
    pub const LAST_ERROR: u32 = 11;
    pub const KEEP_ALIVE: u32 = 12;
    pub const LINGER: u32 = 13;
    pub const OOB_INLINE: u32 = 14;
    pub const RECV_BUF_SIZE: u32 = 15;
    pub const SEND_BUF_SIZE: u32 = 16;
    pub const RECV_LOWAT: u32 = 17;
    pub const SEND_LOWAT: u32 = 18;
    pub const RECV_TIMEOUT: u32 = 19;
    pub const SEND_TIMEOUT: u32 = 20;
    pub const CONNECT_TIMEOUT: u32 = 21;
    pub const ACCEPT_TIMEOUT: u32 = 22;
    pub const TTL: u32 = 23;
    pub const MULTICAST_TTL_V4: u32 = 24;
    pub const TYPE: u32 = 25;
    pub const PROTO: u32 = 26;
}

/// `__wasi_sdflags_t`: which directions `sock_shutdown` shuts.
pub mod sdflags {
    pub const RD: u8 = 1;
    pub const WR: u8 = 2;
}

/// `__wasi_eventtype_t`.
pub mod eventtype {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
    /// WASIX: urgent data (`poll`'s POLLPRI).
    pub const FD_EXCEPT: u8 = 3;
}

/// `__wasi_eventrwflags_t`.
pub mod eventrwflags {
    pub const FD_READWRITE_HANGUP: u16 = 1;
}

/// `__wasi_subclockflags_t`.
pub mod subclockflags {
    pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;
}

/// `__wasi_riflags_t` and `__wasi_siflags_t` (the WASIX values).
pub mod sock_flags {
    pub const RECV_PEEK: u32 = 1;
    pub const RECV_WAITALL: u32 = 2;
    pub const RECV_DONT_WAIT: u32 = 8;
    pub const SEND_DONT_WAIT: u32 = 1;
}

/// `__wasi_clockid_t`.
pub mod clockid {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `__wasi_whence_t`.
pub mod whence {
    pub const SET: u32 = 0;
    pub const CUR: u32 = 1;
    pub const END: u32 = 2;
}

/// Sizes and field offsets the header asserts, as the checks below and the test use them:
/// `(C type, Rust size, [(C field, Rust offset)])`.
#[cfg(test)]
type Layout = (&'static str, usize, &'static [(&'static str, usize)]);

/// `__wasi_epoll_data_t`: what the guest registered with an fd, returned unchanged with its
/// events (24 bytes, align 8).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct EpollData {
    pub ptr: u32,
    pub fd: u32,
    pub data1: u32,
    pub _pad: u32,
    pub data2: u64,
}

/// `__wasi_epoll_event_t` (32 bytes, align 8).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct EpollEvent {
    /// `epoll_type` bits ([`epoll`]).
    pub events: u32,
    pub _pad: u32,
    pub data: EpollData,
}

/// `__wasi_epoll_type_t` bits, and the `epoll_ctl` operations as wasix-libc sends them: its
/// `epoll_ctl` passes Linux's `EPOLL_CTL_*` numbers (ADD 1, DEL 2, MOD 3; its
/// `sys/epoll.h`), not the header's `__wasi_epoll_ctl_t` (ADD 0, MOD 1, DEL 2). wasix-rt
/// follows the library programs are built with and also takes the header's ADD (0), which
/// no Linux number uses (`docs/abi.md`).
pub mod epoll {
    pub const IN: u32 = 1 << 0;
    pub const OUT: u32 = 1 << 1;
    pub const RDHUP: u32 = 1 << 2;
    pub const PRI: u32 = 1 << 3;
    pub const ERR: u32 = 1 << 4;
    pub const HUP: u32 = 1 << 5;
    pub const ET: u32 = 1 << 6;
    pub const ONESHOT: u32 = 1 << 7;
    pub const CTL_ADD_HEADER: u32 = 0;
    pub const CTL_ADD: u32 = 1;
    pub const CTL_DEL: u32 = 2;
    pub const CTL_MOD: u32 = 3;
}

/// `layout!(Type as "C name" { "field" = offset, ... })`: one row of [`LAYOUTS`].
#[cfg(test)]
macro_rules! layout {
    ($t:ty as $c:literal { $($f:literal = $off:expr),* $(,)? }) => {
        ($c, size_of::<$t>(), &[$(($f, $off)),*])
    };
}

#[cfg(test)]
#[rustfmt::skip]
const LAYOUTS: &[Layout] = &[
    layout!(Iovec as "__wasi_iovec_t" {
        "buf" = offset_of!(Iovec, buf), "buf_len" = offset_of!(Iovec, buf_len) }),
    layout!(Fdstat as "__wasi_fdstat_t" {
        "fs_filetype" = offset_of!(Fdstat, fs_filetype), "fs_flags" = offset_of!(Fdstat, fs_flags),
        "fs_rights_base" = offset_of!(Fdstat, fs_rights_base),
        "fs_rights_inheriting" = offset_of!(Fdstat, fs_rights_inheriting) }),
    layout!(Filestat as "__wasi_filestat_t" {
        "dev" = offset_of!(Filestat, dev), "ino" = offset_of!(Filestat, ino),
        "filetype" = offset_of!(Filestat, filetype), "nlink" = offset_of!(Filestat, nlink),
        "size" = offset_of!(Filestat, size), "atim" = offset_of!(Filestat, atim),
        "mtim" = offset_of!(Filestat, mtim), "ctim" = offset_of!(Filestat, ctim) }),
    layout!(Dirent as "__wasi_dirent_t" {
        "d_next" = offset_of!(Dirent, d_next), "d_ino" = offset_of!(Dirent, d_ino),
        "d_namlen" = offset_of!(Dirent, d_namlen), "d_type" = offset_of!(Dirent, d_type) }),
    layout!(Prestat as "__wasi_prestat_t" {}),
    // The variant's struct starts after the tag and its padding.
    layout!(u32 as "__wasi_prestat_dir_t" { "pr_name_len" = offset_of!(Prestat, pr_name_len) - 4 }),
    layout!(SubscriptionClock as "__wasi_subscription_clock_t" {
        "id" = offset_of!(SubscriptionClock, id),
        "timeout" = offset_of!(SubscriptionClock, timeout),
        "precision" = offset_of!(SubscriptionClock, precision),
        "flags" = offset_of!(SubscriptionClock, flags) }),
    // The union struct `u` starts with its tag.
    layout!(Subscription as "__wasi_subscription_t" {
        "userdata" = offset_of!(Subscription, userdata), "u" = offset_of!(Subscription, tag) }),
    layout!(EventFdReadwrite as "__wasi_event_fd_readwrite_t" {
        "nbytes" = offset_of!(EventFdReadwrite, nbytes),
        "flags" = offset_of!(EventFdReadwrite, flags) }),
    layout!(Event as "__wasi_event_t" {
        "userdata" = offset_of!(Event, userdata), "error" = offset_of!(Event, error),
        "type" = offset_of!(Event, ty), "fd_readwrite" = offset_of!(Event, fd_readwrite) }),
    layout!(OptionTimestamp as "__wasi_option_timestamp_t" {}),
    layout!(EpollData as "__wasi_epoll_data_t" {
        "ptr" = offset_of!(EpollData, ptr), "fd" = offset_of!(EpollData, fd),
        "data1" = offset_of!(EpollData, data1), "data2" = offset_of!(EpollData, data2) }),
    layout!(EpollEvent as "__wasi_epoll_event_t" {
        "events" = offset_of!(EpollEvent, events), "data" = offset_of!(EpollEvent, data) }),
    // The address variants start after the `addr_port` tag and its padding byte.
    layout!([u8; 6] as "__wasi_addr_ip4_port_t" {
        "port" = offset_of!(AddrPort, port) - 2, "addr" = offset_of!(AddrPort, addr) - 2 }),
    layout!([u8; 26] as "__wasi_addr_ip6_port_t" {
        "port" = offset_of!(AddrPort, port) - 2, "addr" = offset_of!(AddrPort, addr) - 2 }),
    layout!(AddrIp as "__wasi_addr_ip_t" {}),
    layout!(AddrIp6 as "__wasi_addr_ip6_bare_t" {}),
    layout!([u8; 4] as "__wasi_addr_ip4_t" {}),
    layout!(Tty as "__wasi_tty_t" {
        "cols" = offset_of!(Tty, cols), "rows" = offset_of!(Tty, rows),
        "width" = offset_of!(Tty, width), "height" = offset_of!(Tty, height),
        "stdin_tty" = offset_of!(Tty, stdin_tty), "stdout_tty" = offset_of!(Tty, stdout_tty),
        "stderr_tty" = offset_of!(Tty, stderr_tty), "echo" = offset_of!(Tty, echo),
        "line_buffered" = offset_of!(Tty, line_buffered),
        "line_feeds" = offset_of!(Tty, line_feeds) }),
];

/// Compile-time checks with the header's numbers (the test below shows they are the header's).
const _: () = {
    assert!(size_of::<Iovec>() == 8);
    assert!(size_of::<Fdstat>() == 24);
    assert!(offset_of!(Fdstat, fs_flags) == 2 && offset_of!(Fdstat, fs_rights_base) == 8);
    assert!(size_of::<Filestat>() == 64);
    assert!(offset_of!(Filestat, filetype) == 16 && offset_of!(Filestat, ctim) == 56);
    assert!(size_of::<Dirent>() == 24 && offset_of!(Dirent, d_type) == 20);
    assert!(size_of::<Prestat>() == 8 && offset_of!(Prestat, pr_name_len) == 4);
    assert!(size_of::<SubscriptionClock>() == 32 && offset_of!(SubscriptionClock, flags) == 24);
    assert!(size_of::<Subscription>() == 48 && offset_of!(Subscription, tag) == 8);
    // The union starts 8 bytes into `u` (after the tag and its padding): 16 in the subscription.
    assert!(offset_of!(Subscription, u) == 16);
    assert!(size_of::<EventFdReadwrite>() == 16);
    assert!(size_of::<EpollData>() == 24 && offset_of!(EpollData, data2) == 16);
    assert!(size_of::<EpollEvent>() == 32 && offset_of!(EpollEvent, data) == 8);
    assert!(size_of::<Event>() == 32 && offset_of!(Event, ty) == 10);
    assert!(offset_of!(Event, fd_readwrite) == 16);
    assert!(size_of::<OptionTimestamp>() == 16 && offset_of!(OptionTimestamp, u) == 8);
    assert!(offset_of!(AddrPort, port) == 2 && offset_of!(AddrPort, addr) == 4);
    assert!(size_of::<AddrPort>() == 20);
    assert!(size_of::<AddrIp>() == 18 && offset_of!(AddrIp, addr) == 2);
    assert!(size_of::<AddrIp6>() == 16);
    assert!(size_of::<Tty>() == 24 && offset_of!(Tty, line_feeds) == 21);
};

#[cfg(test)]
mod tests {
    use super::LAYOUTS;
    use std::collections::HashMap;

    /// Every `_Static_assert(sizeof(T) == N` and `_Static_assert(offsetof(T, f) == N` of the
    /// header, by type.
    fn header_layouts() -> HashMap<String, (Option<usize>, HashMap<String, usize>)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/toolchains/wasix-sysroot/include/wasi/api_wasix.h"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut out: HashMap<String, (Option<usize>, HashMap<String, usize>)> = HashMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("_Static_assert(") else {
                continue;
            };
            let Some((expr, _)) = rest.split_once(", \"") else {
                continue;
            };
            let Some((lhs, n)) = expr.split_once(" == ") else {
                continue;
            };
            let Ok(n) = n.trim().parse::<usize>() else {
                continue;
            };
            if let Some(ty) = lhs
                .strip_prefix("sizeof(")
                .and_then(|t| t.strip_suffix(')'))
            {
                out.entry(ty.to_string()).or_default().0 = Some(n);
            } else if let Some(args) = lhs
                .strip_prefix("offsetof(")
                .and_then(|t| t.strip_suffix(')'))
            {
                if let Some((ty, field)) = args.split_once(", ") {
                    out.entry(ty.to_string())
                        .or_default()
                        .1
                        .insert(field.to_string(), n);
                }
            }
        }
        out
    }

    #[test]
    fn layouts_match_the_wasix_header() {
        let header = header_layouts();
        for (ty, size, fields) in LAYOUTS {
            let (hsize, hfields) = header
                .get(*ty)
                .unwrap_or_else(|| panic!("{ty} is not asserted in the header"));
            assert_eq!(Some(*size), *hsize, "sizeof({ty})");
            for (field, offset) in *fields {
                assert_eq!(hfields.get(*field), Some(offset), "offsetof({ty}, {field})");
            }
        }
    }
}
