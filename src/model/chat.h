/* ChatML prompts (`zf run --chat`), the format of SmolLM2 and Qwen2/3:
 *   <|im_start|>ROLE\nCONTENT<|im_end|>\n ... <|im_start|>assistant\n
 * Encode the result with ZF_TOK_PARSE_SPECIAL so the markers become their ids. */
#ifndef ZF_MODEL_CHAT_H
#define ZF_MODEL_CHAT_H

#include <stdint.h>

#include "zfast.h"

typedef struct zf_chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} zf_chat_message;

/* Formats n messages (n >= 1). When default_system is not NULL and the first
 * message is not a system one, a system message with that content goes
 * first, as SmolLM2's template does. add_generation_prompt appends the
 * opening of the assistant's turn. *out is malloc'ed and NUL-terminated
 * (free() it); *len excludes the NUL. */
zf_status zf_chat_format(const zf_chat_message *msgs, int64_t n, const char *default_system,
                         int add_generation_prompt, char **out, int64_t *len);

/* The system prompt a ChatML chat template inserts when the conversation has
 * none (a literal "<|im_start|>system\n...<|im_end|>" in the template, the
 * newline written as is or as \n). *out is malloc'ed, or NULL when the
 * template has no such literal (tmpl may be NULL). */
zf_status zf_chat_template_default_system(const char *tmpl, char **out);

#endif
