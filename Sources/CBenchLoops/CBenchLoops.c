// The C reference loops of `sluice bench clients` (see include/CBenchLoops.h).
#include "CBenchLoops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <postgresql/libpq-fe.h>
#include <hiredis/hiredis.h>
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double fail(char *err, size_t errlen, const char *what, const char *detail) {
    snprintf(err, errlen, "%s: %s", what, detail ? detail : "");
    return -1;
}

double sluice_c_copy(const char *conninfo, const char *table, long rows, char *err, size_t errlen) {
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        double r = fail(err, errlen, "connect", PQerrorMessage(conn));
        PQfinish(conn);
        return r;
    }
    char sql[512];
    snprintf(sql, sizeof sql, "COPY %s (id, name, value) FROM STDIN", table);
    enum { CHUNK = 65536 };
    char *buf = malloc(CHUNK + 256);
    double start = now_s();
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        double r = fail(err, errlen, "COPY", PQerrorMessage(conn));
        PQclear(res); PQfinish(conn); free(buf);
        return r;
    }
    PQclear(res);
    size_t used = 0;
    for (long i = 0; i < rows; i++) {
        used += (size_t)snprintf(buf + used, 256, "%ld\tlead-%ld@example.com\t%.17g\n", i, i, (double)i * 0.5);
        if (used >= CHUNK || i == rows - 1) {
            if (PQputCopyData(conn, buf, (int)used) != 1) {
                double r = fail(err, errlen, "PQputCopyData", PQerrorMessage(conn));
                PQfinish(conn); free(buf);
                return r;
            }
            used = 0;
        }
    }
    if (PQputCopyEnd(conn, NULL) != 1) {
        double r = fail(err, errlen, "PQputCopyEnd", PQerrorMessage(conn));
        PQfinish(conn); free(buf);
        return r;
    }
    res = PQgetResult(conn);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    double elapsed = now_s() - start;
    if (!ok) fail(err, errlen, "COPY end", PQerrorMessage(conn));
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL) PQclear(res);
    PQfinish(conn);
    free(buf);
    return ok ? elapsed : -1;
}

static int reply_ok(amqp_rpc_reply_t r, char *err, size_t errlen, const char *what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return 1;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) fail(err, errlen, what, amqp_error_string2(r.library_error));
    else fail(err, errlen, what, "broker closed the channel or connection");
    return 0;
}

static amqp_connection_state_t amqp_open(const char *host, int port, const char *user, const char *password,
                                         const char *vhost, char *err, size_t errlen) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (!socket || amqp_socket_open(socket, host, port) != AMQP_STATUS_OK) {
        fail(err, errlen, "amqp connect", host);
        amqp_destroy_connection(conn);
        return NULL;
    }
    if (!reply_ok(amqp_login(conn, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, user, password), err, errlen, "amqp login")) {
        amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_channel_open(conn, 1);
    if (!reply_ok(amqp_get_rpc_reply(conn), err, errlen, "channel.open")) {
        amqp_destroy_connection(conn);
        return NULL;
    }
    return conn;
}

static void amqp_close(amqp_connection_state_t conn) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

