/* Products posted to cydot's team from several threads at once, some after the
 * helpers have gone to sleep; each block must run exactly once, and under
 * -fsanitize=thread no access may race. Usage: team_stress NCALLERS */
#define STRESS_FAILURES "blocks run other than once, or on a slot past nthreads"
#include "_team.h"

#include "stress_main.h"

#define MAX_BLOCKS 8

typedef struct {
    int runs[MAX_BLOCKS];
    int slots[MAX_BLOCKS];
} product_t;

static void run_block(void *context, int block, int slot) {
    product_t *product = context;
    product->runs[block] += 1;
    product->slots[block] = slot;
}

static void *post_products(void *argument) {
    long caller = (long)argument, wrong = 0;
    for (int i = 0; i < 20000; i++) {
        int nblocks = 1 + (int)((i + caller) % 7), nthreads = 1 + (int)((7 * i + caller) % 5);
        product_t product = {{0}, {0}};
        cydot_team_run(run_block, &product, nblocks, nthreads);
        for (int block = 0; block < nblocks; block++)
            wrong += product.runs[block] != 1 || product.slots[block] >= nthreads;
        stress_pause(i);
    }
    return (void *)wrong;
}
