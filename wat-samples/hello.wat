;; hello.wat: writes "Hello, World!" and a newline to stdout with one WASI fd_write.
;; Run it with:  wasix-rt run wat-samples/hello.wat
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0x10: buf = 0x100, len = 14
  (data (i32.const 0x10) "\00\01\00\00\0e\00\00\00")
  (data (i32.const 0x100) "Hello, World!\n")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0x10) (i32.const 1) (i32.const 0x20)))))
