//! Socket addresses as the guest reads and writes them: `addr_port` (api_wasix.h).

use crate::host::abi::{address_family, AddrPort};
use crate::host::calls::GuestOut;
use crate::host::errno::Errno;
use crate::host::memory::{GuestMemory, GuestPtr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Bytes of an `addr_port` as wasix-rt reads and writes it ([`AddrPort`]).
pub const ADDR_PORT_SIZE: u32 = std::mem::size_of::<AddrPort>() as u32;

/// Decodes a guest `addr_port` (INET4 or INET6; the port as a little-endian u16).
pub fn read_addr(mem: &GuestMemory, ptr: u32) -> Result<SocketAddr, Errno> {
    let a = GuestPtr::<AddrPort>::new(ptr).read(mem)?;
    let port = u16::from_le_bytes(a.port);
    match a.tag {
        address_family::INET4 => {
            let [a0, a1, a2, a3, ..] = a.addr;
            Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(a0, a1, a2, a3)),
                port,
            ))
        }
        address_family::INET6 => Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a.addr)), port)),
        _ => Err(Errno::INVAL),
    }
}

/// Encodes an `addr_port` as wasmer does: the port big-endian (`docs/abi.md`, the
/// port byte order).
pub fn encode_addr(addr: &SocketAddr) -> AddrPort {
    let mut a = AddrPort {
        port: addr.port().to_be_bytes(),
        ..AddrPort::default()
    };
    match addr.ip() {
        IpAddr::V4(ip) => {
            a.tag = address_family::INET4;
            a.addr[..4].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            a.tag = address_family::INET6;
            a.addr = ip.octets();
        }
    }
    a
}

/// 0.0.0.0:0, for outputs that have no address to report.
pub fn unspecified_v4() -> SocketAddr {
    unspecified(1)
}

pub(crate) fn unspecified(family: u8) -> SocketAddr {
    match family {
        address_family::INET6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    }
}

/// A socket address as the guest reads it: an `addr_port` (see [`encode_addr`]).
impl GuestOut for SocketAddr {
    const SIZE: u32 = ADDR_PORT_SIZE;
    fn write_to(self, mem: &mut GuestMemory, ptr: u32) -> Result<(), Errno> {
        mem.write(ptr, &encode_addr(&self))
    }
}
