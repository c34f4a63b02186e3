/* main() of the C stress tests, included last: NCALLERS threads (argv[1],
 * default 3) each run post_products((void *)caller), which returns how many
 * checks failed; prints their sum after STRESS_FAILURES and exits non-zero if
 * any did. stress_pause(i) lets the helpers fall asleep every 50th product. */
#ifndef CYDOT_STRESS_MAIN_H
#define CYDOT_STRESS_MAIN_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void stress_pause(int i) {
    if (i % 50 == 0) {  /* longer than the spin: the helpers sleep */
        struct timespec pause = {0, 300000};
        nanosleep(&pause, NULL);
    }
}

static void *post_products(void *argument);

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
    printf("%s: %ld\n", STRESS_FAILURES, wrong);
    return wrong != 0;
}

#endif
