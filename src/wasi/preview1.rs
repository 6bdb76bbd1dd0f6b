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
        call "args_get" => args::args_get(ptrs: u32, buf: u32) [];
        call "args_sizes_get" => args::args_sizes_get(count: u32, size: u32) [size];
        call "environ_get" => args::environ_get(ptrs: u32, buf: u32) [];
        call "environ_sizes_get" => args::environ_sizes_get(count: u32, size: u32) [size];
        op "clock_res_get" => clock::clock_res_get(id: u32) -> out: u64 [id];
        op "clock_time_get" => clock::clock_time_get(id: u32, precision: u64) -> out: u64 [id];
        call "random_get" => clock::random_get(buf: u32, len: u32) [len];
        raw "proc_exit" => proc::proc_exit(code: u32);
        raw "proc_raise" => proc::proc_raise(_sig: u32);
        raw "sched_yield" => proc::sched_yield();
        call "fd_write" => io::fd_write(fd: u32, iovs: u32, len: u32) -> nwritten: u32 [fd, len];
        call "fd_read" => io::fd_read(fd: u32, iovs: u32, len: u32) -> nread: u32 [fd, len];
        op "fd_close" => io::fd_close(fd: u32) [fd];
        op "fd_fdstat_get" => io::fd_fdstat_get(fd: u32) -> out: Fdstat [fd];
        op "fd_fdstat_set_flags" => io::fd_fdstat_set_flags(fd: u32, flags: u32) [fd, flags];
        op "fd_fdstat_set_rights" => io::fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) [fd];
        op "fd_prestat_get" => io::fd_prestat_get(fd: u32) -> out: Prestat [fd];
        call "fd_prestat_dir_name" => io::fd_prestat_dir_name(fd: u32, buf: u32, len: u32) [fd, len];
        op "fd_renumber" => io::fd_renumber(from: u32, to: u32) [from, to];
        call "poll_oneoff" => poll::poll_oneoff(subs: u32, events: u32, n: u32, nevents: u32) [n];
        call "fd_pread" => fs::fd::fd_pread(fd: u32, iovs: u32, len: u32, offset: u64) -> nread: u32 [fd, len, offset];
        call "fd_pwrite" => fs::fd::fd_pwrite(fd: u32, iovs: u32, len: u32, offset: u64) -> nwritten: u32 [fd, len, offset];
        op "fd_seek" => fs::fd::fd_seek(fd: u32, delta: i64, whence: u32) -> out: u64 [fd, whence];
        op "fd_tell" => fs::fd::fd_tell(fd: u32) -> out: u64 [fd];
        op "fd_sync" => fs::fd::fd_sync(fd: u32) [fd];
        op "fd_datasync" => fs::fd::fd_datasync(fd: u32) [fd];
        op "fd_advise" => fs::fd::fd_advise(fd: u32, offset: u64, len: u64, advice: u32) [fd, offset, len];
        op "fd_allocate" => fs::fd::fd_allocate(fd: u32, offset: u64, len: u64) [fd, offset, len];
        op "fd_filestat_get" => fs::fd::fd_filestat_get(fd: u32) -> out: Filestat [fd];
        op "fd_filestat_set_size" => fs::fd::fd_filestat_set_size(fd: u32, size: u64) [fd, size];
        op "fd_filestat_set_times" => fs::fd::fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) [fd, flags];
        call "fd_readdir" => fs::fd::fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64) -> used: u32 [fd];
        call "path_open" => fs::path::path_open(dirfd: u32, lookup: u32, path: u32, len: u32, oflags: u32, base: u64, inheriting: u64, flags: u32) -> out: u32 [dirfd, len, oflags, flags];
        call "path_filestat_get" => fs::path::path_filestat_get(dirfd: u32, lookup: u32, path: u32, len: u32) -> out: Filestat [dirfd, len];
        call "path_filestat_set_times" => fs::path::path_filestat_set_times(dirfd: u32, lookup: u32, path: u32, len: u32, atim: u64, mtim: u64, flags: u32) [dirfd, len, flags];
        call "path_create_directory" => fs::path::path_create_directory(dirfd: u32, path: u32, len: u32) [dirfd, len];
        call "path_remove_directory" => fs::path::path_remove_directory(dirfd: u32, path: u32, len: u32) [dirfd, len];
        call "path_unlink_file" => fs::path::path_unlink_file(dirfd: u32, path: u32, len: u32) [dirfd, len];
        call "path_rename" => fs::path::path_rename(old_fd: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) [old_fd, new_fd];
        call "path_link" => fs::path::path_link(old_fd: u32, lookup: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) [old_fd, new_fd];
        call "path_symlink" => fs::path::path_symlink(old: u32, old_len: u32, dirfd: u32, new: u32, new_len: u32) [dirfd];
        call "path_readlink" => fs::path::path_readlink(dirfd: u32, path: u32, len: u32, buf: u32, buf_len: u32) -> used: u32 [dirfd, len];
        call "sock_accept" => calls::sock_accept_p1(fd: u32, flags: u32, out_fd: u32) [fd, flags];
        call "sock_recv" => calls::sock_recv(fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32) [fd, len, flags];
        call "sock_send" => calls::sock_send(fd: u32, iovs: u32, len: u32, flags: u32) -> nsent: u32 [fd, len, flags];
        op "sock_shutdown" => setup::sock_shutdown(fd: u32, how: u32) [fd, how];
    }
}
