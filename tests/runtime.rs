//! Behaviour of the runtime core through the embedding API: traps and recovery, host functions,
//! imports and exports, bad modules, and the translator on small hand-written modules.

use wasix_rt::{Engine, Error, Func, FuncType, Linker, Module, Store, TrapKind, Val, ValType};

fn instantiate(engine: &Engine, wat: &str) -> (Store<()>, wasix_rt::Instance) {
    let module = Module::new(engine, wat).expect("module compiles");
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine)
        .instantiate(&mut store, &module)
        .expect("instantiates");
    (store, instance)
}

fn call(
    store: &mut Store<()>,
    inst: &wasix_rt::Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let f = inst.get_func(store, name).expect("export exists");
    let n = f.ty(store).results().len();
    let mut results = vec![Val::I32(0); n];
    f.call(store, args, &mut results)?;
    Ok(results)
}

fn trap_kind(r: Result<Vec<Val>, Error>) -> TrapKind {
    match r {
        Err(Error::Trap(t)) => t.kind,
        other => panic!("expected a trap, got {other:?}"),
    }
}

const TRAPS: &str = r#"
(module
  (type $v (func))
  (table 2 funcref)
  (elem (i32.const 0) $nop)
  (memory (export "mem") 1 2)
  (func $nop)
  (func $unreachable (export "unreachable") unreachable)
  (func (export "div0") (param i32) (result i32) i32.const 1 local.get 0 i32.div_u)
  (func (export "overflow") (result i32) i32.const 0x80000000 i32.const -1 i32.div_s)
  (func (export "conv") (param f32) (result i32) local.get 0 i32.trunc_f32_s)
  (func (export "oob") (param i32) (result i32) local.get 0 i32.load offset=8)
  (func (export "store_oob") (param i32) local.get 0 i64.const -1 i64.store)
  (func (export "table_oob") (param i32) (result funcref) local.get 0 table.get 0)
  (func (export "null_call") (call_indirect (type $v) (i32.const 1)))
  (func (export "undefined") (call_indirect (type $v) (i32.const 5)))
  (func (export "bad_sig") (result i32) (call_indirect (result i32) (i32.const 0)))
  (func $recurse (export "recurse") (param i64) (result i64)
    local.get 0 i64.const 1 i64.add call $recurse)
  (func (export "ok") (result i32) i32.const 42)
)"#;

