#include "job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

const char *srv_finish_name(srv_finish f)
{
    switch (f) {
    case SRV_FINISH_STOP: return "stop";
    case SRV_FINISH_LENGTH: return "length";
    case SRV_FINISH_CANCELLED: return "cancelled";
    case SRV_FINISH_ERROR: return "error";
    default: return "none";
    }
}

srv_job *srv_job_new(void)
{
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (j->efd < 0) {
        free(j);
        return NULL;
    }
    pthread_mutex_init(&j->mu, NULL);
    atomic_init(&j->refs, 1);
    atomic_init(&j->cancel, false);
    return j;
}

void srv_job_ref(srv_job *j)
{
    atomic_fetch_add(&j->refs, 1);
}

void srv_job_unref(srv_job *j)
{
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
    for (size_t i = 0; i < j->gp.n_stop; i++) free(j->gp.stop[i]);
    free(j->gp.stop);
    free(j->prompt);
    free(j->text);
    close(j->efd);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

bool srv_job_append(srv_job *j, const char *p, size_t n)
{
    if (n == 0) return true;
    pthread_mutex_lock(&j->mu);
    bool ok = true;
    if (j->len + n > j->cap) {
        size_t cap = (j->len + n) * 2;
        char *t = realloc(j->text, cap);
        if (t) {
            j->text = t;
            j->cap = cap;
        } else {
            ok = false;
        }
    }
    if (ok) {
        memcpy(j->text + j->len, p, n);
        j->len += n;
    }
    pthread_mutex_unlock(&j->mu);
    return ok;
}

void srv_job_finish(srv_job *j, srv_finish f, const char *error)
{
    pthread_mutex_lock(&j->mu);
    if (j->finish == SRV_FINISH_NONE) {
        j->finish = f;
        if (error) snprintf(j->error, sizeof j->error, "%s", error);
    }
    pthread_mutex_unlock(&j->mu);
}

void srv_job_notify(srv_job *j)
{
    uint64_t one = 1;
    /* EAGAIN: the counter is already non-zero, the waiter wakes anyway. */
    while (write(j->efd, &one, sizeof one) < 0 && errno == EINTR) {}
}

bool srv_job_news(srv_job *j, size_t seen, srv_job_view *v)
{
    pthread_mutex_lock(&j->mu);
    *v = (srv_job_view){j->len, j->finish, j->n_gen, j->n_cached};
    pthread_mutex_unlock(&j->mu);
    return v->len > seen || v->finish != SRV_FINISH_NONE;
}

void srv_job_copy(srv_job *j, size_t from, size_t n, char *dst)
{
    pthread_mutex_lock(&j->mu);
    memcpy(dst, j->text + from, n);
    pthread_mutex_unlock(&j->mu);
}
