//! WASIX (`wasix_32v1`): sockets over real host sockets, and the other WASIX calls
//! wasix-libc programs make (fd duplication and flags, pipes, eventfds, signals at startup,
//! `proc_exit2`). Signatures: `api_wasix.h` of the wasix-libc sysroot.

pub(crate) mod asyncify;
pub(crate) mod cwd;
pub(crate) mod epoll;
pub(crate) mod fd_extras;
pub(crate) mod fork;
pub(crate) mod futex;
pub mod not_yet;
pub(crate) mod proc;
pub mod refused;
pub(crate) mod socket_extras;
pub(crate) mod sockets;
pub(crate) mod spawn;
pub(crate) mod stack;
pub(crate) mod thread;
pub(crate) mod tty;

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
        ctx "sock_open" => setup::sock_open(af: u32, ty: u32, proto: u32) -> out: u32 [af, ty, proto];
        mem "sock_bind" => sockets::sock_bind(fd: u32, addr: u32) [fd];
        ctx "sock_listen" => setup::sock_listen(fd: u32, backlog: i32) [fd, backlog];
        mem "sock_accept_v2" | "sock_accept" => sockets::sock_accept_v2(fd: u32, flags: u32, out_fd: u32, out_addr: u32) [fd, flags];
        mem "sock_connect" => sockets::sock_connect(fd: u32, addr: u32) [fd];
        mem "sock_send" => calls::sock_send(fd: u32, iovs: u32, len: u32, flags: u32) -> nsent: u32 [fd, len, flags];
        mem "sock_send_to" => sockets::sock_send_to(fd: u32, iovs: u32, len: u32, flags: u32, addr: u32) -> nsent: u32 [fd, len, flags];
        mem "sock_recv" => calls::sock_recv(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32) [fd, len, flags];
        mem "sock_recv_from" => sockets::sock_recv_from(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32, addr: u32) [fd, len, flags];
        ctx "sock_shutdown" => setup::sock_shutdown(fd: u32, how: u32) [fd, how];
        ctx "sock_status" => setup::sock_status(fd: u32) -> out: u8 [fd];
        ctx "sock_addr_local" => setup::sock_addr_local(fd: u32) -> out: SocketAddr [fd];
        ctx "sock_addr_peer" => setup::sock_addr_peer(fd: u32) -> out: SocketAddr [fd];
        ctx "sock_set_opt_flag" => options::set_opt_flag(fd: u32, opt: u32, flag: u32) [fd, opt];
        ctx "sock_get_opt_flag" => options::get_opt_flag(fd: u32, opt: u32) -> out: bool [fd, opt];
        mem "sock_set_opt_time" => sockets::sock_set_opt_time(fd: u32, opt: u32, time: u32) [fd, opt];
        mem "sock_get_opt_time" => sockets::sock_get_opt_time(fd: u32, opt: u32, out: u32) [fd, opt];
        ctx "sock_set_opt_size" => options::set_opt_size(fd: u32, opt: u32, size: u64) [fd, opt, size];
        ctx "sock_get_opt_size" => options::get_opt_size(fd: u32, opt: u32) -> out: u64 [fd, opt];
        mem "resolve" => socket_extras::resolve(host: u32, host_len: u32, port: u32, addrs: u32, naddrs: u32, count: u32) [host_len, port, naddrs];
        mem "sock_pair" => socket_extras::sock_pair(af: u32, ty: u32, proto: u32, fd1: u32, fd2: u32) [af, ty, proto];
        ctx "sock_send_file" => socket_extras::sock_send_file(out_fd: u32, in_fd: u32, offset: u64, count: u64) -> sent: u64 [out_fd, in_fd, offset, count];
        mem "sock_join_multicast_v4" => socket_extras::sock_join_multicast_v4(fd: u32, group: u32, iface: u32) [fd];
        mem "sock_leave_multicast_v4" => socket_extras::sock_leave_multicast_v4(fd: u32, group: u32, iface: u32) [fd];
        mem "sock_join_multicast_v6" => socket_extras::sock_join_multicast_v6(fd: u32, group: u32, iface: u32) [fd, iface];
        mem "sock_leave_multicast_v6" => socket_extras::sock_leave_multicast_v6(fd: u32, group: u32, iface: u32) [fd, iface];
        ctx "fd_dup" => fd_extras::fd_dup(fd: u32) -> out: u32 [fd];
        ctx "fd_dup2" => fd_extras::fd_dup2(fd: u32, min: u32, cloexec: u32) -> out: u32 [fd, min, cloexec];
        ctx "fd_fdflags_get" => fd_extras::fd_fdflags_get(fd: u32) -> out: u16 [fd];
        ctx "fd_fdflags_set" => fd_extras::fd_fdflags_set(fd: u32, flags: u32) [fd, flags];
        mem "fd_pipe" => fd_extras::fd_pipe(out_a: u32, out_b: u32) [];
        ctx "fd_event" => fd_extras::fd_event(initial: u64, flags: u32) -> out: u32 [initial, flags];
        caller "proc_exit2" => proc::proc_exit2(code: u32);
        ctx "proc_id" => proc::proc_id() -> out: u32;
        ctx "thread_parallelism" => proc::thread_parallelism() -> out: u32;
        mem "getcwd" => proc::getcwd(path: u32, len: u32) [len];
        mem "chdir" => cwd::chdir(path: u32, len: u32) [len];
        mem "path_open2" => fs::path::path_open2(dirfd: u32, lookup: u32, path: u32, len: u32, oflags: u32, base: u64, inheriting: u64, flags: u32, flagsext: u32) -> out: u32 [dirfd, len, oflags, flags, flagsext];
        ctx "tty_get" => tty::tty_get() -> out: Tty;
        mem "tty_set" => tty::tty_set(state: u32) [];
        ctx "proc_parent" => proc::proc_parent(pid: u32) -> out: u32 [pid];
        ctx "proc_signals_sizes_get" => proc::proc_signals_sizes_get() -> out: u32;
        mem "proc_signals_get" => proc::proc_signals_get(buf: u32) [];
        caller "callback_signal" => proc::callback_signal(name: u32, len: u32);
        caller "thread_signal" => proc::thread_signal(tid: u32, sig: u32);
        caller "proc_signal" => proc::proc_signal(pid: u32, sig: u32);
        ctx "proc_raise_interval" => proc::proc_raise_interval(sig: u32, interval: u64, repeat: u32) [sig, interval];
        mem "proc_raise_interval2" => proc::proc_raise_interval2(sig: u32, new: u32, old: u32) [sig];
        mem "proc_join" => proc::proc_join(pid: u32, flags: u32, status: u32) [flags];
        caller "proc_fork" => fork::proc_fork(copy_memory: u32, pid: u32);
        caller "stack_checkpoint" => stack::stack_checkpoint(snapshot: u32, ret: u32);
        caller "stack_restore" => stack::stack_restore(snapshot: u32, value: u64);
        caller "proc_exec" => spawn::proc_exec(name: u32, name_len: u32, args: u32, args_len: u32);
        caller "proc_exec2" => spawn::proc_exec2(name: u32, name_len: u32, args: u32, args_len: u32, envs: u32, envs_len: u32);
        caller "proc_exec3" => spawn::proc_exec3(name: u32, name_len: u32, args: u32, args_len: u32, envs: u32, envs_len: u32, search_path: u32, path: u32, path_len: u32);
        mem "proc_spawn2" => spawn::proc_spawn2(name: u32, name_len: u32, args: u32, args_len: u32, envs: u32, envs_len: u32, fd_ops: u32, fd_ops_len: u32, signals: u32, signals_len: u32, search_path: u32, path: u32, path_len: u32) -> pid: u32 [name_len, args_len, envs_len, fd_ops_len, signals_len, search_path];
        mem "futex_wait" => futex::futex_wait(futex: u32, expected: u32, timeout: u32) -> woken: bool [futex, expected];
        mem "futex_wake" => futex::futex_wake(futex: u32) -> woken: bool [futex];
        mem "futex_wake_all" => futex::futex_wake_all(futex: u32) -> woken: bool [futex];
        mem "thread_spawn_v2" | "thread_spawn" => thread::thread_spawn_v2(start: u32) -> tid: u32 [start];
        ctx "thread_id" => thread::thread_id() -> tid: u32;
        ctx "epoll_create" => epoll::epoll_create() -> fd: u32;
        mem "epoll_ctl" => epoll::epoll_ctl(epfd: u32, op: u32, fd: u32, event: u32) [epfd, op, fd];
        mem "epoll_wait" => epoll::epoll_wait(epfd: u32, events: u32, maxevents: u32, timeout: u64, nevents: u32) [epfd, maxevents, timeout];
        ctx "thread_join" => thread::thread_join(tid: u32) [tid];
        ctx "thread_sleep" => thread::thread_sleep(ns: u64) [ns];
        caller "thread_exit" => thread::thread_exit(code: u32);
    }
}

/// Module name of the wasi-threads call `thread-spawn`.
pub const WASI_THREADS: &str = "wasi";

/// The wasi-threads namespace: its one call takes no pointers.
const THREADS_NAMESPACE: Namespace = Namespace::new(WASI_THREADS, Errno::MEMVIOLATION);

host_calls! {
    /// Defines the wasi-threads call (`wasi.thread-spawn`) in `linker`.
    pub fn add_threads_to_linker(namespace = THREADS_NAMESPACE) {
        caller "thread-spawn" => thread::thread_spawn(start_arg: i32);
    }
}
