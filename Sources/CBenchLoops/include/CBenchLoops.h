#ifndef SLUICE_CBENCHLOOPS_H
#define SLUICE_CBENCHLOOPS_H
/* Plain C loops over libpq, rabbitmq-c and hiredis: the reference `sluice bench clients`
 * compares the Swift clients with, on the same servers in the same process and run. Each
 * function does the same work as its Swift counterpart in BenchClients.swift, times it with
 * CLOCK_MONOTONIC and returns the elapsed seconds, or a negative value with a message in `err`.
 * No Swift layer in between: these are what a careful C programmer would write. */
#include <stddef.h>

/* COPY `rows` rows (id bigint, name text, value float8) into `table` over a new connection,
 * in 64 KiB chunks of text format. */
double sluice_c_copy(const char *conninfo, const char *table, long rows, char *err, size_t errlen);

/* Publish `count` persistent, mandatory messages of `body_len` bytes to `queue` through the
 * default exchange with publisher confirms, `window` messages in flight, reading every ack. */
double sluice_c_publish_confirm(const char *host, int port, const char *user, const char *password,
                                const char *vhost, const char *queue, long count, int body_len, int window,
                                char *err, size_t errlen);

/* Consume `count` messages from `queue` with prefetch `prefetch`; consecutive deliveries are
 * settled with one `multiple` basic.ack whenever no more data is buffered, as the Swift consumer
 * (AMQPConsumer) does. */
double sluice_c_consume_ack(const char *host, int port, const char *user, const char *password,
                            const char *vhost, const char *queue, long count, int prefetch,
                            char *err, size_t errlen);

/* Pipelined `SET prefix:i value` (value: `value_len` bytes) for i in 0..<count, `chunk` commands
 * appended before their replies are read; keys deleted afterwards (not timed). */
double sluice_c_redis_set(const char *host, int port, int db, const char *prefix, long count, int value_len,
                          int chunk, char *err, size_t errlen);

/* The machine's floor under every hop of a job: a thread sleeping on a condition variable (as
 * each client connection's I/O thread does) is signalled `samples` times, `interval_us` apart
 * (the pacing of `bench latency`, so the CPU idles between wakes as it does there); `out_us[i]`
 * gets the microseconds from the signal to the woken thread running. Returns 0, or -1 with a
 * message in `err`. */
int sluice_c_wake_latency(long samples, long interval_us, double *out_us, char *err, size_t errlen);

/* The other floor under a durable step (a ledger commit, a persistent publish's confirm): an
 * 8 kB write and `fdatasync` of a scratch file in `directory` (removed afterwards), `samples`
 * times, `interval_us` apart; `out_us[i]` gets each one's microseconds, as `pg_test_fsync`'s
 * fdatasync line measures. Returns 0, or -1 with a message in `err`. */
int sluice_c_fsync_latency(const char *directory, long samples, long interval_us, double *out_us, char *err, size_t errlen);

#endif
