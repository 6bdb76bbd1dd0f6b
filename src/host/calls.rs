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
///     pub fn add_to_linker(namespace = NAMESPACE) {
///         ctx "fd_dup" => fd_extras::fd_dup(fd: u32) -> out: u32 [fd];
///         mem "fd_pipe" => fd_extras::fd_pipe(out_a: u32, out_b: u32);
///         mem "sock_accept_v2" | "sock_accept" => sockets::sock_accept_v2(fd: u32, ...) [fd];
///         caller "proc_exit2" => proc::proc_exit2(code: u32);
///     }
/// }
/// ```
///
/// Each entry gives the name the guest imports, then its aliases (each defined, traced and
/// profiled under its own name), the body with the call's typed wasm parameters, optionally
/// the output pointer parameter and the type written there, and the parameters recorded on the
/// call's `tracing` span. Bodies are plain functions returning `Result<T, Errno>`:
/// - `ctx`: `fn(&mut WasiCtx, params...)`, for calls that touch no guest memory but the output;
/// - `mem`: `fn(&mut WasiCtx, &mut GuestMemory, params...)`, for calls that read or write it;
/// - with `-> out: T`, the output pointer is checked before the body runs (a bad pointer fails
///   with no effect) and the body's `T` is written there ([`GuestOut`]);
/// - `caller`: `fn(Caller, params...)` returning what the wasm function returns (`proc_exit`
///   ends the program with an error).
///
/// Everything but `caller` runs through [`errno_call`], which gives the guest its errno.
macro_rules! host_calls {
    (
        $(#[$doc:meta])*
        $vis:vis fn $register:ident(namespace = $ns:expr) {
            $(
                $how:ident $name:literal $(| $alias:literal)* => $($body:ident)::+
                    ( $($arg:ident : $ty:ty),* ) $(-> $out:ident : $oty:ty)?
                    $([ $($field:ident),* ])? ;
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
                    ( $($arg : $ty),* ), ( $($out : $oty)? ), [ $($($field),*)? ]
                );
            )*
            Ok(())
        }
    };
}
pub(crate) use host_calls;

/// One entry of [`host_calls!`], defined under each of its names.
macro_rules! host_call_entry {
    ($how:ident, $linker:ident, $ns:expr, [$($name:literal),+], $body:path, $args:tt, $out:tt,
        $fields:tt) => {
        $( $crate::host::calls::host_call_entry!(@$how $linker, $ns, $name, $body, $args, $out,
            $fields); )+
    };
    (@caller $linker:ident, $ns:expr, $name:literal, $body:path, ( $($arg:ident : $ty:ty),* ),
        (), $fields:tt) => {
        $linker.func_wrap(
            $ns.name,
            $name,
            |caller: $crate::api::Caller<'_, $crate::host::WasiCtx>, $($arg: $ty),*| {
                $body(caller, $($arg),*)
            },
        )?;
    };
    (@$how:ident $linker:ident, $ns:expr, $name:literal, $body:path,
        ( $($arg:ident : $ty:ty),* ), ( $($out:ident : $oty:ty)? ), [ $($field:ident),* ]) => {
        $linker.func_wrap(
            $ns.name,
            $name,
            |mut caller: $crate::api::Caller<'_, $crate::host::WasiCtx>,
             $($arg: $ty,)* $($out: u32)?| {
                // With tracing off the span is a disabled callsite: one relaxed atomic load.
                let span = tracing::trace_span!(
                    $name,
                    $($field = $field,)*
                    errno = tracing::field::Empty,
                    nbytes = tracing::field::Empty,
                    wait_ns = tracing::field::Empty
                );
                let _entered = span.enter();
                static SITE: $crate::host::timeline::Site =
                    $crate::host::timeline::Site::new($name, &[$(stringify!($field)),*]);
                let fields = [$($field as u64),*];
                #[allow(unused_variables)] // `ctx` bodies take no memory
                $crate::host::calls::errno_call(&mut caller, &$ns, &SITE, &fields, &span, |ctx, mem| {
                    $(
                        let $out = $crate::host::memory::GuestPtr::<$oty>::new($out);
                        $out.check_out(mem)?;
                    )?
                    let _value = $crate::host::calls::host_call_entry!(
                        @invoke $how, $body, ctx, mem, ($($arg),*)
                    )?;
                    $( $out.write_out(mem, _value)?; )?
                    Ok(())
                })
            },
        )?;
    };
    (@invoke ctx, $body:path, $ctx:ident, $mem:ident, ($($arg:ident),*)) => {
        $body($ctx, $($arg),*)
    };
    (@invoke mem, $body:path, $ctx:ident, $mem:ident, ($($arg:ident),*)) => {
        $body($ctx, $mem, $($arg),*)
    };
}
pub(crate) use host_call_entry;

