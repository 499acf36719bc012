#include "oai.h"

static json_object *envelope(const srv_oai *o, const char *object)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "id", json_object_new_string(o->id));
    json_object_object_add(r, "object", json_object_new_string(object));
    json_object_object_add(r, "created", json_object_new_int64(o->created));
    json_object_object_add(r, "model", json_object_new_string(o->model));
    return r;
}

static json_object *finish_value(srv_finish f)
{
    return f == SRV_FINISH_NONE ? NULL : json_object_new_string(srv_finish_name(f));
}

json_object *srv_oai_usage(uint32_t n_prompt, uint32_t n_gen, uint32_t n_cached)
{
    json_object *u = json_object_new_object(), *d = json_object_new_object();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64(n_prompt));
    json_object_object_add(u, "completion_tokens", json_object_new_int64(n_gen));
    json_object_object_add(u, "total_tokens", json_object_new_int64((int64_t)n_prompt + n_gen));
    json_object_object_add(d, "cached_tokens", json_object_new_int64(n_cached));
    json_object_object_add(u, "prompt_tokens_details", d);
    return u;
}

json_object *srv_oai_response(const srv_oai *o, const char *text, size_t len, srv_finish f,
                              json_object *usage)
{
    json_object *r = envelope(o, o->chat ? "chat.completion" : "text_completion");
    json_object *choice = json_object_new_object(), *choices = json_object_new_array();
    json_object_object_add(choice, "index", json_object_new_int(0));
    if (o->chat) {
        json_object *msg = json_object_new_object();
        json_object_object_add(msg, "role", json_object_new_string("assistant"));
        json_object_object_add(msg, "content", json_object_new_string_len(text, (int)len));
        json_object_object_add(choice, "message", msg);
    } else {
        json_object_object_add(choice, "text", json_object_new_string_len(text, (int)len));
        json_object_object_add(choice, "logprobs", NULL);
    }
    json_object_object_add(choice, "finish_reason", finish_value(f));
    json_object_array_add(choices, choice);
    json_object_object_add(r, "choices", choices);
    json_object_object_add(r, "usage", usage);
    return r;
}

json_object *srv_oai_chunk(const srv_oai *o, const char *text, size_t len, bool role,
                           srv_finish finish, bool usage_null)
{
    json_object *r = envelope(o, o->chat ? "chat.completion.chunk" : "text_completion");
    json_object *choice = json_object_new_object(), *choices = json_object_new_array();
    json_object_object_add(choice, "index", json_object_new_int(0));
    if (o->chat) {
        json_object *delta = json_object_new_object();
        if (role) json_object_object_add(delta, "role", json_object_new_string("assistant"));
        if (role || finish == SRV_FINISH_NONE)
            json_object_object_add(delta, "content", json_object_new_string_len(text, (int)len));
        json_object_object_add(choice, "delta", delta);
    } else {
        json_object_object_add(choice, "text", json_object_new_string_len(text, (int)len));
        json_object_object_add(choice, "logprobs", NULL);
    }
    json_object_object_add(choice, "finish_reason", finish_value(finish));
    json_object_array_add(choices, choice);
    json_object_object_add(r, "choices", choices);
    if (usage_null) json_object_object_add(r, "usage", NULL);
    return r;
}

json_object *srv_oai_usage_chunk(const srv_oai *o, json_object *usage)
{
    json_object *r = envelope(o, o->chat ? "chat.completion.chunk" : "text_completion");
    json_object_object_add(r, "choices", json_object_new_array());
    json_object_object_add(r, "usage", usage);
    return r;
}
