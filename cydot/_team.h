/* cydot's threads: persistent helpers that claim blocks of a product, so the
 * caller never waits for a helper that has not started.
 *
 * A product is split into blocks numbered 0..nblocks-1. cydot_team_run posts
 * it to up to nthreads - 1 helpers and then claims blocks itself, one at a
 * time, from a shared counter; each helper claims from the same counter when it
 * wakes. The caller waits only for blocks some helper has claimed, that is, for
 * threads already computing: a helper woken late finds nothing left. With
 * OpenMP's fork-join the caller waited for every thread to arrive, and a sleeping
 * one could take 8 ms to (2026-12-01, Zen 3, 256^3 float32 after 20 ms idle,
 * docs/cydot.md).
 *
 * Between products a helper spins for CYDOT_SPIN_NS on its mailbox, then sleeps
 * on a condition variable; the caller spins as long waiting for claimed blocks.
 * Without a spin 64^3 took 55-71 us back to back and 1000^3 float64 40.8 ms;
 * with 30, 100 or 300 us, 33-44 us and 34.9-36.4 ms alike (Zen 3, 2 threads).
 * Helpers are kept off the caller's CPU (Linux): woken next to it, on 2 CPUs,
 * the two threads took turns on one CPU and 1000^3 took 26 ms instead of 17.
 *
 * Each loaded module has its own team. In a forked child the helpers do not
 * exist: the team starts again empty. A product posted while another is running
 * (two Python threads) is computed by its caller alone.
 */
#ifndef CYDOT_TEAM_H
#define CYDOT_TEAM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#ifndef CYDOT_SPIN_NS
#define CYDOT_SPIN_NS 100000
#endif
#define CYDOT_MAX_HELPERS 255

typedef void (*cydot_task_t)(void *context, int block, int slot);

typedef struct {
    _Alignas(64) atomic_uint posted;   /* the tag of the last product posted to it */
    atomic_int sleeping;
    pthread_cond_t wake;
    pthread_t thread;
} cydot_helper_t;

static struct {
    pthread_mutex_t busy;              /* held by the caller of the running product */
    pthread_mutex_t lock;              /* guards sleeping and waking */
    pthread_cond_t finished;
    _Alignas(64) atomic_uint_least64_t claims;   /* tag << 32 | blocks not claimed yet */
    int nblocks;
    cydot_task_t task;
    void *context;
    _Alignas(64) atomic_int done;      /* blocks of the running product computed */
    atomic_int caller_sleeping;
    unsigned int tag;                  /* the running product's */
    int nhelpers;
#ifdef __linux__
    int caller_cpu;
    cpu_set_t allowed;
#endif
    cydot_helper_t helpers[CYDOT_MAX_HELPERS + 1];   /* slot 0 is the caller's */
} cydot_team = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
                .finished = PTHREAD_COND_INITIALIZER};

static pthread_once_t cydot_team_once = PTHREAD_ONCE_INIT;

static inline void cydot_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline int64_t cydot_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Spin until *word != value or CYDOT_SPIN_NS pass; whether it changed. */
static int cydot_spin_while_equal(atomic_uint *word, unsigned int value) {
    int64_t deadline = cydot_now_ns() + CYDOT_SPIN_NS;
    for (int turn = 1;; turn++) {
        if (atomic_load_explicit(word, memory_order_acquire) != value) return 1;
        cydot_pause();
        if (turn % 64 == 0 && cydot_now_ns() > deadline) return 0;
    }
}

/* An unclaimed block of the product tagged `tag`, or -1. Blocks are claimed
 * last first, so that the tag and the count left are read in one word: a
 * helper that read a finished product's tag can never claim the next one's. */
static int cydot_claim(unsigned int tag) {
    uint_least64_t claims = atomic_load_explicit(&cydot_team.claims, memory_order_acquire);
    for (;;) {
        unsigned int left = (unsigned int)(claims & 0xffffffffu);
        if ((unsigned int)(claims >> 32) != tag || left == 0) return -1;
        if (atomic_compare_exchange_weak_explicit(&cydot_team.claims, &claims, claims - 1,
                                                  memory_order_acq_rel, memory_order_acquire))
            return (int)left - 1;
    }
}

/* Compute blocks of the product tagged `tag` until none is left. Once a block is
 * claimed the product is still running: its caller waits for that block. */
static void cydot_compute_claimed(unsigned int tag, int slot) {
    int block;
    while ((block = cydot_claim(tag)) >= 0) {
        int nblocks = cydot_team.nblocks;
        cydot_team.task(cydot_team.context, block, slot);
        if (atomic_fetch_add(&cydot_team.done, 1) + 1 == nblocks
            && atomic_load(&cydot_team.caller_sleeping)) {
            pthread_mutex_lock(&cydot_team.lock);
            pthread_cond_signal(&cydot_team.finished);
            pthread_mutex_unlock(&cydot_team.lock);
        }
    }
}

