;; server.wat: the smallest HTTP server, written by hand against WASIX. It opens an IPv4 TCP
;; socket, sets SO_REUSEADDR (so a restart does not wait for TIME_WAIT), binds 0.0.0.0:8080, listens with a backlog of 100, then forever: accepts a
;; connection (sock_accept_v2), sends the 32 bytes "HTTP/1.1 200 OK\r\n\r\nHello, World!"
;; (sock_send), shuts the connection down in both directions (sock_shutdown) and closes it
;; (fd_close). A failed step makes the program exit with that step's errno.
;; Run it with:  wasix-rt run wat-samples/server.wat --net
;; then:         curl http://127.0.0.1:8080/
(module
  (import "wasix_32v1" "sock_open" (func $sock_open (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_set_opt_flag" (func $sock_set_opt_flag (param i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_bind" (func $sock_bind (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_listen" (func $sock_listen (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_accept_v2" (func $sock_accept_v2 (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_shutdown" (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0x100: addr_port, tag 1 (INET4), port 8080 as little-endian u16, address 0.0.0.0
  (data (i32.const 0x100) "\01\00\90\1f\00\00\00\00")
  ;; 0x200: one ciovec: buf = 0x400, buf_len = 32
  (data (i32.const 0x200) "\00\04\00\00\20\00\00\00")
  (data (i32.const 0x400) "HTTP/1.1 200 OK\0d\0a\0d\0aHello, World!")
  ;; 0x180: listening fd, 0x184: accepted fd, 0x188: bytes sent, 0x190: peer addr_port
  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $proc_exit (local.get $errno)))))
  (func (export "_start") (local $listener i32) (local $conn i32)
    (call $check (call $sock_open (i32.const 1) (i32.const 1) (i32.const 6) (i32.const 0x180)))
    (local.set $listener (i32.load (i32.const 0x180)))
    ;; sock_option 2 = REUSE_ADDR
    (call $check (call $sock_set_opt_flag (local.get $listener) (i32.const 2) (i32.const 1)))
    (call $check (call $sock_bind (local.get $listener) (i32.const 0x100)))
    (call $check (call $sock_listen (local.get $listener) (i32.const 100)))
    (loop $serve
      (call $check (call $sock_accept_v2 (local.get $listener) (i32.const 0) (i32.const 0x184) (i32.const 0x190)))
      (local.set $conn (i32.load (i32.const 0x184)))
      ;; A client that went away is not the server's problem: errors here are ignored.
      (drop (call $sock_send (local.get $conn) (i32.const 0x200) (i32.const 1) (i32.const 0) (i32.const 0x188)))
      (drop (call $sock_shutdown (local.get $conn) (i32.const 3)))
      (drop (call $fd_close (local.get $conn)))
      (br $serve))))
