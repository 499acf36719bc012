/* Placeholder until the GPU forward pass lands (issue 5). */
#include "backend.h"
#include "error.h"

static pdvm_status gpu_create(const pdvm_model *m, const pdvm_session_params *p, uint32_t n_ctx,
                              void **state)
{
    (void)m; (void)p; (void)n_ctx; (void)state;
    return pdvm_fail(PDVM_ERR_UNSUPPORTED, "the GPU backend is not available yet; use --backend cpu");
}

const pdvm_backend_ops pdvm_backend_gpu_ops = {"gpu", gpu_create, NULL, NULL, NULL};
