/* Which chat format a template string is, by llama.cpp's rule
 * (llm_chat_detect_template): an exact llama.cpp name, else the first of an
 * ordered list of signature rules whose substrings the string contains.
 * Order matters: a Jinja template often holds several formats' markers. */
#include <stdint.h>
#include <string.h>

#include "chat_template.h"

#define MAX_CLAUSES 4

/* A rule holds when every clause does; a clause holds when one of its
 * alternatives occurs in the template. An alternative starting with '^'
 * must start the template instead. */
typedef struct chat_rule {
    const char *format;
    const char *clause[MAX_CLAUSES][2];
} chat_rule;

#define MISTRAL {"^mistral", "[INST]"}
#define MISTRAL_OFFICIAL {"' [INST] ' + system_message", "[AVAILABLE_TOOLS]"}

static const chat_rule RULES[] = {
    {"phi4", {{"<|im_start|>"}, {"<|im_sep|>"}}},
    {"smolvlm", {{"<|im_start|>"}, {"<end_of_utterance>"}}},
    {"chatml", {{"<|im_start|>"}}},
    {"mistral-v7", {MISTRAL, {"[SYSTEM_PROMPT]"}}},
    {"mistral-v1", {MISTRAL, MISTRAL_OFFICIAL, {" [INST]"}}},
    {"mistral-v3-tekken", {MISTRAL, MISTRAL_OFFICIAL, {"\"[INST]\""}}},
    {"mistral-v3", {MISTRAL, MISTRAL_OFFICIAL}},
    {"llama2-sys-strip", {MISTRAL, {"content.strip()"}}},
    {"llama2-sys-bos", {MISTRAL, {"bos_token + '[INST]"}}},
    {"llama2-sys", {MISTRAL, {"<<SYS>>"}}},
    {"llama2", {MISTRAL}},
    {"phi3", {{"<|assistant|>"}, {"<|end|>"}}},
    {"chatglm4", {{"[gMASK]<sop>"}}},
    {"exaone-moe", {{"<|assistant|>"}, {"<|user|>"}, {"<|tool_declare|>"}}},
    {"falcon3", {{"<|assistant|>"}, {"<|user|>"}, {"</s>"}}},
    {"glmedge", {{"<|assistant|>"}, {"<|user|>"}}},
    {"glmedge", {{"<|{{ item['role'] }}|>"}, {"<|begin_of_image|>"}}},
    {"zephyr", {{"<|user|>"}, {"<|endoftext|>"}}},
    {"monarch", {{"bos_token + message['role']"}}},
    {"gemma", {{"<start_of_turn>"}}},
    {"orion", {{"'\\n\\nAssistant: ' + eos_token"}}},
    {"openchat", {{"GPT4 Correct "}}},
    {"vicuna-orca", {{"USER: "}, {"ASSISTANT: "}, {"SYSTEM: "}}},
    {"vicuna", {{"USER: "}, {"ASSISTANT: "}}},
    {"deepseek", {{"### Instruction:"}, {"<|EOT|>"}}},
    {"command-r", {{"<|START_OF_TURN_TOKEN|>"}, {"<|USER_TOKEN|>"}}},
    {"llama3", {{"<|start_header_id|>"}, {"<|end_header_id|>"}}},
    {"chatglm3", {{"[gMASK]sop"}}},
    {"minicpm", {{"<用户>"}}},
    {"deepseek2", {{"'Assistant: ' + message['content'] + eos_token"}}},
    {"deepseek3", {{"<｜Assistant｜>"}, {"<｜User｜>"}, {"<｜end▁of▁sentence｜>"}}},
    {"exaone4", {{"[|system|]"}, {"[|assistant|]"}, {"[|endofturn|]"}, {"[|tool|]"}}},
    {"exaone3", {{"[|system|]"}, {"[|assistant|]"}, {"[|endofturn|]"}}},
    {"rwkv-world", {{"rwkv-world", "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}"}}},
    {"granite-4.0", {{"<|start_of_role|>"}, {"<tool_call>", "<tools>"}, {"g4_default_system_message"}}},
    {"granite-4.1", {{"<|start_of_role|>"}, {"<tool_call>", "<tools>"}}},
    {"granite", {{"<|start_of_role|>"}}},
    {"gigachat",
     {{"message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]"}}},
    {"megrez", {{"<|role_start|>"}}},
    {"yandex", {{" Ассистент:"}}},
    {"bailing", {{"<role>ASSISTANT</role>"}, {"'HUMAN'"}}},
    {"bailing-think", {{"<role>ASSISTANT</role>"}, {"\"HUMAN\""}, {"<think>"}}},
    {"bailing2", {{"<role>ASSISTANT</role>"}, {"<role>HUMAN</role>"}, {"<|role_end|>"}}},
    {"llama4", {{"<|header_start|>"}, {"<|header_end|>"}}},
    {"dots1", {{"<|endofuserprompt|>"}}},
    {"hunyuan-moe", {{"<|extra_0|>"}, {"<|extra_4|>"}}},
    {"gpt-oss", {{"<|start|>"}, {"<|channel|>"}}},
    {"hunyuan-vl", {{"<｜hy_Assistant｜>"}, {"<｜hy_begin▁of▁sentence｜>"}}},
    {"hunyuan-dense", {{"<｜hy_Assistant｜>"}, {"<｜hy_place▁holder▁no▁3｜>"}}},
    {"kimi-k2", {{"<|im_assistant|>assistant<|im_middle|>"}}},
    {"seed_oss", {{"<seed:bos>"}}},
    {"grok-2", {{"'Assistant: '  + message['content'] + '<|separator|>"}}},
    {"pangu-embedded", {{"[unused9]系统：[unused10]"}}},
    {"solar-open", {{"<|begin|>"}, {"<|end|>"}, {"<|content|>"}}},
};

static bool has(const char *tmpl, const char *needle)
{
    if (needle[0] == '^') return strncmp(tmpl, needle + 1, strlen(needle + 1)) == 0;
    return strstr(tmpl, needle) != NULL;
}

static bool rule_holds(const chat_rule *r, const char *tmpl)
{
    for (size_t c = 0; c < MAX_CLAUSES && r->clause[c][0]; c++) {
        const char *const *alt = r->clause[c];
        if (!has(tmpl, alt[0]) && !(alt[1] && has(tmpl, alt[1]))) return false;
    }
    return true;
}

static const chat_format *format_named(const char *name, bool include_unnamed)
{
    for (size_t i = 0; i < chat_format_count(); i++) {
        const chat_format *f = chat_format_at(i);
        if ((include_unnamed || !f->no_name) && strcmp(f->name, name) == 0) return f;
    }
    return NULL;
}

const chat_format *chat_format_by_name(const char *name) { return format_named(name, false); }

const chat_format *chat_format_detect(const char *tmpl)
{
    const chat_format *f = chat_format_by_name(tmpl);
    if (f) return f;
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++)
        if (rule_holds(&RULES[i], tmpl)) return format_named(RULES[i].format, true);
    return NULL;
}

const char *pdvm_chat_template_name(const char *tmpl)
{
    const chat_format *f = tmpl ? chat_format_detect(tmpl) : NULL;
    return f ? f->name : NULL;
}
