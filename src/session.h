/* Session internals shared with the CLI. */
#ifndef PDVM_SESSION_H
#define PDVM_SESSION_H

#include "pdvm.h"

#define PDVM_DEFAULT_N_CTX 4096u
#define PDVM_MAX_N_CTX (1u << 20)

/* The KV cache length a session with this n_ctx parameter gets:
 * 0 -> min(n_ctx_train, 4096) (4096 when the model does not say). */
uint32_t pdvm_session_resolve_n_ctx(const pdvm_model *m, uint32_t n_ctx);

#endif
