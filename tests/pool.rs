//! The pooling allocator (`Config::pooling`): a slot used by one instance and then another
//! leaks nothing from the first to the second (memory, grown pages included, globals, tables),
//! whether the module's data is copied or mapped from a cached image, whether the slot changes
//! module, and whether the slot is reset in place or with madvise; running out of slots and
//! asking for more pages or table elements than the pool allows are clean errors, the latter
//! already when the module is prepared (`Linker::instantiate_pre`).

use wasix_rt::cache::Cache;
use wasix_rt::{
    Config, Engine, Error, Instance, Linker, Module, PoolingConfig, Store, TrapKind, Val,
};

const SECRET: i64 = 0x5EC2E7_5EC2E7;

/// A module that can leave a secret everywhere an instance owns: its data segment, elsewhere
/// in page 0, in a page it grows, its global and its table.
fn module_text(data: &str, at: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1 4)
  (table (export "table") 4 funcref)
  (global (export "g") (mut i64) (i64.const 7))
  (data (i32.const {at}) "{data}")
  (type $answer (func (result i32)))
  (func $f)
  (func $answer (result i32) (i32.const 42))
  (elem (i32.const 0) $answer)
  (elem declare func $f)
  (func (export "call0") (result i32) (call_indirect (type $answer) (i32.const 0)))
  (func (export "leave_secret")
    (i64.store (i32.const {at}) (i64.const {SECRET}))
    (i64.store (i32.const 100) (i64.const {SECRET}))
    (i64.store (i32.const 65000) (i64.const {SECRET}))
    (drop (memory.grow (i32.const 1)))
    (i64.store (i32.const 70000) (i64.const {SECRET}))
    (i64.store (i32.const 140000) (i64.const {SECRET}))
    (global.set 0 (i64.const {SECRET}))
    (table.set 0 (i32.const 1) (ref.func $f)))
  (func (export "page1") (result i64) (i64.load (i32.const 70000))))"#
    )
}

/// Both ways a slot is reset: memories up to `keep_resident` bytes are written over in place,
/// larger ones released with madvise.
const KEEP_RESIDENT: [usize; 2] = [0, 1 << 20];

fn pooled_engine(slots: u32, max_pages: u32, keep_resident: usize) -> Engine {
    Engine::new(&Config {
        pooling: Some(PoolingConfig {
            memory_slots: slots,
            max_memory_pages: max_pages,
            max_table_elements: 8,
            keep_resident,
        }),
        ..Default::default()
    })
    .expect("the pool is reserved")
}

/// The module compiled into `cache` and loaded back, so that its data is an image.
fn cached(engine: &Engine, cache: &Cache, wat: &str) -> Module {
    let wasm = wat::parse_str(wat).unwrap();
    cache.get_or_compile(engine, &wasm).unwrap();
    cache.get_or_compile(engine, &wasm).unwrap().0
}

fn instantiate(engine: &Engine, module: &Module) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    let inst = Linker::new(engine)
        .instantiate(&mut store, module)
        .expect("instantiates");
    (store, inst)
}

fn call(store: &mut Store<()>, inst: &Instance, name: &str) -> Result<Vec<Val>, Error> {
    let f = inst.get_func(store, name).unwrap();
    let mut results = vec![Val::I64(0); f.ty(store).results().len()];
    f.call(store, &[], &mut results)?;
    Ok(results)
}

/// Asserts that `inst` is as instantiation leaves it: one page, zeros but for its data
/// segment, the global's initial value, the table as its element segment set it (and the
/// function there callable), nothing past page 0.
fn assert_fresh(store: &mut Store<()>, inst: &Instance, data: &str, at: usize) {
    let memory = inst.get_memory(store, "memory").unwrap();
    assert_eq!(
        memory.size(store),
        1,
        "the memory is back to its initial size"
    );
    let mut expected = vec![0u8; 65536];
    expected[at..at + data.len()].copy_from_slice(data.as_bytes());
    let bytes = memory.data(store);
    if let Some(i) = (0..expected.len()).find(|&i| bytes[i] != expected[i]) {
        panic!("byte {i} is {:#x}, expected {:#x}", bytes[i], expected[i]);
    }
    let g = inst.get_global(store, "g").unwrap();
    assert!(
        matches!(g.get(store), Val::I64(7)),
        "global: {:?}",
        g.get(store)
    );
    let t = inst.get_table(store, "table").unwrap();
    assert_eq!(t.size(store), 4);
    assert!(matches!(t.get(store, 0), Some(Val::FuncRef(Some(_)))));
    for i in 1..4 {
        assert!(
            matches!(t.get(store, i), Some(Val::FuncRef(None))),
            "table element {i} is null"
        );
    }
    let answer = call(store, inst, "call0").unwrap();
    assert!(matches!(answer[0], Val::I32(42)), "{answer:?}");
    match call(store, inst, "page1") {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::MemoryOutOfBounds),
        other => panic!("page 1 must be out of bounds, got {other:?}"),
    }
    // Pages a grow makes accessible again are zeros too.
    memory.grow(store, 1).unwrap();
    if let Some(i) = memory.data(store)[65536..].iter().position(|&b| b != 0) {
        panic!("byte {} of a grown page is not zero", 65536 + i);
    }
}

