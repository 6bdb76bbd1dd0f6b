//! How a host call runs: a `tracing` span, the calling instance's memory and the context, the
//! `--profile` entry, and the body's `Result<_, Errno>` turned into the errno the guest gets.

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;

/// Wraps a host call body: a `tracing` span named after the call with its key arguments and,
/// when it closes, the errno (and byte count where there is one); then [`errno_call`].
/// With tracing off the span is a disabled callsite: one relaxed atomic load.
macro_rules! host_call {
    ($caller:expr, $name:literal, [$($field:ident),*], $body:expr) => {{
        let span = tracing::trace_span!(
            $name,
            $($field = $field,)*
            errno = tracing::field::Empty,
            nbytes = tracing::field::Empty
        );
        let _entered = span.enter();
        $crate::host::calls::errno_call($caller, $name, &span, $body)
    }};
}
pub(crate) use host_call;

/// Runs a host call body with the context and the caller's memory, and turns its outcome into
/// the errno the guest gets. A stop request (SIGINT/SIGTERM) during the call ends the guest
/// with [`Error::Exit`] (128 + signal number, as a shell reports it).
pub(crate) fn errno_call(
    caller: &mut Caller<'_, WasiCtx>,
    name: &'static str,
    span: &tracing::Span,
    body: impl FnOnce(&mut WasiCtx, &mut GuestMemory) -> std::result::Result<(), Errno>,
) -> Result<i32> {
    let Some((bytes, ctx)) = caller.memory_and_data() else {
        return Ok(Errno::MEMVIOLATION.0 as i32);
    };
    let mut mem = GuestMemory::new(bytes);
    let r = match ctx.profile.as_mut() {
        None => body(ctx, &mut mem),
        Some(_) => {
            let start = std::time::Instant::now();
            let r = body(ctx, &mut mem);
            let ns = start.elapsed().as_nanos() as u64;
            if let Some(p) = ctx.profile.as_mut() {
                p.record(name, ns);
            }
            r
        }
    };
    span.record("errno", r.err().map_or(0, |e| e.0));
    if let Some(sig) = ctx.waiter.stop_signal() {
        return Err(Error::Exit(128 + sig));
    }
    Ok(match r {
        Ok(()) => 0,
        Err(e) => e.0 as i32,
    })
}
