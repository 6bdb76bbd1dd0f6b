;; echo.wat: a TCP echo server. It listens on 0.0.0.0:8081 and serves one connection at a
;; time: whatever the client sends comes back (sock_recv into a 64 KiB buffer, sock_send until
;; all of it is out), until the client closes its side; then the server closes the connection
;; and accepts the next one.
;; Run it with:  wasix-rt run wat-samples/echo.wat --net
;; then:         echo hello | nc -q1 127.0.0.1 8081
(module
  (import "wasix_32v1" "sock_open" (func $sock_open (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_set_opt_flag" (func $sock_set_opt_flag (param i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_bind" (func $sock_bind (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_listen" (func $sock_listen (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_accept_v2" (func $sock_accept_v2 (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  ;; 0x100: addr_port, tag 1 (INET4), port 8081 (little-endian), 0.0.0.0
  (data (i32.const 0x100) "\01\00\91\1f\00\00\00\00")
  ;; 0x180 listener fd, 0x184 connection fd, 0x188 byte count, 0x18c roflags, 0x190 peer
  ;; 0x200 iovec for recv: buf = 0x10000, len = 65536; 0x208 iovec for send (filled in)
  (data (i32.const 0x200) "\00\00\01\00\00\00\01\00")
  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $proc_exit (local.get $errno)))))
  (func (export "_start") (local $listener i32) (local $conn i32) (local $n i32) (local $off i32)
    (call $check (call $sock_open (i32.const 1) (i32.const 1) (i32.const 6) (i32.const 0x180)))
    (local.set $listener (i32.load (i32.const 0x180)))
    ;; sock_option 2 = REUSE_ADDR
    (call $check (call $sock_set_opt_flag (local.get $listener) (i32.const 2) (i32.const 1)))
    (call $check (call $sock_bind (local.get $listener) (i32.const 0x100)))
    (call $check (call $sock_listen (local.get $listener) (i32.const 100)))
    (loop $serve
      (call $check (call $sock_accept_v2 (local.get $listener) (i32.const 0) (i32.const 0x184) (i32.const 0x190)))
      (local.set $conn (i32.load (i32.const 0x184)))
      (block $closed
        (loop $echo
          ;; Receive; an error or 0 bytes (the peer closed) ends this connection.
          (br_if $closed (call $sock_recv (local.get $conn) (i32.const 0x200) (i32.const 1)
                           (i32.const 0) (i32.const 0x188) (i32.const 0x18c)))
          (local.set $n (i32.load (i32.const 0x188)))
          (br_if $closed (i32.eqz (local.get $n)))
          ;; Send all n bytes, resuming after partial sends.
          (local.set $off (i32.const 0))
          (loop $send
            (i32.store (i32.const 0x208) (i32.add (i32.const 0x10000) (local.get $off)))
            (i32.store (i32.const 0x20c) (i32.sub (local.get $n) (local.get $off)))
            (br_if $closed (call $sock_send (local.get $conn) (i32.const 0x208) (i32.const 1)
                             (i32.const 0) (i32.const 0x188)))
            (local.set $off (i32.add (local.get $off) (i32.load (i32.const 0x188))))
            (br_if $send (i32.lt_u (local.get $off) (local.get $n))))
          (br $echo)))
      (drop (call $sock_shutdown (local.get $conn) (i32.const 3)))
      (drop (call $fd_close (local.get $conn)))
      (br $serve))))
