//! Turning hardware faults in wasm code into traps.
//!
//! A handler for SIGSEGV, SIGBUS, SIGILL and SIGFPE is installed once, runs on an alternate
//! signal stack, and looks the faulting PC up in the code registry. A fault at a recorded trap
//! site of wasm code jumps back (siglongjmp, `helpers.c`) to the host's entry into wasm, which
//! then reports the trap. Any other fault is passed on to the handler installed before ours,
//! so genuine crashes of the host stay crashes.

use crate::vm::code;
use std::cell::Cell;
use std::ffi::c_void;
use std::sync::Once;

extern "C" {
    fn wasixrt_catch(
        slot: *mut *mut c_void,
        body: extern "C" fn(*mut c_void),
        payload: *mut c_void,
    ) -> i32;
    fn wasixrt_unwind(buf: *mut c_void) -> !;
}

thread_local! {
    /// Jump buffer of the innermost host-to-wasm entry on this thread (null outside wasm).
    static JMP_BUF: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
    /// The last trap caught on this thread.
    static TRAPPED: Cell<Trapped> = const { Cell::new(Trapped { pc: 0, signal: 0 }) };
    static ALT_STACK: AltStack = const { AltStack::new() };
    /// Lowest usable address of this thread's stack (0 until asked).
    static STACK_LOW: Cell<usize> = const { Cell::new(0) };
}

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];
/// The handlers installed before ours, to pass on faults that are not wasm traps.
struct Previous([libc::sigaction; 4]);
// SAFETY: written once before being shared, then only read.
unsafe impl Sync for Previous {}
unsafe impl Send for Previous {}
static PREVIOUS: std::sync::OnceLock<Previous> = std::sync::OnceLock::new();
static INSTALL: Once = Once::new();

/// Size of the alternate signal stack each thread that runs wasm gets.
const ALT_STACK_SIZE: usize = 64 * 1024;

struct AltStack {
    mapping: Cell<*mut c_void>,
}

impl AltStack {
    const fn new() -> AltStack {
        AltStack {
            mapping: Cell::new(std::ptr::null_mut()),
        }
    }
    fn ensure(&self) {
        if !self.mapping.get().is_null() {
            return;
        }
        // SAFETY: querying and setting this thread's alternate stack; the new stack is a fresh
        // mapping that stays alive until the thread-local is dropped at thread exit.
        unsafe {
            let mut old: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut old);
            if old.ss_flags & libc::SS_DISABLE == 0 && old.ss_size >= ALT_STACK_SIZE {
                return;
            }
            let p = libc::mmap(
                std::ptr::null_mut(),
                ALT_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return;
            }
            let st = libc::stack_t {
                ss_sp: p,
                ss_flags: 0,
                ss_size: ALT_STACK_SIZE,
            };
            libc::sigaltstack(&st, std::ptr::null_mut());
            self.mapping.set(p);
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let p = self.mapping.get();
        if p.is_null() {
            return;
        }
        // SAFETY: disable the alternate stack before unmapping the memory it points to.
        unsafe {
            let st = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&st, std::ptr::null_mut());
            libc::munmap(p, ALT_STACK_SIZE);
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: all-zero is a valid sigaction (SIG_DFL, empty mask).
        let mut previous: [libc::sigaction; 4] = unsafe { std::mem::zeroed() };
        for (i, sig) in SIGNALS.iter().enumerate() {
            // SAFETY: installing a SA_SIGINFO handler; the previous action is kept so that
            // faults outside wasm code go to it.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = handler as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut act.sa_mask);
                libc::sigaction(*sig, &act, &mut previous[i]);
            }
        }
        let _ = PREVIOUS.set(Previous(previous));
    });
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pc_of(ctx: *mut c_void) -> usize {
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    unsafe {
        (*(ctx as *const libc::ucontext_t)).uc_mcontext.gregs[libc::REG_RIP as usize] as usize
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let pc = pc_of(ctx);
    let jmp = JMP_BUF.with(|j| j.get());
    if !jmp.is_null() {
        // SIGFPE from a hardware divide has no trap record; any fault at a trap site is ours.
        // The `Arc` of the code's metadata is dropped here, before the unwind: the longjmp
        // skips destructors, and a reference left behind would leak the metadata per trap.
        let ours = code::lookup(pc).is_some_and(|code| {
            code.trap_at(pc).is_some() || (sig == libc::SIGFPE && code.func_at(pc).is_some())
        });
        if ours {
            TRAPPED.with(|t| t.set(Trapped { pc, signal: sig }));
            // SAFETY: `jmp` is the live buffer of the innermost `catch` on this thread;
            // only wasm frames and trampolines are between it and here, and this handler
            // holds nothing that needs dropping.
            unsafe { wasixrt_unwind(jmp) }
        }
    }
    // Not a wasm trap: hand the signal to whoever handled it before us.
    let i = SIGNALS.iter().position(|s| *s == sig).unwrap_or(0);
    // SAFETY: zeroed is SIG_DFL, used if a fault arrives before installation completed.
    let default: libc::sigaction = unsafe { std::mem::zeroed() };
    let prev = PREVIOUS.get().map(|p| &p.0[i]).unwrap_or(&default);
    // SAFETY: `prev` is the action that was installed before ours: SIG_DFL/SIG_IGN, or a
    // handler of the kind its flags say.
    unsafe {
        if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
            // Restore the default action; returning re-executes the faulting instruction.
            libc::sigaction(sig, prev, std::ptr::null_mut());
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                std::mem::transmute(prev.sa_sigaction);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
            f(sig);
        }
    }
}

