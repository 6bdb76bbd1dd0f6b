//! The socket calls beyond open/bind/connect/send/recv that wasix-libc programs make:
//! `resolve` (getaddrinfo), `sock_pair` (socketpair), `sock_send_file` (sendfile) and the
//! multicast group calls. Signatures: `api_wasix.h`.

use crate::host::abi::{address_family, rights, sock_type, AddrIp, AddrIp6};
use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind};
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::socket::{addr, check_net, retry, socket, socket_and_mode};
use crate::host::socket::{SocketEntry, SocketState};
use crate::host::wait::Interest;
use crate::host::WasiCtx;
use socket2::{Domain, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::os::fd::AsRawFd;

/// Longest host name `resolve` looks up, in bytes (RFC 1035 §2.3.4: 255 octets).
const MAX_HOST_LEN: u32 = 255;

/// `resolve(host, host_len, port, addrs, naddrs, *count)`: looks `host` up with the host's
/// resolver (`getaddrinfo`, through std, so `/etc/hosts` and DNS as the host configures them)
/// and writes up to `naddrs` addresses as 18-byte `addr_ip` entries at `addrs`, and how many it
/// wrote at `count`; `port` is only a hint and does not change the addresses. Needs `--net`.
/// Errors: NOTCAPABLE without `--net`; MEMVIOLATION for an output outside memory (checked
/// before the lookup); INVAL for an empty name, one longer than 255 bytes or holding a NUL;
/// ILSEQ for a name that is not UTF-8; NOENT when the name does not resolve (wasix-libc's
/// getaddrinfo turns any error into EAI_NONAME).
// The parameters are the call's, as `api_wasix.h` declares it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    host: u32,
    host_len: u32,
    port: u32,
    addrs: u32,
    naddrs: u32,
    count: u32,
) -> Result<(), Errno> {
    check_net(ctx)?;
    mem.check_array::<AddrIp>(addrs, naddrs)?;
    mem.check(count, 4)?;
    if host_len == 0 || host_len > MAX_HOST_LEN {
        return Err(Errno::INVAL);
    }
    let name = mem.read_string(host, host_len)?;
    if name.contains('\0') {
        return Err(Errno::INVAL);
    }
    let found = lookup(&name, port as u16)?;
    let mut written = 0u32;
    for ip in found.iter().take(naddrs as usize) {
        mem.write(addrs + written * AddrIp::SIZE, &encode_ip(ip))?;
        written += 1;
    }
    mem.write_u32(count, written)
}

/// The addresses `name` resolves to, in the resolver's order, each once.
fn lookup(name: &str, port: u16) -> Result<Vec<IpAddr>, Errno> {
    let found = (name, port)
        .to_socket_addrs()
        .map_err(|e| match e.raw_os_error() {
            Some(code) => Errno::from_os(code),
            None => Errno::NOENT,
        })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for a in found {
        if !ips.contains(&a.ip()) {
            ips.push(a.ip());
        }
    }
    if ips.is_empty() {
        return Err(Errno::NOENT);
    }
    Ok(ips)
}

/// An address as an `addr_ip`: the tag and octets of its `addr_port` encoding (the same
/// bytes without the port).
fn encode_ip(ip: &IpAddr) -> AddrIp {
    let a = addr::encode_addr(&std::net::SocketAddr::new(*ip, 0));
    AddrIp {
        tag: a.tag,
        _pad: 0,
        addr: a.addr,
    }
}

