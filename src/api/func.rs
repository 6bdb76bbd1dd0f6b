//! `Func` and `Val`: calling wasm functions from the host, and host functions (Rust closures)
//! callable from wasm.

use crate::api::store::{
    host_failed, native_parts, panicked, Caller, HostFunc, NativeEntry, NativeRet,
};
use crate::api::Store;
use crate::error::{Error, Result};
use crate::types::{FuncType, ValType};
use crate::vm::invoke::invoke;
use crate::vm::store::StoreOpaque;
use crate::vm::VMFuncRef;
use std::sync::Arc;

/// A WebAssembly value. Floats are kept as raw bits so that NaN payloads survive.
#[derive(Clone, Copy, Debug)]
pub enum Val {
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// An f32 as its IEEE 754 bits.
    F32(u32),
    /// An f64 as its IEEE 754 bits.
    F64(u64),
    /// A v128; lane 0 in the low bits.
    V128(u128),
    /// A function reference; `None` is `ref.null func`.
    FuncRef(Option<Func>),
    /// An opaque host handle; `None` is `ref.null extern`.
    ExternRef(Option<u32>),
    /// A caught exception, as an opaque handle of its store; `None` is `ref.null exn`.
    ExnRef(Option<u64>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
            Val::ExnRef(_) => ValType::ExnRef,
        }
    }

    /// The zero value of a type (null for references).
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
            ValType::ExnRef => Val::ExnRef(None),
        }
    }

    /// The value if it is an [`Val::I32`].
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }
    /// The value if it is an [`Val::I64`].
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The 16-byte slot encoding used by trampolines and globals (tables keep the low 8).
    pub(crate) fn to_raw(self, store_id: u64) -> Result<u128> {
        Ok(match self {
            Val::I32(v) => v as u32 as u128,
            Val::I64(v) => v as u64 as u128,
            Val::F32(b) => b as u128,
            Val::F64(b) => b as u128,
            Val::V128(b) => b,
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) => 0,
            Val::ExnRef(Some(n)) => n as u128,
            Val::FuncRef(Some(f)) => {
                if f.store_id != store_id {
                    return Err(Error::Usage("function used with the wrong store".into()));
                }
                f.ptr as u64 as u128
            }
            Val::ExternRef(Some(n)) => n as u128 + 1,
        })
    }

    pub(crate) fn from_raw(raw: u128, ty: ValType, store_id: u64) -> Val {
        let low = raw as u64;
        match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(low as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(low),
            ValType::V128 => Val::V128(raw),
            ValType::FuncRef => Val::FuncRef((low != 0).then_some(Func {
                store_id,
                ptr: low as *const VMFuncRef,
            })),
            ValType::ExternRef => Val::ExternRef((low != 0).then(|| (low - 1) as u32)),
            ValType::ExnRef => Val::ExnRef((low != 0).then_some(low)),
        }
    }
}

/// A function of a store: defined by a wasm instance or by the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    pub(crate) store_id: u64,
    pub(crate) ptr: *const VMFuncRef,
}

// SAFETY: a `Func` is a handle: the pointer is only dereferenced by calls that also take the
// store that owns it (`&mut Store`, checked by `store_id`), so sending or sharing the handle
// itself gives no access to anything.
unsafe impl Send for Func {}
// SAFETY: see `Send`.
unsafe impl Sync for Func {}

/// A host function as the user writes it, over [`Val`]s.
pub(crate) type HostFn<T> = dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync;

/// Adapts a [`Val`]-based host function to raw slots.
pub(crate) fn untyped<T: 'static>(ty: FuncType, f: Arc<HostFn<T>>) -> HostFunc<T> {
    let raw = Arc::new(move |caller: Caller<'_, T>, values: &mut [u128]| {
        let id = caller.store.opaque.id;
        // Small signatures use a stack buffer: no allocation per call.
        let (np, nr) = (ty.params().len(), ty.results().len());
        let mut small = [Val::I32(0); 8];
        let mut large;
        let buf: &mut [Val] = if np + nr <= small.len() {
            &mut small[..np + nr]
        } else {
            large = vec![Val::I32(0); np + nr];
            &mut large
        };
        let (params, results) = buf.split_at_mut(np);
        for (i, t) in ty.params().iter().enumerate() {
            params[i] = Val::from_raw(values[i], *t, id);
        }
        for (r, t) in results.iter_mut().zip(ty.results()) {
            *r = Val::default_for(*t);
        }
        f(caller, params, results)?;
        to_slots(results, ty.results(), id, values, |_, got, t| {
            Error::Host(format!(
                "host function returned {got:?} for a result of type {t}"
            ))
        })
    });
    HostFunc { raw, native: None }
}

