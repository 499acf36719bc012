/* The chat formats llama.cpp's llama_chat_apply_template knows, as data:
 * what each role's message is wrapped in, what opens a turn, what the
 * assistant prefix is. The few formats whose rules are not per-message
 * (system prompts merged into the next user turn, a prefix that depends on
 * the first message) have a short function of their own. */
#include <string.h>

#include "chat_template.h"

#define IM_START "<|im_start|>"
#define HY_PH3 "<｜hy_place▁holder▁no▁3｜>"
#define DS_EOS "<｜end▁of▁sentence｜>"
#define ALL(pre, post, fl) {{NULL, pre, post, fl}}

static bool is_role(const pdvm_chat_message *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

/* gemma and orion have no system turn: system contents wait for the next
 * user message. Writes those of m[from..to) (trimmed or not) and returns
 * whether any byte was written. */
static bool put_pending_systems(chat_out *o, const pdvm_chat_message *m, size_t from, size_t to,
                                bool trim)
{
    size_t before = o->len;
    for (size_t i = from; i < to; i++) {
        if (!is_role(&m[i], "system")) continue;
        if (trim) chat_put_trimmed(o, m[i].content);
        else chat_puts(o, m[i].content);
    }
    return o->len != before;
}

/* The assistant speaks as "model"; system prompts are merged (trimmed, no
 * separator) into the next turn whose role is not "model". */
static void apply_gemma(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                        bool add_assistant)
{
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) continue;
        bool model = is_role(&m[i], "assistant") || is_role(&m[i], "model");
        chat_puts(o, "<start_of_turn>");
        chat_puts(o, is_role(&m[i], "assistant") ? "model" : m[i].role);
        chat_puts(o, "\n");
        if (!model) {
            if (put_pending_systems(o, m, pending, i, true)) chat_puts(o, "\n\n");
            pending = i + 1;
        }
        chat_put_trimmed(o, m[i].content);
        chat_puts(o, "<end_of_turn>\n");
    }
    if (add_assistant) chat_puts(o, f->gen);
}

/* System prompts (untrimmed) go after the next "Human: "; every other
 * non-user message is the assistant's. No assistant prefix. */
static void apply_orion(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                        bool add_assistant)
{
    (void)f;
    (void)add_assistant;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) continue;
        if (is_role(&m[i], "user")) {
            chat_puts(o, "Human: ");
            if (put_pending_systems(o, m, pending, i, false)) chat_puts(o, "\n\n");
            pending = i + 1;
            chat_puts(o, m[i].content);
            chat_puts(o, "\n\nAssistant: </s>");
        } else {
            chat_puts(o, m[i].content);
            chat_puts(o, "</s>");
        }
    }
}

/* "Assistant:" follows the last message when it is the user's, whatever
 * add_assistant says (the model's turn separator is "\n\n"). */
static void apply_rwkv(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                       bool add_assistant)
{
    (void)add_assistant;
    chat_apply_turns(f, o, m, n, false);
    if (n > 0 && is_role(&m[n - 1], "user")) chat_puts(o, f->gen);
}

/* The default system line is written unless the first message is a system
 * one (also for an empty conversation). */
static void apply_bailing2(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                           bool add_assistant)
{
    chat_format g = *f;
    if (n > 0 && is_role(&m[0], "system")) g.start = NULL;
    chat_apply_turns(&g, o, m, n, add_assistant);
}

/* The empty system line is written when the first message is not a system
 * one (not for an empty conversation). */
static void apply_pangu(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                        bool add_assistant)
{
    chat_format g = *f;
    if (n == 0 || is_role(&m[0], "system")) g.start = NULL;
    chat_apply_turns(&g, o, m, n, add_assistant);
}

#define TURNS chat_apply_turns

/* In llama.cpp's name order (llama_chat_builtin_templates), then the
 * detected-only ones. */
