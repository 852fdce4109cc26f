#include "lognorm_shim.h"
#include <stdlib.h>
#include <string.h>
#include <liblognorm.h>
#include <libfastjson/json.h>

struct tollgate_lognorm {
    ln_ctx ctx;
};

static __thread char messages[2048];
static __thread size_t used;

static void collect(void *cookie, const char *message, size_t length) {
    (void)cookie;
    if (message == NULL) return;
    if (used > 0 && used + 2 < sizeof(messages)) {
        memcpy(messages + used, "; ", 2);
        used += 2;
    }
    size_t room = sizeof(messages) - 1 - used;
    size_t n = length < room ? length : room;
    memcpy(messages + used, message, n);
    used += n;
    messages[used] = 0;
}

tollgate_lognorm *tollgate_lognorm_open(const char *file, const char *rules) {
    used = 0;
    messages[0] = 0;
    ln_ctx ctx = ln_initCtx();
    if (ctx == NULL) {
        collect(NULL, "liblognorm could not start", 26);
        return NULL;
    }
    ln_setErrMsgCB(ctx, collect, NULL);
    int r = file != NULL ? ln_loadSamples(ctx, file) : ln_loadSamplesFromString(ctx, rules);
    if (r != 0 || used > 0) {
        ln_exitCtx(ctx);
        return NULL;
    }
    tollgate_lognorm *n = malloc(sizeof(*n));
    if (n == NULL) {
        ln_exitCtx(ctx);
        return NULL;
    }
    n->ctx = ctx;
    return n;
}

const char *tollgate_lognorm_messages(void) { return messages; }

void tollgate_lognorm_close(tollgate_lognorm *normalizer) {
    if (normalizer == NULL) return;
    ln_exitCtx(normalizer->ctx);
    free(normalizer);
}

char *tollgate_lognorm_normalize(tollgate_lognorm *normalizer, const char *text, size_t length, int *matched) {
    struct json_object *json = NULL;
    *matched = ln_normalize(normalizer->ctx, text, length, &json) == 0;
    if (json == NULL) return NULL;
    const char *out = fjson_object_to_json_string_ext(json, FJSON_TO_STRING_PLAIN);
    char *copy = out != NULL ? strdup(out) : NULL;
    fjson_object_put(json);
    return copy;
}
