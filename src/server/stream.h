/* A generation's answer as server-sent events: one `data: {chunk}` event
 * per batch of new text (the tokens of one engine step, or of several when
 * the client reads slower than the engine writes), the finish chunk, the
 * usage chunk when asked, then `data: [DONE]`. A client that hangs up
 * cancels the job. */
#ifndef PDVM_SRV_STREAM_H
#define PDVM_SRV_STREAM_H

#include "oai.h"
#include "srv.h"

/* Queue the streaming response for job (the stream takes the caller's
 * reference). n_prompt: for the usage chunk. */
enum MHD_Result srv_stream_reply(srv_req *r, srv_job *job, const srv_oai *o,
                                 bool include_usage, uint32_t n_prompt);

#endif
