;; add.wat: the smallest useful module, for trying the CLI.
;; Run it with:  wasix-rt run wat-samples/add.wat --invoke add 1 2     (prints 3)
;;               wasix-rt run wat-samples/add.wat --invoke fac 20      (prints 2432902008176640000)
(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add)
  (func $fac (export "fac") (param i64) (result i64)
    local.get 0
    i64.eqz
    if (result i64)
      i64.const 1
    else
      local.get 0
      local.get 0
      i64.const 1
      i64.sub
      call $fac
      i64.mul
    end))
