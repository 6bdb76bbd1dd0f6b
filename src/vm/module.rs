//! [`CompiledModule`]: what the runtime needs of a compiled module to instantiate and run it,
//! whether it was just compiled or loaded from an artifact. `api::Module` wraps it.

use crate::environ::VMOffsets;
use crate::module::ModuleInfo;
use crate::vm::bytes::Bytes;
use crate::vm::code::CodeMemory;
use crate::vm::memory::MemoryImage;
use crate::vm::registry::TypeRegistry;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// A module's code, metadata and types, ready for instances (of one engine: its type ids are
/// that engine's).
pub struct CompiledModule {
    info: ModuleInfo,
    /// The data segments' bytes (see [`ModuleInfo::take_data`]).
    data: Bytes,
    code: CodeMemory,
    /// Each defined function's byte range in `code`.
    funcs: Arc<[Range<u32>]>,
    offsets: VMOffsets,
    /// The engine-wide id of each of the module's types, by type index.
    type_ids: Vec<u32>,
    /// Memory 0's initial contents when loaded from an artifact that has them (then every
    /// active data segment is in the image, and `data` holds only the passive ones).
    image: Option<MemoryImage>,
    /// Complete vmctx blocks of dropped instances, which the instance allocator keeps and
    /// hands out again (`InstanceAllocator::allocate_vmctx`). They live here rather than in
    /// the allocator so that they are freed with the module, whose code their function
    /// references point into.
    pub(super) spare_vmctx: Mutex<Vec<Vec<u64>>>,
}

impl CompiledModule {
    /// Puts a module together from its parts: `funcs` are the defined functions' byte ranges
    /// in `code`, `data` the data segments' bytes, `image` memory 0's initial contents. Its
    /// types are registered in `types`, the registry of the engine it will be instantiated in.
    pub fn new(
        types: &TypeRegistry,
        info: ModuleInfo,
        data: Bytes,
        code: CodeMemory,
        funcs: Arc<[Range<u32>]>,
        image: Option<MemoryImage>,
    ) -> CompiledModule {
        let offsets = VMOffsets::new(&info);
        let type_ids = info.types.iter().map(|t| types.register(t)).collect();
        CompiledModule {
            info,
            data,
            code,
            funcs,
            offsets,
            type_ids,
            image,
            spare_vmctx: Mutex::default(),
        }
    }

    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The data segments' bytes; `DataSegment::range` indexes into them.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn image(&self) -> Option<&MemoryImage> {
        self.image.as_ref()
    }

    pub fn code(&self) -> &CodeMemory {
        &self.code
    }

    /// The layout of this module's vmctx.
    pub fn offsets(&self) -> &VMOffsets {
        &self.offsets
    }

    /// The engine-wide id of each type, by the module's type index.
    pub fn type_ids(&self) -> &[u32] {
        &self.type_ids
    }

    /// The first byte of the code; function ranges are offsets from it.
    pub fn code_base(&self) -> *const u8 {
        self.code.base()
    }

    /// Each defined function's byte range in the code, in index order.
    pub fn func_ranges(&self) -> &[Range<u32>] {
        &self.funcs
    }
}
