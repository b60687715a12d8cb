#ifndef CCURL_H
#define CCURL_H
#include <curl/curl.h>

// libcurl's setters and getinfo are C variadics, which Swift cannot call, and a few of its
// constants are macros Swift does not import. These typed wrappers make them callable.

typedef int (*ccurl_socket_callback)(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);
typedef int (*ccurl_timer_callback)(CURLM *multi, long timeout_ms, void *userp);
typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *userp);
typedef int (*ccurl_prereq_callback)(void *userp, char *primary_ip, char *local_ip, int primary_port, int local_port);

CURLcode ccurl_global_init(void);

CURLcode ccurl_easy_set_long(CURL *easy, CURLoption option, long value);
CURLcode ccurl_easy_set_offset(CURL *easy, CURLoption option, curl_off_t value);
CURLcode ccurl_easy_set_string(CURL *easy, CURLoption option, const char *value);
CURLcode ccurl_easy_set_pointer(CURL *easy, CURLoption option, void *value);
CURLcode ccurl_easy_set_data_callback(CURL *easy, CURLoption option, ccurl_data_callback callback);
/// CURLOPT_PREREQFUNCTION + CURLOPT_PREREQDATA: called before each request is sent on a connection.
CURLcode ccurl_easy_set_prereq_callback(CURL *easy, ccurl_prereq_callback callback, void *userp);

long ccurl_easy_info_long(CURL *easy, CURLINFO info);
curl_off_t ccurl_easy_info_offset(CURL *easy, CURLINFO info);
void *ccurl_easy_info_private(CURL *easy);

CURLMcode ccurl_multi_set_long(CURLM *multi, CURLMoption option, long value);
CURLMcode ccurl_multi_set_callbacks(CURLM *multi, ccurl_socket_callback on_socket, ccurl_timer_callback on_timer, void *userp);

/// The next finished transfer: returns 1 and fills `easy` and `result`, or 0 when none is left.
int ccurl_multi_next_done(CURLM *multi, CURL **easy, CURLcode *result);

static const int CCURL_POLL_IN = CURL_POLL_IN;
static const int CCURL_POLL_OUT = CURL_POLL_OUT;
static const int CCURL_POLL_REMOVE = CURL_POLL_REMOVE;
static const int CCURL_CSELECT_IN = CURL_CSELECT_IN;
static const int CCURL_CSELECT_OUT = CURL_CSELECT_OUT;
static const int CCURL_CSELECT_ERR = CURL_CSELECT_ERR;
static const int CCURL_SOCKET_TIMEOUT = CURL_SOCKET_TIMEOUT;
static const int CCURL_PREREQFUNC_OK = CURL_PREREQFUNC_OK;
static const int CCURL_PREREQFUNC_ABORT = CURL_PREREQFUNC_ABORT;
static const long CCURL_HTTP_VERSION_2TLS = CURL_HTTP_VERSION_2TLS;
static const long CCURL_HTTP_VERSION_1_1 = CURL_HTTP_VERSION_1_1;
static const long CCURL_HTTP_VERSION_2_0 = CURL_HTTP_VERSION_2_0;
static const long CCURL_HTTP_VERSION_3 = CURL_HTTP_VERSION_3;
static const long CCURL_PIPE_MULTIPLEX = CURLPIPE_MULTIPLEX;

#endif
