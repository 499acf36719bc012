/* libFuzzer target for the server's request parser: any bytes as the body
 * of /v1/completions or /v1/chat/completions (byte 0's low bit picks which).
 * The body must be refused with a 4xx/5xx status and a message, or parsed
 * into a request whose fields are in range; never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/server/request.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_request: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool chat = data[0] & 1;
    srv_err e = {0};
    json_object *o = srv_json_parse((const char *)data + 1, size - 1, &e);
    if (!o) {
        check(e.status >= 400 && e.status < 600 && e.msg[0], "a refusal without a message");
        return 0;
    }
    srv_request rq;
    if (srv_request_parse(o, chat, 512, &rq, &e)) {
        check(rq.chat == chat, "the endpoint changed");
        check(rq.gp.max_tokens == -1 || rq.gp.max_tokens >= 1, "max_tokens out of range");
        if (chat) check(rq.n_msgs >= 1 && rq.msgs != NULL, "a chat without messages");
        else check(rq.prompt != NULL || rq.n_ids >= 1, "a completion without a prompt");
        for (size_t i = 0; i < rq.n_ids; i++) check(rq.ids[i] >= 0 && rq.ids[i] < 512, "bad id");
        for (size_t i = 0; i < rq.gp.n_stop; i++) check(rq.gp.stop[i][0] != '\0', "empty stop");
        srv_request_free(&rq);
    } else {
        check(e.status >= 400 && e.msg[0], "a refusal without a message");
    }
    json_object_put(o);
    return 0;
}
