#ifndef CLINUX_H
#define CLINUX_H
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>

// Linux calls Glibc's Swift module does not export (they need _GNU_SOURCE), and the epoll
// flags, which are enum constants behind macros.
int clinux_accept4(int fd, int flags);
int clinux_eventfd_nonblocking(void);
/// malloc_trim(0): give freed heap pages back to the kernel.
int clinux_malloc_trim(void);

static const unsigned int CLINUX_EPOLLIN = EPOLLIN;
static const unsigned int CLINUX_EPOLLOUT = EPOLLOUT;
static const unsigned int CLINUX_EPOLLERR = EPOLLERR;
static const unsigned int CLINUX_EPOLLHUP = EPOLLHUP;
static const unsigned int CLINUX_EPOLLRDHUP = EPOLLRDHUP;
static const unsigned int CLINUX_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

#endif