#[test]
fn every_trap_kind_is_reported_with_its_function_and_offset() {
    let engine = Engine::default();
    let (mut s, i) = instantiate(&engine, TRAPS);
    assert_eq!(
        trap_kind(call(&mut s, &i, "unreachable", &[])),
        TrapKind::Unreachable
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "div0", &[Val::I32(0)])),
        TrapKind::IntegerDivisionByZero
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "overflow", &[])),
        TrapKind::IntegerOverflow
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "conv", &[Val::F32(f32::NAN.to_bits())])),
        TrapKind::BadConversionToInteger
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "conv", &[Val::F32(3e9f32.to_bits())])),
        TrapKind::IntegerOverflow
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "oob", &[Val::I32(65536 - 8)])),
        TrapKind::MemoryOutOfBounds
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "oob", &[Val::I32(-1)])),
        TrapKind::MemoryOutOfBounds
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "table_oob", &[Val::I32(2)])),
        TrapKind::TableOutOfBounds
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "null_call", &[])),
        TrapKind::IndirectCallToNull
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "undefined", &[])),
        TrapKind::UndefinedElement
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "bad_sig", &[])),
        TrapKind::BadSignature
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "recurse", &[Val::I64(0)])),
        TrapKind::StackOverflow
    );

    // Function index, name (from the name section) and byte offset of the trapping instruction.
    match call(&mut s, &i, "unreachable", &[]) {
        Err(Error::Trap(t)) => {
            assert_eq!(t.func_index, Some(1));
            assert_eq!(t.func_name.as_deref(), Some("unreachable"));
            let module = wasix_rt::Module::new(&engine, TRAPS).unwrap();
            let _ = module;
            let wasm = wat::parse_str(TRAPS).unwrap();
            let off = t.wasm_offset.expect("offset known") as usize;
            assert_eq!(wasm[off], 0x00, "offset points at the `unreachable` opcode");
            let msg = t.to_string();
            assert!(
                msg.contains("unreachable") && msg.contains("function 1"),
                "{msg}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_store_that_traps_keeps_working_and_memory_is_untouched() {
    let engine = Engine::default();
    let (mut s, i) = instantiate(&engine, TRAPS);
    let (mut s2, i2) = instantiate(&engine, TRAPS);
    for _ in 0..3 {
        assert_eq!(
            trap_kind(call(&mut s, &i, "recurse", &[Val::I64(0)])),
            TrapKind::StackOverflow
        );
        assert_eq!(call(&mut s, &i, "ok", &[]).unwrap()[0].i32(), Some(42));
        assert_eq!(call(&mut s2, &i2, "ok", &[]).unwrap()[0].i32(), Some(42));
    }
    // A store straddling the end of memory traps and writes nothing (x86-64 faults before
    // any byte of the access is written).
    assert_eq!(
        trap_kind(call(&mut s, &i, "store_oob", &[Val::I32(65536 - 4)])),
        TrapKind::MemoryOutOfBounds
    );
    let mem = i.get_memory(&s, "mem").unwrap();
    assert_eq!(&mem.data(&s)[65532..], &[0, 0, 0, 0]);
}

#[test]
fn traps_on_other_threads_are_independent() {
    let handles: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                let engine = Engine::default();
                let (mut s, i) = instantiate(&engine, TRAPS);
                for _ in 0..50 {
                    assert_eq!(
                        trap_kind(call(&mut s, &i, "div0", &[Val::I32(0)])),
                        TrapKind::IntegerDivisionByZero
                    );
                    assert_eq!(call(&mut s, &i, "ok", &[]).unwrap()[0].i32(), Some(42));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn host_functions_receive_arguments_return_results_and_errors() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "mul" (func $mul (param i32 i64) (result i64)))
            (import "host" "fail" (func $fail))
            (memory (export "memory") 1)
            (func (export "twice") (param i32) (result i64)
              local.get 0 i64.const 2 call $mul)
            (func (export "fail") call $fail i32.const 0 drop))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    linker
        .func_new(
            "host",
            "mul",
            FuncType::new([ValType::I32, ValType::I64], [ValType::I64]),
            |mut caller, params, results| {
                *caller.data_mut() += 1;
                assert!(caller.get_export("memory").is_some());
                results[0] = Val::I64(params[0].i32().unwrap() as i64 * params[1].i64().unwrap());
                Ok(())
            },
        )
        .unwrap();
    linker
        .func_new("host", "fail", FuncType::new([], []), |_, _, _| {
            Err(Error::Exit(7))
        })
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let twice = inst.get_typed_func::<i32, i64, _>(&store, "twice").unwrap();
    assert_eq!(twice.call(&mut store, 21).unwrap(), 42);
    assert_eq!(*store.data(), 1);
    let fail = inst.get_typed_func::<(), (), _>(&store, "fail").unwrap();
    assert!(matches!(fail.call(&mut store, ()), Err(Error::Exit(7))));
    // Still usable after a host error unwound the wasm frames.
    assert_eq!(twice.call(&mut store, 5).unwrap(), 10);
}

#[test]
fn spelled_out_byte_swaps_compute_what_they_spell() {
    // clang's lowerings of __builtin_bswap32/64/16, a swap by rotates and masks, a big-endian
    // load, and near misses the translator must leave as they are: each checked against the
    // same formula computed here, on edge values and a spread of others.
    let engine = Engine::default();
    let (mut s, i) = instantiate(
        &engine,
        r#"(module (memory 1) (data (i32.const 0) "\01\02\03\04\fe\dc\ba\98")
            (func (export "swap32") (param i32) (result i32)
              (i32.or
                (i32.or (i32.and (i32.shl (local.get 0) (i32.const 8)) (i32.const 0xff0000))
                        (i32.shl (local.get 0) (i32.const 24)))
                (i32.or (i32.and (i32.shr_u (local.get 0) (i32.const 8)) (i32.const 0xff00))
                        (i32.shr_u (local.get 0) (i32.const 24)))))
            (func (export "swap64") (param i64) (result i64)
              (i64.or
                (i64.or
                  (i64.or (i64.and (i64.shl (local.get 0) (i64.const 40)) (i64.const 0xff000000000000))
                          (i64.shl (local.get 0) (i64.const 56)))
                  (i64.or (i64.and (i64.shl (local.get 0) (i64.const 24)) (i64.const 0xff0000000000))
                          (i64.and (i64.shl (local.get 0) (i64.const 8)) (i64.const 0xff00000000))))
                (i64.or
                  (i64.or (i64.and (i64.shr_u (local.get 0) (i64.const 8)) (i64.const 0xff000000))
                          (i64.and (i64.shr_u (local.get 0) (i64.const 24)) (i64.const 0xff0000)))
                  (i64.or (i64.and (i64.shr_u (local.get 0) (i64.const 40)) (i64.const 0xff00))
                          (i64.shr_u (local.get 0) (i64.const 56))))))
            (func (export "swap16") (param i32) (result i32)
              (i32.and
                (i32.or (i32.shl (local.get 0) (i32.const 8))
                        (i32.shr_u (i32.and (local.get 0) (i32.const 0xff00)) (i32.const 8)))
                (i32.const 0xffff)))
            (func (export "rotates") (param i32) (result i32)
              (i32.or (i32.and (i32.rotl (local.get 0) (i32.const 8)) (i32.const 0x00ff00ff))
                      (i32.and (i32.rotl (local.get 0) (i32.const 24)) (i32.const 0xff00ff00))))
            (func (export "load_be") (param i32) (result i32)
              (local $x i32)
              (local.set $x (i32.load align=1 (local.get 0)))
              (i32.or
                (i32.or (i32.shl (local.get $x) (i32.const 24))
                        (i32.and (i32.shl (local.get $x) (i32.const 8)) (i32.const 0xff0000)))
                (i32.or (i32.and (i32.shr_u (local.get $x) (i32.const 8)) (i32.const 0xff00))
                        (i32.shr_u (local.get $x) (i32.const 24)))))
            (func (export "split_mask") (param i32) (result i32)
              (i32.or
                (i32.or (i32.and (i32.shl (local.get 0) (i32.const 8)) (i32.const 0xff0f00))
                        (i32.shl (local.get 0) (i32.const 24)))
                (i32.shr_u (local.get 0) (i32.const 24))))
            (func (export "two_sources") (param i32 i32) (result i32)
              (i32.or (i32.shl (local.get 0) (i32.const 24)) (i32.shr_u (local.get 1) (i32.const 24))))
            (func (export "byte_twice") (param i32) (result i32)
              (i32.or (i32.shl (local.get 0) (i32.const 24))
                      (i32.and (i32.shl (local.get 0) (i32.const 16)) (i32.const 0xff0000))))
            (func (export "shift_mod") (param i32) (result i32)
              (i32.or (i32.shl (local.get 0) (i32.const 56)) (i32.shr_u (local.get 0) (i32.const 40)))))"#,
    );
    let mut values: Vec<u64> = vec![
        0,
        1,
        0xff,
        0x0102_0304_0506_0708,
        u64::MAX,
        1 << 63,
        0x8000_0000,
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        values.push(x);
    }
    let i32_of = |r: Vec<Val>| match r[..] {
        [Val::I32(v)] => v as u32,
        _ => panic!("{r:?}"),
    };
    for &v in &values {
        let w = v as u32;
        let one =
            |s: &mut Store<()>, name| i32_of(call(s, &i, name, &[Val::I32(w as i32)]).unwrap());
        assert_eq!(one(&mut s, "swap32"), w.swap_bytes(), "swap32 {w:#x}");
        assert_eq!(
            one(&mut s, "swap16"),
            (w as u16).swap_bytes() as u32,
            "swap16 {w:#x}"
        );
        assert_eq!(one(&mut s, "rotates"), w.swap_bytes(), "rotates {w:#x}");
        assert_eq!(
            one(&mut s, "split_mask"),
            ((w << 8) & 0xff0f00) | (w << 24) | (w >> 24),
            "split_mask {w:#x}"
        );
        assert_eq!(
            one(&mut s, "byte_twice"),
            (w << 24) | ((w << 16) & 0xff0000),
            "byte_twice {w:#x}"
        );
        // Shift counts are taken modulo 32 (spec 2.0 §4.3.2 ishl, ishr_u): 56 is 24, 40 is 8,
        // and (w << 24) | (w >> 8) is a rotation.
        assert_eq!(
            one(&mut s, "shift_mod"),
            w.rotate_right(8),
            "shift_mod {w:#x}"
        );
        let y = (v >> 32) as u32;
        let r = call(
            &mut s,
            &i,
            "two_sources",
            &[Val::I32(w as i32), Val::I32(y as i32)],
        )
        .unwrap();
        assert_eq!(
            i32_of(r),
            (w << 24) | (y >> 24),
            "two_sources {w:#x} {y:#x}"
        );
        let r = call(&mut s, &i, "swap64", &[Val::I64(v as i64)]).unwrap();
        assert!(
            matches!(r[..], [Val::I64(r)] if r as u64 == v.swap_bytes()),
            "swap64 {v:#x}: {r:?}"
        );
    }
    let load_be = |s: &mut Store<()>, at: i32| call(s, &i, "load_be", &[Val::I32(at)]);
    assert_eq!(i32_of(load_be(&mut s, 0).unwrap()), 0x0102_0304);
    assert_eq!(i32_of(load_be(&mut s, 2).unwrap()), 0x0304_fedc);
    assert_eq!(i32_of(load_be(&mut s, 4).unwrap()), 0xfedc_ba98);
    // The load's bounds are the 4 bytes it reads, swapped or not.
    assert_eq!(
        trap_kind(load_be(&mut s, 65533)),
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn multi_value_results_and_block_parameters() {
    let engine = Engine::default();
    let (mut s, i) = instantiate(
        &engine,
        r#"(module
            (func $swap (param i32 i64 f32 f64) (result f64 f32 i64 i32)
              local.get 3 local.get 2 local.get 1 local.get 0)
            (func (export "swap") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
              local.get 0 local.get 1 local.get 2 local.get 3 call $swap)
            (func (export "block") (param i32) (result i32 i32)
              local.get 0
              block (param i32) (result i32 i32) i32.const 10 end))"#,
    );
    let r = call(
        &mut s,
        &i,
        "swap",
        &[
            Val::I32(1),
            Val::I64(2),
            Val::F32(3.0f32.to_bits()),
            Val::F64(4.0f64.to_bits()),
        ],
    )
    .unwrap();
    assert!(
        matches!(r[..], [Val::F64(a), Val::F32(b), Val::I64(2), Val::I32(1)] if a == 4.0f64.to_bits() && b == 3.0f32.to_bits())
    );
    let r = call(&mut s, &i, "block", &[Val::I32(5)]).unwrap();
    assert!(matches!(r[..], [Val::I32(5), Val::I32(10)]));
}

#[test]
fn memory_grow_respects_maximum_and_engine_limit() {
    let config = wasix_rt::Config {
        max_memory_pages: 3,
        ..Default::default()
    };
    let engine = Engine::new(&config).unwrap();
    let (mut s, i) = instantiate(
        &engine,
        r#"(module (memory (export "m") 1 10)
             (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
             (func (export "size") (result i32) memory.size))"#,
    );
    assert_eq!(
        call(&mut s, &i, "grow", &[Val::I32(1)]).unwrap()[0].i32(),
        Some(1)
    );
    assert_eq!(
        call(&mut s, &i, "grow", &[Val::I32(2)]).unwrap()[0].i32(),
        Some(-1)
    );
    assert_eq!(
        call(&mut s, &i, "grow", &[Val::I32(1)]).unwrap()[0].i32(),
        Some(2)
    );
    assert_eq!(call(&mut s, &i, "size", &[]).unwrap()[0].i32(), Some(3));
    let m = i.get_memory(&s, "m").unwrap();
    assert_eq!(m.data(&s).len(), 3 * 65536);
}

#[test]
fn imports_are_shared_between_instances() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let producer = Module::new(
        &engine,
        r#"(module (memory (export "mem") 1) (global (export "g") (mut i32) (i32.const 1))
             (func (export "bump") global.get 0 i32.const 1 i32.add global.set 0
               i32.const 0 global.get 0 i32.store))"#,
    )
    .unwrap();
    let consumer = Module::new(
        &engine,
        r#"(module (import "p" "mem" (memory 1)) (import "p" "g" (global (mut i32)))
             (func (export "read") (result i32 i32) i32.const 0 i32.load global.get 0))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    let p = linker.instantiate(&mut store, &producer).unwrap();
    linker.instance(&mut store, "p", p).unwrap();
    let c = linker.instantiate(&mut store, &consumer).unwrap();
    let bump = p.get_typed_func::<(), (), _>(&store, "bump").unwrap();
    let read = c
        .get_typed_func::<(), (i32, i32), _>(&store, "read")
        .unwrap();
    bump.call(&mut store, ()).unwrap();
    bump.call(&mut store, ()).unwrap();
    assert_eq!(read.call(&mut store, ()).unwrap(), (3, 3));
}

