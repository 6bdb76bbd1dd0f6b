//! The stack snapshots of a program's `setjmp`s: WASIX `stack_checkpoint` and
//! `stack_restore`, which wasix-libc's `setjmp` and `longjmp` call (`include/wasi/api_wasix.h`,
//! `__wasi_stack_snapshot_t`). A snapshot is the main thread's wasm call stack as Binaryen's
//! asyncify unwound it (every frame's locals and where it was in its function) and the
//! `__stack_pointer` of the moment; the guest's `jmp_buf` holds only the snapshot's hash, by
//! which `stack_restore` finds it here. The calls are `crate::wasix::stack`'s, the unwinding
//! and rewinding the launcher's.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Most snapshots a program keeps: past it the oldest is forgotten, and a `longjmp` to it
/// ends the program with a message (a `jmp_buf` that old is almost surely dead).
pub const MAX_SNAPSHOTS: usize = 4096;

/// Most bytes of an unwind buffer: the saved locals of every frame on the stack.
const MAX_BUFFER: u32 = 1 << 20;

/// Fewest bytes worth unwinding into.
const MIN_BUFFER: u32 = 4096;

/// Where an asyncify unwind of the main thread's stack goes, `(start, end)`, for a stack
/// pointer `sp`: the unused part of that stack (wasm-ld puts it between `__data_end` and
/// `__heap_base`; below the stack pointer nothing is in use), at most 1 MiB, 16-byte aligned,
/// with a 256-byte red zone under `sp`. `None` when `sp` lies outside the stack or fewer than
/// 4 KiB are free.
pub fn unwind_region(sp: u32, data_end: u32, heap_base: u32) -> Option<(u32, u32)> {
    let start = data_end.div_ceil(16) * 16;
    let end = sp.saturating_sub(256) / 16 * 16;
    if sp > heap_base || sp < data_end || end < start + MIN_BUFFER {
        return None;
    }
    Some((start.max(end - MAX_BUFFER.min(end - start)), end))
}

/// One `setjmp`'s stack.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `__stack_pointer` when `setjmp` was called.
    pub stack_pointer: u32,
    /// The asyncify data of the unwound stack (what follows the 8-byte header of its buffer).
    pub data: Vec<u8>,
}

impl Snapshot {
    /// The 16 bytes by which the guest names the snapshot (`__wasi_hash_t`): the first half
    /// of blake3 of the stack pointer and the data, so that the same `setjmp` reached by the
    /// same path makes one snapshot, however often it is called.
    pub fn hash(&self) -> [u8; 16] {
        let mut h = blake3::Hasher::new();
        h.update(&self.stack_pointer.to_le_bytes());
        h.update(&self.data);
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        out
    }
}

/// A `stack_checkpoint` whose unwind is under way.
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint {
    /// The guest address of the asyncify buffer (header, then data).
    pub buffer: u32,
    /// Where the buffer ends (the unwound data never goes past it).
    pub end: u32,
    /// The guest address of the `__wasi_stack_snapshot_t` to fill in.
    pub snapshot: u32,
    /// `__stack_pointer` at the call.
    pub stack_pointer: u32,
}

/// A `stack_restore` to be carried out once the stack is left.
#[derive(Debug)]
pub struct Restore {
    pub snapshot: Arc<Snapshot>,
    /// What the `setjmp` returns this time (never 0: `longjmp(env, 0)` returns 1).
    pub value: u64,
}

/// The snapshots by hash, and their hashes oldest first.
type Kept = (HashMap<[u8; 16], Arc<Snapshot>>, VecDeque<[u8; 16]>);

/// A program's snapshots and the unwind or rewind under way.
#[derive(Default)]
pub struct Stacks {
    snapshots: Mutex<Kept>,
    checkpoint: Mutex<Option<Checkpoint>>,
    restore: Mutex<Option<Restore>>,
    /// What `stack_checkpoint` answers when the rewind reaches it.
    answer: Mutex<Option<u64>>,
}

impl Stacks {
    /// Keeps `snapshot` (once: an equal one is already kept under the same hash); its hash.
    pub fn keep(&self, snapshot: Snapshot) -> [u8; 16] {
        let hash = snapshot.hash();
        let mut guard = self.snapshots.lock();
        let (map, order) = &mut *guard;
        if !map.contains_key(&hash) {
            if order.len() >= MAX_SNAPSHOTS {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
            map.insert(hash, Arc::new(snapshot));
            order.push_back(hash);
        }
        hash
    }

    /// The snapshot named `hash`, if kept.
    pub fn get(&self, hash: &[u8; 16]) -> Option<Arc<Snapshot>> {
        self.snapshots.lock().0.get(hash).cloned()
    }

    /// Takes the snapshots of `parent` (a forked child's memory holds the same `jmp_buf`s).
    pub fn inherit(&self, parent: &Stacks) {
        let snapshots = parent.snapshots.lock().clone();
        *self.snapshots.lock() = snapshots;
    }

    pub fn set_checkpoint(&self, c: Checkpoint) {
        *self.checkpoint.lock() = Some(c);
    }

    pub fn take_checkpoint(&self) -> Option<Checkpoint> {
        self.checkpoint.lock().take()
    }

    pub fn set_restore(&self, r: Restore) {
        *self.restore.lock() = Some(r);
    }

    pub fn take_restore(&self) -> Option<Restore> {
        self.restore.lock().take()
    }

    pub fn set_answer(&self, value: u64) {
        *self.answer.lock() = Some(value);
    }

    pub fn take_answer(&self) -> Option<u64> {
        self.answer.lock().take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_snapshots_share_a_hash_and_the_oldest_go_first() {
        let stacks = Stacks::default();
        let snap = |sp: u32| Snapshot {
            stack_pointer: sp,
            data: vec![1, 2, 3],
        };
        let a = stacks.keep(snap(100));
        assert_eq!(stacks.keep(snap(100)), a);
        assert_ne!(stacks.keep(snap(200)), a);
        assert_eq!(stacks.get(&a).unwrap().stack_pointer, 100);
        for sp in 0..MAX_SNAPSHOTS as u32 {
            stacks.keep(snap(1000 + sp));
        }
        assert!(stacks.get(&a).is_none(), "the oldest is forgotten");
        let child = Stacks::default();
        child.inherit(&stacks);
        assert!(child.get(&snap(1000 + 5).hash()).is_some());
    }
}