impl Func {
    /// Wraps a closure as a function of type `ty`. The closure gets the parameters and fills
    /// `results` (pre-set to zeros of the right types); an `Err` becomes the result of the
    /// outermost host call into wasm (e.g. [`Error::Exit`] for `proc_exit`).
    pub fn new<T: 'static>(
        store: &mut Store<T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        let raw = untyped(ty.clone(), Arc::new(f));
        Func::new_raw(store, ty, raw)
    }

    /// Wraps a closure whose parameters and results are Rust numbers (`i32`, `u32`, `i64`,
    /// `u64`, `f32`, `f64`, tuples of them for several results); the function type follows
    /// from the closure's. The fast path for host calls: no [`Val`] conversion.
    pub fn wrap<T, Params, Results>(
        store: &mut Store<T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let (ty, raw) = f.into_func();
        Func::new_raw(store, ty, raw)
    }

    pub(crate) fn new_raw<T>(store: &mut Store<T>, ty: FuncType, func: HostFunc<T>) -> Func {
        let (type_id, host_call) = Func::host_parts(store.engine(), &ty, &func);
        Func::from_resolved(store, host_call, type_id, func)
    }

    /// The engine type id of `ty` and the entry of the trampoline wasm enters `func` through:
    /// wasm-to-native for a function with a native entry, else wasm-to-host.
    pub(crate) fn host_parts<T>(
        engine: &crate::Engine,
        ty: &FuncType,
        func: &HostFunc<T>,
    ) -> (u32, usize) {
        use crate::vm::registry::TrampolineKind;
        let type_id = engine.register_type(ty);
        let kind = match func.native {
            Some(_) => TrampolineKind::WasmToNative,
            None => TrampolineKind::WasmToHost,
        };
        let host_call = engine
            .trampoline(type_id, kind)
            .expect("trampoline compilation for a valid function type");
        (type_id, host_call)
    }

    /// A host function in `store` whose type id and trampoline are known
    /// ([`Func::host_parts`]).
    pub(crate) fn from_resolved<T>(
        store: &mut Store<T>,
        host_call: usize,
        type_id: u32,
        func: HostFunc<T>,
    ) -> Func {
        let ptr = store.add_host_func(host_call, type_id, func);
        Func {
            store_id: store.opaque().id,
            ptr,
        }
    }

    pub(crate) fn check_store<T>(&self, store: &Store<T>) -> Result<()> {
        if self.store_id != store.opaque().id {
            return Err(Error::Usage("function used with the wrong store".into()));
        }
        Ok(())
    }

    pub(crate) fn type_id(&self) -> u32 {
        // SAFETY: a Func's funcref lives as long as its store, checked by the callers.
        unsafe { (*self.ptr).type_id }
    }

    /// The function's type. Panics if `store` is not the function's store.
    pub fn ty<T>(&self, store: &Store<T>) -> FuncType {
        self.check_store(store)
            .expect("Func::ty with the wrong store");
        store.engine().func_type(self.type_id())
    }

    /// Calls the function. `params` must match its parameter types and `results` have one
    /// slot per result. Errors: [`Error::Trap`] if wasm code traps, the host function's error
    /// if one fails, [`Error::Usage`] for a wrong argument count or type.
    pub fn call<T>(&self, store: &mut Store<T>, params: &[Val], results: &mut [Val]) -> Result<()> {
        self.check_store(store)?;
        self.call_in(store.opaque_mut(), params, results)
    }

    /// As [`Func::call`], in a store already checked to be this function's.
    pub(crate) fn call_in(
        &self,
        store: &mut StoreOpaque,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let ty = store.engine.func_type(self.type_id());
        if params.len() != ty.params().len() || results.len() != ty.results().len() {
            return Err(Error::Usage(format!(
                "function of type {ty} called with {} arguments and {} result slots",
                params.len(),
                results.len()
            )));
        }
        let id = store.id;
        let mut values = vec![0u128; params.len().max(results.len()).max(1)];
        to_slots(params, ty.params(), id, &mut values, |i, got, t| {
            Error::Usage(format!("argument {i} is {got:?}, expected {t}"))
        })?;
        // SAFETY: `self` belongs to this store (checked by the caller), so its funcref is live.
        unsafe { invoke(store, self.ptr, &mut values)? };
        for (i, t) in ty.results().iter().enumerate() {
            results[i] = Val::from_raw(values[i], *t, id);
        }
        Ok(())
    }

    /// A statically typed view of this function, checked against its type once.
    pub fn typed<P: WasmParams, R: WasmResults, T>(
        &self,
        store: &Store<T>,
    ) -> Result<TypedFunc<P, R>> {
        let ty = self.ty(store);
        if ty.params() != P::types().as_slice() || ty.results() != R::types().as_slice() {
            return Err(Error::Usage(format!(
                "function of type {ty} used as [{:?}] -> [{:?}]",
                P::types(),
                R::types()
            )));
        }
        Ok(TypedFunc {
            func: *self,
            _marker: std::marker::PhantomData,
        })
    }
}