#[test]
fn unknown_and_mismatched_imports_are_link_errors() {
    let engine = Engine::default();
    let module = Module::new(&engine, r#"(module (import "env" "f" (func (param i32))))"#).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    match linker.instantiate(&mut store, &module) {
        Err(Error::Link {
            kind, module, name, ..
        }) => {
            assert_eq!(kind, wasix_rt::LinkErrorKind::UnknownImport);
            assert_eq!((module.as_str(), name.as_str()), ("env", "f"));
        }
        other => panic!("expected a link error, got {:?}", other.map(|_| ())),
    }
    let f = Func::new(&mut store, FuncType::new([ValType::I64], []), |_, _, _| {
        Ok(())
    });
    linker.define("env", "f", f).unwrap();
    assert!(matches!(
        linker.instantiate(&mut store, &module),
        Err(Error::Link {
            kind: wasix_rt::LinkErrorKind::IncompatibleImportType,
            ..
        })
    ));
}

#[test]
fn bad_modules_are_errors_with_offsets() {
    let engine = Engine::default();
    let err = |bytes: &[u8]| Module::new(&engine, bytes).expect_err("must fail");
    assert!(matches!(err(b""), Error::InvalidModule { offset: 0, .. }));
    assert!(matches!(err(b"\0asm"), Error::InvalidModule { .. }));
    assert!(matches!(
        err(b"\0asm\x02\0\0\0"),
        Error::InvalidModule { offset: 4, .. }
    ));
    assert!(matches!(
        err(b"\x7fELF\x02\x01\x01\0\xff\xfe"),
        Error::InvalidModule { .. }
    ));
    assert!(matches!(
        err(b"(module (func (result i32)))"),
        Error::InvalidModule { .. }
    ));
    assert!(matches!(err(b"(module (func"), Error::Wat { .. }));
    let valid = wat::parse_str("(module (func (export \"f\") (result i32) i32.const 1))").unwrap();
    // Every truncation is handled; those inside the header or a section are errors (a cut at
    // a section boundary can leave a smaller valid module).
    for cut in 1..valid.len() {
        let r = Module::new(&engine, &valid[..cut]);
        assert!(cut >= 8 || r.is_err(), "truncated at {cut}");
    }
    assert!(Module::new(&engine, &valid[..valid.len() - 1]).is_err());
    // Deterministic pseudo-random garbage, behind a valid header and without.
    let mut x: u32 = 12345;
    for len in [1usize, 7, 64, 1000] {
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        assert!(Module::new(&engine, &bytes).is_err());
        let mut with_header = b"\0asm\x01\0\0\0".to_vec();
        with_header.append(&mut bytes);
        assert!(Module::new(&engine, &with_header).is_err());
    }
}

