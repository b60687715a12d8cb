// libcurl's own ceiling as a keep-alive HTTP/1.1 client, driven the way StudioGate drives it
// (ephiperfifo.c): multi_socket_action on epoll with curl's timer, each transfer re-added with a new
// URL when it completes. Nothing else: no server side, no cache. Usage: curl-ceiling PORT INFLIGHT SECONDS
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
static int ep, port; static long timeout_ms = -1; static CURLM *multi;
static unsigned long long counter, done; static char url[256];
static size_t discard(char *p, size_t s, size_t n, void *u) { (void)p; (void)u; return s * n; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static int on_socket(CURL *e, curl_socket_t s, int what, void *u, void *sp) {
    (void)e; (void)u;
    struct epoll_event ev = { .events = 0, .data.fd = s };
    if (what == CURL_POLL_REMOVE) { epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL); curl_multi_assign(multi, s, NULL); return 0; }
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    if (sp) epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);
    else { epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev); curl_multi_assign(multi, s, (void *)1); }
    return 0;
}
static int on_timer(CURLM *m, long ms, void *u) { (void)m; (void)u; timeout_ms = ms; return 0; }
static void next(CURL *e) {
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/Flows/FW1/Executions/FN%032llx", port, counter++);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_multi_add_handle(multi, e);
}
static void harvest(void) {
    CURLMsg *m; int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle; long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (m->data.result == CURLE_OK && code == 200) done++;
        curl_multi_remove_handle(multi, e);
        next(e);
    }
}
int main(int argc, char **argv) {
    port = atoi(argv[1]); int inflight = atoi(argv[2]); double seconds = atof(argv[3]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ep = epoll_create1(0); multi = curl_multi_init(); int running;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    struct curl_slist *headers = curl_slist_append(NULL, "Authorization: Basic QUMxOnRva2Vu");
    headers = curl_slist_append(headers, "Accept-Encoding: gzip");
    for (int i = 0; i < inflight; i++) {
        CURL *e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        next(e);
    }
    double start = now(), end = start + seconds; struct epoll_event evs[128];
    while (now() < end) {
        int n = epoll_wait(ep, evs, 128, timeout_ms < 0 ? 100 : (int)timeout_ms);
        if (n == 0) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        for (int i = 0; i < n; i++) {
            int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0);
            curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
        }
        harvest();
    }
    printf("%d in flight: %.0f transfers/s\n", inflight, done / (now() - start));
    return 0;
}
