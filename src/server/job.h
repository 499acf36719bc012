/* One generation request as the engine thread and the HTTP thread that
 * submitted it share it. The request half is written before submission
 * and read-only after; the result half (text, finish, counts) is written
 * by the engine under the job's lock and read by the HTTP side, whose
 * connection sleeps (src/server/waiter.h) until the engine signals the
 * job's eventfd or the client's socket hangs up. Reference-counted: the
 * HTTP side and the engine each hold one while they use it. */
#ifndef PDVM_SRV_JOB_H
#define PDVM_SRV_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

typedef enum srv_finish {
    SRV_FINISH_NONE = 0,  /* still running or queued */
    SRV_FINISH_STOP,      /* end-of-generation token or stop string */
    SRV_FINISH_LENGTH,    /* max_tokens, or the slot's context is full */
    SRV_FINISH_CANCELLED, /* the client went away */
    SRV_FINISH_ERROR,     /* the engine failed (message in error) */
} srv_finish;

/* "stop", "length", ... as OpenAI's finish_reason spells them. */
const char *srv_finish_name(srv_finish f);

typedef struct srv_gen_params {
    pdvm_sampler_params sp;
    int32_t max_tokens;    /* >= 1, or -1: until the slot's context is full */
    bool ignore_eos;       /* end-of-generation tokens do not end the text */
    char **stop;           /* owned, n_stop non-empty UTF-8 strings */
    size_t n_stop;
} srv_gen_params;

typedef struct srv_job {
    /* Request: set before submission. */
    int32_t *prompt;       /* owned, n_prompt ids (n_prompt >= 1) */
    size_t n_prompt;
    srv_gen_params gp;

    /* Result: under mu. */
    pthread_mutex_t mu;
    char *text;            /* released text so far (never a partial character) */
    size_t len, cap;
    srv_finish finish;
    uint32_t n_gen;        /* tokens generated, the end-of-generation one not counted */
    uint32_t n_cached;     /* prompt tokens found in the slot's KV cache */
    char error[256];

    atomic_bool cancel;    /* set by the HTTP side; the engine drops the job at
                            * its next step */
    int efd;               /* eventfd (non-blocking): the engine writes after each
                            * update, the waiter reads it */
    atomic_int refs;
} srv_job;

/* A job with one reference, an empty request and an eventfd; NULL when out
 * of memory or file descriptors. */
srv_job *srv_job_new(void);
void srv_job_ref(srv_job *j);
/* Drop a reference; the last frees the job and everything it owns. */
void srv_job_unref(srv_job *j);

/* Engine side. Append released text (false: out of memory). */
bool srv_job_append(srv_job *j, const char *p, size_t n);
/* Set the finish reason (and for errors a message); the first one wins. */
void srv_job_finish(srv_job *j, srv_finish f, const char *error);
/* Wake the HTTP side waiting on the job (its eventfd). */
void srv_job_notify(srv_job *j);

/* What the HTTP side sees. */
typedef struct srv_job_view {
    size_t len;            /* bytes of text available */
    srv_finish finish;
    uint32_t n_gen, n_cached;
} srv_job_view;

/* What the job holds now; true when that is more than `seen` bytes of text
 * or the job has finished. Never blocks (but for the job's lock). */
bool srv_job_news(srv_job *j, size_t seen, srv_job_view *v);
/* Copy text [from, from + n) into dst (within what a view reported). */
void srv_job_copy(srv_job *j, size_t from, size_t n, char *dst);

#endif
