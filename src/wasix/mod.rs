//! WASIX (`wasix_32v1`): sockets over real host sockets, and the other WASIX calls
//! wasix-libc programs make (fd duplication and flags, pipes, eventfds, signals at startup,
//! `proc_exit2`). Signatures: `api_wasix.h` of the wasix-libc sysroot.

pub mod epoll;
pub mod fdx;
pub mod fsx;
pub mod futex;
pub mod not_yet;
pub mod proc;
pub mod refused;
pub mod sock;
pub mod sockx;
pub mod thread;
pub mod tty;

use crate::host::abi::Tty;
use crate::host::calls::{host_calls, Namespace};
use crate::host::errno::Errno;
use crate::host::fs;
use crate::host::socket::{calls, options, setup};
use std::net::SocketAddr;

/// Module name of WASIX.
pub const WASIX: &str = "wasix_32v1";

/// `wasix_32v1`: memory a call cannot reach is MEMVIOLATION.
const NAMESPACE: Namespace = Namespace::new(WASIX, Errno::MEMVIOLATION);

host_calls! {
    /// Defines every `wasix_32v1` call in `linker`.
    pub fn add_to_linker(namespace = NAMESPACE) {
        op "sock_open" => setup::sock_open(af: u32, ty: u32, proto: u32) -> out: u32 [af, ty, proto];
        call "sock_bind" => sock::sock_bind(fd: u32, addr: u32) [fd];
        op "sock_listen" => setup::sock_listen(fd: u32, backlog: i32) [fd, backlog];
        call "sock_accept_v2" | "sock_accept" => sock::sock_accept_v2(fd: u32, flags: u32, out_fd: u32, out_addr: u32) [fd, flags];
        call "sock_connect" => sock::sock_connect(fd: u32, addr: u32) [fd];
        call "sock_send" => calls::sock_send(fd: u32, iovs: u32, len: u32, flags: u32) -> nsent: u32 [fd, len, flags];
        call "sock_send_to" => sock::sock_send_to(fd: u32, iovs: u32, len: u32, flags: u32, addr: u32) -> nsent: u32 [fd, len, flags];
        call "sock_recv" => calls::sock_recv(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32) [fd, len, flags];
        call "sock_recv_from" => sock::sock_recv_from(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32, addr: u32) [fd, len, flags];
        op "sock_shutdown" => setup::sock_shutdown(fd: u32, how: u32) [fd, how];
        op "sock_status" => setup::sock_status(fd: u32) -> out: u8 [fd];
        op "sock_addr_local" => setup::sock_addr_local(fd: u32) -> out: SocketAddr [fd];
        op "sock_addr_peer" => setup::sock_addr_peer(fd: u32) -> out: SocketAddr [fd];
        op "sock_set_opt_flag" => options::set_opt_flag(fd: u32, opt: u32, flag: u32) [fd, opt];
        op "sock_get_opt_flag" => options::get_opt_flag(fd: u32, opt: u32) -> out: bool [fd, opt];
        call "sock_set_opt_time" => sock::sock_set_opt_time(fd: u32, opt: u32, time: u32) [fd, opt];
        call "sock_get_opt_time" => sock::sock_get_opt_time(fd: u32, opt: u32, out: u32) [fd, opt];
        op "sock_set_opt_size" => options::set_opt_size(fd: u32, opt: u32, size: u64) [fd, opt, size];
        op "sock_get_opt_size" => options::get_opt_size(fd: u32, opt: u32) -> out: u64 [fd, opt];
        call "resolve" => sockx::resolve(host: u32, host_len: u32, port: u32, addrs: u32, naddrs: u32, count: u32) [host_len, port, naddrs];
        call "sock_pair" => sockx::sock_pair(af: u32, ty: u32, proto: u32, fd1: u32, fd2: u32) [af, ty, proto];
        op "sock_send_file" => sockx::sock_send_file(out_fd: u32, in_fd: u32, offset: u64, count: u64) -> sent: u64 [out_fd, in_fd, offset, count];
        call "sock_join_multicast_v4" => sockx::sock_join_multicast_v4(fd: u32, group: u32, iface: u32) [fd];
        call "sock_leave_multicast_v4" => sockx::sock_leave_multicast_v4(fd: u32, group: u32, iface: u32) [fd];
        call "sock_join_multicast_v6" => sockx::sock_join_multicast_v6(fd: u32, group: u32, iface: u32) [fd, iface];
        call "sock_leave_multicast_v6" => sockx::sock_leave_multicast_v6(fd: u32, group: u32, iface: u32) [fd, iface];
        op "fd_dup" => fdx::fd_dup(fd: u32) -> out: u32 [fd];
        op "fd_dup2" => fdx::fd_dup2(fd: u32, min: u32, cloexec: u32) -> out: u32 [fd, min, cloexec];
        op "fd_fdflags_get" => fdx::fd_fdflags_get(fd: u32) -> out: u16 [fd];
        op "fd_fdflags_set" => fdx::fd_fdflags_set(fd: u32, flags: u32) [fd, flags];
        call "fd_pipe" => fdx::fd_pipe(out_a: u32, out_b: u32) [];
        op "fd_event" => fdx::fd_event(initial: u64, flags: u32) -> out: u32 [initial, flags];
        raw "proc_exit2" => proc::proc_exit2(code: u32);
        op "proc_id" => proc::proc_id() -> out: u32;
        op "thread_parallelism" => proc::thread_parallelism() -> out: u32;
        call "getcwd" => proc::getcwd(path: u32, len: u32) [len];
        call "chdir" => fsx::chdir(path: u32, len: u32) [len];
        call "path_open2" => fs::path::path_open2(dirfd: u32, lookup: u32, path: u32, len: u32, oflags: u32, base: u64, inheriting: u64, flags: u32, flagsext: u32) -> out: u32 [dirfd, len, oflags, flags, flagsext];
        op "tty_get" => tty::tty_get() -> out: Tty;
        call "tty_set" => tty::tty_set(state: u32) [];
        op "proc_parent" => proc::proc_parent(pid: u32) -> out: u32 [pid];
        op "proc_signals_sizes_get" => proc::proc_signals_sizes_get() -> out: u32;
        op "proc_signals_get" => proc::proc_signals_get(_buf: u32);
        raw "callback_signal" => proc::callback_signal(name: u32, len: u32);
        raw "thread_signal" => proc::thread_signal(tid: u32, sig: u32);
        raw "proc_signal" => proc::proc_signal(pid: u32, sig: u32);
        op "proc_raise_interval" => proc::proc_raise_interval(sig: u32, interval: u64, repeat: u32) [sig, interval];
        call "proc_raise_interval2" => proc::proc_raise_interval2(sig: u32, new: u32, old: u32) [sig];
        call "proc_join" => proc::proc_join(pid: u32, flags: u32, status: u32) [flags];
        call "futex_wait" => futex::futex_wait(futex: u32, expected: u32, timeout: u32) -> woken: bool [futex, expected];
        call "futex_wake" => futex::futex_wake(futex: u32) -> woken: bool [futex];
        call "futex_wake_all" => futex::futex_wake_all(futex: u32) -> woken: bool [futex];
        call "thread_spawn_v2" | "thread_spawn" => thread::thread_spawn_v2(start: u32) -> tid: u32 [start];
        op "thread_id" => thread::thread_id() -> tid: u32;
        op "epoll_create" => epoll::epoll_create() -> fd: u32;
        call "epoll_ctl" => epoll::epoll_ctl(epfd: u32, op: u32, fd: u32, event: u32) [epfd, op, fd];
        call "epoll_wait" => epoll::epoll_wait(epfd: u32, events: u32, maxevents: u32, timeout: u64, nevents: u32) [epfd, maxevents, timeout];
        op "thread_join" => thread::thread_join(tid: u32) [tid];
        op "thread_sleep" => thread::thread_sleep(ns: u64) [ns];
        raw "thread_exit" => thread::thread_exit(code: u32);
    }
}

/// Module name of the wasi-threads call `thread-spawn`.
pub const WASI_THREADS: &str = "wasi";

/// The wasi-threads namespace: its one call takes no pointers.
const THREADS_NAMESPACE: Namespace = Namespace::new(WASI_THREADS, Errno::MEMVIOLATION);

host_calls! {
    /// Defines the wasi-threads call (`wasi.thread-spawn`) in `linker`.
    pub fn add_threads_to_linker(namespace = THREADS_NAMESPACE) {
        raw "thread-spawn" => thread::thread_spawn(start_arg: i32);
    }
}