/// A Rust type that is a wasm number type.
pub trait WasmTy: Copy + Default {
    /// The wasm type this Rust type stands for.
    const TYPE: ValType;
    /// The value as a raw slot (low bits; floats as their bits).
    fn to_raw(self) -> u64;
    /// The value from a raw slot, as [`WasmTy::to_raw`] wrote it.
    fn from_raw(raw: u64) -> Self;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, |$x:ident| $to:expr, |$r:ident| $from:expr) => {
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$vt;
            fn to_raw(self) -> u64 {
                let $x = self;
                $to
            }
            fn from_raw($r: u64) -> Self {
                $from
            }
        }
    };
}
wasm_ty!(i32, I32, |x| x as u32 as u64, |r| r as u32 as i32);
wasm_ty!(u32, I32, |x| x as u64, |r| r as u32);
wasm_ty!(i64, I64, |x| x as u64, |r| r as i64);
wasm_ty!(u64, I64, |x| x, |r| r);
wasm_ty!(f32, F32, |x| x.to_bits() as u64, |r| f32::from_bits(
    r as u32
));
wasm_ty!(f64, F64, |x| x.to_bits(), |r| f64::from_bits(r));

/// Parameter lists of typed calls: `()`, a single [`WasmTy`], or tuples of them.
pub trait WasmParams {
    /// How many parameters.
    const COUNT: usize;
    /// The parameters' wasm types, in order.
    fn types() -> Vec<ValType>;
    /// Writes the parameters into raw slots, one per parameter from slot 0.
    fn store(self, values: &mut [u128]);
}

/// Result lists of typed calls: `()`, a single [`WasmTy`], or tuples of them.
pub trait WasmResults: Sized {
    /// How many results.
    const COUNT: usize;
    /// The results' wasm types, in order.
    fn types() -> Vec<ValType>;
    /// Reads the results from raw slots, one per result from slot 0.
    fn load(values: &[u128]) -> Self;
    /// Writes the results into raw slots, one per result from slot 0.
    fn store_results(self, values: &mut [u128]);
    /// How a native entry returns the results ([`NativeRet::value`]): the number itself for
    /// one result, any number for none.
    #[doc(hidden)]
    type Abi: Copy + Default;
    /// Whether a typed host function with these results has a native entry (no more than
    /// one result).
    #[doc(hidden)]
    const NATIVE: bool;
    /// The results as [`WasmResults::Abi`] (only called when [`WasmResults::NATIVE`]).
    #[doc(hidden)]
    fn to_abi(self) -> Self::Abi;
}

impl<A: WasmTy> WasmParams for A {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![A::TYPE]
    }
    fn store(self, values: &mut [u128]) {
        values[0] = self.to_raw().into();
    }
}

impl<A: WasmTy> WasmResults for A {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![A::TYPE]
    }
    fn load(values: &[u128]) -> Self {
        A::from_raw(values[0] as u64)
    }
    fn store_results(self, values: &mut [u128]) {
        values[0] = self.to_raw().into();
    }
    type Abi = A;
    const NATIVE: bool = true;
    fn to_abi(self) -> A {
        self
    }
}