/// The modules these tests run, on `engine`: x ("x data" at 4096) compiled, and x and y ("why
/// data" at 8200) loaded from a cache in the returned directory, so that their data is a
/// copy-on-write image.
fn modules(engine: &Engine) -> (tempfile::TempDir, Module, Module, Module) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let (x, y) = (module_text("x data", 4096), module_text("why data", 8200));
    let compiled = Module::new(engine, &x).unwrap();
    let (x_image, y_image) = (cached(engine, &cache, &x), cached(engine, &cache, &y));
    (dir, compiled, x_image, y_image)
}

/// One slot, so every instance reuses it.
#[test]
fn a_reused_slot_leaks_nothing_from_the_instance_before() {
    for keep in KEEP_RESIDENT {
        reused_slot_leaks_nothing(keep);
    }
}

fn reused_slot_leaks_nothing(keep_resident: usize) {
    let engine = pooled_engine(1, 16, keep_resident);
    let (_dir, compiled, x_image, y_image) = modules(&engine);
    // The same module twice (data copied; then mapped from its image, where the slot keeps
    // the image between instances), then changing modules in the slot.
    let runs = [
        (&compiled, "x data", 4096),
        (&compiled, "x data", 4096),
        (&x_image, "x data", 4096),
        (&x_image, "x data", 4096),
        (&y_image, "why data", 8200),
        (&x_image, "x data", 4096),
        (&compiled, "x data", 4096),
        (&y_image, "why data", 8200),
    ];
    for (module, data, at) in runs {
        let (mut store, inst) = instantiate(&engine, module);
        assert_fresh(&mut store, &inst, data, at);
        call(&mut store, &inst, "leave_secret").unwrap();
        let memory = inst.get_memory(&store, "memory").unwrap();
        assert_eq!(memory.size(&store), 3);
        let page1 = call(&mut store, &inst, "page1").unwrap();
        assert!(matches!(page1[0], Val::I64(SECRET)), "{page1:?}");
        assert_eq!(engine.free_memory_slots(), Some(0));
        drop(store);
        assert_eq!(engine.free_memory_slots(), Some(1));
    }
}

/// An engine without a pool reuses the reservations of a few memories dropped before (four):
/// the same isolation holds, and more instances alive at once than it keeps each get a
/// reservation of their own.
#[test]
fn an_on_demand_engine_reuses_memories_and_leaks_nothing() {
    let engine = Engine::default();
    let (_dir, compiled, x_image, y_image) = modules(&engine);
    let runs = [
        (&compiled, "x data", 4096),
        (&x_image, "x data", 4096),
        (&y_image, "why data", 8200),
        (&compiled, "x data", 4096),
    ];
    for round in 0..3 {
        // Round 1 keeps six instances alive at once, more than the engine keeps memories for.
        let mut alive = Vec::new();
        for (module, data, at) in runs.iter().chain(&runs[..2]) {
            let (mut store, inst) = instantiate(&engine, module);
            assert_fresh(&mut store, &inst, data, *at);
            call(&mut store, &inst, "leave_secret").unwrap();
            if round == 1 {
                alive.push(store);
            }
        }
        assert_eq!(alive.len(), if round == 1 { 6 } else { 0 });
    }
    assert_eq!(engine.free_memory_slots(), None, "no pool of the user's");
}

#[test]
fn an_exhausted_pool_is_a_clean_error_until_a_slot_is_free() {
    let engine = pooled_engine(2, 16, 0);
    let module = Module::new(&engine, module_text("d", 0)).unwrap();
    let (a, _) = instantiate(&engine, &module);
    let (b, _) = instantiate(&engine, &module);
    let mut store = Store::new(&engine, ());
    match Linker::new(&engine).instantiate(&mut store, &module) {
        Err(Error::Resource(msg)) => assert!(msg.contains("exhausted"), "{msg}"),
        Err(e) => panic!("expected a resource error, got {e}"),
        Ok(_) => panic!("a third memory in a pool of two slots"),
    }
    drop(a);
    let (mut c, inst) = instantiate(&engine, &module);
    assert_fresh(&mut c, &inst, "d", 0);
    drop((b, c));
    assert_eq!(engine.free_memory_slots(), Some(2));
}

