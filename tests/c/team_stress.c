/* Products posted to cydot's team from several threads at once, some after the
 * helpers have gone to sleep; each block must run exactly once, and under
 * -fsanitize=thread no access may race. Usage: team_stress NCALLERS */
#include "_team.h"

#include <stdio.h>
#include <stdlib.h>

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
        if (i % 50 == 0) {  /* longer than the spin: the helpers sleep */
            struct timespec pause = {0, 300000};
            nanosleep(&pause, NULL);
        }
    }
    return (void *)wrong;
}

int main(int argc, char **argv) {
    int ncallers = argc > 1 ? atoi(argv[1]) : 3;
    long wrong = 0;
    pthread_t callers[16];
    for (long i = 0; i < ncallers; i++) pthread_create(&callers[i], NULL, post_products, (void *)i);
    for (int i = 0; i < ncallers; i++) {
        void *result;
        pthread_join(callers[i], &result);
        wrong += (long)result;
    }
    printf("blocks run other than once, or on a slot past nthreads: %ld\n", wrong);
    return wrong != 0;
}