macro_rules! tuples {
    ($($n:ident $i:tt),*) => {
        impl<$($n: WasmTy),*> WasmParams for ($($n,)*) {
            const COUNT: usize = <[usize]>::len(&[$($i),*]);
            fn types() -> Vec<ValType> { vec![$($n::TYPE),*] }
            #[allow(unused_variables)]
            fn store(self, values: &mut [u128]) { $(values[$i] = self.$i.to_raw().into();)* }
        }
        impl<$($n: WasmTy),*> WasmResults for ($($n,)*) {
            const COUNT: usize = <[usize]>::len(&[$($i),*]);
            fn types() -> Vec<ValType> { vec![$($n::TYPE),*] }
            #[allow(unused_variables, clippy::unused_unit)]
            fn load(values: &[u128]) -> Self { ($($n::from_raw(values[$i] as u64),)*) }
            #[allow(unused_variables)]
            fn store_results(self, values: &mut [u128]) { $(values[$i] = self.$i.to_raw().into();)* }
            type Abi = u64;
            // No results: the native entry returns a status alone; several: the value array.
            const NATIVE: bool = <Self as WasmResults>::COUNT == 0;
            fn to_abi(self) -> u64 { 0 }
        }
    };
}
tuples!();
tuples!(A 0, B 1);
tuples!(A 0, B 1, C 2);
tuples!(A 0, B 1, C 2, D 3);
tuples!(A 0, B 1, C 2, D 3, E 4);

/// A function whose type was checked once, called without per-call type checks.
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: std::marker::PhantomData<fn(P) -> R>,
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Calls the function; errors as [`Func::call`].
    pub fn call<T>(&self, store: &mut Store<T>, params: P) -> Result<R> {
        self.func.check_store(store)?;
        let mut values = [0u128; 16];
        let n = P::COUNT.max(R::COUNT);
        let mut heap;
        let slots: &mut [u128] = if n <= 16 {
            &mut values
        } else {
            heap = vec![0u128; n];
            &mut heap
        };
        params.store(slots);
        // SAFETY: the function belongs to this store (checked above), so its funcref is live.
        unsafe { invoke(store.opaque_mut(), self.func.ptr, slots)? };
        Ok(R::load(slots))
    }

    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }
}

/// What a typed host function returns: its results (`()`, a [`WasmTy`], or a tuple of them),
/// or a [`Result`] of them whose error ends the call (a trap, `Error::Exit`, ...).
pub trait HostReturn {
    /// The results the function gives wasm.
    type Results: WasmResults;
    /// The results, or the error that ends the call.
    fn into_result(self) -> Result<Self::Results>;
}

impl<R: WasmResults> HostReturn for R {
    type Results = R;
    fn into_result(self) -> Result<R> {
        Ok(self)
    }
}

impl<R: WasmResults> HostReturn for Result<R> {
    type Results = R;
    fn into_result(self) -> Result<R> {
        self
    }
}

/// In [`IntoFunc`]'s parameter list: the closure takes a [`Caller<T>`] first.
pub struct WithCaller;

/// Closures usable as typed host functions, as wasmtime's `func_wrap` takes them: with or
/// without a leading [`Caller<T>`], [`WasmTy`] arguments (up to 16), and a [`HostReturn`]:
/// `|x: i32| x + 1`, `|caller: Caller<'_, T>, x: i32| Ok(x + 1)`. With at most one result,
/// wasm calls the closure through a native-convention entry (see
/// `compile::trampoline::wasm_to_native`); the host's own calls, and functions of several
/// results, go through the value array.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_func(self) -> (FuncType, HostFunc<T>);
}

/// The native entry of a typed host function: runs the closure `F` of the function's data
/// with its caller and `args`, catching a panic; an error or a panic is kept in the store and
/// reported by status 1.
///
/// # Safety
/// As [`native_parts`]: `data` is the live data of a host function made from an `F`.
#[inline(always)]
unsafe fn native_call<T, F, R: HostReturn>(
    data: *const crate::api::store::HostFuncData<T>,
    caller_vmctx: *mut u8,
    call: impl FnOnce(&F, Caller<'_, T>) -> R,
) -> NativeRet<<R::Results as WasmResults>::Abi> {
    // SAFETY: as this function's caller guarantees.
    let (store, f) = unsafe { native_parts::<T, F>(data) };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        call(
            f,
            Caller {
                store: &mut *store,
                caller_vmctx,
            },
        )
        .into_result()
    }));
    let err = match outcome {
        Ok(Ok(r)) => {
            return NativeRet {
                value: r.to_abi(),
                status: 0,
            }
        }
        Ok(Err(e)) => e,
        Err(panic) => panicked(panic),
    };
    host_failed(store, err);
    NativeRet {
        value: Default::default(),
        status: 1,
    }
}

