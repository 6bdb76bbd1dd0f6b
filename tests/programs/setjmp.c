/* setjmp/longjmp: a longjmp from frames further down returns to the setjmp with its value
 * (0 becoming 1), a volatile local keeps its latest value, a setjmp in a callee works while
 * main's is live, and 1000 rounds of setjmp + longjmp on one jmp_buf. Run by
 * tests/processes.rs natively and as WASIX made resumable with wasm-opt --asyncify. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf outer, inner, loop;

static void deep(int n, int value) {
    char frame[64];
    snprintf(frame, sizeof frame, "frame %d", n);
    if (n == 0) {
        longjmp(outer, value);
    }
    deep(n - 1, value);
    printf("not reached: %s\n", frame);
}

static int nested(void) {
    volatile int steps = 0;
    if (setjmp(inner) == 0) {
        steps++;
        longjmp(inner, 7);
    }
    steps++;
    return steps;
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        jmp_buf none;
        memset(none, 0, sizeof none);
        longjmp(none, 1);
    }
    volatile int count = 0;
    char text[32];
    strcpy(text, "before");
    int r = setjmp(outer);
    printf("setjmp returned %d, count %d, text %s\n", r, count, text);
    count++;
    strcpy(text, "after");
    if (r == 0) {
        deep(3, 42);
    } else if (r == 42) {
        deep(0, 0);
    }
    printf("nested: %d\n", nested());
    volatile int rounds = 0;
    setjmp(loop);
    if (rounds < 1000) {
        rounds++;
        longjmp(loop, 1);
    }
    printf("rounds: %d\n", rounds);
    return 0;
}