static const chat_format FORMATS[] = {
    {"bailing", 0, TURNS, NULL, NULL, "<role>ASSISTANT</role>",
     {{"user", "<role>HUMAN</role>", "", 0}, {NULL, "<role>%U</role>", "", 0}}},
    {"bailing-think", 0, TURNS, NULL, NULL, "<role>ASSISTANT</role><think>",
     {{"user", "<role>HUMAN</role>", "", 0}, {NULL, "<role>%U</role>", "", 0}}},
    {"bailing2", 0, apply_bailing2, "<role>SYSTEM</role>detailed thinking off<|role_end|>", NULL,
     "<role>ASSISTANT</role>",
     {{"user", "<role>HUMAN</role>", "<|role_end|>", 0}, {NULL, "<role>%U</role>", "<|role_end|>", 0}}},
    {"chatglm3", 0, TURNS, "[gMASK]sop", NULL, "<|assistant|>", ALL("<|%r|>\n ", "", 0)},
    {"chatglm4", 0, TURNS, "[gMASK]<sop>", NULL, "<|assistant|>\n", ALL("<|%r|>\n", "", 0)},
    {"chatml", 0, TURNS, NULL, NULL, IM_START "assistant\n", ALL(IM_START "%r\n", "<|im_end|>\n", 0)},
    {"command-r", 0, TURNS, NULL, NULL, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
     {{"system", "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|END_OF_TURN_TOKEN|>", CHAT_TRIM},
      {"user", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "<|END_OF_TURN_TOKEN|>", CHAT_TRIM},
      {"assistant", "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", "<|END_OF_TURN_TOKEN|>", CHAT_TRIM}}},
    {"deepseek", 0, TURNS, NULL, NULL, "### Response:\n",
     {{"system", "", "", 0},
      {"user", "### Instruction:\n", "\n", 0},
      {"assistant", "### Response:\n", "\n<|EOT|>\n", 0}}},
    {"deepseek-ocr", 0, TURNS, NULL, NULL, NULL, ALL("", "", 0)},
    {"deepseek2", 0, TURNS, NULL, NULL, "Assistant:",
     {{"system", "", "\n\n", 0}, {"user", "User: ", "\n\n", 0}, {"assistant", "Assistant: ", DS_EOS, 0}}},
    {"deepseek3", 0, TURNS, NULL, NULL, "<｜Assistant｜>",
     {{"system", "", "\n\n", 0}, {"user", "<｜User｜>", "", 0}, {"assistant", "<｜Assistant｜>", DS_EOS, 0}}},
    {"exaone-moe", 0, TURNS, NULL, NULL, "<|assistant|>\n",
     {{"system", "<|system|>\n", "<|endofturn|>\n", CHAT_TRIM},
      {"user", "<|user|>\n", "<|endofturn|>\n", CHAT_TRIM},
      {"assistant", "<|assistant|>\n", "<|endofturn|>\n", CHAT_TRIM},
      {"tool", "<|tool|>\n", "<|endofturn|>\n", CHAT_TRIM}}},
    {"exaone3", 0, TURNS, NULL, NULL, "[|assistant|]",
     {{"system", "[|system|]", "[|endofturn|]\n", CHAT_TRIM},
      {"user", "[|user|]", "\n", CHAT_TRIM},
      {"assistant", "[|assistant|]", "[|endofturn|]\n", CHAT_TRIM}}},
    {"exaone4", 0, TURNS, NULL, NULL, "[|assistant|]",
     {{"system", "[|system|]", "[|endofturn|]\n", CHAT_TRIM},
      {"user", "[|user|]", "\n", CHAT_TRIM},
      {"assistant", "[|assistant|]", "[|endofturn|]\n", CHAT_TRIM},
      {"tool", "[|tool|]", "[|endofturn|]\n", CHAT_TRIM}}},
    {"falcon3", 0, TURNS, NULL, NULL, "<|assistant|>\n", ALL("<|%r|>\n", "\n", 0)},
    {"gemma", 0, apply_gemma, NULL, NULL, "<start_of_turn>model\n", {{0}}},
    {"gigachat", 0, TURNS, "<s>", NULL, "assistant<|role_sep|>",
     {{"system", "", "<|message_sep|>", CHAT_FIRST_ONLY},
      {"user", "user<|role_sep|>", "<|message_sep|>available functions<|role_sep|>[]<|message_sep|>", 0},
      {"assistant", "assistant<|role_sep|>", "<|message_sep|>", 0}}},
    {"glmedge", 0, TURNS, NULL, NULL, "<|assistant|>", ALL("<|%r|>\n", "", 0)},
    {"gpt-oss", 0, TURNS, NULL, NULL, "<|start|>assistant",
     {{"assistant", "<|start|>assistant<|message|>", "<|return|>", 0},
      {NULL, "<|start|>%r<|message|>", "<|end|>", 0}}},
    {"granite", 0, TURNS, NULL, NULL, "<|start_of_role|>assistant<|end_of_role|>",
     {{"assistant_tool_call", "<|start_of_role|>assistant_tool_call<|end_of_role|><|tool_call|>",
       "<|end_of_text|>\n", 0},
      {NULL, "<|start_of_role|>%r<|end_of_role|>", "<|end_of_text|>\n", 0}}},
    {"granite-4.0", 0, TURNS, NULL, NULL, "<|start_of_role|>assistant<|end_of_role|>",
     {{"assistant_tool_call", "<|start_of_role|>assistant<|end_of_role|><|tool_call|>", "<|end_of_text|>\n", 0},
      {NULL, "<|start_of_role|>%r<|end_of_role|>", "<|end_of_text|>\n", 0}}},
    {"granite-4.1", 0, TURNS, NULL, NULL, "<|start_of_role|>assistant<|end_of_role|>",
     {{"assistant_tool_call", "<|start_of_role|>assistant<|end_of_role|><|tool_call|>", "<|end_of_text|>\n", 0},
      {NULL, "<|start_of_role|>%r<|end_of_role|>", "<|end_of_text|>\n", 0}}},
    {"grok-2", 0, TURNS, NULL, NULL, "Assistant:",
     {{"system", "System: ", "<|separator|>\n\n", CHAT_TRIM},
      {"user", "Human: ", "<|separator|>\n\n", CHAT_TRIM},
      {"assistant", "Assistant: ", "<|separator|>\n\n", 0}}},
    {"hunyuan-dense", 0, TURNS, NULL, NULL, NULL,
     {{"system", "", HY_PH3, CHAT_FIRST_ONLY},
      {"assistant", "<｜hy_Assistant｜>", "<｜hy_place▁holder▁no▁2｜>", 0},
      {"user", "<｜hy_User｜>", "<｜hy_Assistant｜>", 0}}},
    {"hunyuan-moe", 0, TURNS, NULL, NULL, NULL,
     {{"system", "<|startoftext|>", "<|extra_4|>", 0},
      {"assistant", "", "<|eos|>", 0},
      {NULL, "<|startoftext|>", "<|extra_0|>", 0}}},
    {"hunyuan-vl", 0, TURNS, "<｜hy_begin▁of▁sentence｜>", NULL, NULL,
     {{"system", "", HY_PH3, CHAT_FIRST_ONLY},
      {"user", "", "<｜hy_User｜>", 0},
      {"assistant", "", "<｜hy_Assistant｜>", 0}}},
    {"kimi-k2", 0, TURNS, NULL, NULL, "<|im_assistant|>assistant<|im_middle|>",
     {{"system", "<|im_system|>system<|im_middle|>", "<|im_end|>", 0},
      {"user", "<|im_user|>user<|im_middle|>", "<|im_end|>", 0},
      {"assistant", "<|im_assistant|>assistant<|im_middle|>", "<|im_end|>", 0},
      {"tool", "<|im_system|>tool<|im_middle|>", "<|im_end|>", 0},
      {NULL, "", "<|im_end|>", 0}}},
    {"llama2", 0, TURNS, "[INST] ", "[INST] ", NULL,
     {{"system", "", "\n", 0}, {"user", "", " [/INST]", 0}, {NULL, "", "</s>", CHAT_CLOSES}}},
    {"llama2-sys", 0, TURNS, "[INST] ", "[INST] ", NULL,
     {{"system", "<<SYS>>\n", "\n<</SYS>>\n\n", 0}, {"user", "", " [/INST]", 0}, {NULL, "", "</s>", CHAT_CLOSES}}},
    {"llama2-sys-bos", 0, TURNS, "[INST] ", "<s>[INST] ", NULL,
     {{"system", "<<SYS>>\n", "\n<</SYS>>\n\n", 0}, {"user", "", " [/INST]", 0}, {NULL, "", "</s>", CHAT_CLOSES}}},
    {"llama2-sys-strip", 0, TURNS, "[INST] ", "[INST] ", NULL,
     {{"system", "<<SYS>>\n", "\n<</SYS>>\n\n", CHAT_TRIM},
      {"user", "", " [/INST]", CHAT_TRIM},
      {NULL, "", "</s>", CHAT_CLOSES | CHAT_TRIM}}},
    {"llama3", 0, TURNS, NULL, NULL, "<|start_header_id|>assistant<|end_header_id|>\n\n",
     ALL("<|start_header_id|>%r<|end_header_id|>\n\n", "<|eot_id|>", CHAT_TRIM)},
    {"llama4", 0, TURNS, NULL, NULL, "<|header_start|>assistant<|header_end|>\n\n",
     ALL("<|header_start|>%r<|header_end|>\n\n", "<|eot|>", CHAT_TRIM)},
    {"megrez", 0, TURNS, NULL, NULL, "<|role_start|>assistant<|role_end|>",
     ALL("<|role_start|>%r<|role_end|>", "<|turn_end|>", 0)},
    {"minicpm", 0, TURNS, NULL, NULL, NULL, {{"user", "<用户>", "<AI>", CHAT_TRIM}, {NULL, "", "", CHAT_TRIM}}},
    {"mistral-v1", 0, TURNS, NULL, " [INST] ", NULL,
     {{"system", "", "\n\n", 0}, {"user", "", " [/INST]", 0}, {NULL, " ", "</s>", CHAT_CLOSES}}},
    {"mistral-v3", 0, TURNS, NULL, "[INST] ", NULL,
     {{"system", "", "\n\n", 0}, {"user", "", "[/INST]", 0}, {NULL, " ", "</s>", CHAT_CLOSES | CHAT_TRIM}}},
    {"mistral-v3-tekken", 0, TURNS, NULL, "[INST]", NULL,
     {{"system", "", "\n\n", 0}, {"user", "", "[/INST]", 0}, {NULL, "", "</s>", CHAT_CLOSES}}},
    {"mistral-v7", 0, TURNS, NULL, NULL, NULL,
     {{"system", "[SYSTEM_PROMPT] ", "[/SYSTEM_PROMPT]", 0}, {"user", "[INST] ", "[/INST]", 0},
      {NULL, " ", "</s>", 0}}},
    {"mistral-v7-tekken", 0, TURNS, NULL, NULL, NULL,
     {{"system", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", 0}, {"user", "[INST]", "[/INST]", 0},
      {NULL, "", "</s>", 0}}},
    /* Every message but the first starts a turn with "<s>". */
    {"monarch", 0, TURNS, "", "<s>", "<s>assistant\n", ALL("%r\n", "</s>\n", CHAT_CLOSES)},
    {"openchat", 0, TURNS, NULL, NULL, "GPT4 Correct Assistant:",
     {{"system", "", "<|end_of_turn|>", 0}, {NULL, "GPT4 Correct %R: ", "<|end_of_turn|>", 0}}},
    {"orion", 0, apply_orion, NULL, NULL, NULL, {{0}}},
    {"pangu-embedded", 0, apply_pangu, "[unused9]系统：[unused10]", NULL, "[unused9]助手：",
     {{"system", "[unused9]系统：", "[unused10]", 0},
      {"user", "[unused9]用户：", "[unused10]", 0},
      {"assistant", "[unused9]助手：", "[unused10]", 0},
      {"tool", "[unused9]工具：", "[unused10]", 0},
      {"function", "[unused9]方法：", "[unused10]", 0}}},
    {"phi3", 0, TURNS, NULL, NULL, "<|assistant|>\n", ALL("<|%r|>\n", "<|end|>\n", 0)},
    {"phi4", 0, TURNS, NULL, NULL, IM_START "assistant<|im_sep|>", ALL(IM_START "%r<|im_sep|>", "<|im_end|>", 0)},
    {"rwkv-world", 0, apply_rwkv, NULL, NULL, "Assistant:",
     {{"system", "System: ", "\n\n", CHAT_TRIM},
      {"user", "User: ", "\n\n", CHAT_TRIM},
      {"assistant", "Assistant: ", "\n\n", CHAT_TRIM}}},
    {"seed_oss", 0, TURNS, NULL, NULL, "<seed:bos>assistant\n",
     {{"assistant", "<seed:bos>%r\n", "<seed:eos>", CHAT_TRIM}, {NULL, "<seed:bos>%r\n", "<seed:eos>", 0}}},
    {"smolvlm", 0, TURNS, IM_START, NULL, "Assistant:",
     {{"system", "", "\n\n", 0},
      {"user", "User: ", "<end_of_utterance>\n", 0},
      {NULL, "Assistant: ", "<end_of_utterance>\n", 0}}},
    {"solar-open", 0, TURNS, NULL, NULL, "<|begin|>assistant", ALL("<|begin|>%r<|content|>", "<|end|>", 0)},
    {"vicuna", 0, TURNS, NULL, NULL, "ASSISTANT:",
     {{"system", "", "\n\n", 0}, {"user", "USER: ", "\n", 0}, {"assistant", "ASSISTANT: ", "</s>\n", 0}}},
    {"vicuna-orca", 0, TURNS, NULL, NULL, "ASSISTANT:",
     {{"system", "SYSTEM: ", "\n", 0}, {"user", "USER: ", "\n", 0}, {"assistant", "ASSISTANT: ", "</s>\n", 0}}},
    {"yandex", 0, TURNS, NULL, NULL, " Ассистент:[SEP]",
     {{"user", " Пользователь: ", "\n\n", 0}, {"assistant", " Ассистент: ", "\n\n", 0}}},
    {"zephyr", 0, TURNS, NULL, NULL, "<|assistant|>\n", ALL("<|%r|>\n", "<|endoftext|>\n", 0)},
    /* dots.llm1: llama.cpp recognises its template but has no name for it. */
    {"dots1", 1, TURNS, NULL, NULL, "<|response|>",
     {{"system", "<|system|>", "<|endofsystem|>", 0},
      {"user", "<|userprompt|>", "<|endofuserprompt|>", 0},
      {NULL, "<|response|>", "<|endofresponse|>", 0}}},
};

size_t chat_format_count(void) { return sizeof FORMATS / sizeof FORMATS[0]; }

const chat_format *chat_format_at(size_t i) { return i < chat_format_count() ? &FORMATS[i] : NULL; }
