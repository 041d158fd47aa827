#include "model/chat.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const char START[] = "<|im_start|>", END[] = "<|im_end|>\n", ASSISTANT[] = "<|im_start|>assistant\n";

static size_t turn_len(const char *role, const char *content) {
    return strlen(START) + strlen(role) + 1 + strlen(content) + strlen(END);
}

static char *put_turn(char *p, const char *role, const char *content) {
    const char *parts[] = {START, role, "\n", content, END};
    for (size_t i = 0; i < 5; i++) {
        size_t k = strlen(parts[i]);
        memcpy(p, parts[i], k);
        p += k;
    }
    return p;
}

zf_status zf_chat_format(const zf_chat_message *msgs, int64_t n, const char *default_system,
                         int add_generation_prompt, char **out, int64_t *len) {
    if (!msgs || n < 1 || !out || !len)
        return zf_error(ZF_ERR_INVALID_ARG, "[chat] messages (%lld), out and len must be given", (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content || !msgs[i].role[0])
            return zf_error(ZF_ERR_INVALID_ARG, "[chat] message %lld: role and content must be non-NULL, role non-empty",
                            (long long)i);
    int add_system = default_system && strcmp(msgs[0].role, "system") != 0;
    size_t total = add_system ? turn_len("system", default_system) : 0;
    for (int64_t i = 0; i < n; i++) total += turn_len(msgs[i].role, msgs[i].content);
    if (add_generation_prompt) total += strlen(ASSISTANT);
    char *s = malloc(total + 1), *p = s;
    if (!s) return zf_error(ZF_ERR_NO_MEMORY, "[chat] out of memory for a %zu-byte prompt", total);
    if (add_system) p = put_turn(p, "system", default_system);
    for (int64_t i = 0; i < n; i++) p = put_turn(p, msgs[i].role, msgs[i].content);
    if (add_generation_prompt) {
        memcpy(p, ASSISTANT, strlen(ASSISTANT));
        p += strlen(ASSISTANT);
    }
    *p = '\0';
    *out = s;
    *len = (int64_t)total;
    return ZF_OK;
}

zf_status zf_chat_template_default_system(const char *tmpl, char **out) {
    if (!out) return zf_error(ZF_ERR_INVALID_ARG, "[chat] out is NULL");
    static const char head[] = "<|im_start|>system";
    for (const char *p = tmpl ? strstr(tmpl, head) : NULL; p; p = strstr(p + 1, head)) {
        const char *q = p + strlen(head);
        if (*q == '\n') q += 1;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *e = strstr(q, "<|im_end|>");
        /* a literal, not an expression that splices the user's message in */
        if (!e || e == q || memchr(q, '\'', (size_t)(e - q)) || memchr(q, '"', (size_t)(e - q)) ||
            memchr(q, '{', (size_t)(e - q)) || memchr(q, '\\', (size_t)(e - q)))
            continue;
        char *s = malloc((size_t)(e - q) + 1);
        if (!s) return zf_error(ZF_ERR_NO_MEMORY, "[chat] out of memory");
        memcpy(s, q, (size_t)(e - q));
        s[e - q] = '\0';
        *out = s;
        return ZF_OK;
    }
    *out = NULL;
    return ZF_OK;
}
