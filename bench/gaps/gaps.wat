;; The module of the speed-gap table (bench/gaps): one page of memory with a data segment and
;; one imported host function, as issue 28 describes it. Measured by bench/gaps.rs (wasix-rt)
;; and bench/gaps/wasmtime (wasmtime, a dev-only crate outside the default build).
(module
  (import "host" "nop" (func $nop (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world\n")
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  ;; n >= 1 calls of the host function
  (func (export "call_host") (param $n i32)
    (loop $l
      (call $nop (local.get $n))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; the same loop without the call
  (func (export "empty_loop") (param $n i32) (local $x i32)
    (loop $l
      (local.set $x (i32.add (local.get $x) (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
