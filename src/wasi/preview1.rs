//! The `wasi_snapshot_preview1` namespace: every call the guest can import from it, in one
//! table. Signatures: `api_wasi.h` of the sysroot. The file calls are the host's file view
//! ([`crate::host::fs`]), the socket calls its socket model ([`crate::host::socket`]).

use crate::host::abi::{Fdstat, Filestat, Prestat};
use crate::host::calls::{host_calls, Namespace};
use crate::host::errno::Errno;
use crate::host::fs;
use crate::host::socket::{calls, setup};
use crate::wasi::{args, clock, io, poll, proc, PREVIEW1};

/// `wasi_snapshot_preview1`: memory a call cannot reach is FAULT, its header's errno for it.
const NAMESPACE: Namespace = Namespace::new(PREVIEW1, Errno::FAULT);

host_calls! {
    /// Defines every `wasi_snapshot_preview1` call in `linker`.
    pub fn add_to_linker(namespace = NAMESPACE) {
        mem "args_get" => args::args_get(ptrs: u32, buf: u32) [];
        mem "args_sizes_get" => args::args_sizes_get(count: u32, size: u32) [size];
        mem "environ_get" => args::environ_get(ptrs: u32, buf: u32) [];
        mem "environ_sizes_get" => args::environ_sizes_get(count: u32, size: u32) [size];
        ctx "clock_res_get" => clock::clock_res_get(id: u32) -> out: u64 [id];
        ctx "clock_time_get" => clock::clock_time_get(id: u32, precision: u64) -> out: u64 [id];
        mem "random_get" => clock::random_get(buf: u32, len: u32) [len];
        caller "proc_exit" => proc::proc_exit(code: u32);
        caller "proc_raise" => proc::proc_raise(_sig: u32);
        caller "sched_yield" => proc::sched_yield();
        mem "fd_write" => io::fd_write(fd: u32, iovs: u32, len: u32) -> nwritten: u32 [fd, len];
        mem "fd_read" => io::fd_read(fd: u32, iovs: u32, len: u32) -> nread: u32 [fd, len];
        ctx "fd_close" => io::fd_close(fd: u32) [fd];
        ctx "fd_fdstat_get" => io::fd_fdstat_get(fd: u32) -> out: Fdstat [fd];
        ctx "fd_fdstat_set_flags" => io::fd_fdstat_set_flags(fd: u32, flags: u32) [fd, flags];
        ctx "fd_fdstat_set_rights" => io::fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) [fd];
        ctx "fd_prestat_get" => io::fd_prestat_get(fd: u32) -> out: Prestat [fd];
        mem "fd_prestat_dir_name" => io::fd_prestat_dir_name(fd: u32, buf: u32, len: u32) [fd, len];
        ctx "fd_renumber" => io::fd_renumber(from: u32, to: u32) [from, to];
        mem "poll_oneoff" => poll::poll_oneoff(subs: u32, events: u32, n: u32, nevents: u32) [n];
        mem "fd_pread" => fs::fd::fd_pread(fd: u32, iovs: u32, len: u32, offset: u64) -> nread: u32 [fd, len, offset];
        mem "fd_pwrite" => fs::fd::fd_pwrite(fd: u32, iovs: u32, len: u32, offset: u64) -> nwritten: u32 [fd, len, offset];
        ctx "fd_seek" => fs::fd::fd_seek(fd: u32, delta: i64, whence: u32) -> out: u64 [fd, whence];
        ctx "fd_tell" => fs::fd::fd_tell(fd: u32) -> out: u64 [fd];
        ctx "fd_sync" => fs::fd::fd_sync(fd: u32) [fd];
        ctx "fd_datasync" => fs::fd::fd_datasync(fd: u32) [fd];
        ctx "fd_advise" => fs::fd::fd_advise(fd: u32, offset: u64, len: u64, advice: u32) [fd, offset, len];
        ctx "fd_allocate" => fs::fd::fd_allocate(fd: u32, offset: u64, len: u64) [fd, offset, len];
        ctx "fd_filestat_get" => fs::fd::fd_filestat_get(fd: u32) -> out: Filestat [fd];
        ctx "fd_filestat_set_size" => fs::fd::fd_filestat_set_size(fd: u32, size: u64) [fd, size];
        ctx "fd_filestat_set_times" => fs::fd::fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) [fd, flags];
        mem "fd_readdir" => fs::fd::fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64) -> used: u32 [fd];
        mem "path_open" => fs::path::path_open(dirfd: u32, lookup: u32, path: u32, len: u32, oflags: u32, base: u64, inheriting: u64, flags: u32) -> out: u32 [dirfd, len, oflags, flags];
        mem "path_filestat_get" => fs::path::path_filestat_get(dirfd: u32, lookup: u32, path: u32, len: u32) -> out: Filestat [dirfd, len];
        mem "path_filestat_set_times" => fs::path::path_filestat_set_times(dirfd: u32, lookup: u32, path: u32, len: u32, atim: u64, mtim: u64, flags: u32) [dirfd, len, flags];
        mem "path_create_directory" => fs::path::path_create_directory(dirfd: u32, path: u32, len: u32) [dirfd, len];
        mem "path_remove_directory" => fs::path::path_remove_directory(dirfd: u32, path: u32, len: u32) [dirfd, len];
        mem "path_unlink_file" => fs::path::path_unlink_file(dirfd: u32, path: u32, len: u32) [dirfd, len];
        mem "path_rename" => fs::path::path_rename(old_fd: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) [old_fd, new_fd];
        mem "path_link" => fs::path::path_link(old_fd: u32, lookup: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) [old_fd, new_fd];
        mem "path_symlink" => fs::path::path_symlink(old: u32, old_len: u32, dirfd: u32, new: u32, new_len: u32) [dirfd];
        mem "path_readlink" => fs::path::path_readlink(dirfd: u32, path: u32, len: u32, buf: u32, buf_len: u32) -> used: u32 [dirfd, len];
        mem "sock_accept" => calls::sock_accept_p1(fd: u32, flags: u32, out_fd: u32) [fd, flags];
        mem "sock_recv" => calls::sock_recv(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32) [fd, len, flags];
        mem "sock_send" => calls::sock_send(fd: u32, iovs: u32, len: u32, flags: u32) -> nsent: u32 [fd, len, flags];
        ctx "sock_shutdown" => setup::sock_shutdown(fd: u32, how: u32) [fd, how];
    }
}
