// Latency at a fixed offered load (open loop, as wrk2 measures it), for comparing tails at equal
// load rather than at each server's saturation, where a closed loop (wrk) mostly measures its own
// queue and, on a small machine, its own saturated core.
//
// CONNECTIONS keep-alive connections, one request in flight on each (no pipelining). Connection c
// sends its k-th request at start + (k * CONNECTIONS + c) / RATE; the latency of a request is
// counted from that planned time, so a late answer also charges the requests that had to wait for
// it (no coordinated omission). A closed connection is dialled again. Stops after SECONDS, or 5 s
// later if answers are still owed.
//
// Usage: open-loop PORT PATH AUTHORIZATION CONNECTIONS RATE SECONDS
// Prints one JSON object: sent, answered, errors, reconnects, achieved req/s, and p50/p90/p99/p99.9/max in ms.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    int busy;              // a request is in flight
    uint64_t planned;      // planned send time of the next (or in-flight) request, ns
    uint64_t sequence;     // k: how many this connection has planned so far
    char buffer[65536];
    size_t filled;
} Connection;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); exit(2); }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);  // a stale readiness event must not block the loop
    return fd;
}

// Closed (nginx ends a keep-alive connection after keepalive_requests, with `Connection: close` on
// the last answer): dial again, as wrk does.
static void redial(int ep, Connection *connection, uint32_t index, int port) {
    epoll_ctl(ep, EPOLL_CTL_DEL, connection->fd, NULL);
    close(connection->fd);
    connection->fd = dial(port);
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = index};
    epoll_ctl(ep, EPOLL_CTL_ADD, connection->fd, &event);
    connection->busy = 0;
    connection->filled = 0;
}

// The length of the first whole response in `data`, or 0 if it is not all there yet; -1 if it
// cannot be read (no Content-Length).
static long response_length(const char *data, size_t size) {
    const char *end = memmem(data, size, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - data) + 4;
    for (const char *line = data; line < end; line = memchr(line, '\n', (size_t)(end - line)) + 1) {
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            size_t body = strtoul(line + 15, NULL, 10);
            return head + body <= size ? (long)(head + body) : 0;
        }
        if (!memchr(line, '\n', (size_t)(end - line))) break;
    }
    return -1;
}

// Whether the response head in `data` ends its connection (`Connection: close`).
static int closes(const char *data, size_t size) {
    const char *end = memmem(data, size, "\r\n\r\n", 4);
    for (const char *line = data; end && line < end;) {
        if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *value = line + 11;
            while (*value == ' ') value++;
            return strncasecmp(value, "close", 5) == 0;
        }
        const char *next = memchr(line, '\n', (size_t)(end - line));
        if (!next) break;
        line = next + 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: open-loop PORT PATH AUTHORIZATION CONNECTIONS RATE SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[4]);
    double rate = atof(argv[5]), seconds = atof(argv[6]);
    if (count < 1 || count > 4096 || rate <= 0 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "open-loop: 1-4096 connections, a positive rate, 0-600 seconds\n");
        return 2;
    }
    char request[4096];
    int request_length = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n\r\n",
                                  argv[2], port, argv[3]);
    uint64_t interval = (uint64_t)(1e9 / rate), duration = (uint64_t)(seconds * 1e9);
    size_t capacity = (size_t)(rate * seconds) + (size_t)count + 16;
    uint64_t *latencies = malloc(capacity * sizeof *latencies);
    Connection *connections = calloc((size_t)count, sizeof *connections);
    int ep = epoll_create1(0), timer = timerfd_create(CLOCK_MONOTONIC, 0);
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)count};
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &event);
    uint64_t start = now_ns() + 50000000ull;  // 50 ms to open the connections
    for (int c = 0; c < count; c++) {
        connections[c].fd = dial(port);
        connections[c].planned = start + (uint64_t)c * interval;
        event = (struct epoll_event){.events = EPOLLIN, .data.u32 = (uint32_t)c};
        epoll_ctl(ep, EPOLL_CTL_ADD, connections[c].fd, &event);
    }
    size_t answered = 0, sent = 0, errors = 0, reconnects = 0;
    uint64_t stop = start + duration, give_up = stop + 5000000000ull, armed = 0;
    struct epoll_event events[512];
    for (;;) {
        uint64_t now = now_ns();
        // Send what is due; find the next planned time among idle connections.
        uint64_t next = UINT64_MAX;
        int in_flight = 0;
        for (int c = 0; c < count; c++) {
            Connection *connection = &connections[c];
            if (!connection->busy && connection->planned < stop) {
                if (connection->planned <= now) {
                    if (send(connection->fd, request, (size_t)request_length, MSG_NOSIGNAL) != request_length) {
                        redial(ep, connection, (uint32_t)c, port);  // sent again on the next pass, late
                        reconnects++;
                        continue;
                    }
                    connection->busy = 1;
                    sent++;
                } else if (connection->planned < next) {
                    next = connection->planned;
                }
            }
            in_flight += connection->busy;
        }
        if ((now >= stop && in_flight == 0) || now >= give_up) break;
        if (next != UINT64_MAX && next != armed) {
            struct itimerspec when = {.it_value = {.tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull)}};
            timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL);
            armed = next;
        }
        int ready = epoll_wait(ep, events, 512, next == UINT64_MAX ? 100 : -1);
        for (int i = 0; i < ready; i++) {
            uint32_t c = events[i].data.u32;
            if (c == (uint32_t)count) {
                uint64_t expirations;
                if (read(timer, &expirations, sizeof expirations) < 0) { /* spurious: go on */ }
                armed = 0;
                continue;
            }
            Connection *connection = &connections[c];
            ssize_t got = read(connection->fd, connection->buffer + connection->filled, sizeof connection->buffer - connection->filled);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN) continue;
                // A request in flight on a closed connection counts as an error and is sent again, late.
                if (connection->busy) errors++;
                redial(ep, connection, c, port);
                reconnects++;
                continue;
            }
            connection->filled += (size_t)got;
            long length = response_length(connection->buffer, connection->filled);
            if (length < 0 || (length == 0 && connection->filled == sizeof connection->buffer)) {
                fprintf(stderr, "open-loop: unreadable response\n");
                return 3;
            }
            if (length == 0) continue;
            if (strncmp(connection->buffer, "HTTP/1.1 200", 12) != 0) errors++;
            int closing = closes(connection->buffer, (size_t)length);
            if (answered < capacity) latencies[answered] = now_ns() - connection->planned;
            answered++;
            memmove(connection->buffer, connection->buffer + length, connection->filled - (size_t)length);
            connection->filled -= (size_t)length;
            connection->busy = 0;
            connection->sequence++;
            connection->planned = start + (connection->sequence * (uint64_t)count + c) * interval;
            if (closing) {
                redial(ep, connection, c, port);
                reconnects++;
            }
        }
    }
    size_t kept = answered < capacity ? answered : capacity;
    qsort(latencies, kept, sizeof *latencies, compare);
#define AT(q) (kept ? latencies[(size_t)((double)(kept - 1) * (q))] / 1e6 : 0.0)
    printf("{\"sent\": %zu, \"answered\": %zu, \"errors\": %zu, \"reconnects\": %zu, \"rps\": %.1f, \"p50\": %.3f, \"p90\": %.3f, "
           "\"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}\n",
           sent, answered, errors, reconnects, (double)answered / seconds, AT(0.5), AT(0.9), AT(0.99), AT(0.999), AT(1.0));
    return 0;
}
