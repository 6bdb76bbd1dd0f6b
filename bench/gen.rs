// Shared by several bench targets; each uses part of it.
#![allow(dead_code)]

//! Generates a large, varied module for compile benchmarks (shared by the bench targets).

/// WAT text of a module with `funcs` functions of mixed integer, float, memory, control-flow
/// and call code; about 190 bytes of code section per function.
pub fn large_module(funcs: usize) -> String {
    large_module_with(funcs, true)
}

/// As [`large_module`]; with `export_all` false only `f0` is exported (as in most programs).
pub fn large_module_with(funcs: usize, export_all: bool) -> String {
    let mut s =
        String::from("(module (memory 1) (table 16 funcref) (global $g (mut i32) (i32.const 0))\n");
    s.push_str("(type $t (func (param i32) (result i32)))\n");
    for i in 0..funcs {
        let callee = if i == 0 { 0 } else { (i * 7919) % i };
        s.push_str(&format!(
            r#"(func $f{i} {export} (param $a i32) (result i32) (local $b i64) (local $c f64) (local $k i32)
  (local.set $b (i64.extend_i32_u (local.get $a)))
  (local.set $c (f64.convert_i32_s (local.get $a)))
  (block $exit (loop $top
    (br_if $exit (i32.ge_u (local.get $k) (i32.const {n})))
    (i32.store offset={off} (i32.and (local.get $k) (i32.const 1020))
      (i32.add (i32.load (i32.and (local.get $a) (i32.const 1020))) (local.get $k)))
    (local.set $b (i64.add (i64.mul (local.get $b) (i64.const 6364136223846793005)) (i64.const {i})))
    (local.set $c (f64.add (f64.mul (local.get $c) (f64.const 1.0001)) (f64.const 0.5)))
    (if (i32.eqz (i32.rem_u (local.get $k) (i32.const 3)))
      (then (global.set $g (i32.xor (global.get $g) (i32.wrap_i64 (local.get $b)))))
      (else (local.set $a (i32.rotl (local.get $a) (i32.const 5)))))
    (local.set $k (i32.add (local.get $k) (i32.const 1)))
    (br $top)))
  (block (block (br_table 0 1 1 (i32.and (local.get $a) (i32.const 3)))) (global.set $g (i32.const 1)))
  (local.set $a (i32.add (local.get $a) (i32.trunc_sat_f64_s (local.get $c))))
  (if (result i32) (i32.lt_u (local.get $a) (i32.const 10))
    (then (call $f{callee} (i32.add (local.get $a) (i32.const 1))))
    (else (i32.add (local.get $a) (i32.wrap_i64 (i64.shr_u (local.get $b) (i64.const 17)))))))
"#,
            export = if export_all || i == 0 { format!("(export \"f{i}\")") } else { String::new() },
            n = 3 + i % 5,
            off = (i % 64) * 4,
        ));
    }
    s.push(')');
    s
}

fn read_leb(b: &[u8], at: &mut usize) -> u32 {
    let (mut v, mut shift) = (0u32, 0);
    loop {
        let x = b[*at];
        *at += 1;
        v |= u32::from(x & 0x7f) << shift;
        shift += 7;
        if x < 0x80 {
            return v;
        }
    }
}

fn write_leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let x = (v & 0x7f) as u8;
        v >>= 7;
        out.push(if v == 0 { x } else { x | 0x80 });
        if v == 0 {
            return;
        }
    }
}

/// `wasm` with the bodies of its entry point (`_start`, else `_initialize`) and of its start
/// function replaced by an empty one, so that running it measures the runtime's start-up and
/// none of the program's own. Returns the new module and the entry's name.
pub fn trivial_entry(wasm: &[u8]) -> (Vec<u8>, String) {
    use wasmparser::{ExternalKind, Parser, Payload};
    let (mut imported, mut entries, mut start) = (0u32, Vec::new(), None);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.expect("a valid module") {
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    if matches!(imp.unwrap().ty, wasmparser::TypeRef::Func(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.unwrap();
                    if e.kind == ExternalKind::Func && ["_start", "_initialize"].contains(&e.name) {
                        entries.push((e.name.to_string(), e.index));
                    }
                }
            }
            Payload::StartSection { func, .. } => start = Some(func),
            _ => {}
        }
    }
    entries.sort();
    let (name, entry) = entries.pop().expect("a `_start` or `_initialize` export");
    let emptied: Vec<u32> = [Some(entry), start].into_iter().flatten().collect();
    let mut out = wasm[..8].to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let len = read_leb(wasm, &mut at) as usize;
        let content = &wasm[at..at + len];
        at += len;
        let mut section = Vec::new();
        if id == 10 {
            let mut p = 0;
            let count = read_leb(content, &mut p);
            write_leb(&mut section, count);
            for i in 0..count {
                let size = read_leb(content, &mut p) as usize;
                if emptied.contains(&(imported + i)) {
                    // No locals, `end`: valid for the [] -> [] type of an entry point.
                    section.extend_from_slice(&[2, 0, 0x0b]);
                } else {
                    write_leb(&mut section, size as u32);
                    section.extend_from_slice(&content[p..p + size]);
                }
                p += size;
            }
        } else {
            section.extend_from_slice(content);
        }
        out.push(id);
        write_leb(&mut out, section.len() as u32);
        out.extend_from_slice(&section);
    }
    (out, name)
}
