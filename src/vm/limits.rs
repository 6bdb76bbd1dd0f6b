//! How large memories and tables may be: the one place that decides it.
//!
//! A memory's page limit is the least of:
//! - its declared maximum;
//! - [`MAX_PAGES`] (the layout's bound, `environ::memory`);
//! - the engine's `Config::max_memory_pages`;
//! - with pooling, `PoolingConfig::max_memory_pages`;
//! - for a memory of a store, that store's limit (`Store::set_memory_limit`, which can only
//!   lower the engine's).
//!
//! The least wins, whichever knob set it. A table's element limit is the least of its declared
//! maximum, [`MAX_ELEMENTS`] and, with pooling, `PoolingConfig::max_table_elements`. The
//! engine's part of each is resolved once ([`Limits::new`]); a memory or table whose minimum is
//! past its limit is refused with [`Error::Resource`], both when a module is checked ahead
//! (`Linker::instantiate_pre`) and when it is instantiated.

use crate::environ::memory::MAX_PAGES;
use crate::error::{Error, Result};
use crate::module::ModuleInfo;
use crate::types::{MemoryType, TableType};
use crate::vm::pool::PoolingConfig;

/// The most elements a table may hold, whatever its declared maximum, so that a guest cannot
/// make the host allocate without bound (80 MB of elements).
pub const MAX_ELEMENTS: u32 = 10_000_000;

/// The engine-wide limits: pages per memory, elements per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    memory_pages: u32,
    table_elements: u32,
}

impl Limits {
    /// The limits of an engine whose `Config::max_memory_pages` is `max_memory_pages`, with
    /// `pooling` when it pools.
    pub fn new(max_memory_pages: u32, pooling: Option<&PoolingConfig>) -> Limits {
        let pool_pages = pooling.map_or(MAX_PAGES, |p| p.max_memory_pages);
        let pool_elements = pooling.map_or(MAX_ELEMENTS, |p| p.max_table_elements);
        Limits {
            memory_pages: max_memory_pages.min(pool_pages).min(MAX_PAGES),
            table_elements: pool_elements.min(MAX_ELEMENTS),
        }
    }

    /// Pages of 64 KiB a memory of this engine may have, before its type and its store's limit
    /// are taken into account; what a store's limit starts at.
    pub fn memory_pages(&self) -> u32 {
        self.memory_pages
    }

    /// The most pages a memory of type `ty` may have, in a store whose own limit is
    /// `store_pages` (`u32::MAX` for a memory of no store). Errors: [`Error::Resource`] when
    /// `ty.minimum` is already past it.
    pub fn memory(&self, ty: MemoryType, store_pages: u32) -> Result<u32> {
        let limit = ty
            .maximum
            .unwrap_or(u32::MAX)
            .min(self.memory_pages)
            .min(store_pages);
        if ty.minimum > limit {
            return Err(Error::Resource(format!(
                "memory of {} pages exceeds the limit of {limit} pages",
                ty.minimum
            )));
        }
        Ok(limit)
    }

    /// The most elements a table of type `ty` may have. Errors: [`Error::Resource`] when
    /// `ty.minimum` is already past it.
    pub fn table(&self, ty: TableType) -> Result<u32> {
        let limit = ty.maximum.unwrap_or(u32::MAX).min(self.table_elements);
        if ty.minimum > limit {
            return Err(Error::Resource(format!(
                "table of {} elements exceeds the limit of {limit}",
                ty.minimum
            )));
        }
        Ok(limit)
    }

    /// Checks that every memory and table the module `info` defines fits these limits at its
    /// minimum, so that a module that could never be instantiated is refused before any store
    /// is involved. Errors: as [`Limits::memory`] and [`Limits::table`], for the first that
    /// does not fit.
    pub fn check_module(&self, info: &ModuleInfo) -> Result<()> {
        for ty in &info.memories[info.num_imported_memories as usize..] {
            self.memory(*ty, u32::MAX)?;
        }
        for ty in &info.tables[info.num_imported_tables as usize..] {
            self.table(*ty)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ValType;

    fn pool(pages: u32, elements: u32) -> PoolingConfig {
        PoolingConfig {
            max_memory_pages: pages,
            max_table_elements: elements,
            ..Default::default()
        }
    }

    #[test]
    fn the_least_limit_wins() {
        let memory = |min, max| MemoryType::new(min, max);
        let on_demand = Limits::new(MAX_PAGES, None);
        assert_eq!(
            on_demand.memory(memory(1, None), u32::MAX).unwrap(),
            MAX_PAGES
        );
        assert_eq!(on_demand.memory(memory(1, Some(9)), u32::MAX).unwrap(), 9);
        assert_eq!(on_demand.memory(memory(1, Some(9)), 4).unwrap(), 4);
        let config = Limits::new(20, Some(&pool(30, 5)));
        assert_eq!(config.memory(memory(1, None), u32::MAX).unwrap(), 20);
        let pooled = Limits::new(MAX_PAGES, Some(&pool(30, 5)));
        assert_eq!(pooled.memory(memory(1, None), u32::MAX).unwrap(), 30);
        assert_eq!(pooled.memory(memory(1, None), 7).unwrap(), 7);
        let err = pooled.memory(memory(31, None), u32::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resource error: memory of 31 pages exceeds the limit of 30 pages"
        );
        let table = |min, max| TableType {
            element: ValType::FuncRef,
            minimum: min,
            maximum: max,
        };
        assert_eq!(on_demand.table(table(1, None)).unwrap(), MAX_ELEMENTS);
        assert_eq!(pooled.table(table(1, Some(3))).unwrap(), 3);
        assert_eq!(pooled.table(table(1, None)).unwrap(), 5);
        let err = pooled.table(table(6, None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resource error: table of 6 elements exceeds the limit of 5"
        );
    }
}
