/* setjmp/longjmp cannot be written in Rust; this is the whole of the C in wasix-rt.
 * wasixrt_catch runs body(payload) with a jump buffer published through *slot; the signal
 * handler calls wasixrt_unwind to return here when wasm code traps. Only wasm frames and
 * trampolines lie between the two, so no Rust destructor is skipped. */
#include <setjmp.h>

int wasixrt_catch(void **slot, void (*body)(void *), void *payload) {
  sigjmp_buf buf;
  void *prev = *slot;
  *slot = &buf;
  /* savesigs = 0: the handlers use SA_NODEFER, so no signal stays blocked after a jump. */
  if (sigsetjmp(buf, 0) == 0) {
    body(payload);
    *slot = prev;
    return 1;
  }
  *slot = prev;
  return 0;
}

void wasixrt_unwind(void *buf) { siglongjmp(*(sigjmp_buf *)buf, 1); }