#[test]
fn unsupported_proposals_are_named() {
    let engine = Engine::default();
    let cases = [
        (
            "(module (func (param v128 v128 v128) (result v128) \
             local.get 0 local.get 1 local.get 2 i32x4.relaxed_laneselect))",
            "relaxed-simd",
        ),
        ("(module (func try end))", "legacy-exceptions"),
        ("(module (memory i64 1))", "memory64"),
        ("(module (memory 1) (memory 1))", "multi-memory"),
        (
            "(module (global (shared mut i32) (i32.const 0)))",
            "shared-everything-threads",
        ),
        (
            "(module (type $t (func)) (func (param (ref null $t)) local.get 0 call_ref $t))",
            "function-references",
        ),
    ];
    for (wat, feature) in cases {
        match Module::new(&engine, wat) {
            Err(Error::Unsupported { feature: f, .. }) => assert_eq!(f, feature, "{wat}"),
            other => panic!(
                "{wat}: expected unsupported {feature}, got {:?}",
                other.err()
            ),
        }
        let msg = Module::new(&engine, wat).err().unwrap().to_string();
        assert!(
            msg.starts_with(&format!("unsupported feature: {feature}")),
            "{msg}"
        );
    }
}

#[test]
fn parallel_and_serial_compilation_agree() {
    let mut body = String::from("(module (memory 1)");
    for i in 0..200 {
        body.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32) local.get 0 i32.const {i} i32.mul i32.const {i} i32.add)"
        ));
    }
    body.push(')');
    for parallel in [true, false] {
        let config = wasix_rt::Config {
            parallel_compilation: parallel,
            ..Default::default()
        };
        let engine = Engine::new(&config).unwrap();
        let (mut s, i) = instantiate(&engine, &body);
        for k in [0, 57, 199] {
            let r = call(&mut s, &i, &format!("f{k}"), &[Val::I32(3)]).unwrap();
            assert_eq!(r[0].i32(), Some(3 * k + k));
        }
    }
}

