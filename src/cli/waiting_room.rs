//! The connections `serve` accepted whose client has sent nothing yet, parked in one epoll
//! instance (epoll(7)) until their first bytes arrive or the client leaves. A connection
//! waiting there costs an fd and an entry, not a thread: a flood of connections that never
//! speak holds no threads, and making room for a new one closes the oldest parked connection
//! without waking anything. The epoll fd is readable while a parked client has sent or left
//! (level-triggered), so the thread waiting for connections waits for it beside the listener.

use parking_lot::Mutex;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::Timespec;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;

/// See the module doc. `T` is the connection: its fd is what epoll watches, and the room owns
/// it while it is parked.
pub struct WaitingRoom<T> {
    epoll: OwnedFd,
    state: Mutex<State<T>>,
}

struct State<T> {
    /// The parked connections by their epoll token, with when they were accepted.
    parked: HashMap<u64, (Instant, T)>,
    /// The tokens in the order the connections were accepted, oldest first.
    order: BTreeSet<(Instant, u64)>,
    next_token: u64,
}

/// What a connection's client has sent so far, seen without taking it (recv(2) with MSG_PEEK).
pub enum FirstBytes {
    /// At least one byte is there: its program can start.
    Arrived,
    /// Nothing yet.
    NotYet,
    /// End of stream or a reset: nothing for a program to read.
    Left,
}

/// Peeks at `conn` for its client's first byte, without waiting.
pub fn first_bytes(conn: BorrowedFd<'_>) -> FirstBytes {
    let peeked = rustix::net::recv(
        conn,
        &mut [0u8; 1],
        rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT,
    );
    match peeked {
        Ok((_, n)) if n > 0 => FirstBytes::Arrived,
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => FirstBytes::NotYet,
        _ => FirstBytes::Left,
    }
}

/// A parked connection the room let go of in [`WaitingRoom::take_ready`].
pub enum Woken<T> {
    /// Its client's first bytes have arrived: its program can start.
    Spoke(T),
    /// Its client closed or reset it without sending anything.
    Left(T),
}

impl<T: AsFd> WaitingRoom<T> {
    /// An empty room. Errors: epoll_create1(2)'s (EMFILE, ENFILE, ENOMEM).
    pub fn new() -> io::Result<WaitingRoom<T>> {
        Ok(WaitingRoom {
            epoll: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            state: Mutex::new(State {
                parked: HashMap::new(),
                order: BTreeSet::new(),
                next_token: 0,
            }),
        })
    }

    /// Parks `conn`, accepted at `accepted`, until its client sends or leaves. Errors:
    /// epoll_ctl(2)'s (ENOMEM, ENOSPC past `max_user_watches`), with the connection back.
    pub fn park(&self, accepted: Instant, conn: T) -> Result<(), (io::Error, T)> {
        let mut s = self.state.lock();
        let token = s.next_token;
        // Level-triggered: bytes that arrived before the registration are reported too.
        let flags = EventFlags::IN | EventFlags::RDHUP;
        if let Err(e) = epoll::add(&self.epoll, conn.as_fd(), EventData::new_u64(token), flags) {
            return Err((e.into(), conn));
        }
        s.next_token += 1;
        s.parked.insert(token, (accepted, conn));
        s.order.insert((accepted, token));
        Ok(())
    }

    /// How many connections are parked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state.lock().parked.len()
    }

    /// Takes out the connection parked longest if it was accepted at or before `cutoff`.
    pub fn take_oldest(&self, cutoff: Instant) -> Option<T> {
        let mut s = self.state.lock();
        let &(at, token) = s.order.first()?;
        (at <= cutoff).then(|| self.remove(&mut s, token))
    }

    /// Takes out every parked connection.
    pub fn take_all(&self) -> Vec<T> {
        let mut s = self.state.lock();
        let tokens: Vec<u64> = s.parked.keys().copied().collect();
        tokens.into_iter().map(|t| self.remove(&mut s, t)).collect()
    }

    /// Takes out one parked connection whose client has sent or left, if the kernel reports
    /// one now (no waiting); the others stay, and the room readable. Errors: epoll_wait(2)'s
    /// other than EINTR.
    pub fn take_ready(&self) -> io::Result<Option<Woken<T>>> {
        let mut event = [MaybeUninit::<epoll::Event>::uninit(); 1];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let ready = match epoll::wait(&self.epoll, &mut event, Some(&zero)) {
            Ok((ready, _)) => ready,
            Err(rustix::io::Errno::INTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(ev) = ready.first() else {
            return Ok(None);
        };
        let token = ev.data.u64();
        let mut s = self.state.lock();
        // Taken out by another thread since the kernel reported it.
        let Some((_, conn)) = s.parked.get(&token) else {
            return Ok(None);
        };
        let woken: fn(T) -> Woken<T> = match first_bytes(conn.as_fd()) {
            FirstBytes::Arrived => Woken::Spoke,
            FirstBytes::NotYet => return Ok(None),
            FirstBytes::Left => Woken::Left,
        };
        Ok(Some(woken(self.remove(&mut s, token))))
    }

    /// Unregisters and returns the connection of `token`, which is parked.
    fn remove(&self, s: &mut State<T>, token: u64) -> T {
        let (at, conn) = s.parked.remove(&token).expect("a parked token");
        s.order.remove(&(at, token));
        // Cannot fail for a registered fd; closing it would unregister it anyway.
        let _ = epoll::delete(&self.epoll, conn.as_fd());
        conn
    }
}

impl<T> AsFd for WaitingRoom<T> {
    /// The epoll fd: readable while a parked client has sent or left.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        (client, l.accept().unwrap().0)
    }

    fn wait_for(room: &WaitingRoom<TcpStream>) -> Option<Woken<TcpStream>> {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Some(woken) = room.take_ready().unwrap() {
                return Some(woken);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    #[test]
    fn a_client_that_speaks_or_leaves_is_let_go_and_the_others_stay() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let room = WaitingRoom::new().unwrap();
        let (mut speaker, s) = pair(&l);
        let (leaver, s2) = pair(&l);
        let (_silent, s3) = pair(&l);
        let t0 = Instant::now();
        for s in [s, s2, s3] {
            room.park(t0, s).map_err(|(e, _)| e).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            room.take_ready().unwrap().is_none(),
            "nobody has sent anything yet"
        );
        speaker.write_all(b"G").unwrap();
        assert!(matches!(wait_for(&room), Some(Woken::Spoke(_))));
        assert!(room.take_ready().unwrap().is_none(), "the others stay");
        drop(leaver);
        assert!(matches!(wait_for(&room), Some(Woken::Left(_))));
        assert_eq!(room.len(), 1);
        assert_eq!(room.take_all().len(), 1);
        assert_eq!(room.len(), 0);
    }

    #[test]
    fn the_oldest_goes_first_and_only_when_old_enough() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let room = WaitingRoom::new().unwrap();
        let t0 = Instant::now();
        let mut clients = Vec::new();
        let mut ports = Vec::new();
        for i in 0..3u64 {
            let (c, s) = pair(&l);
            ports.push(s.peer_addr().unwrap());
            clients.push(c);
            // Parked newest first: the order is the accept time, not the parking order.
            room.park(t0 + Duration::from_millis(10 * (3 - i)), s)
                .map_err(|(e, _)| e)
                .unwrap();
        }
        assert!(room.take_oldest(t0).is_none(), "none accepted that early");
        let first = room.take_oldest(t0 + Duration::from_millis(10)).unwrap();
        assert_eq!(first.peer_addr().unwrap(), ports[2]);
        assert_eq!(room.len(), 2);
    }
}
