//! Socket options: flags, sizes and times (`sock_set_opt_*`, `sock_get_opt_*`).

use super::{socket, SocketState};
use crate::host::abi::sock_option;
use crate::host::errno::Errno;
use crate::host::WasiCtx;
use std::time::Duration;

pub fn set_opt_flag(ctx: &mut WasiCtx, fd: u32, option: u32, flag: u32) -> Result<(), Errno> {
    // A WASI `bool`: the low byte, 1 for true.
    let flag = flag & 0xff == 1;
    let s = socket(ctx, fd)?.socket.clone();
    match option & 0xff {
        sock_option::REUSE_PORT => s.set_reuse_port(flag)?,
        sock_option::REUSE_ADDR => s.set_reuse_address(flag)?,
        sock_option::NO_DELAY => s.set_tcp_nodelay(flag)?,
        sock_option::DONT_ROUTE => return Err(Errno::NOTSUP),
        sock_option::ONLY_V6 => s.set_only_v6(flag)?,
        sock_option::BROADCAST => s.set_broadcast(flag)?,
        sock_option::MULTICAST_LOOP_V4 => s.set_multicast_loop_v4(flag)?,
        sock_option::MULTICAST_LOOP_V6 => s.set_multicast_loop_v6(flag)?,
        sock_option::KEEP_ALIVE => s.set_keepalive(flag)?,
        sock_option::OOB_INLINE => s.set_out_of_band_inline(flag)?,
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_flag(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<bool, Errno> {
    let e = socket(ctx, fd)?;
    let s = &e.socket;
    Ok(match option & 0xff {
        sock_option::REUSE_PORT => s.reuse_port()?,
        sock_option::REUSE_ADDR => s.reuse_address()?,
        sock_option::NO_DELAY => s.tcp_nodelay()?,
        sock_option::DONT_ROUTE => return Err(Errno::NOTSUP),
        sock_option::ONLY_V6 => s.only_v6()?,
        sock_option::BROADCAST => s.broadcast()?,
        sock_option::MULTICAST_LOOP_V4 => s.multicast_loop_v4()?,
        sock_option::MULTICAST_LOOP_V6 => s.multicast_loop_v6()?,
        sock_option::KEEP_ALIVE => s.keepalive()?,
        sock_option::OOB_INLINE => s.out_of_band_inline()?,
        sock_option::LISTENING => e.state == SocketState::Listening,
        _ => return Err(Errno::INVAL),
    })
}

/// Sets a time option; `None` clears it. Values in ns.
pub fn set_opt_time(
    ctx: &mut WasiCtx,
    fd: u32,
    option: u32,
    value: Option<u64>,
) -> Result<(), Errno> {
    let mut s = socket(ctx, fd)?;
    match option & 0xff {
        sock_option::RECV_TIMEOUT => s.recv_timeout = value,
        sock_option::SEND_TIMEOUT => s.send_timeout = value,
        sock_option::CONNECT_TIMEOUT => s.connect_timeout = value,
        sock_option::ACCEPT_TIMEOUT => s.accept_timeout = value,
        sock_option::LINGER => s.socket.set_linger(value.map(Duration::from_nanos))?,
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_time(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<Option<u64>, Errno> {
    let s = socket(ctx, fd)?;
    Ok(match option & 0xff {
        sock_option::RECV_TIMEOUT => s.recv_timeout,
        sock_option::SEND_TIMEOUT => s.send_timeout,
        sock_option::CONNECT_TIMEOUT => s.connect_timeout,
        sock_option::ACCEPT_TIMEOUT => s.accept_timeout,
        sock_option::LINGER => s.socket.linger()?.map(|d| d.as_nanos() as u64),
        _ => return Err(Errno::INVAL),
    })
}

pub fn set_opt_size(ctx: &mut WasiCtx, fd: u32, option: u32, size: u64) -> Result<(), Errno> {
    let s = socket(ctx, fd)?.socket.clone();
    let n = usize::try_from(size).map_err(|_| Errno::INVAL)?;
    match option & 0xff {
        sock_option::RECV_BUF_SIZE => s.set_recv_buffer_size(n)?,
        sock_option::SEND_BUF_SIZE => s.set_send_buffer_size(n)?,
        sock_option::TTL => s.set_ttl_v4(u32::try_from(size).map_err(|_| Errno::INVAL)?)?,
        sock_option::MULTICAST_TTL_V4 => {
            s.set_multicast_ttl_v4(u32::try_from(size).map_err(|_| Errno::INVAL)?)?
        }
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_size(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<u64, Errno> {
    let s = socket(ctx, fd)?.socket.clone();
    Ok(match option & 0xff {
        sock_option::RECV_BUF_SIZE => s.recv_buffer_size()? as u64,
        sock_option::SEND_BUF_SIZE => s.send_buffer_size()? as u64,
        sock_option::TTL => s.ttl_v4()? as u64,
        sock_option::MULTICAST_TTL_V4 => s.multicast_ttl_v4()? as u64,
        _ => return Err(Errno::INVAL),
    })
}
