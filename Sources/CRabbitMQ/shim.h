#ifndef SLUICE_CRABBITMQ_SHIM_H
#define SLUICE_CRABBITMQ_SHIM_H
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#endif
#include <stdlib.h>
#include <sys/time.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <netinet/tcp.h>

/* amqp_login is variadic: Swift cannot import it. PLAIN SASL only. */
static inline amqp_rpc_reply_t CRabbitMQ_login_plain(amqp_connection_state_t state,
                                                     const char *vhost, int channel_max,
                                                     int frame_max, int heartbeat,
                                                     const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat,
                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/* amqp_login_with_properties is variadic too; the properties table carries connection_name. */
static inline amqp_rpc_reply_t CRabbitMQ_login_plain_with_properties(
    amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const amqp_table_t *properties, const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

#endif