static void *cydot_helper_main(void *argument) {
    int slot = (int)(intptr_t)argument;
    cydot_helper_t *self = &cydot_team.helpers[slot];
    unsigned int seen = 0;
    for (;;) {
        if (!cydot_spin_while_equal(&self->posted, seen)) {
            pthread_mutex_lock(&cydot_team.lock);
            atomic_store(&self->sleeping, 1);
            while (atomic_load(&self->posted) == seen)
                pthread_cond_wait(&self->wake, &cydot_team.lock);
            atomic_store(&self->sleeping, 0);
            pthread_mutex_unlock(&cydot_team.lock);
        }
        seen = atomic_load_explicit(&self->posted, memory_order_acquire);
        cydot_compute_claimed(seen, slot);
    }
    return NULL;
}

/* In a forked child only the forking thread exists: forget the helpers. */
static void cydot_team_reset_in_child(void) {
    pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh = PTHREAD_COND_INITIALIZER;
    cydot_team.busy = unlocked;
    cydot_team.lock = unlocked;
    cydot_team.finished = fresh;
    atomic_store(&cydot_team.caller_sleeping, 0);
    cydot_team.nhelpers = 0;
}

static void cydot_team_init(void) {
    pthread_atfork(NULL, NULL, cydot_team_reset_in_child);
}

/* Start helpers up to slot `wanted`; the number running (fewer if the system refuses). */
static int cydot_start_helpers(int wanted) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);   /* signals stay with Python's threads */
    while (cydot_team.nhelpers < wanted) {
        int slot = cydot_team.nhelpers + 1;
        cydot_helper_t *helper = &cydot_team.helpers[slot];
        pthread_cond_t fresh = PTHREAD_COND_INITIALIZER;
        helper->wake = fresh;
        atomic_store(&helper->posted, 0);
        atomic_store(&helper->sleeping, 0);
        if (pthread_create(&helper->thread, NULL, cydot_helper_main, (void *)(intptr_t)slot) != 0)
            break;
        pthread_detach(helper->thread);
        cydot_team.nhelpers = slot;
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return cydot_team.nhelpers < wanted ? cydot_team.nhelpers : wanted;
}

/* Keep the helpers on the CPUs the caller may run on, except the one it is on;
 * only when that changed, or when helpers were just `started`. */
static void cydot_place_helpers(int started) {
#ifdef __linux__
    cpu_set_t allowed, elsewhere;
    int cpu = sched_getcpu();
    if (cpu < 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    if (!started && cpu == cydot_team.caller_cpu && CPU_EQUAL(&allowed, &cydot_team.allowed)) return;
    cydot_team.caller_cpu = cpu;
    cydot_team.allowed = allowed;
    elsewhere = allowed;
    CPU_CLR(cpu, &elsewhere);
    if (CPU_COUNT(&elsewhere) == 0) elsewhere = allowed;
    for (int slot = 1; slot <= cydot_team.nhelpers; slot++)
        pthread_setaffinity_np(cydot_team.helpers[slot].thread, sizeof elsewhere, &elsewhere);
#else
    (void)started;
#endif
}

/* Run task(context, block, slot) for every block on up to `nthreads` threads;
 * slot (0 for the caller) tells a thread's scratch space apart. */
static void cydot_team_run(cydot_task_t task, void *context, int nblocks, int nthreads) {
    int nhelpers = (nthreads < nblocks ? nthreads : nblocks) - 1;
    if (nhelpers > CYDOT_MAX_HELPERS) nhelpers = CYDOT_MAX_HELPERS;
    pthread_once(&cydot_team_once, cydot_team_init);
    if (nhelpers < 1 || pthread_mutex_trylock(&cydot_team.busy) != 0) {
        for (int block = 0; block < nblocks; block++) task(context, block, 0);
        return;
    }
    int started = cydot_team.nhelpers < nhelpers;
    if (started) nhelpers = cydot_start_helpers(nhelpers);
    cydot_place_helpers(started);
    unsigned int tag = ++cydot_team.tag;
    cydot_team.task = task;
    cydot_team.context = context;
    cydot_team.nblocks = nblocks;
    atomic_store_explicit(&cydot_team.done, 0, memory_order_relaxed);
    atomic_store_explicit(&cydot_team.claims, (uint_least64_t)tag << 32 | (unsigned int)nblocks,
                          memory_order_release);
    for (int slot = 1; slot <= nhelpers; slot++) {
        cydot_helper_t *helper = &cydot_team.helpers[slot];
        atomic_store(&helper->posted, tag);
        if (atomic_load(&helper->sleeping)) {
            pthread_mutex_lock(&cydot_team.lock);
            pthread_cond_signal(&helper->wake);
            pthread_mutex_unlock(&cydot_team.lock);
        }
    }
    cydot_compute_claimed(tag, 0);
    int64_t deadline = cydot_now_ns() + CYDOT_SPIN_NS;
    for (int turn = 1; atomic_load_explicit(&cydot_team.done, memory_order_acquire) < nblocks; turn++) {
        cydot_pause();
        if (turn % 64 == 0 && cydot_now_ns() > deadline) {
            pthread_mutex_lock(&cydot_team.lock);
            atomic_store(&cydot_team.caller_sleeping, 1);
            while (atomic_load(&cydot_team.done) < nblocks)
                pthread_cond_wait(&cydot_team.finished, &cydot_team.lock);
            atomic_store(&cydot_team.caller_sleeping, 0);
            pthread_mutex_unlock(&cydot_team.lock);
        }
    }
    pthread_mutex_unlock(&cydot_team.busy);
}

#endif
