//! Immutable byte buffers shared between modules: owned, or a range of a mapped artifact, so
//! that loading an artifact does not copy its data segments, trap table or names.

use std::ops::{Deref, Range};
use std::sync::Arc;

/// A cheaply cloned, read-only byte slice.
#[derive(Clone)]
pub struct Bytes {
    source: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: Range<usize>,
}

impl Bytes {
    /// All of `source`.
    pub fn new(source: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Bytes {
        let len = (*source).as_ref().len();
        Bytes {
            source,
            range: 0..len,
        }
    }

    /// `range` of `source`, or `None` if it does not lie inside it.
    pub fn slice_of(
        source: Arc<dyn AsRef<[u8]> + Send + Sync>,
        range: Range<usize>,
    ) -> Option<Bytes> {
        let len = (*source).as_ref().len();
        (range.start <= range.end && range.end <= len).then_some(Bytes { source, range })
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::new(Arc::new(v))
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &(*self.source).as_ref()[self.range.clone()]
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.range.len())
    }
}