/// A value a host call writes to the guest's output pointer.
pub trait GuestOut {
    /// Bytes it takes in guest memory.
    const SIZE: u32;
    /// Writes it at `ptr` (already checked to hold `SIZE` bytes).
    fn write_to(self, mem: &mut GuestMemory, ptr: u32) -> std::result::Result<(), Errno>;
}

/// Output pointers of host calls: checked before the body runs, written after.
impl<T: GuestOut> crate::host::memory::GuestPtr<T> {
    /// Checks that the `T` fits in memory at this address.
    #[inline(always)]
    pub fn check_out(self, mem: &GuestMemory) -> std::result::Result<(), Errno> {
        mem.check(self.addr(), T::SIZE)
    }
    /// Writes `value` at this address.
    #[inline(always)]
    pub fn write_out(self, mem: &mut GuestMemory, value: T) -> std::result::Result<(), Errno> {
        value.write_to(mem, self.addr())
    }
}

impl GuestOut for () {
    const SIZE: u32 = 0;
    fn write_to(self, _: &mut GuestMemory, _: u32) -> std::result::Result<(), Errno> {
        Ok(())
    }
}

macro_rules! guest_out_int {
    ($($t:ty),*) => {$(
        impl GuestOut for $t {
            const SIZE: u32 = std::mem::size_of::<$t>() as u32;
            fn write_to(self, mem: &mut GuestMemory, ptr: u32) -> std::result::Result<(), Errno> {
                mem.write_bytes(ptr, &self.to_le_bytes())
            }
        }
    )*};
}
guest_out_int!(u8, u16, u32, u64);

/// A WASI `bool`: one byte, 0 or 1.
impl GuestOut for bool {
    const SIZE: u32 = 1;
    fn write_to(self, mem: &mut GuestMemory, ptr: u32) -> std::result::Result<(), Errno> {
        mem.write_u8(ptr, self as u8)
    }
}

/// A namespace of host calls, and the rules its calls follow where namespaces differ.
pub struct Namespace {
    /// The module name guests import from.
    pub name: &'static str,
    /// The errno for guest memory a call cannot reach, for a program that is not a WASIX
    /// program ([`crate::host::ctx::Process::wasix_program`]). A WASIX program always gets
    /// WASIX's MEMVIOLATION (78), which wasix-libc expects; preview 1's errno enum ends at
    /// NOTCAPABLE (76), so its calls give FAULT (21) to a preview 1 program (the host-call
    /// fuzzer requires every errno a call returns to be one its namespace's header defines).
    pub memory_fault: Errno,
}

impl Namespace {
    /// The namespace `name` whose calls answer `memory_fault` for memory they cannot reach.
    pub const fn new(name: &'static str, memory_fault: Errno) -> Namespace {
        Namespace { name, memory_fault }
    }
}

/// The errno for guest memory a call of `namespace` cannot reach ([`Namespace::memory_fault`]).
fn memory_fault(namespace: &Namespace, ctx: &WasiCtx) -> Errno {
    if ctx.process.wasix_program() {
        Errno::MEMVIOLATION
    } else {
        namespace.memory_fault
    }
}

