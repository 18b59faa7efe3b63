#ifndef SLUICE_CHIREDIS_SHIM_H
#define SLUICE_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

/* hiredis 0.14 turns both a nil bulk string ($-1) and a nil array (*-1) into a REDIS_REPLY_NIL
 * reply. The reader's task still knows which one it parsed, so we wrap the default createNil and
 * mark a nil array by setting its `integer` field to REDIS_REPLY_ARRAY (a default nil has 0).
 * The wrapped function table lives in the reader's privdata and is freed by
 * CHiredis_free(); it must be installed right after connecting (redisReconnect would drop it). */
typedef struct CHiredis_functions {
    redisReplyObjectFunctions fns;
    redisReplyObjectFunctions *original;
} CHiredis_functions;

static inline void *CHiredis_createNil(const redisReadTask *task) {
    CHiredis_functions *f = (CHiredis_functions *)task->privdata;
    redisReply *r = (redisReply *)f->original->createNil(task);
    if (r != NULL && task->type == REDIS_REPLY_ARRAY) r->integer = REDIS_REPLY_ARRAY;
    return r;
}

/* Installs the nil-array marker on a freshly connected context. Returns 0, or -1 when out of memory. */
static inline int CHiredis_installReplyFunctions(redisContext *c) {
    if (c == NULL || c->reader == NULL || c->reader->fn == NULL) return -1;
    CHiredis_functions *f = (CHiredis_functions *)malloc(sizeof(CHiredis_functions));
    if (f == NULL) return -1;
    f->original = c->reader->fn;
    memcpy(&f->fns, c->reader->fn, sizeof(redisReplyObjectFunctions));
    f->fns.createNil = CHiredis_createNil;
    c->reader->fn = &f->fns;
    c->reader->privdata = f;
    return 0;
}

/* Frees a context and, when installed, the wrapped reply functions. */
static inline void CHiredis_free(redisContext *c) {
    if (c == NULL) return;
    void *privdata = NULL;
    if (c->reader != NULL && c->reader->privdata != NULL) {
        privdata = c->reader->privdata;
        /* The reader may still hold a half-built reply that its (wrapped) freeObject releases. */
    }
    redisFree(c);
    free(privdata);
}

/* True when a NIL reply came from a nil array (*-1), false for a nil bulk string ($-1). */
static inline int CHiredis_isNilArray(const redisReply *r) {
    return r->type == REDIS_REPLY_NIL && r->integer == REDIS_REPLY_ARRAY;
}

/* Sets the socket send/receive timeout; milliseconds <= 0 means no timeout (block forever). */
static inline int CHiredis_setTimeout(redisContext *c, long long milliseconds) {
    struct timeval tv;
    if (milliseconds <= 0) { tv.tv_sec = 0; tv.tv_usec = 0; }
    else { tv.tv_sec = (time_t)(milliseconds / 1000); tv.tv_usec = (suseconds_t)((milliseconds % 1000) * 1000); }
    return redisSetTimeout(c, tv);
}

/* Connects with a connect timeout in milliseconds. */
static inline redisContext *CHiredis_connect(const char *host, int port, long long milliseconds) {
    struct timeval tv;
    tv.tv_sec = (time_t)(milliseconds / 1000);
    tv.tv_usec = (suseconds_t)((milliseconds % 1000) * 1000);
    return redisConnectWithTimeout(host, port, tv);
}

#endif
