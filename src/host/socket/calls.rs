//! The socket calls both namespaces define, with guest pointers in and out: preview 1's
//! `sock_accept`, `sock_recv` and `sock_send`, which are also WASIX's (`sock_accept_v2` builds
//! on the first). Signatures: `api_wasi.h`, `api_wasix.h`.

use super::{setup, transfer};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use std::net::SocketAddr;

/// `sock_accept` of preview1: the new fd at `out_fd`; returns the peer's address.
pub(crate) fn sock_accept_p1(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    flags: u32,
    out_fd: u32,
) -> Result<std::net::SocketAddr, Errno> {
    mem.check(out_fd, 4)?;
    let (new, peer) = setup::sock_accept(ctx, fd, flags)?;
    mem.write_u32(out_fd, new)?;
    Ok(peer)
}

/// `sock_send`: the bytes sent.
pub(crate) fn sock_send(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    flags: u32,
) -> Result<u32, Errno> {
    send_iovs(ctx, mem, fd, (iovs, len), flags, None)
}

/// Sends the iovec array `(ptr, count)` on `fd` (to `to`, for a datagram): the bytes sent.
pub(crate) fn send_iovs(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    (iovs, len): (u32, u32),
    flags: u32,
    to: Option<SocketAddr>,
) -> Result<u32, Errno> {
    let iovs = mem.iovecs(iovs, len)?;
    let n = transfer::send_to(ctx, mem, fd, &iovs, flags, to)?;
    crate::host::calls::record_nbytes(u64::from(n));
    Ok(n)
}

/// `sock_recv`.
// The parameters are the call's, as `api_wasix.h` declares it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sock_recv(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    flags: u32,
    nread: u32,
    roflags: u32,
) -> Result<(), Errno> {
    recv_iovs(ctx, mem, fd, (iovs, len), flags, (nread, roflags)).map(drop)
}

/// Receives into the iovec array `(ptr, count)` from `fd`, writes the count at `nread` and
/// whether it was truncated at `roflags` (both checked first, so a bad one consumes nothing);
/// returns the sender's address, if the socket gives one.
pub(crate) fn recv_iovs(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    (iovs, len): (u32, u32),
    flags: u32,
    (nread, roflags): (u32, u32),
) -> Result<Option<SocketAddr>, Errno> {
    mem.check(nread, 4)?;
    mem.check(roflags, 2)?;
    let iovs = mem.iovecs(iovs, len)?;
    let (n, from, truncated) = transfer::recv_from(ctx, mem, fd, &iovs, flags)?;
    crate::host::calls::record_nbytes(u64::from(n));
    mem.write_u32(nread, n)?;
    mem.write_u16(roflags, truncated as u16)?;
    Ok(from)
}