#[test]
fn start_function_runs_and_segments_initialise() {
    let engine = Engine::default();
    let (mut s, i) = instantiate(
        &engine,
        r#"(module (memory (export "m") 1) (data (i32.const 16) "hi")
             (global $g (mut i32) (i32.const 0))
             (func $start i32.const 0 i32.const 16 i32.load16_u i32.store)
             (start $start)
             (func (export "first") (result i32) i32.const 0 i32.load))"#,
    );
    assert_eq!(
        call(&mut s, &i, "first", &[]).unwrap()[0].i32(),
        Some(0x6968)
    );
    let trapping = Module::new(&engine, "(module (func $s unreachable) (start $s))").unwrap();
    let mut store = Store::new(&engine, ());
    match Linker::new(&engine).instantiate(&mut store, &trapping) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::Unreachable),
        other => panic!("expected a trap, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn typed_host_functions_via_func_wrap() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "m" "divmod" (func $dm (param i64 i64) (result i64 i64)))
            (import "m" "count" (func $count))
            (func (export "run") (param i64 i64) (result i64)
              call $count
              local.get 0 local.get 1 call $dm i64.add))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "m",
            "divmod",
            |_: wasix_rt::Caller<'_, u32>, a: i64, b: i64| {
                if b == 0 {
                    return Err(Error::Host("division by zero".into()));
                }
                Ok((a / b, a % b))
            },
        )
        .unwrap();
    linker
        .func_wrap("m", "count", |mut c: wasix_rt::Caller<'_, u32>| {
            *c.data_mut() += 1;
            Ok(())
        })
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = inst
        .get_typed_func::<(i64, i64), i64, _>(&store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, (17, 5)).unwrap(), 3 + 2);
    assert!(matches!(run.call(&mut store, (1, 0)), Err(Error::Host(m)) if m == "division by zero"));
    assert_eq!(*store.data(), 2);
    // A mismatched import type is refused at link time, before anything is created.
    let wrong = Module::new(
        &engine,
        r#"(module (import "m" "count" (func (param i32))))"#,
    )
    .unwrap();
    assert!(matches!(
        linker.instantiate(&mut store, &wrong),
        Err(Error::Link {
            kind: wasix_rt::LinkErrorKind::IncompatibleImportType,
            ..
        })
    ));
}

#[test]
fn v128_values_cross_the_host_boundary() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let ty = FuncType::new([ValType::V128], [ValType::V128]);
    linker
        .func_new("host", "swap_halves", ty, |_, params, results| {
            let Val::V128(v) = params[0] else {
                return Err(Error::Host("expected a v128".into()));
            };
            results[0] = Val::V128(v.rotate_left(64));
            Ok(())
        })
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "swap_halves" (func $swap (param v128) (result v128)))
             (global $g (export "g") (mut v128) (v128.const i32x4 1 2 3 4))
             (func (export "f") (param v128 v128) (result v128 i32)
               (call $swap (i32x4.add (local.get 0) (local.get 1)))
               (i32x4.extract_lane 3 (global.get $g))))"#,
    )
    .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let f = inst.get_func(&store, "f").unwrap();
    let lanes = |l: [u32; 4]| {
        Val::V128(
            l.iter()
                .rev()
                .fold(0u128, |acc, x| (acc << 32) | u128::from(*x)),
        )
    };
    let mut results = [Val::I32(0), Val::I32(0)];
    f.call(
        &mut store,
        &[lanes([1, 2, 3, 4]), lanes([10, 20, 30, 40])],
        &mut results,
    )
    .unwrap();
    let (Val::V128(got), Val::I32(lane3)) = (results[0], results[1]) else {
        panic!("{results:?}")
    };
    let Val::V128(want) = lanes([33, 44, 11, 22]) else {
        unreachable!()
    };
    assert_eq!((got, lane3), (want, 4));
    let g = inst.get_global(&store, "g").unwrap();
    let Val::V128(want) = lanes([1, 2, 3, 4]) else {
        unreachable!()
    };
    assert!(matches!(g.get(&store), Val::V128(v) if v == want));
}

#[test]
fn exceptions_are_caught_by_tag_and_uncaught_ones_reach_the_host() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
             (tag $e (param i32 i64 v128))
             (tag $other)
             (func $throw (export "throw") (param i32)
               (local.get 0) (i64.const 7) (v128.const i32x4 1 2 3 4) (throw $e))
             (func $rethrow (param i32)
               (block $h (result exnref)
                 (try_table (catch_all_ref $h) (call $throw (local.get 0)))
                 (return))
               (throw_ref))
             ;; Deep frames between the throw and the handler, and a try_table that does not
             ;; match on the way.
             (func $deep (param i32 i32)
               (if (i32.eqz (local.get 1))
                 (then (call $rethrow (local.get 0)))
                 (else
                   (block $no
                     (try_table (catch $other $no)
                       (call $deep (local.get 0) (i32.sub (local.get 1) (i32.const 1)))))))
             )
             (func (export "catch") (param i32 i32) (result i32)
               (local i64 v128)
               (block $h (result i32 i64 v128)
                 (try_table (catch $e $h) (call $deep (local.get 0) (local.get 1)))
                 (return (i32.const -1)))
               (local.set 3) (local.set 2)
               (i32.add (i32.wrap_i64 (local.get 2)) (i32x4.extract_lane 3 (local.get 3)))
               (i32.add)))"#,
    )
    .unwrap();
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let catch = inst
        .get_typed_func::<(i32, i32), i32, _>(&store, "catch")
        .unwrap();
    // 100 + 7 + 4, through 1000 frames.
    assert_eq!(catch.call(&mut store, (100, 1000)).unwrap(), 111);
    let throw = inst.get_typed_func::<i32, (), _>(&store, "throw").unwrap();
    match throw.call(&mut store, 1) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::UncaughtException),
        other => panic!("expected an uncaught exception, got {other:?}"),
    }
    // The store keeps working, also after many caught exceptions.
    for i in 0..20_000 {
        assert_eq!(catch.call(&mut store, (i, 3)).unwrap(), i + 11);
    }
}

