//! `--profile=guest`: the sampling profiler of guest code, on a C program whose time is mostly
//! in known functions (`tests/programs/profile_target.c`), read back from the Firefox
//! Profiler file it writes.

mod common;

use common::{build_program, compile_wasix_with_names, run_bounded};
use std::collections::HashMap;
use std::path::Path;

/// One thread of a processed profile: its guest thread id and, per sample, the frame names of its stack,
/// outermost first.
struct Track {
    tid: String,
    stacks: Vec<Vec<String>>,
}

/// The threads of a Firefox Profiler processed-format file, their stacks resolved through the
/// stack, frame, func and string tables.
fn tracks(profile: &serde_json::Value) -> Vec<Track> {
    let threads = profile["threads"].as_array().expect("threads");
    threads
        .iter()
        .map(|t| {
            let strings: Vec<&str> = t["stringArray"]
                .as_array()
                .expect("stringArray")
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            let (stack_frame, stack_prefix) = (
                t["stackTable"]["frame"].as_array().unwrap(),
                t["stackTable"]["prefix"].as_array().unwrap(),
            );
            let frame_func = t["frameTable"]["func"].as_array().unwrap();
            let func_name = t["funcTable"]["name"].as_array().unwrap();
            let name_of = |stack: usize| {
                let frame = stack_frame[stack].as_u64().unwrap() as usize;
                let func = frame_func[frame].as_u64().unwrap() as usize;
                strings[func_name[func].as_u64().unwrap() as usize].to_string()
            };
            let samples = &t["samples"];
            let n = samples["length"].as_u64().unwrap() as usize;
            let stacks = samples["stack"].as_array().unwrap();
            assert_eq!(stacks.len(), n);
            let stacks = stacks
                .iter()
                .map(|s| {
                    let mut frames = Vec::new();
                    let mut at = s.as_u64().map(|s| s as usize);
                    while let Some(stack) = at {
                        // Every prefix is an earlier entry: the table is a tree.
                        frames.push(name_of(stack));
                        at = stack_prefix[stack].as_u64().map(|p| {
                            assert!((p as usize) < stack, "a stack's prefix comes before it");
                            p as usize
                        });
                    }
                    frames.reverse();
                    frames
                })
                .collect();
            Track {
                tid: t["tid"]
                    .as_str()
                    .map_or_else(|| t["tid"].to_string(), str::to_string),
                stacks,
            }
        })
        .collect()
}

/// The innermost frame of each sample, counted.
fn leaves(track: &Track) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for s in &track.stacks {
        if let Some(leaf) = s.last() {
            *counts.entry(leaf.as_str()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn samples_land_in_the_hot_functions() {
    let dir = tempfile::tempdir().unwrap();
    let (native, _) = build_program("profile_target");
    let wasm = compile_wasix_with_names(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs"),
        "profile_target",
    );
    let expected = std::process::Command::new(&native)
        .arg("300000000")
        .output()
        .unwrap();
    let json = dir.path().join("guest.json");
    let view = format!("--profile=guest,{}", json.display());
    let out = run_bounded(&["run", &view, wasm.to_str().unwrap(), "300000000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        out.stdout, expected.stdout,
        "same output as the native build"
    );

    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("the profile is JSON");
    let tracks = tracks(&profile);
    let main = tracks
        .iter()
        .find(|t| t.tid == "1")
        .expect("a main thread track");
    let worker = tracks
        .iter()
        .find(|t| t.tid == "2")
        .expect("the second thread's track");
    let total: usize = main.stacks.len();
    let main_leaves = leaves(main);
    let hot = main_leaves.get("hot_loop").copied().unwrap_or(0);
    assert!(
        total >= 100,
        "at 1 ms, a program of ~1 s has hundreds of samples: {total}"
    );
    assert!(
        hot * 2 > total,
        "most of the main thread's samples are in hot_loop: {hot} of {total}: {main_leaves:?}"
    );
    // Every wasm stack starts at the program's entry, and hot_loop is called from main.
    for s in main
        .stacks
        .iter()
        .filter(|s| s.last().is_some_and(|l| l == "hot_loop"))
    {
        assert_eq!(s.first().map(String::as_str), Some("_start"), "{s:?}");
        assert!(s.iter().any(|f| f == "main"), "{s:?}");
    }
    // A sample taken in a host call belongs to the wasm function that made it.
    let in_write = main
        .stacks
        .iter()
        .filter(|s| s.last().is_some_and(|l| l == "fd_write (host call)"))
        .collect::<Vec<_>>();
    assert!(!in_write.is_empty(), "samples in fd_write: {main_leaves:?}");
    for s in &in_write {
        assert!(s.iter().any(|f| f == "write_many"), "{s:?}");
    }
    let worker_leaves = leaves(worker);
    let spin = worker_leaves.get("thread_loop").copied().unwrap_or(0);
    assert!(
        spin * 2 > worker.stacks.len() && spin > 0,
        "the second thread's samples are in thread_loop: {worker_leaves:?}"
    );
    // The flame graph and the summary name the hot function too.
    let svg = std::fs::read_to_string(json.with_extension("svg")).unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("hot_loop"),
        "an SVG flame graph"
    );
    let first = stderr.lines().find(|l| l.contains('%')).unwrap_or_default();
    assert!(
        first.ends_with("hot_loop"),
        "the hottest function first: {stderr}"
    );
}

#[test]
fn an_output_that_cannot_be_created_stops_the_run_before_it_starts() {
    let (_, wasm) = build_program("profile_target");
    let out = run_bounded(&[
        "run",
        "--profile=guest,/nonexistent-dir/guest.json",
        wasm.to_str().unwrap(),
        "1000",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot create /nonexistent-dir/guest.json"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "the program did not run");
}

#[test]
fn a_bad_view_is_a_usage_error() {
    let (_, wasm) = build_program("profile_target");
    for (view, says) in [
        ("--profile=guest,10us", "at least 100us"),
        (
            "--profile=guest,a.json,b.json",
            "expected guest[,FILE][,INTERVAL]",
        ),
        ("--profile=flame", "expected table, perfmap or guest"),
    ] {
        let out = run_bounded(&["run", view, wasm.to_str().unwrap(), "1000"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{view}: {stderr}");
        assert!(stderr.contains(says), "{view}: {stderr}");
    }
}
