//! `args_*` and `environ_*`: the program's argv and environment, as NUL-terminated strings
//! with a pointer table (`api_wasi.h`).

use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;

/// Writes a list of strings as WASI does for argv/environ: `count` u32 pointers at `ptrs`,
/// NUL-terminated strings packed at `buf`.
fn write_strings(
    mem: &mut GuestMemory,
    strings: &[String],
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    let total: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
    mem.check(
        ptrs,
        (strings.len() as u32)
            .checked_mul(4)
            .ok_or(Errno::MEMVIOLATION)?,
    )?;
    mem.check(buf, u32::try_from(total).map_err(|_| Errno::MEMVIOLATION)?)?;
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        mem.write_u32(ptrs + 4 * i as u32, at)?;
        mem.write_bytes(at, s.as_bytes())?;
        mem.write_u8(at + s.len() as u32, 0)?;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

fn sizes(mem: &mut GuestMemory, strings: &[String], count: u32, size: u32) -> Result<(), Errno> {
    mem.check(count, 4)?;
    mem.check(size, 4)?;
    mem.write_u32(count, strings.len() as u32)?;
    mem.write_u32(size, strings.iter().map(|s| s.len() as u32 + 1).sum())
}

fn env_strings(ctx: &WasiCtx) -> Vec<String> {
    ctx.process
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// `args_get`.
pub(crate) fn args_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    write_strings(mem, &ctx.process.args, ptrs, buf)
}

/// `args_sizes_get`.
pub(crate) fn args_sizes_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    count: u32,
    size: u32,
) -> Result<(), Errno> {
    sizes(mem, &ctx.process.args, count, size)
}

/// `environ_get`.
pub(crate) fn environ_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    write_strings(mem, &env_strings(ctx), ptrs, buf)
}

/// `environ_sizes_get`.
pub(crate) fn environ_sizes_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    count: u32,
    size: u32,
) -> Result<(), Errno> {
    sizes(mem, &env_strings(ctx), count, size)
}