/// The native entry of a typed host function made from closure `f`, whose `extern "C"` entry
/// is `call`; `None` for results that go through the value array (several of them).
fn native_entry<F, R: HostReturn>(f: &Arc<F>, call: *const ()) -> Option<NativeEntry> {
    R::Results::NATIVE.then_some(NativeEntry {
        call: call as usize,
        env: Arc::as_ptr(f) as usize,
    })
}

macro_rules! into_func {
    ($($a:ident $v:ident $i:tt),*) => {
        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, (WithCaller, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: HostReturn,
        {
            fn into_func(self) -> (FuncType, HostFunc<T>) {
                let ty = FuncType::new([$($a::TYPE),*], R::Results::types());
                extern "C" fn native<T, F, R, $($a: WasmTy),*>(
                    data: *const crate::api::store::HostFuncData<T>,
                    caller_vmctx: *mut u8,
                    $($v: $a),*
                ) -> NativeRet<<R::Results as WasmResults>::Abi>
                where
                    F: Fn(Caller<'_, T>, $($a),*) -> R,
                    R: HostReturn,
                {
                    // SAFETY: the wasm-to-native trampoline passes the data of the function
                    // this entry was made for, from a closure of type `F`.
                    unsafe { native_call::<T, F, R>(data, caller_vmctx, |f, c| f(c, $($v),*)) }
                }
                let f = Arc::new(self);
                let native = native_entry::<F, R>(&f, native::<T, F, R, $($a),*> as *const ());
                #[allow(unused_variables)]
                let raw = move |caller: Caller<'_, T>, values: &mut [u128]| {
                    let r = f(caller, $($a::from_raw(values[$i] as u64)),*).into_result()?;
                    r.store_results(values);
                    Ok(())
                };
                (ty, HostFunc { raw: Arc::new(raw), native })
            }
        }

        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: HostReturn,
        {
            fn into_func(self) -> (FuncType, HostFunc<T>) {
                let ty = FuncType::new([$($a::TYPE),*], R::Results::types());
                extern "C" fn native<T, F, R, $($a: WasmTy),*>(
                    data: *const crate::api::store::HostFuncData<T>,
                    caller_vmctx: *mut u8,
                    $($v: $a),*
                ) -> NativeRet<<R::Results as WasmResults>::Abi>
                where
                    F: Fn($($a),*) -> R,
                    R: HostReturn,
                {
                    // SAFETY: as in the variant with a caller.
                    unsafe { native_call::<T, F, R>(data, caller_vmctx, |f, _| f($($v),*)) }
                }
                let f = Arc::new(self);
                let native = native_entry::<F, R>(&f, native::<T, F, R, $($a),*> as *const ());
                #[allow(unused_variables)]
                let raw = move |_: Caller<'_, T>, values: &mut [u128]| {
                    let r = f($($a::from_raw(values[$i] as u64)),*).into_result()?;
                    r.store_results(values);
                    Ok(())
                };
                (ty, HostFunc { raw: Arc::new(raw), native })
            }
        }
    };
}
into_func!();
into_func!(A a 0);
into_func!(A a 0, B b 1);
into_func!(A a 0, B b 1, C c 2);
into_func!(A a 0, B b 1, C c 2, D d 3);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9, L l 10);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9, L l 10, M m 11);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9, L l 10, M m 11, N n 12);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9, L l 10, M m 11, N n 12, O o 13);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9, L l 10, M m 11, N n 12, O o 13, P p 14);
into_func!(A a 0, B b 1, C c 2, D d 3, E e 4, G g 5, H h 6, I i 7, J j 8, K k 9, L l 10, M m 11, N n 12, O o 13, P p 14, Q q 15);

/// Writes `vals` into raw value slots, each checked against its type in `types`;
/// `mismatch(index, actual, expected)` is the error for a value of another type.
fn to_slots(
    vals: &[Val],
    types: &[ValType],
    store_id: u64,
    slots: &mut [u128],
    mismatch: impl Fn(usize, ValType, ValType) -> Error,
) -> Result<()> {
    for (i, (v, t)) in vals.iter().zip(types).enumerate() {
        if v.ty() != *t {
            return Err(mismatch(i, v.ty(), *t));
        }
        slots[i] = v.to_raw(store_id)?;
    }
    Ok(())
}
