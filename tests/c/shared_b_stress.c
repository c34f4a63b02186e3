/* B's micro-panels packed once for all the threads of a product (_shared_b.h):
 * every block reads every panel, starting at its own, as cydot's gemm does; each
 * panel must be packed exactly once and read only once complete, and under
 * -fsanitize=thread no access may race. Usage: shared_b_stress NCALLERS */
#define STRESS_FAILURES "panels packed other than once, or read before they were packed"
#include "_shared_b.h"

#include <string.h>

#include "stress_main.h"

#define NPANELS 16
#define PANEL_SIZE 64

typedef struct {
    unsigned char states[NPANELS];
    int packings[NPANELS];
    double panels[NPANELS][PANEL_SIZE];
    int unready_reads;
    int nblocks;
} product_t;

static void run_block(void *context, int block, int slot) {
    product_t *product = context;
    (void)slot;
    for (int step = 0; step < NPANELS; step++) {
        int panel = (step + block * NPANELS / product->nblocks) % NPANELS;
        if (cydot_panel_claim(&product->states[panel])) {
            for (int i = 0; i < PANEL_SIZE; i++) product->panels[panel][i] = panel * PANEL_SIZE + i;
            product->packings[panel] += 1;
            cydot_panel_packed(&product->states[panel]);
        }
        for (int i = 0; i < PANEL_SIZE; i++)
            if (product->panels[panel][i] != panel * PANEL_SIZE + i)
                __atomic_add_fetch(&product->unready_reads, 1, __ATOMIC_RELAXED);
    }
}

static void *post_products(void *argument) {
    long caller = (long)argument, wrong = 0;
    static _Thread_local product_t product;
    for (int i = 0; i < 5000; i++) {
        int nblocks = 1 + (int)((i + caller) % 5), nthreads = 1 + (int)((7 * i + caller) % 4);
        memset(&product, 0, sizeof product);
        product.nblocks = nblocks;
        cydot_team_run(run_block, &product, nblocks, nthreads);
        wrong += product.unready_reads;
        for (int panel = 0; panel < NPANELS; panel++) wrong += product.packings[panel] != 1;
        stress_pause(i);
    }
    return (void *)wrong;
}
