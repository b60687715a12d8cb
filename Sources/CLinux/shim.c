#define _GNU_SOURCE
#include <stddef.h>
#include <malloc.h>
#include <sys/socket.h>
#include "CLinux.h"

int clinux_accept4(int fd, int flags) {
    return accept4(fd, NULL, NULL, flags);
}

int clinux_eventfd_nonblocking(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int clinux_malloc_trim(void) {
    return malloc_trim(0);
}
