fn main() {
    println!("cargo:rerun-if-changed=src/vm/helpers.c");
    cc::Build::new()
        .file("src/vm/helpers.c")
        .opt_level(2)
        .compile("wasixrt_helpers");
}