/// Epoch interruption: code compiled with checks traps `Interrupted` once the engine's epoch
/// reaches its store's deadline, in a loop and in endless tail recursion (which has no loop
/// header: the check at function entry stops it); the store can run again with a new deadline;
/// before the deadline and without checks nothing changes.
#[test]
fn epoch_interruption_stops_endless_loops_and_recursion() {
    let wat = r#"(module
      (func (export "spin") (loop $l (br $l)))
      (func $forever (export "forever") (return_call $forever))
      (func (export "count") (param $n i32) (result i32) (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $i)))"#;
    let config = wasix_rt::Config {
        epoch_interruption: true,
        ..Default::default()
    };
    let engine = Engine::new(&config).unwrap();
    let (mut store, inst) = instantiate(&engine, wat);
    // No deadline: code runs to its end.
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(1000)]).unwrap()[0].i32(),
        Some(1000)
    );
    for name in ["spin", "forever"] {
        store.set_epoch_deadline(1);
        let ticker = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                engine.increment_epoch();
            })
        };
        assert_eq!(
            trap_kind(call(&mut store, &inst, name, &[])),
            TrapKind::Interrupted,
            "{name}"
        );
        ticker.join().unwrap();
        // The store is usable again with a deadline in the future.
        store.set_epoch_deadline(10);
        assert_eq!(
            call(&mut store, &inst, "count", &[Val::I32(5)]).unwrap()[0].i32(),
            Some(5)
        );
    }
    // A deadline already reached traps at the first check.
    store.set_epoch_deadline(0);
    assert_eq!(
        trap_kind(call(&mut store, &inst, "count", &[Val::I32(5)])),
        TrapKind::Interrupted
    );
    // Compiled without checks, the same deadline changes nothing.
    let plain = Engine::default();
    let (mut store, inst) = instantiate(&plain, wat);
    store.set_epoch_deadline(0);
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(5)]).unwrap()[0].i32(),
        Some(5)
    );
}

/// `InstancePre`: imports resolved once, instantiated in several stores, each with its own
/// host state and fresh memory; the link errors are the same as `instantiate`'s, and an
/// import defined by an item of some store is refused.
#[test]
fn instance_pre_instantiates_in_many_stores() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "m" "count" (func $count (result i32)))
            (memory (export "memory") 1)
            (global $g (mut i32) (i32.const 0))
            (func (export "run") (result i32)
              (global.set $g (i32.add (global.get $g) (i32.const 1)))
              (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
              (i32.add (i32.mul (call $count) (i32.const 100))
                (i32.add (global.get $g) (i32.load (i32.const 0))))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("m", "count", |mut c: wasix_rt::Caller<'_, u32>| {
            *c.data_mut() += 1;
            Ok(*c.data() as i32)
        })
        .unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    for _ in 0..3 {
        let mut store = Store::new(&engine, 0u32);
        let inst = pre.instantiate(&mut store).unwrap();
        let run = inst.get_typed_func::<(), i32, _>(&store, "run").unwrap();
        // Fresh state in every store: count 1, global 1, memory word 1.
        assert_eq!(run.call(&mut store, ()).unwrap(), 100 + 1 + 1);
        assert_eq!(run.call(&mut store, ()).unwrap(), 200 + 2 + 2);
    }
    let unknown = Module::new(&engine, r#"(module (import "m" "nope" (func)))"#).unwrap();
    assert!(matches!(
        linker.instantiate_pre(&unknown),
        Err(Error::Link {
            kind: wasix_rt::LinkErrorKind::UnknownImport,
            ..
        })
    ));
    let wrong = Module::new(&engine, r#"(module (import "m" "count" (func)))"#).unwrap();
    assert!(matches!(
        linker.instantiate_pre(&wrong),
        Err(Error::Link {
            kind: wasix_rt::LinkErrorKind::IncompatibleImportType,
            ..
        })
    ));
    // A global of some store cannot be resolved ahead of the store.
    let mut store = Store::new(&engine, 0u32);
    let g = wasix_rt::Global::new(
        &mut store,
        wasix_rt::GlobalType {
            content: ValType::I32,
            mutable: false,
        },
        Val::I32(1),
    )
    .unwrap();
    linker.define("m", "g", g).unwrap();
    let uses_global = Module::new(&engine, r#"(module (import "m" "g" (global i32)))"#).unwrap();
    assert!(matches!(
        linker.instantiate_pre(&uses_global),
        Err(Error::Usage(_))
    ));
}

/// `Store::set_memory_limit`: a memory larger than the limit does not instantiate, and
/// `memory.grow` stops at it.
#[test]
fn a_store_memory_limit_bounds_instantiation_and_growth() {
    let engine = Engine::default();
    let grower = r#"(module (memory 1)
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;
    let module = Module::new(&engine, grower).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_memory_limit(3);
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let grow = inst.get_typed_func::<i32, i32, _>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1, "past the limit");
    let big = Module::new(&engine, "(module (memory 4))").unwrap();
    let mut store = Store::new(&engine, ());
    store.set_memory_limit(3);
    assert!(matches!(
        Linker::new(&engine).instantiate(&mut store, &big),
        Err(Error::Resource(_))
    ));
}

/// Accesses whose address is `p + c` in 32-bit arithmetic keep wasm's wrapping semantics when
/// the translator folds `c` into the access's offset (`translate::fold_offsets`).
#[test]
fn folded_constant_offsets_keep_wrapping_semantics() {
    let engine = Engine::default();
    let (mut s, i) = instantiate(
        &engine,
        r#"(module
          (memory (export "mem") 1)
          (data (i32.const 8) "\2a\00\00\00\00\00\00\00")
          ;; p + 16 alone: wraps to a valid low index.
          (func (export "alone") (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16))))
          ;; p + 16 with a load at p after it (the fold applies).
          (func (export "witnessed") (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (i64.load (local.get 0))
            (i64.add))
          ;; A store between the folded load and its witness must happen before the trap.
          (func (export "store_between") (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (i32.store (i32.const 100) (i32.const 7))
            (i64.load (local.get 0))
            (i64.add))
          ;; p - 16: wraps past 4 GiB, out of bounds.
          (func (export "below") (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const -16))))
          (func (export "below_offset") (param i32) (result i64)
            (i64.load offset=8 (i32.add (local.get 0) (i32.const -16))))
          (func (export "store_below") (param i32)
            (i64.store (i32.add (local.get 0) (i32.const -16)) (i64.const -1))))"#,
    );
    let i64_of = |r: Result<Vec<Val>, Error>| match r.unwrap()[0] {
        Val::I64(v) => v,
        ref v => panic!("{v:?}"),
    };
    // 0xffff_fff8 + 16 wraps to 8.
    assert_eq!(i64_of(call(&mut s, &i, "alone", &[Val::I32(-8)])), 42);
    assert_eq!(i64_of(call(&mut s, &i, "alone", &[Val::I32(-8)])), 42);
    assert_eq!(i64_of(call(&mut s, &i, "witnessed", &[Val::I32(0)])), 0);
    assert_eq!(i64_of(call(&mut s, &i, "witnessed", &[Val::I32(8)])), 42);
    assert_eq!(
        trap_kind(call(&mut s, &i, "witnessed", &[Val::I32(-8)])),
        TrapKind::MemoryOutOfBounds
    );
    assert_eq!(
        trap_kind(call(&mut s, &i, "store_between", &[Val::I32(-8)])),
        TrapKind::MemoryOutOfBounds
    );
    let mem = i.get_memory(&s, "mem").unwrap();
    assert_eq!(mem.data(&s)[100], 7, "the store before the trap happened");
    assert_eq!(i64_of(call(&mut s, &i, "below", &[Val::I32(24)])), 42);
    for p in [0, 8, 15] {
        assert_eq!(
            trap_kind(call(&mut s, &i, "below", &[Val::I32(p)])),
            TrapKind::MemoryOutOfBounds
        );
        assert_eq!(
            trap_kind(call(&mut s, &i, "below_offset", &[Val::I32(p)])),
            TrapKind::MemoryOutOfBounds
        );
        assert_eq!(
            trap_kind(call(&mut s, &i, "store_below", &[Val::I32(p)])),
            TrapKind::MemoryOutOfBounds
        );
    }
    assert_eq!(
        i64_of(call(&mut s, &i, "below_offset", &[Val::I32(16)])),
        42
    );
}

