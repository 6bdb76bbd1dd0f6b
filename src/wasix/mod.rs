//! WASIX (`wasix_32v1`): sockets over real host sockets, and the other WASIX calls
//! wasix-libc programs make (fd duplication and flags, pipes, eventfds, signals at startup,
//! `proc_exit2`). Signatures: wasix-abi.md §5 and `include/wasi/api_wasix.h` of the sysroot.

pub mod fdx;
pub mod net;
pub mod proc;
pub mod sock;
pub mod socket;
mod sys;

use crate::host::calls::host_calls;

/// Module name of WASIX.
pub const WASIX: &str = "wasix_32v1";

host_calls! {
    /// Defines every `wasix_32v1` call in `linker`.
    pub fn add_to_linker(namespace = WASIX) {
        call "sock_open" => sock::sock_open(af: u32, ty: u32, proto: u32, out: u32) [af, ty, proto];
        call "sock_bind" => sock::sock_bind(fd: u32, addr: u32) [fd];
        call "sock_listen" => sock::sock_listen(fd: u32, backlog: i32) [fd, backlog];
        call "sock_accept_v2" | "sock_accept" => sock::sock_accept_v2(fd: u32, flags: u32, out_fd: u32, out_addr: u32) [fd, flags];
        call "sock_connect" => sock::sock_connect(fd: u32, addr: u32) [fd];
        call "sock_send" => sock::sock_send(fd: u32, iovs: u32, len: u32, flags: u32, nsent: u32) [fd, len, flags];
        call "sock_send_to" => sock::sock_send_to(fd: u32, iovs: u32, len: u32, flags: u32, addr: u32, nsent: u32) [fd, len, flags];
        call "sock_recv" => sock::sock_recv(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32) [fd, len, flags];
        call "sock_recv_from" => sock::sock_recv_from(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32, addr: u32) [fd, len, flags];
        call "sock_shutdown" => sock::sock_shutdown(fd: u32, how: u32) [fd, how];
        call "sock_status" => sock::sock_status(fd: u32, out: u32) [fd];
        call "sock_addr_local" => sock::sock_addr_local(fd: u32, out: u32) [fd];
        call "sock_addr_peer" => sock::sock_addr_peer(fd: u32, out: u32) [fd];
        call "sock_set_opt_flag" => sock::sock_set_opt_flag(fd: u32, opt: u32, flag: u32) [fd, opt];
        call "sock_get_opt_flag" => sock::sock_get_opt_flag(fd: u32, opt: u32, out: u32) [fd, opt];
        call "sock_set_opt_time" => sock::sock_set_opt_time(fd: u32, opt: u32, time: u32) [fd, opt];
        call "sock_get_opt_time" => sock::sock_get_opt_time(fd: u32, opt: u32, out: u32) [fd, opt];
        call "sock_set_opt_size" => sock::sock_set_opt_size(fd: u32, opt: u32, size: u64) [fd, opt, size];
        call "sock_get_opt_size" => sock::sock_get_opt_size(fd: u32, opt: u32, out: u32) [fd, opt];
        call "fd_dup" => fdx::fd_dup(fd: u32, out: u32) [fd];
        call "fd_dup2" => fdx::fd_dup2(fd: u32, min: u32, cloexec: u32, out: u32) [fd, min, cloexec];
        call "fd_fdflags_get" => fdx::fd_fdflags_get(fd: u32, out: u32) [fd];
        call "fd_fdflags_set" => fdx::fd_fdflags_set(fd: u32, flags: u32) [fd, flags];
        call "fd_pipe" => fdx::fd_pipe(out_a: u32, out_b: u32) [];
        call "fd_event" => fdx::fd_event(initial: u64, flags: u32, out: u32) [initial, flags];
        raw "proc_exit2" => proc::proc_exit2(code: u32);
        call "proc_signals_sizes_get" => proc::proc_signals_sizes_get(out: u32) [];
        call "proc_signals_get" => proc::proc_signals_get(_buf: u32) [];
        raw "callback_signal" => proc::callback_signal(_name: u32, _len: u32);
    }
}
