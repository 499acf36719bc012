#define _GNU_SOURCE /* EPOLLRDHUP */
#include "waiter.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { MAX_EVENTS = 64 };

struct srv_waiter {
    srv_engine *engine;
    int ep;                 /* epoll: the armed jobs' eventfds and clients' sockets */
    int wake;               /* eventfd: drain or stop */
    pthread_t thread;
    pthread_mutex_t mu;     /* the list, draining, stop, resuming; held across arming */
    pthread_cond_t idle;    /* nothing armed, nothing being resumed */
    srv_wait **armed;       /* the armed waits (unordered), n_armed of cap */
    size_t n_armed, cap;
    size_t resuming;        /* detached, not yet resumed */
    bool draining, stop;
};

static void read_counter(int fd)
{
    uint64_t c;
    while (read(fd, &c, sizeof c) < 0 && errno == EINTR) {}
}

static void poke(srv_waiter *w)
{
    uint64_t one = 1;
    while (write(w->wake, &one, sizeof one) < 0 && errno == EINTR) {}
}

void srv_wait_init(srv_wait *x, srv_waiter *w, struct MHD_Connection *conn, srv_job *job,
                   bool until_finish)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    x->w = w;
    x->conn = conn;
    x->job = job;
    x->sock = ci ? ci->connect_fd : -1;
    x->until_finish = until_finish;
    atomic_init(&x->armed, false);
    atomic_init(&x->hung_up, false);
}

static void list_remove(srv_waiter *w, srv_wait *x)
{
    for (size_t i = 0; i < w->n_armed; i++)
        if (w->armed[i] == x) {
            w->armed[i] = w->armed[--w->n_armed];
            return;
        }
}

/* Under mu: out of the epoll set and the list, counted as resuming. After
 * this no event can name x again (the waiter thread is the only one that
 * reads events, and it does so between detaches). */
static void detach(srv_waiter *w, srv_wait *x)
{
    epoll_ctl(w->ep, EPOLL_CTL_DEL, x->job->efd, NULL);
    if (x->sock >= 0) epoll_ctl(w->ep, EPOLL_CTL_DEL, x->sock, NULL);
    read_counter(x->job->efd); /* the news is looked at by the resumed callback */
    list_remove(w, x);
    atomic_store(&x->armed, false);
    w->resuming++;
}

static bool arm(srv_waiter *w, srv_wait *x)
{
    if (w->n_armed == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        srv_wait **a = realloc(w->armed, cap * sizeof *a);
        if (!a) return false;
        w->armed = a;
        w->cap = cap;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, x->job->efd, &ev) != 0) return false;
    ev.events = EPOLLRDHUP;
    if (x->sock >= 0 && epoll_ctl(w->ep, EPOLL_CTL_ADD, x->sock, &ev) != 0) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, x->job->efd, NULL);
        return false;
    }
    w->armed[w->n_armed++] = x;
    atomic_store(&x->armed, true);
    return true;
}

void srv_wait_suspend(srv_wait *x)
{
    srv_waiter *w = x->w;
    MHD_suspend_connection(x->conn);
    pthread_mutex_lock(&w->mu);
    bool armed = !w->draining && arm(w, x);
    pthread_mutex_unlock(&w->mu);
    if (armed) return;
    if (!w->draining) { /* cannot watch it: end it rather than spin or hang */
        atomic_store(&x->hung_up, true);
        srv_engine_cancel(w->engine, x->job);
    }
    MHD_resume_connection(x->conn);
}

/* Resume the detached waits (outside mu: a suspended connection is not
 * touched by libmicrohttpd, so x stays valid until its resume). */
static void resume_all(srv_waiter *w, srv_wait **xs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&xs[i]->hung_up)) srv_engine_cancel(w->engine, xs[i]->job);
        MHD_resume_connection(xs[i]->conn);
    }
    pthread_mutex_lock(&w->mu);
    w->resuming -= n;
    if (w->n_armed == 0 && w->resuming == 0) pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->mu);
}

/* After an engine write: whether x's connection still has nothing to do. The
 * counter is read before the job is looked at, so a finish after the look
 * comes with a write of its own. */
static bool still_waiting(srv_wait *x)
{
    if (!x->until_finish) return false;
    read_counter(x->job->efd);
    pthread_mutex_lock(&x->job->mu);
    bool done = x->job->finish != SRV_FINISH_NONE;
    pthread_mutex_unlock(&x->job->mu);
    return !done;
}

/* Under mu: the waits the events name, each once (a job's eventfd and its
 * client's socket may both fire in one batch). */
static size_t take_events(srv_waiter *w, const struct epoll_event *ev, int n, srv_wait **out)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        srv_wait *x = ev[i].data.ptr;
        if (!x) {
            read_counter(w->wake);
            continue;
        }
        if (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) atomic_store(&x->hung_up, true);
        if (!atomic_load(&x->armed)) continue; /* named twice: detached already */
        if (!atomic_load(&x->hung_up) && still_waiting(x)) continue;
        detach(w, x);
        out[k++] = x;
    }
    return k;
}

static void *waiter_main(void *arg)
{
    srv_waiter *w = arg;
    struct epoll_event ev[MAX_EVENTS];
    srv_wait *ready[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(w->ep, ev, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) break;
        pthread_mutex_lock(&w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        size_t k = take_events(w, ev, n < 0 ? 0 : n, ready);
        while (w->draining && w->n_armed > 0 && k < MAX_EVENTS) {
            srv_wait *x = w->armed[w->n_armed - 1];
            detach(w, x);
            ready[k++] = x;
        }
        bool more = w->draining && w->n_armed > 0;
        pthread_mutex_unlock(&w->mu);
        resume_all(w, ready, k);
        if (more) poke(w); /* the rest on the next turn */
    }
    return NULL;
}

pdvm_status srv_waiter_new(srv_engine *e, srv_waiter **out)
{
    *out = NULL;
    srv_waiter *w = calloc(1, sizeof *w);
    if (!w) return PDVM_ERR_NOMEM;
    w->engine = e;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (w->ep < 0 || w->wake < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) != 0 ||
        pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
        if (w->ep >= 0) close(w->ep);
        if (w->wake >= 0) close(w->wake);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->idle);
        free(w);
        return PDVM_ERR_NOMEM;
    }
    *out = w;
    return PDVM_OK;
}

void srv_waiter_drain(srv_waiter *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->draining = true;
    poke(w);
    while (w->n_armed > 0 || w->resuming > 0) pthread_cond_wait(&w->idle, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void srv_waiter_free(srv_waiter *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    poke(w);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    close(w->ep);
    close(w->wake);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->idle);
    free(w->armed);
    free(w);
}