/// A memory has at most 65,535 pages: the last 64 KiB of the 32-bit index space stay out of
/// bounds (the folded offsets above rely on it); asking for more is a clean error or -1.
#[test]
fn memories_stop_one_page_short_of_4_gib() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module (memory 65536))").unwrap();
    let mut store = Store::new(&engine, ());
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("65535"), "{err}");
    let (mut s, i) = instantiate(
        &engine,
        r#"(module (memory 0)
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    assert!(matches!(
        call(&mut s, &i, "grow", &[Val::I32(65536)]).unwrap()[0],
        Val::I32(-1)
    ));
    assert!(matches!(
        call(&mut s, &i, "grow", &[Val::I32(65535)]).unwrap()[0],
        Val::I32(0)
    ));
    assert!(matches!(
        call(&mut s, &i, "grow", &[Val::I32(1)]).unwrap()[0],
        Val::I32(-1)
    ));
}

/// `Linker::func_wrap` takes closures as wasmtime's does: with or without a leading `Caller`,
/// returning results or a `Result` of them.
#[test]
fn func_wrap_takes_closures_with_or_without_caller_and_result() {
    use wasix_rt::{Caller, Error, Linker, Module, Store};
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "plain" (func $plain (param i32) (result i32)))
          (import "h" "caller" (func $caller (param i32) (result i32)))
          (import "h" "fails" (func $fails))
          (import "h" "pair" (func $pair (result i32 i64)))
          (func (export "run") (param i32) (result i32)
            (call $caller (call $plain (local.get 0))))
          (func (export "pair") (result i64) (local $b i64)
            (call $pair) (local.set $b) (i64.extend_i32_u) (local.get $b) (i64.add))
          (func (export "fail") (call $fails)))"#,
    )
    .unwrap();
    let mut linker: Linker<u32> = Linker::new(&engine);
    linker.func_wrap("h", "plain", |x: i32| x + 1).unwrap();
    linker
        .func_wrap("h", "caller", |caller: Caller<'_, u32>, x: i32| {
            Ok(x * *caller.data() as i32)
        })
        .unwrap();
    linker
        .func_wrap("h", "fails", || -> wasix_rt::Result<()> {
            Err(Error::Host("refused".into()))
        })
        .unwrap();
    linker.func_wrap("h", "pair", || (2i32, 40i64)).unwrap();
    let mut store = Store::new(&engine, 10);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_typed_func::<i32, i32, _>(&store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, 4).unwrap(), 50);
    let pair = instance
        .get_typed_func::<(), i64, _>(&store, "pair")
        .unwrap();
    assert_eq!(pair.call(&mut store, ()).unwrap(), 42);
    let fail = instance
        .get_typed_func::<(), (), _>(&store, "fail")
        .unwrap();
    assert!(matches!(fail.call(&mut store, ()), Err(Error::Host(m)) if m == "refused"));
}

