/* B packed once for all the threads of a product split by rows.
 *
 * Every row block is multiplied by all of B. Packed by each thread for its own
 * rows, B was copied once per thread; here it is packed into one buffer, a
 * micro-panel (kc rows, nr columns) at a time, by whichever thread first needs
 * it. A state byte per micro-panel goes EMPTY -> PACKING -> PACKED. A thread
 * that finds a micro-panel PACKING waits for the thread packing it, which is
 * running: as in the team's join, nothing waits for a thread that has not
 * started. The state bytes live in a numpy buffer, hence the __atomic builtins
 * on plain bytes rather than C11 atomic types.
 */
#ifndef CYDOT_SHARED_B_H
#define CYDOT_SHARED_B_H

#include "_team.h"   /* first: it defines _GNU_SOURCE for <sched.h> */

#include <sched.h>

enum { CYDOT_PANEL_EMPTY, CYDOT_PANEL_PACKING, CYDOT_PANEL_PACKED };

/* 1 if the caller is to pack the micro-panel with this state (it claimed it);
 * 0 once another thread has packed it. */
static inline int cydot_panel_claim(unsigned char *state) {
    unsigned char seen = __atomic_load_n(state, __ATOMIC_ACQUIRE);
    if (seen == CYDOT_PANEL_PACKED) return 0;
    if (seen == CYDOT_PANEL_EMPTY
        && __atomic_compare_exchange_n(state, &seen, CYDOT_PANEL_PACKING, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_ACQUIRE))
        return 1;
    /* Packing one micro-panel takes microseconds; yield in case its packer was
     * descheduled (more threads than CPUs). */
    for (int turn = 1; __atomic_load_n(state, __ATOMIC_ACQUIRE) != CYDOT_PANEL_PACKED; turn++) {
        cydot_pause();
        if (turn % 1024 == 0) sched_yield();
    }
    return 0;
}

static inline void cydot_panel_packed(unsigned char *state) {
    __atomic_store_n(state, CYDOT_PANEL_PACKED, __ATOMIC_RELEASE);
}

#endif
