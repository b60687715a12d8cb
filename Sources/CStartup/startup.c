// Blocks SIGTERM, SIGINT and SIGHUP before anything else in the studiogate process runs.
//
// Swift's top-level code starts only after the dynamic loader has mapped and relocated some
// fifty libraries and every one of their initialisers has run (Foundation, ICU, dispatch,
// the Swift runtime): 10-20 ms in which the default action of SIGTERM still kills the process.
// A .preinit_array entry of the executable runs after relocation and before any library
// initialiser, so the window shrinks to the loader's own work. Signals blocked here stay
// pending until the main thread takes them with sigwait (Lifecycle.waitForSignals).
#include <signal.h>
#include <string.h>
#include "CStartup.h"

static int blocked_early = 0;

static void cstartup_block_signals(int argc, char **argv, char **envp) {
    (void)envp;
    // This object is also linked into the test runner (it depends on the executable's module):
    // only the studiogate program itself keeps these signals blocked.
    if (argc < 1 || argv == 0 || argv[0] == 0) return;
    const char *slash = strrchr(argv[0], '/');
    const char *name = slash ? slash + 1 : argv[0];
    if (strcmp(name, "studiogate") != 0) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, 0) == 0) blocked_early = 1;
}

__attribute__((section(".preinit_array"), used))
static void (*const cstartup_preinit)(int, char **, char **) = cstartup_block_signals;

int cstartup_signals_blocked_early(void) { return blocked_early; }
