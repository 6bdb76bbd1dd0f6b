//! WASIX's own `sock_*` calls: guest pointers and layouts in and out, the socket model of
//! [`crate::host::socket`] in between. The calls preview 1 shares are in
//! [`crate::host::socket::calls`].

use crate::host::abi::OptionTimestamp;
use crate::host::calls::GuestOut;
use crate::host::errno::Errno;
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::socket::addr::{read_addr, unspecified_v4, ADDR_PORT_SIZE};
use crate::host::socket::{calls, options, setup};
use crate::host::WasiCtx;

/// `sock_bind`.
pub(crate) fn sock_bind(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    addr: u32,
) -> Result<(), Errno> {
    let a = read_addr(mem, addr)?;
    setup::sock_bind(ctx, fd, a)
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
    mem.check(out_addr, ADDR_PORT_SIZE)?;
    let peer = calls::sock_accept_p1(ctx, mem, fd, flags, out_fd)?;
    peer.write_to(mem, out_addr)
}

/// `sock_connect`.
pub(crate) fn sock_connect(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    addr: u32,
) -> Result<(), Errno> {
    let a = read_addr(mem, addr)?;
    setup::sock_connect(ctx, fd, a)
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
    let to = read_addr(mem, addr)?;
    calls::send_iovs(ctx, mem, fd, (iovs, len), flags, Some(to))
}

/// `sock_recv_from`: as `sock_recv`, and the sender's `addr_port` at `addr` (0.0.0.0:0 when
/// the socket gives none).
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
    mem.check(addr, ADDR_PORT_SIZE)?;
    let from = calls::recv_iovs(ctx, mem, fd, (iovs, len), flags, (nread, roflags))?;
    from.unwrap_or_else(unspecified_v4).write_to(mem, addr)
}

/// `sock_set_opt_time`.
pub(crate) fn sock_set_opt_time(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    opt: u32,
    time: u32,
) -> Result<(), Errno> {
    let t = GuestPtr::<OptionTimestamp>::new(time).read(mem)?;
    let v = match t.tag {
        0 => None,
        1 => Some(t.u),
        _ => return Err(Errno::INVAL),
    };
    options::set_opt_time(ctx, fd, opt, v)
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
    let t = match options::get_opt_time(ctx, fd, opt)? {
        Some(ns) => OptionTimestamp {
            tag: 1,
            u: ns,
            ..OptionTimestamp::default()
        },
        None => OptionTimestamp::default(),
    };
    mem.write(out, &t)
}