double sluice_c_publish_confirm(const char *host, int port, const char *user, const char *password,
                                const char *vhost, const char *queue, long count, int body_len, int window,
                                char *err, size_t errlen) {
    amqp_connection_state_t conn = amqp_open(host, port, user, password, vhost, err, errlen);
    if (!conn) return -1;
    amqp_confirm_select(conn, 1);
    if (!reply_ok(amqp_get_rpc_reply(conn), err, errlen, "confirm.select")) { amqp_destroy_connection(conn); return -1; }
    char *body = malloc((size_t)body_len);
    memset(body, 'x', (size_t)body_len);
    amqp_bytes_t message = { (size_t)body_len, body };
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2;
    amqp_bytes_t routing = amqp_cstring_bytes(queue);
    double start = now_s();
    long published = 0;
    uint64_t confirmed = 0;
    while (published < count) {
        long n = count - published < window ? count - published : window;
        for (long i = 0; i < n; i++) {
            if (amqp_basic_publish(conn, 1, amqp_empty_bytes, routing, 1, 0, &props, message) != AMQP_STATUS_OK) {
                free(body); amqp_destroy_connection(conn);
                return fail(err, errlen, "basic.publish", "failed");
            }
        }
        published += n;
        while (confirmed < (uint64_t)published) {
            amqp_frame_t frame;
            if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) {
                free(body); amqp_destroy_connection(conn);
                return fail(err, errlen, "wait for confirms", "connection lost");
            }
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                amqp_basic_ack_t *ack = frame.payload.method.decoded;
                confirmed = ack->delivery_tag; /* acks arrive in order; multiple covers the tags before */
            } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
                free(body); amqp_destroy_connection(conn);
                return fail(err, errlen, "publish", "nacked");
            }
        }
        amqp_maybe_release_buffers(conn);
    }
    double elapsed = now_s() - start;
    free(body);
    amqp_close(conn);
    return elapsed;
}

double sluice_c_consume_ack(const char *host, int port, const char *user, const char *password,
                            const char *vhost, const char *queue, long count, int prefetch,
                            char *err, size_t errlen) {
    amqp_connection_state_t conn = amqp_open(host, port, user, password, vhost, err, errlen);
    if (!conn) return -1;
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    if (!reply_ok(amqp_get_rpc_reply(conn), err, errlen, "basic.qos")) { amqp_destroy_connection(conn); return -1; }
    double start = now_s();
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (!reply_ok(amqp_get_rpc_reply(conn), err, errlen, "basic.consume")) { amqp_destroy_connection(conn); return -1; }
    long consumed = 0;
    uint64_t unacked_tag = 0;
    while (consumed < count) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t r = amqp_consume_message(conn, &envelope, NULL, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            amqp_destroy_connection(conn);
            return fail(err, errlen, "consume", "unexpected frame or connection lost");
        }
        unacked_tag = envelope.delivery_tag;
        amqp_destroy_envelope(&envelope);
        consumed++;
        /* Like the Swift consumer: settle consecutive deliveries with one multiple ack once
         * nothing more is buffered (or at the end). */
        if (!amqp_data_in_buffer(conn) || consumed == count) {
            if (amqp_basic_ack(conn, 1, unacked_tag, 1) != AMQP_STATUS_OK) {
                amqp_destroy_connection(conn);
                return fail(err, errlen, "basic.ack", "failed");
            }
        }
    }
    double elapsed = now_s() - start;
    amqp_close(conn);
    return elapsed;
}

double sluice_c_redis_set(const char *host, int port, int db, const char *prefix, long count, int value_len,
                          int chunk, char *err, size_t errlen) {
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) {
        double r = fail(err, errlen, "redis connect", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return r;
    }
    if (db != 0) {
        char dbs[16];
        snprintf(dbs, sizeof dbs, "%d", db);
        const char *argv[2] = { "SELECT", dbs };
        redisReply *reply = redisCommandArgv(c, 2, argv, NULL);
        if (!reply) { redisFree(c); return fail(err, errlen, "SELECT", "no reply"); }
        freeReplyObject(reply);
    }
    char *value = malloc((size_t)value_len);
    memset(value, 'v', (size_t)value_len);
    char key[256];
    const char *argv[3];
    size_t argvlen[3];
    argv[0] = "SET"; argvlen[0] = 3;
    argv[2] = value; argvlen[2] = (size_t)value_len;
    double start = now_s();
    long done = 0;
    while (done < count) {
        long n = count - done < chunk ? count - done : chunk;
        for (long i = done; i < done + n; i++) {
            int k = snprintf(key, sizeof key, "%s:%ld", prefix, i);
            argv[1] = key; argvlen[1] = (size_t)k;
            redisAppendCommandArgv(c, 3, argv, argvlen);
        }
        for (long i = 0; i < n; i++) {
            void *reply = NULL;
            if (redisGetReply(c, &reply) != REDIS_OK || !reply) {
                free(value); redisFree(c);
                return fail(err, errlen, "SET", "no reply");
            }
            freeReplyObject(reply);
        }
        done += n;
    }
    double elapsed = now_s() - start;
    /* Clean up (not timed). */
    argv[0] = "DEL"; argvlen[0] = 3;
    for (long i = 0; i < count; i += chunk) {
        long n = count - i < chunk ? count - i : chunk;
        for (long j = i; j < i + n; j++) {
            int k = snprintf(key, sizeof key, "%s:%ld", prefix, j);
            argv[1] = key; argvlen[1] = (size_t)k;
            redisAppendCommandArgv(c, 2, argv, argvlen);
        }
        for (long j = 0; j < n; j++) {
            void *reply = NULL;
            if (redisGetReply(c, &reply) == REDIS_OK && reply) freeReplyObject(reply);
        }
    }
    free(value);
    redisFree(c);
    return elapsed;
}

