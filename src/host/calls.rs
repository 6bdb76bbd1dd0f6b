//! How a host call runs: a `tracing` span, the calling instance's memory and the context, the
//! `--profile` entry, and the body's `Result<_, Errno>` turned into the errno the guest gets.

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;

/// Declares the host calls of one namespace and generates the function that defines them all
/// in a [`crate::Linker`]: the one place where a call is added.
///
/// ```text
/// host_calls! {
///     /// Defines every call of the namespace.
///     pub fn add_to_linker(namespace = "wasix_32v1") {
///         call "fd_dup" => fdx::fd_dup(fd: u32, out: u32) [fd];
///         call "sock_accept_v2" | "sock_accept" => sock::accept(fd: u32, ...) [fd];
///         raw "proc_exit2" => proc::exit(code: u32);
///     }
/// }
/// ```
///
/// A `call` entry: the name the guest imports, then aliases (each defined under, traced under
/// and profiled under its own name), the body and its typed wasm parameters, and the
/// parameters recorded on the call's `tracing` span. The body is a plain function
/// `fn(&mut WasiCtx, &mut GuestMemory, params...) -> Result<(), Errno>`; it runs through
/// [`errno_call`], which gives the guest its errno. A `raw` entry's body gets the [`Caller`] and
/// returns what the wasm function returns (`proc_exit` ends the program with an error).
macro_rules! host_calls {
    (
        $(#[$doc:meta])*
        $vis:vis fn $register:ident(namespace = $ns:expr) {
            $(
                $how:ident $name:literal $(| $alias:literal)* => $($body:ident)::+
                    ( $($arg:ident : $ty:ty),* ) $([ $($field:ident),* ])? ;
            )*
        }
    ) => {
        $(#[$doc])*
        $vis fn $register(
            linker: &mut $crate::api::Linker<$crate::host::WasiCtx>,
        ) -> $crate::error::Result<()> {
            $(
                $crate::host::calls::host_call_entry!(
                    $how, linker, $ns, [$name $(, $alias)*], $($body)::+,
                    ( $($arg : $ty),* ), [ $($($field),*)? ]
                );
            )*
            Ok(())
        }
    };
}
pub(crate) use host_calls;

/// One entry of [`host_calls!`], defined under each of its names.
macro_rules! host_call_entry {
    (call, $linker:ident, $ns:expr, [$($name:literal),+], $body:path, $args:tt, $fields:tt) => {
        $( $crate::host::calls::host_call_entry!(@call $linker, $ns, $name, $body, $args, $fields); )+
    };
    (raw, $linker:ident, $ns:expr, [$($name:literal),+], $body:path, $args:tt, $fields:tt) => {
        $( $crate::host::calls::host_call_entry!(@raw $linker, $ns, $name, $body, $args); )+
    };
    (@call $linker:ident, $ns:expr, $name:literal, $body:path,
        ( $($arg:ident : $ty:ty),* ), [ $($field:ident),* ]) => {
        $linker.func_wrap(
            $ns,
            $name,
            |mut caller: $crate::api::Caller<'_, $crate::host::WasiCtx>, $($arg: $ty),*| {
                // With tracing off the span is a disabled callsite: one relaxed atomic load.
                let span = tracing::trace_span!(
                    $name,
                    $($field = $field,)*
                    errno = tracing::field::Empty,
                    nbytes = tracing::field::Empty
                );
                let _entered = span.enter();
                $crate::host::calls::errno_call(&mut caller, $name, &span, |ctx, mem| {
                    $body(ctx, mem, $($arg),*)
                })
            },
        )?;
    };
    (@raw $linker:ident, $ns:expr, $name:literal, $body:path, ( $($arg:ident : $ty:ty),* )) => {
        $linker.func_wrap(
            $ns,
            $name,
            |caller: $crate::api::Caller<'_, $crate::host::WasiCtx>, $($arg: $ty),*| {
                $body(caller, $($arg),*)
            },
        )?;
    };
}
pub(crate) use host_call_entry;

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
