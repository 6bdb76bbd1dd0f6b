//! The WASIX calls the sysroot's `include/wasi/api_wasix.h` declares that wasix-rt does not
//! implement yet: a program importing one does not link (unless run with
//! `--trap-unknown-imports`), and `wasix-rt run` says the call is known but not implemented
//! yet. `tests/wasix_calls.rs` checks this list against the header and the calls defined, and
//! The table of every WASIX call in `docs/wasix.md` marks the same names "not yet".

/// Each call's name, in the header's order.
pub const NOT_YET: &[&str] = &[
    "proc_snapshot",
    "port_bridge",
    "port_unbridge",
    "port_dhcp_acquire",
    "port_addr_add",
    "port_addr_remove",
    "port_addr_clear",
    "port_mac",
    "port_addr_list",
    "port_gateway_set",
    "port_route_add",
    "port_route_remove",
    "port_route_clear",
    "port_route_list",
    "dl_invalid_handle",
    "dlopen",
    "dlsym",
    "call_dynamic",
    "closure_prepare",
    "closure_allocate",
    "closure_free",
    "reflect_signature",
    "context_create",
    "context_switch",
    "context_destroy",
];
