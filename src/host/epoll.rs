//! Guest epoll instances (WASIX `epoll_create/ctl/wait`), each backed by one host epoll, so
//! that level- and edge-triggered modes, EPOLLONESHOT and "more ready than `maxevents`" are
//! the kernel's own (`docs/abi.md`, Semantics: Linux where wasmer differs).
//!
//! The host epoll knows host fds; this table maps each registered host fd back to the guest's
//! fd and the 24 bytes of data the guest registered, which `epoll_wait` returns unchanged.

use crate::host::abi::{epoll as bits, EpollData, EpollEvent};
use crate::host::errno::Errno;
use crate::host::fdtable::HostFd;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use rustix::event::epoll::{self, EventData, EventFlags};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// One registration: the guest fd, its data, and which host resource it was made for (a host
/// fd number can be reused after its resource closed, which drops the kernel's registration).
struct Registration {
    resource: usize,
    data: EpollData,
}

/// A guest epoll instance.
pub struct Epoll {
    fd: OwnedFd,
    regs: Mutex<FxHashMap<RawFd, Registration>>,
}

/// Host events one wait takes on the stack; a larger `maxevents` allocates.
const STACK_EVENTS: usize = 64;

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Each guest `epoll_type` bit and the host flag it stands for.
const BITS: [(u32, EventFlags); 8] = [
    (bits::IN, EventFlags::IN),
    (bits::OUT, EventFlags::OUT),
    (bits::RDHUP, EventFlags::RDHUP),
    (bits::PRI, EventFlags::PRI),
    (bits::ERR, EventFlags::ERR),
    (bits::HUP, EventFlags::HUP),
    (bits::ET, EventFlags::ET),
    (bits::ONESHOT, EventFlags::ONESHOT),
];

/// Host epoll flags for the guest's `epoll_type` bits.
fn host_flags(events: u32) -> EventFlags {
    BITS.iter()
        .filter(|(guest, _)| events & guest != 0)
        .fold(EventFlags::empty(), |f, (_, host)| f | *host)
}

/// The guest's `epoll_type` bits for the events the host reported.
fn guest_events(f: EventFlags) -> u32 {
    BITS.iter()
        .filter(|(_, host)| f.contains(*host))
        .fold(0, |e, (guest, _)| e | guest)
}

/// Which host resource `h` is: the address of its shared allocation (stdio: the fd).
fn resource_of(h: &HostFd) -> usize {
    match h {
        HostFd::Stdio(fd) => *fd as usize,
        HostFd::Shared(a) => std::sync::Arc::as_ptr(a) as *const () as usize,
    }
}

fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_io(&e.into())
}

impl Epoll {
    /// A new instance. Errors: the host's (`MFILE`, `NOMEM`).
    pub fn new() -> Result<Epoll, Errno> {
        let fd = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(errno)?;
        Ok(Epoll {
            fd,
            regs: Mutex::default(),
        })
    }

    /// `epoll_ctl(op, target, event)` for the guest fd whose host fd is `target` (Linux
    /// semantics, epoll_ctl(2); `op` as [`crate::host::abi::epoll`] says). Errors: `EXIST`
    /// (ADD of a registered fd), `NOENT` (MOD or DEL of one that is not), `PERM` (the host
    /// cannot poll it: a regular file), `INVAL` (an unknown op), `FAULT` (ADD or MOD without
    /// an event).
    pub fn ctl(&self, op: u32, target: &HostFd, event: Option<EpollEvent>) -> Result<(), Errno> {
        let h = target.as_fd().as_raw_fd();
        let resource = resource_of(target);
        let mut regs = self.regs.lock();
        // A registration of a host fd number whose resource has closed is gone from the host
        // epoll already: forget it.
        if regs.get(&h).is_some_and(|r| r.resource != resource) {
            regs.remove(&h);
        }
        let key = EventData::new_u64(h as u64);
        match (op, event) {
            (bits::CTL_ADD | bits::CTL_ADD_HEADER, Some(ev)) => {
                if regs.contains_key(&h) {
                    return Err(Errno::EXIST);
                }
                epoll::add(&self.fd, target, key, host_flags(ev.events)).map_err(errno)?;
                regs.insert(
                    h,
                    Registration {
                        resource,
                        data: ev.data,
                    },
                );
            }
            (bits::CTL_MOD, Some(ev)) => {
                let reg = regs.get_mut(&h).ok_or(Errno::NOENT)?;
                epoll::modify(&self.fd, target, key, host_flags(ev.events)).map_err(errno)?;
                reg.data = ev.data;
            }
            (bits::CTL_DEL, _) => {
                regs.remove(&h).ok_or(Errno::NOENT)?;
                // The host fd may be registered no more (its resource closed and reopened
                // under another guest fd is handled above); nothing else can fail here.
                let _ = epoll::delete(&self.fd, target);
            }
            (bits::CTL_ADD | bits::CTL_ADD_HEADER | bits::CTL_MOD, None) => {
                return Err(Errno::FAULT)
            }
            _ => return Err(Errno::INVAL),
        }
        Ok(())
    }

    /// The events ready now, at most `max`, each passed to `out` with the guest's data (in
    /// the kernel's order); returns how many. One `epoll_wait(2)` that does not block, into a
    /// buffer on the stack.
    pub fn ready(
        &self,
        max: usize,
        mut out: impl FnMut(usize, EpollEvent) -> Result<(), Errno>,
    ) -> Result<usize, Errno> {
        let mut stack = [MaybeUninit::<epoll::Event>::uninit(); STACK_EVENTS];
        let mut heap;
        let space: &mut [MaybeUninit<epoll::Event>] = if max <= STACK_EVENTS {
            &mut stack[..max]
        } else {
            heap = vec![MaybeUninit::uninit(); max];
            &mut heap
        };
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let host: &[epoll::Event] = loop {
            match epoll::wait(&self.fd, &mut *space, Some(&zero)) {
                Ok((events, _)) => break events,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(errno(e)),
            }
        };
        let regs = self.regs.lock();
        let mut n = 0;
        for ev in host {
            let h = ev.data.u64() as RawFd;
            // Unregistered by another thread since the kernel reported it: dropped.
            let Some(reg) = regs.get(&h) else {
                continue;
            };
            out(
                n,
                EpollEvent {
                    events: guest_events(ev.flags),
                    _pad: 0,
                    data: reg.data,
                },
            )?;
            n += 1;
        }
        Ok(n)
    }
}