/// `sock_pair(af, type, proto, *fd1, *fd2)`: two connected sockets (the host's
/// `socketpair(AF_UNIX, ...)`, the only kind Linux makes, whatever family is asked for: the pair
/// reaches no network, so it needs no `--net`, like `fd_pipe`). Both host sockets are
/// non-blocking, as all of wasix-rt's; the guest fds block unless it says otherwise.
/// Errors: MEMVIOLATION for an output outside memory (no fd is made); AFNOSUPPORT for a family
/// other than UNSPEC, INET4, INET6 or UNIX; NOTSUP for a type other than STREAM or DGRAM or a
/// protocol other than 0 or the type's own (6, TCP, for STREAM; 17, UDP, for DGRAM: wasix-libc's
/// `socketpair` sends them, as `sock_open` accepts them); the host's errno (MFILE, ...).
pub(crate) fn sock_pair(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    af: u32,
    ty: u32,
    proto: u32,
    fd1: u32,
    fd2: u32,
) -> Result<(), Errno> {
    mem.check(fd1, 4)?;
    mem.check(fd2, 4)?;
    let family = (af & 0xff) as u8;
    if family > address_family::UNIX {
        return Err(Errno::AFNOSUPPORT);
    }
    let (ty, host_ty) = match (ty & 0xff) as u8 {
        sock_type::STREAM => (sock_type::STREAM, Type::STREAM),
        sock_type::DGRAM => (sock_type::DGRAM, Type::DGRAM),
        _ => return Err(Errno::NOTSUP),
    };
    match (proto & 0xffff, ty) {
        (0, _) | (6, sock_type::STREAM) | (17, sock_type::DGRAM) => {}
        _ => return Err(Errno::NOTSUP),
    }
    let (a, b) = Socket::pair(Domain::UNIX, host_ty, None)?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    let entry = |s| FdEntry::new(FdKind::Socket(Box::new(paired(s, family, ty))));
    let mut fds = ctx.fds();
    let first = fds.insert(entry(a))?;
    let second = match fds.insert(entry(b)) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = fds.remove(first);
            return Err(e);
        }
    };
    drop(fds);
    mem.write_u32(fd1, first)?;
    mem.write_u32(fd2, second)
}

/// One end of a socket pair: connected from the start.
fn paired(s: Socket, family: u8, ty: u8) -> SocketEntry {
    SocketEntry::new(s, family, ty, SocketState::Connected)
}

/// Most bytes one `sock_send_file` hands the host at a time; a blocking call returns after the
/// host took some, as sendfile(2) does.
const SEND_FILE_CHUNK: u64 = 1 << 30;

/// `sock_send_file(out_fd, in_fd, offset, count, *sent)`: sends up to `count` bytes of the file
/// `in_fd` from byte `offset` (the file's own offset is not used nor moved, as sendfile(2)
/// with an offset) to the connected socket `out_fd`; writes the bytes sent at `sent`, fewer
/// than `count` when the file ends or the socket took fewer (0 at or past the end). A blocking
/// socket waits until it can take some. Errors: MEMVIOLATION for `sent` outside memory; BADF
/// for an fd that is not open; NOTSOCK when `out_fd` is not a socket; NOTCONN when it is not
/// connected; ISDIR, SPIPE (not a regular file) or NOTCAPABLE (no FD_READ right) for `in_fd`;
/// INVAL for an offset past 2^63 - 1;
/// AGAIN when non-blocking and not ready; the host's errno (PIPE, ...).
pub(crate) fn sock_send_file(
    ctx: &mut WasiCtx,
    out_fd: u32,
    in_fd: u32,
    offset: u64,
    count: u64,
) -> Result<u64, Errno> {
    let file = readable_file(ctx, in_fd)?;
    let (s, nonblocking) = socket_and_mode(ctx, out_fd)?;
    if s.state != SocketState::Connected {
        return Err(Errno::NOTCONN);
    }
    let (sock, wait_for) = (
        s.socket.clone(),
        s.send_timeout.map(std::time::Duration::from_nanos),
    );
    let queued = crate::host::offload::OffloadSocket {
        socket: s.socket.clone(),
        pending: s.pending.clone(),
    };
    drop(s);
    // With --offload, sends queued before this call reach the socket first.
    if ctx.process.offload.is_some() {
        crate::host::offload::wait_idle(&queued);
    }
    let mut off = i64::try_from(offset).map_err(|_| Errno::INVAL)?;
    let len = count.min(SEND_FILE_CHUNK) as usize;
    if len == 0 {
        return Ok(0);
    }
    let n = retry(ctx, &sock, nonblocking, Interest::Write, wait_for, || {
        // SAFETY: both fds are open for the call (the Arcs hold them); `off` outlives it.
        let n = unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut off, len) };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as u64)
        }
    })?;
    crate::host::calls::record_nbytes(n);
    Ok(n)
}

/// The host file of a regular-file fd that may be read.
fn readable_file(ctx: &mut WasiCtx, fd: u32) -> Result<std::sync::Arc<std::fs::File>, Errno> {
    let fds = ctx.fds();
    let entry = fds.get(fd)?;
    match &entry.kind {
        FdKind::File { file } if entry.rights_base & rights::FD_READ != 0 => Ok(file.clone()),
        FdKind::File { .. } => Err(Errno::NOTCAPABLE),
        FdKind::Dir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::SPIPE),
    }
}