/// Typed host functions are entered from wasm in the native calling convention: every number
/// type arrives in its place, also past the registers (6 integer and 10 float arguments after
/// the two pointers the entry takes, so both kinds spill to the stack), float and 64-bit
/// results come back whole, and a panic in the closure is an error of the call (the store
/// keeps working). The host's own call of the same function (`Func::call`) agrees.
#[test]
fn typed_host_functions_get_every_argument_in_the_native_convention() {
    use wasix_rt::{Caller, Linker};
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "mix" (func $mix (param i32 i64 i32 i64 i32 i64
            f32 f64 f32 f64 f32 f64 f32 f64 f32 f64) (result f64)))
          (import "h" "half" (func $half (param f32) (result f32)))
          (import "h" "wide" (func $wide (param i32) (result i64)))
          (import "h" "neg" (func $neg (param i32) (result i32)))
          (import "h" "boom" (func $boom (param i32)))
          (func (export "mix") (result f64)
            (call $mix (i32.const -1) (i64.const 0x100000000) (i32.const 3) (i64.const -4)
              (i32.const 5) (i64.const 6)
              (f32.const 0.5) (f64.const 0.25) (f32.const 1.5) (f64.const 2.5) (f32.const 3.5)
              (f64.const 4.5) (f32.const 5.5) (f64.const 6.5) (f32.const 7.5) (f64.const 8.5)))
          (func (export "half") (param f32) (result f32) (call $half (local.get 0)))
          (func (export "wide") (param i32) (result i64) (call $wide (local.get 0)))
          (func (export "neg") (param i32) (result i32) (call $neg (local.get 0)))
          (func (export "boom") (param i32) (call $boom (local.get 0))))"#,
    )
    .unwrap();
    // Each argument weighted by its position, so that two swapped arguments show.
    fn weighted(values: &[f64]) -> f64 {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| v * (i + 1) as f64)
            .sum()
    }
    let mut linker: Linker<u32> = Linker::new(&engine);
    linker
        .func_wrap(
            "h",
            "mix",
            |c: Caller<'_, u32>,
             a: i32,
             b: i64,
             cc: i32,
             d: i64,
             e: i32,
             f: i64,
             f0: f32,
             f1: f64,
             f2: f32,
             f3: f64,
             f4: f32,
             f5: f64,
             f6: f32,
             f7: f64,
             f8: f32,
             f9: f64| {
                let ints = [a as f64, b as f64, cc as f64, d as f64, e as f64, f as f64];
                let floats = [
                    f0 as f64, f1, f2 as f64, f3, f4 as f64, f5, f6 as f64, f7, f8 as f64, f9,
                ];
                weighted(&[&ints[..], &floats[..]].concat()) + *c.data() as f64
            },
        )
        .unwrap();
    linker.func_wrap("h", "half", |x: f32| x / 2.0).unwrap();
    linker
        .func_wrap("h", "wide", |x: i32| (x as i64) << 33)
        .unwrap();
    linker.func_wrap("h", "neg", |x: i32| -x).unwrap();
    linker
        .func_wrap("h", "boom", |x: i32| {
            if x == 1 {
                panic!("boom");
            }
        })
        .unwrap();
    let mut store = Store::new(&engine, 1000u32);
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let expected = weighted(&[
        -1.0,
        4294967296.0,
        3.0,
        -4.0,
        5.0,
        6.0,
        0.5,
        0.25,
        1.5,
        2.5,
        3.5,
        4.5,
        5.5,
        6.5,
        7.5,
        8.5,
    ]) + 1000.0;
    let mix = inst.get_typed_func::<(), f64, _>(&store, "mix").unwrap();
    assert_eq!(mix.call(&mut store, ()).unwrap(), expected);
    let half = inst.get_typed_func::<f32, f32, _>(&store, "half").unwrap();
    assert_eq!(half.call(&mut store, 3.0).unwrap(), 1.5);
    let wide = inst.get_typed_func::<i32, i64, _>(&store, "wide").unwrap();
    assert_eq!(wide.call(&mut store, -3).unwrap(), -3i64 << 33);
    let neg = inst.get_typed_func::<i32, i32, _>(&store, "neg").unwrap();
    assert_eq!(neg.call(&mut store, 7).unwrap(), -7);
    let boom = inst.get_typed_func::<i32, (), _>(&store, "boom").unwrap();
    let err = boom.call(&mut store, 1).unwrap_err();
    assert!(
        matches!(&err, Error::Host(m) if m == "host function panicked: boom"),
        "{err:?}"
    );
    boom.call(&mut store, 0).unwrap();
    assert_eq!(neg.call(&mut store, -9).unwrap(), 9);
    // The host calling the host function itself goes through the value array.
    let Some(wasix_rt::Extern::Func(host_neg)) = linker.get(&mut store, "h", "neg") else {
        panic!("h::neg is a function");
    };
    let mut out = [Val::I32(0)];
    host_neg.call(&mut store, &[Val::I32(5)], &mut out).unwrap();
    assert_eq!(out[0].i32(), Some(-5));
}

/// A host function sees an unshared exported memory as bytes, but never a shared one (other
/// threads write it): `memory_and_data` gives `None` and the export is a `SharedMemory`.
#[test]
fn caller_lends_bytes_of_unshared_memory_only() {
    use wasix_rt::{Caller, Extern, Linker, Module, Store};
    let engine = Engine::default();
    for (memory, shared) in [
        ("(memory (export \"memory\") 1)", false),
        ("(memory (export \"memory\") 1 1 shared)", true),
    ] {
        let module = Module::new(
            &engine,
            format!(
                r#"(module (import "h" "look" (func $look (result i32))) {memory}
                  (data (i32.const 8) "\2a")
                  (func (export "run") (result i32) (call $look)))"#
            ),
        )
        .unwrap();
        let mut linker: Linker<()> = Linker::new(&engine);
        linker
            .func_wrap("h", "look", |mut caller: Caller<'_, ()>| {
                let byte = caller.memory_and_data().map(|(bytes, _)| bytes[8] as i32);
                let export = caller.get_export("memory");
                match (byte, export) {
                    (Some(b), Some(Extern::Memory(_))) => b,
                    (None, Some(Extern::SharedMemory(m))) => 1000 + (m.data_size() >> 16) as i32,
                    _ => -1,
                }
            })
            .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let run = instance
            .get_typed_func::<(), i32, _>(&store, "run")
            .unwrap();
        // The shared memory's one 64 KiB page, seen through the `SharedMemory`.
        let expected = if shared { 1001 } else { 42 };
        assert_eq!(
            run.call(&mut store, ()).unwrap(),
            expected,
            "shared: {shared}"
        );
    }
}