#[test]
fn a_pooled_memory_stays_within_the_pool_page_limit() {
    let engine = pooled_engine(1, 2, 0);
    let big = Module::new(&engine, "(module (memory 3))").unwrap();
    let mut store = Store::new(&engine, ());
    match Linker::new(&engine).instantiate(&mut store, &big) {
        Err(Error::Resource(msg)) => assert!(msg.contains("limit"), "{msg}"),
        Err(e) => panic!("expected a resource error, got {e}"),
        Ok(_) => panic!("3 pages in a pool of 2-page memories"),
    }
    assert_eq!(
        engine.free_memory_slots(),
        Some(1),
        "the refused memory took no slot"
    );
    let grows = Module::new(
        &engine,
        r#"(module (memory 1)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    )
    .unwrap();
    let (mut store, inst) = instantiate(&engine, &grows);
    let grow = inst.get_func(&store, "grow").unwrap();
    let mut r = [Val::I32(0)];
    grow.call(&mut store, &[Val::I32(2)], &mut r).unwrap();
    assert!(
        matches!(r[0], Val::I32(-1)),
        "growing past the pool's limit fails"
    );
    grow.call(&mut store, &[Val::I32(1)], &mut r).unwrap();
    assert!(matches!(r[0], Val::I32(1)), "growing up to it succeeds");
}

#[test]
fn a_pooled_table_stays_within_the_pool_element_limit() {
    let engine = pooled_engine(1, 16, 0);
    let big = Module::new(&engine, "(module (table 9 funcref))").unwrap();
    let mut store = Store::new(&engine, ());
    match Linker::new(&engine).instantiate(&mut store, &big) {
        Err(Error::Resource(msg)) => assert!(msg.contains("limit of 8"), "{msg}"),
        Err(e) => panic!("expected a resource error, got {e}"),
        Ok(_) => panic!("9 elements in a pool of 8-element tables"),
    }
    let grows = Module::new(
        &engine,
        r#"(module (table 4 funcref)
             (func (export "grow") (param i32) (result i32)
               (table.grow (ref.null func) (local.get 0))))"#,
    )
    .unwrap();
    let (mut store, inst) = instantiate(&engine, &grows);
    let grow = inst.get_func(&store, "grow").unwrap();
    let mut r = [Val::I32(0)];
    grow.call(&mut store, &[Val::I32(5)], &mut r).unwrap();
    assert!(
        matches!(r[0], Val::I32(-1)),
        "growing past the pool's limit fails"
    );
    grow.call(&mut store, &[Val::I32(4)], &mut r).unwrap();
    assert!(matches!(r[0], Val::I32(4)), "growing up to it succeeds");
}

/// A module whose memory or table cannot fit the pool at its minimum is refused by
/// `Linker::instantiate_pre` with the error instantiation gives, and takes no slot.
#[test]
fn instantiate_pre_refuses_a_module_past_the_pool_limits() {
    let engine = pooled_engine(1, 2, 0);
    let linker: Linker<()> = Linker::new(&engine);
    for (wat, what) in [
        ("(module (memory 3))", "limit of 2 pages"),
        ("(module (table 9 funcref))", "limit of 8"),
        ("(module (memory 1) (table 9 funcref))", "limit of 8"),
    ] {
        let module = Module::new(&engine, wat).unwrap();
        let at_instantiation = match linker.instantiate(&mut Store::new(&engine, ()), &module) {
            Err(Error::Resource(msg)) => msg,
            Err(e) => panic!("{wat}: expected a resource error, got {e}"),
            Ok(_) => panic!("{wat}: instantiated past the pool's limits"),
        };
        match linker.instantiate_pre(&module) {
            Err(Error::Resource(msg)) => {
                assert!(msg.contains(what), "{wat}: {msg}");
                assert_eq!(msg, at_instantiation, "{wat}");
            }
            Err(e) => panic!("{wat}: expected a resource error, got {e}"),
            Ok(_) => panic!("{wat}: prepared past the pool's limits"),
        }
        assert_eq!(engine.free_memory_slots(), Some(1), "{wat} took no slot");
    }
    // At the limits exactly, a module is prepared and instantiates.
    let fits = Module::new(&engine, "(module (memory 2) (table 8 funcref))").unwrap();
    let pre = linker.instantiate_pre(&fits).unwrap();
    pre.instantiate(&mut Store::new(&engine, ())).unwrap();
}

/// Several threads taking and returning slots at once, each checking it got a fresh memory.
#[test]
fn threads_sharing_a_pool_each_get_fresh_instances() {
    for keep in KEEP_RESIDENT {
        threads_get_fresh_instances(keep);
    }
}

fn threads_get_fresh_instances(keep_resident: usize) {
    let engine = pooled_engine(4, 16, keep_resident);
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let module = cached(&engine, &cache, &module_text("shared", 512));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    let (mut store, inst) = instantiate(&engine, &module);
                    assert_fresh(&mut store, &inst, "shared", 512);
                    call(&mut store, &inst, "leave_secret").unwrap();
                }
            });
        }
    });
    assert_eq!(engine.free_memory_slots(), Some(4));
}

#[test]
fn a_pool_of_no_slots_is_refused() {
    let config = Config {
        pooling: Some(PoolingConfig {
            memory_slots: 0,
            ..Default::default()
        }),
        ..Default::default()
    };
    match Engine::new(&config) {
        Err(Error::Resource(msg)) => assert!(msg.contains("slots"), "{msg}"),
        Err(e) => panic!("expected a resource error, got {e}"),
        Ok(_) => panic!("an engine with an empty pool"),
    }
}
