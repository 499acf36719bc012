/* Suspended connections and the one thread that wakes them. libmicrohttpd
 * runs a fixed pool of threads (--threads-http) that must never block, so
 * a request waiting for its generation suspends its connection instead and
 * arms a srv_wait: the waiter thread watches the job's eventfd (the engine
 * writes it after each step) and the client's socket (a hang-up), and
 * resumes the connection on either. A hang-up also cancels the job, so the
 * engine drops it at its next step. One thread, however many clients wait:
 * the server's threads, their stacks and per-thread allocator state stay
 * the same over its life. */
#ifndef PDVM_SRV_WAITER_H
#define PDVM_SRV_WAITER_H

#include <stdatomic.h>
#include <stdbool.h>

#include <microhttpd.h>

#include "engine.h"
#include "job.h"

typedef struct srv_waiter srv_waiter;

/* One waiting request. Owned by the request (or its stream); it must stay
 * alive while armed, which ends before the connection is resumed. */
typedef struct srv_wait {
    srv_waiter *w;
    struct MHD_Connection *conn;
    srv_job *job;
    int sock;              /* the client's socket, -1 when unknown */
    bool until_finish;     /* a whole answer: wake when the job has finished, not
                            * after every step */
    atomic_bool armed;     /* in the waiter's epoll set; the connection is suspended */
    atomic_bool hung_up;   /* the client went away (the job is cancelled) */
} srv_wait;

/* Start the waiter thread. e: the engine that hang-ups cancel jobs on.
 * Errors: PDVM_ERR_NOMEM (no thread, no epoll or eventfd). */
pdvm_status srv_waiter_new(srv_engine *e, srv_waiter **out);
/* Stop the thread. Only once srv_waiter_drain has returned (no connection
 * is suspended). */
void srv_waiter_free(srv_waiter *w);

/* Fill in a wait for job on conn (no reference is taken: the caller holds
 * one while the wait is in use). */
void srv_wait_init(srv_wait *x, srv_waiter *w, struct MHD_Connection *conn, srv_job *job,
                   bool until_finish);

/* From a libmicrohttpd callback for x->conn, after it found no news in the
 * job: suspend the connection until the job has news or the client hangs
 * up. When the waiter cannot watch it (or is draining) the connection is
 * resumed at once, after marking a hang-up when watching failed. */
void srv_wait_suspend(srv_wait *x);

/* Before the daemon stops (the engine has stopped, so every job has
 * finished): resume what is suspended and wait until nothing is; later
 * suspensions resume at once. */
void srv_waiter_drain(srv_waiter *w);

#endif
