//! The `sock_*` calls: guest pointers and layouts in and out, the socket operations of
//! [`crate::wasix::net`] in between (wasix-abi.md §5.1).

use crate::host::abi::OptionTimestamp;
use crate::host::calls::GuestOut;
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use crate::wasix::net;

/// A socket address as the guest reads it: an `addr_port` (see [`net::encode_addr`]).
impl GuestOut for std::net::SocketAddr {
    const SIZE: u32 = net::ADDR_PORT_SIZE;
    fn write_to(self, mem: &mut GuestMemory, ptr: u32) -> Result<(), Errno> {
        mem.write(ptr, &net::encode_addr(&self))
    }
}

/// `sock_bind`.
pub(crate) fn sock_bind(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    addr: u32,
) -> Result<(), Errno> {
    let a = net::read_addr(mem, addr)?;
    net::sock_bind(ctx, fd, a)
}

/// `sock_accept_v2`.
pub(crate) fn sock_accept_v2(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    flags: u32,
    out_fd: u32,
    out_addr: u32,
) -> Result<(), Errno> {
    mem.check(out_addr, net::ADDR_PORT_SIZE)?;
    let peer = sock_accept_p1(ctx, mem, fd, flags, out_fd)?;
    peer.write_to(mem, out_addr)
}

/// `sock_accept` of preview1: the new fd at `out_fd`; returns the peer's address.
pub(crate) fn sock_accept_p1(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    flags: u32,
    out_fd: u32,
) -> Result<std::net::SocketAddr, Errno> {
    mem.check(out_fd, 4)?;
    let (new, peer) = net::sock_accept(ctx, fd, flags)?;
    mem.write_u32(out_fd, new)?;
    Ok(peer)
}

/// `sock_connect`.
pub(crate) fn sock_connect(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    addr: u32,
) -> Result<(), Errno> {
    let a = net::read_addr(mem, addr)?;
    net::sock_connect(ctx, fd, a)
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
    let iovs = mem.iovecs(iovs, len)?;
    let n = net::send(ctx, mem, fd, &iovs, flags)?;
    crate::host::calls::record_nbytes(u64::from(n));
    Ok(n)
}

/// `sock_send_to`: the bytes sent to the `addr_port` at `addr`.
pub(crate) fn sock_send_to(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    flags: u32,
    addr: u32,
) -> Result<u32, Errno> {
    let to = net::read_addr(mem, addr)?;
    let iovs = mem.iovecs(iovs, len)?;
    let n = net::send_to(ctx, mem, fd, &iovs, flags, Some(to))?;
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
    mem.check(nread, 4)?;
    mem.check(roflags, 2)?;
    let iovs = mem.iovecs(iovs, len)?;
    let (n, truncated) = net::recv(ctx, mem, fd, &iovs, flags)?;
    crate::host::calls::record_nbytes(u64::from(n));
    mem.write_u32(nread, n)?;
    mem.write_u16(roflags, truncated as u16)
}

/// `sock_recv_from`.
// The parameters are the call's, as `api_wasix.h` declares it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sock_recv_from(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    flags: u32,
    nread: u32,
    roflags: u32,
    addr: u32,
) -> Result<(), Errno> {
    mem.check(nread, 4)?;
    mem.check(roflags, 2)?;
    mem.check(addr, net::ADDR_PORT_SIZE)?;
    let iovs = mem.iovecs(iovs, len)?;
    let (n, from, truncated) = net::recv_from(ctx, mem, fd, &iovs, flags)?;
    crate::host::calls::record_nbytes(u64::from(n));
    mem.write_u32(nread, n)?;
    mem.write_u16(roflags, truncated as u16)?;
    let from = from.unwrap_or_else(net::unspecified_v4);
    from.write_to(mem, addr)
}

/// `sock_set_opt_time`.
pub(crate) fn sock_set_opt_time(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    opt: u32,
    time: u32,
) -> Result<(), Errno> {
    let t: OptionTimestamp = mem.read(time)?;
    let v = match t.tag {
        0 => None,
        1 => Some(t.u),
        _ => return Err(Errno::INVAL),
    };
    net::set_opt_time(ctx, fd, opt, v)
}

/// `sock_get_opt_time`.
pub(crate) fn sock_get_opt_time(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    opt: u32,
    out: u32,
) -> Result<(), Errno> {
    mem.check_array::<OptionTimestamp>(out, 1)?;
    let t = match net::get_opt_time(ctx, fd, opt)? {
        Some(ns) => OptionTimestamp {
            tag: 1,
            u: ns,
            ..OptionTimestamp::default()
        },
        None => OptionTimestamp::default(),
    };
    mem.write(out, &t)
}