// ------------------------------------------------------------------ wake-up floor

static struct timespec pause_of(long interval_us) {
    return (struct timespec){.tv_sec = interval_us / 1000000, .tv_nsec = (interval_us % 1000000) * 1000};
}

struct wake_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int signalled;       // under lock: a wake is due
    int stop;            // under lock
    _Atomic double woke; // the woken thread's clock when it ran (0: not yet)
};

static void *wake_waiter(void *arg) {
    struct wake_state *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->signalled && !s->stop) pthread_cond_wait(&s->cond, &s->lock);
        if (s->stop) break;
        s->signalled = 0;
        atomic_store(&s->woke, now_s());
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int sluice_c_wake_latency(long samples, long interval_us, double *out_us, char *err, size_t errlen) {
    struct wake_state s = {.signalled = 0, .stop = 0};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    atomic_init(&s.woke, 0.0);
    pthread_t thread;
    if (pthread_create(&thread, NULL, wake_waiter, &s) != 0) {
        fail(err, errlen, "pthread_create", strerror(errno));
        return -1;
    }
    struct timespec pause = pause_of(interval_us);
    for (long i = 0; i < samples; i++) {
        nanosleep(&pause, NULL);
        atomic_store(&s.woke, 0.0);
        double start = now_s();
        pthread_mutex_lock(&s.lock);
        s.signalled = 1;
        pthread_cond_signal(&s.cond);
        pthread_mutex_unlock(&s.lock);
        // Waits by yielding, not by sleeping, so the measured wake is the waiter's alone.
        double woke;
        while ((woke = atomic_load(&s.woke)) == 0.0) sched_yield();
        out_us[i] = (woke - start) * 1e6;
    }
    pthread_mutex_lock(&s.lock);
    s.stop = 1;
    pthread_cond_signal(&s.cond);
    pthread_mutex_unlock(&s.lock);
    pthread_join(thread, NULL);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return 0;
}

// ------------------------------------------------------------------ fsync floor

int sluice_c_fsync_latency(const char *directory, long samples, long interval_us, double *out_us, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.sluice-fsync-probe-%ld", directory, (long)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fail(err, errlen, path, strerror(errno));
        return -1;
    }
    static char block[8192];
    memset(block, 'x', sizeof block);
    struct timespec pause = pause_of(interval_us);
    int status = 0;
    for (long i = 0; i < samples; i++) {
        nanosleep(&pause, NULL);
        double start = now_s();
        // The same block rewritten in place, as a WAL page is until it fills.
        if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fdatasync(fd) != 0) {
            fail(err, errlen, "write and fdatasync", strerror(errno));
            status = -1;
            break;
        }
        out_us[i] = (now_s() - start) * 1e6;
    }
    close(fd);
    unlink(path);
    return status;
}