/// Where and how wasm code stopped: a fault, or a libcall that unwound to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trapped {
    /// Address of the faulting instruction; 0 after [`unwind_to_host`].
    pub pc: usize,
    /// The signal (`SIGSEGV`, `SIGFPE`, ...); 0 after [`unwind_to_host`].
    pub signal: libc::c_int,
}

/// Runs `f` (which enters wasm code) so that a trap in it returns `Err` with where it stopped.
/// `f` must not unwind (panic).
pub fn catch_traps<F: FnMut()>(mut f: F) -> Result<(), Trapped> {
    install();
    ALT_STACK.with(|a| a.ensure());
    extern "C" fn body<F: FnMut()>(p: *mut c_void) {
        // SAFETY: `p` is the `&mut F` passed below, alive for the whole call.
        let f = unsafe { &mut *(p as *mut F) };
        f();
    }
    let slot = JMP_BUF.with(|j| j.as_ptr());
    // SAFETY: `slot` is this thread's jump-buffer slot; `body::<F>` matches the payload type.
    let ok = unsafe { wasixrt_catch(slot, body::<F>, &mut f as *mut F as *mut c_void) };
    if ok == 1 {
        Ok(())
    } else {
        Err(TRAPPED.with(|t| t.get()))
    }
}

/// Returns to the innermost host entry into wasm on this thread as if the code had trapped at
/// no known site (`invoke::invoke` then reports the store's pending error).
///
/// # Safety
/// Must be called from a libcall of wasm code entered through `catch_traps`, with nothing on
/// the stack between here and that entry that needs dropping.
pub unsafe fn unwind_to_host() -> ! {
    let jmp = JMP_BUF.with(|j| j.get());
    TRAPPED.with(|t| t.set(Trapped { pc: 0, signal: 0 }));
    // SAFETY: per the contract, `jmp` is the live buffer of the innermost `catch_traps`.
    unsafe { wasixrt_unwind(jmp) }
}

/// The stack limit for wasm code entered now: at most `max_stack` bytes below the current
/// stack pointer, and never closer than `reserve` bytes to the end of the thread's stack.
pub fn stack_limit(max_stack: usize, reserve: usize) -> usize {
    let here = &max_stack as *const usize as usize;
    let low = STACK_LOW.with(|s| {
        if s.get() == 0 {
            s.set(thread_stack_low().unwrap_or(0));
        }
        s.get()
    });
    here.saturating_sub(max_stack).max(low + reserve)
}

fn thread_stack_low() -> Option<usize> {
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (r == 0).then_some(addr as usize)
    }
}
