;; hello-handler.wat: a WASI program that answers one HTTP request on stdin/stdout, for
;; `wasix-rt serve` (a fresh instance per connection, the connection as stdin and stdout). It
;; reads the request (one fd_read of up to 1 KiB), writes the 32 bytes that server.wat sends,
;; "HTTP/1.1 200 OK\r\n\r\nHello, World!", and returns; serve then closes the connection.
;; Run it with:  wasix-rt serve --listen 127.0.0.1:8080 wat-samples/hello-handler.wat
;; then:         curl http://127.0.0.1:8080/
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0x100: one iovec for the request: buf = 0x800, buf_len = 1024
  (data (i32.const 0x100) "\00\08\00\00\00\04\00\00")
  ;; 0x200: one ciovec for the response: buf = 0x400, buf_len = 32
  (data (i32.const 0x200) "\00\04\00\00\20\00\00\00")
  (data (i32.const 0x400) "HTTP/1.1 200 OK\0d\0a\0d\0aHello, World!")
  (func (export "_start")
    ;; A client that sent nothing or went away still gets (or misses) the answer.
    (drop (call $fd_read (i32.const 0) (i32.const 0x100) (i32.const 1) (i32.const 0x180)))
    (drop (call $fd_write (i32.const 1) (i32.const 0x200) (i32.const 1) (i32.const 0x188)))))
