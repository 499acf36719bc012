/* Stop strings (OpenAI's `stop`): generated text is released to the client
 * only once no stop string can still begin inside it, so a stop string is
 * never sent, not even in part, and the text ends right before the first
 * one found. Released text is always a whole number of UTF-8 characters
 * when the stop strings are valid UTF-8 and the pushed text is: a held-back
 * suffix equals the start of a stop string, which starts with a lead byte. */
#ifndef PDVM_SRV_STOP_H
#define PDVM_SRV_STOP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_stop {
    char *const *stops;   /* borrowed: the request's strings, none empty */
    size_t n_stops;
    char *buf;            /* [0, n_held): text that may still start a stop
                           * string */
    size_t n_held, cap;
    char *rel;            /* the text released by the last call */
    size_t rel_cap;
} srv_stop;

/* Start over with a new set of stop strings (borrowed, must outlive the
 * matcher's use). */
void srv_stop_init(srv_stop *m, char *const *stops, size_t n_stops);
void srv_stop_free(srv_stop *m);

/* Add n bytes of generated text. *out and *n_out receive the text that is now
 * safe to send (pointing into the matcher, valid until its next call).
 * Returns true when a stop string is complete: the released text then ends
 * right before it and the rest is dropped. false with *n_out == SIZE_MAX
 * when memory ran out. */
bool srv_stop_push(srv_stop *m, const char *text, size_t n, const char **out, size_t *n_out);

/* Generation ended for another reason: everything held back is released. */
void srv_stop_flush(srv_stop *m, const char **out, size_t *n_out);

#endif