/// Runs a host call body with the context and the caller's memory, and turns its outcome into
/// the errno the guest gets. Then, in this order: a program ended by another thread ends this
/// one too ([`Error::Exit`] with the program's status); a SIGINT/SIGTERM that arrived during
/// the call goes to the program's handler, or ends it with 128 + the signal number (as a
/// shell reports it); a signal sent to this thread (`thread_signal`) is delivered. Memory the
/// call cannot reach is reported as its namespace defines it ([`memory_fault`]). `site` names
/// the call and the arguments it shows in `--profile` and the views (their values: `fields`).
// Inlined into each call's wrapper: the bookkeeping then costs no call of its own.
#[inline(always)]
pub(crate) fn errno_call(
    caller: &mut Caller<'_, WasiCtx>,
    namespace: &Namespace,
    site: &'static crate::host::timeline::Site,
    fields: &[u64],
    span: &tracing::Span,
    body: impl FnOnce(&mut WasiCtx, &mut GuestMemory) -> std::result::Result<(), Errno>,
) -> Result<i32> {
    let Some((mut mem, ctx)) = GuestMemory::of_caller(caller) else {
        return Ok(memory_fault(namespace, caller.data()).0 as i32);
    };
    let start = ctx.process.profile.is_some().then(std::time::Instant::now);
    let traced = crate::host::timeline::enabled().then(crate::host::timeline::now);
    let sampled = ctx.process.guest_profiler.is_some();
    if sampled {
        crate::vm::sampler::enter_host_call(Some(site.name_ref()));
    }
    let r = match body(ctx, &mut mem) {
        Err(Errno::MEMVIOLATION) => Err(memory_fault(namespace, ctx)),
        r => r,
    };
    if sampled {
        crate::vm::sampler::enter_host_call(None);
    }
    // Time blocked waiting for readiness, a futex or a thread is reported apart from work.
    let waited = ctx.waiter.take_waited();
    if let Some(start) = start {
        ctx.record_call(site.name(), start.elapsed().as_nanos() as u64, waited);
    }
    if !span.is_disabled() {
        if waited > 0 {
            span.record("wait_ns", waited);
        }
        span.record("errno", r.err().map_or(0, |e| e.0));
    }
    let errno = match r {
        Ok(()) => 0,
        Err(e) => e.0 as i32,
    };
    if let Some(start) = traced {
        crate::host::timeline::call(site, start, fields, errno as u16);
    }
    if ctx.process.stop.requested_for(ctx.thread.tid) {
        if let Some(end) = ctx.process.threads.ended() {
            return Err(Error::Exit(end.code));
        }
        if let Some(sig) = ctx.process.stop.pending_signal() {
            // A program that receives signals takes it: its handler runs now (or the signal's
            // default action ends it) and the call returns as it did, typically INTR.
            if ctx.process.signal_callback().is_none() {
                return Err(Error::Exit(128 + sig));
            }
            if ctx.process.stop.take_signal().is_some() {
                crate::vm::waitqueue::clear_interrupt();
                crate::host::signals::deliver(caller, sig as u32)?;
            }
        }
    }
    deliver_pending(caller)?;
    Ok(errno)
}

/// Records the bytes a call moved on its `tracing` span; nothing when TRACE is off (looking up
/// the current span would cost more than the rest of the call's bookkeeping).
pub(crate) fn record_nbytes(n: u64) {
    if crate::host::timeline::enabled() {
        crate::host::timeline::set_nbytes(n);
    }
    if tracing::enabled!(tracing::Level::TRACE) {
        tracing::Span::current().record("nbytes", n);
    }
}

/// Delivers the signals sent to the calling thread by `thread_signal`.
pub(crate) fn deliver_pending(caller: &mut Caller<'_, WasiCtx>) -> Result<()> {
    while caller.data().thread.has_pending() {
        let Some(sig) = caller.data().thread.take_signal() else {
            break;
        };
        crate::host::signals::deliver(caller, sig)?;
    }
    Ok(())
}
