// C11 atomics compiled with wasix-libc: a shared, imported memory, atomic read-modify-writes
// and compare-exchange, and passive data segments that `__wasm_init_memory` copies in once
// (with memory.atomic.wait/notify for instances that start meanwhile). Used by tests/c_guests.rs.

#include <stdatomic.h>
#include <stdint.h>

static _Atomic int counter = 40;
static _Atomic long long wide = 1;
static const char greeting[] = "hello from a shared memory";

__attribute__((export_name("bump")))
int bump(int by) {
    atomic_fetch_add(&counter, by);
    int expected = atomic_load(&counter);
    atomic_compare_exchange_strong(&counter, &expected, expected + 1);
    atomic_fetch_or(&wide, (long long)by << 40);
    return atomic_load(&counter);
}

__attribute__((export_name("wide")))
long long get_wide(void) { return atomic_load(&wide); }

__attribute__((export_name("greeting_byte")))
int greeting_byte(int i) { return greeting[i]; }

int main(void) { return bump(1) == 42 ? 0 : 1; }

static _Atomic unsigned total;

__attribute__((export_name("add_many")))
unsigned add_many(unsigned n) {
    for (unsigned i = 0; i < n; i++) atomic_fetch_add_explicit(&total, 1, memory_order_relaxed);
    return atomic_load(&total);
}