/// Joins or leaves an IPv4 multicast group on a UDP socket.
fn multicast_v4(
    ctx: &mut WasiCtx,
    fd: u32,
    group: Ipv4Addr,
    iface: Ipv4Addr,
    join: bool,
) -> Result<(), Errno> {
    let s = udp_socket(ctx, fd)?;
    if join {
        s.join_multicast_v4(&group, &iface)?;
    } else {
        s.leave_multicast_v4(&group, &iface)?;
    }
    Ok(())
}

/// As [`multicast_v4`] for IPv6; `iface` is an interface index (0: the host picks).
fn multicast_v6(
    ctx: &mut WasiCtx,
    fd: u32,
    group: Ipv6Addr,
    iface: u32,
    join: bool,
) -> Result<(), Errno> {
    let s = udp_socket(ctx, fd)?;
    if join {
        s.join_multicast_v6(&group, iface)?;
    } else {
        s.leave_multicast_v6(&group, iface)?;
    }
    Ok(())
}

/// The host socket of a datagram socket fd: BADF, NOTSOCK, or NOTSUP for a stream socket
/// (multicast is UDP's).
fn udp_socket(ctx: &mut WasiCtx, fd: u32) -> Result<std::sync::Arc<Socket>, Errno> {
    let s = socket(ctx, fd)?;
    if s.ty != sock_type::DGRAM {
        return Err(Errno::NOTSUP);
    }
    Ok(s.socket.clone())
}

/// An `addr_ip4`: four octets in network order.
fn read_ip4(mem: &GuestMemory, ptr: u32) -> Result<Ipv4Addr, Errno> {
    let b = GuestPtr::<[u8; 4]>::new(ptr).read(mem)?;
    Ok(Ipv4Addr::from(b))
}

/// An `addr_ip6` as wasix-libc fills it: eight segments ([`AddrIp6`]).
fn read_ip6(mem: &GuestMemory, ptr: u32) -> Result<Ipv6Addr, Errno> {
    let a = GuestPtr::<AddrIp6>::new(ptr).read(mem)?;
    let [a0, a1, a2, a3, a4, a5, a6, a7] = a.segments;
    Ok(Ipv6Addr::new(a0, a1, a2, a3, a4, a5, a6, a7))
}

/// `sock_join_multicast_v4(fd, *group, *iface)`: IP_ADD_MEMBERSHIP. Errors: MEMVIOLATION for an
/// address outside memory; BADF, NOTSOCK, NOTSUP (a stream socket); the host's errno (INVAL
/// for a group that is not multicast, ...).
pub(crate) fn sock_join_multicast_v4(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    group: u32,
    iface: u32,
) -> Result<(), Errno> {
    multicast_v4(ctx, fd, read_ip4(mem, group)?, read_ip4(mem, iface)?, true)
}

/// `sock_leave_multicast_v4`: IP_DROP_MEMBERSHIP; errors as [`sock_join_multicast_v4`]
/// (the host says ADDRNOTAVAIL for a group not joined).
pub(crate) fn sock_leave_multicast_v4(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    group: u32,
    iface: u32,
) -> Result<(), Errno> {
    multicast_v4(ctx, fd, read_ip4(mem, group)?, read_ip4(mem, iface)?, false)
}

/// `sock_join_multicast_v6(fd, *group, iface)`: IPV6_ADD_MEMBERSHIP on interface index
/// `iface`; errors as [`sock_join_multicast_v4`].
pub(crate) fn sock_join_multicast_v6(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    group: u32,
    iface: u32,
) -> Result<(), Errno> {
    multicast_v6(ctx, fd, read_ip6(mem, group)?, iface, true)
}

/// `sock_leave_multicast_v6`: IPV6_DROP_MEMBERSHIP; errors as [`sock_join_multicast_v4`].
pub(crate) fn sock_leave_multicast_v6(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    group: u32,
    iface: u32,
) -> Result<(), Errno> {
    multicast_v6(ctx, fd, read_ip6(mem, group)?, iface, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_ip_puts_octets_after_tag_and_pad() {
        let v4 = encode_ip(&"10.1.2.3".parse().unwrap());
        assert_eq!((v4.tag, &v4.addr[..4]), (1, &[10, 1, 2, 3][..]));
        let v6 = encode_ip(&"::1".parse().unwrap());
        assert_eq!((v6.tag, v6.addr[15]), (2, 1));
    }
}
