//! `tty_get` / `tty_set`: the terminal behind the program's stdio, as wasix-libc's termios
//! functions (`tcgetattr`, `tcsetattr`, `tcgetwinsize`, `ttyname`) read and change it.
//! Layout: `__wasi_tty_t` in `api_wasix.h` ([`Tty`]).

use crate::host::abi::Tty;
use crate::host::errno::Errno;
use crate::host::fdtable::FdKind;
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::WasiCtx;
use std::os::fd::RawFd;

/// The host terminals behind guest fds 0, 1 and 2 (`None` for one that is not a host
/// terminal: a file, a pipe, a guest fd moved over it, a closed fd).
fn stdio_ttys(ctx: &mut WasiCtx) -> [Option<RawFd>; 3] {
    let fds = ctx.fds_read();
    [0, 1, 2].map(|fd| match fds.get(fd).map(|e| &e.kind) {
        // SAFETY: isatty takes no pointers.
        Ok(FdKind::Stdio(h)) if unsafe { libc::isatty(*h) } == 1 => Some(*h),
        _ => None,
    })
}

/// The terminal's window size, if `fd` has one (TIOCGWINSZ).
fn window_size(fd: RawFd) -> Option<libc::winsize> {
    // SAFETY: an all-zero winsize is valid; the ioctl writes one winsize to it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0).then_some(ws)
    }
}

/// The terminal's modes (tcgetattr).
fn modes(fd: RawFd) -> Result<libc::termios, Errno> {
    // SAFETY: an all-zero termios is valid; tcgetattr writes one to it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(Errno::from_io(&std::io::Error::last_os_error()));
        }
        Ok(t)
    }
}

/// `tty_get(*state)`: which of stdin, stdout and stderr are terminals, the size of the first of
/// stdout, stdin, stderr that is one (columns, rows, pixels; 0 when none is), and stdin's
/// modes: `echo` (ECHO), `line_buffered` (ICANON), `line_feeds` (IGNCR, as wasix-libc's
/// tcsetattr maps it); all false when stdin is no terminal. Errors: MEMVIOLATION (checked
/// first); the host's errno if stdin's modes cannot be read.
pub(crate) fn tty_get(ctx: &mut WasiCtx) -> Result<Tty, Errno> {
    let ttys = stdio_ttys(ctx);
    let mut out = Tty {
        stdin_tty: ttys[0].is_some() as u8,
        stdout_tty: ttys[1].is_some() as u8,
        stderr_tty: ttys[2].is_some() as u8,
        ..Tty::default()
    };
    if let Some(ws) = [ttys[1], ttys[0], ttys[2]]
        .into_iter()
        .flatten()
        .find_map(window_size)
    {
        out.cols = ws.ws_col.into();
        out.rows = ws.ws_row.into();
        out.width = ws.ws_xpixel.into();
        out.height = ws.ws_ypixel.into();
    }
    if let Some(fd) = ttys[0] {
        let t = modes(fd)?;
        out.echo = (t.c_lflag & libc::ECHO != 0) as u8;
        out.line_buffered = (t.c_lflag & libc::ICANON != 0) as u8;
        out.line_feeds = (t.c_iflag & libc::IGNCR != 0) as u8;
    }
    Ok(out)
}

/// `tty_set(*state)`: applies `echo`, `line_buffered` and `line_feeds` (see [`tty_get`]) to the
/// terminal on stdin at once (tcsetattr TCSANOW), and a changed window size to the terminal
/// [`tty_get`] reads it from (TIOCSWINSZ); the `*_tty` fields are facts and are not read.
/// Errors: MEMVIOLATION; NOTTY when stdin is not a terminal (POSIX tcsetattr); INVAL for a
/// `bool` other than 0 or 1; the host's errno.
pub(crate) fn tty_set(ctx: &mut WasiCtx, mem: &mut GuestMemory, state: u32) -> Result<(), Errno> {
    let want = GuestPtr::<Tty>::new(state).read(mem)?;
    if [want.echo, want.line_buffered, want.line_feeds]
        .iter()
        .any(|b| *b > 1)
    {
        return Err(Errno::INVAL);
    }
    let ttys = stdio_ttys(ctx);
    let fd = ttys[0].ok_or(Errno::NOTTY)?;
    let mut t = modes(fd)?;
    set_bit(&mut t.c_lflag, libc::ECHO, want.echo == 1);
    set_bit(&mut t.c_lflag, libc::ICANON, want.line_buffered == 1);
    set_bit(&mut t.c_iflag, libc::IGNCR, want.line_feeds == 1);
    // SAFETY: `t` is a termios read from this terminal.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    let sized = [ttys[1], ttys[0], ttys[2]].into_iter().flatten().next();
    if let Some(sfd) = sized {
        set_window_size(sfd, &want)?;
    }
    Ok(())
}

fn set_bit(flags: &mut libc::tcflag_t, bit: libc::tcflag_t, on: bool) {
    if on {
        *flags |= bit;
    } else {
        *flags &= !bit;
    }
}

/// Sets the window size of terminal `fd` to the one in `want`, if it differs.
fn set_window_size(fd: RawFd, want: &Tty) -> Result<(), Errno> {
    let narrow = |v: u32| u16::try_from(v).map_err(|_| Errno::INVAL);
    let ws = libc::winsize {
        ws_col: narrow(want.cols)?,
        ws_row: narrow(want.rows)?,
        ws_xpixel: narrow(want.width)?,
        ws_ypixel: narrow(want.height)?,
    };
    let now = window_size(fd);
    let same = now.is_some_and(|n| {
        (n.ws_col, n.ws_row, n.ws_xpixel, n.ws_ypixel)
            == (ws.ws_col, ws.ws_row, ws.ws_xpixel, ws.ws_ypixel)
    });
    // SAFETY: the ioctl reads one winsize.
    if !same && unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok(())
}
