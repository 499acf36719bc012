/* Session internals the bench hooks reach (src/bench/bench_hooks.c). */
#ifndef PDVM_SESSION_H
#define PDVM_SESSION_H

#include "backend.h"
#include "pdvm.h"

#define PDVM_DEFAULT_N_CTX 4096u
#define PDVM_MAX_N_CTX (1u << 20)
#define PDVM_MAX_N_SEQ 256u /* llama.cpp's LLAMA_MAX_SEQ */

/* The KV cache length a session with this n_ctx parameter gets:
 * 0 -> min(n_ctx_train, 4096) (4096 when the model does not say). */
uint32_t pdvm_session_resolve_n_ctx(const pdvm_model *m, uint32_t n_ctx);

/* The session's backend and its state. */
const pdvm_backend_ops *pdvm_session_ops(const pdvm_session *s);
void *pdvm_session_state(pdvm_session *s);
/* Set sequence 0's position without evaluating (bench: decode at a
 * depth). */
pdvm_status pdvm_session_set_pos(pdvm_session *s, uint32_t pos);

#endif
