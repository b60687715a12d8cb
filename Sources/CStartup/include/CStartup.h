#ifndef CSTARTUP_H
#define CSTARTUP_H

/// 1 when the executable's .preinit_array entry blocked SIGTERM, SIGINT and SIGHUP before any
/// library initialiser ran; 0 when it did not run (this object linked into another program).
int cstartup_signals_blocked_early(void);

#endif
