#ifndef TOLLGATE_CSYSTEMD_SHIM_H
#define TOLLGATE_CSYSTEMD_SHIM_H
// Location fields (CODE_FILE/LINE/FUNC) come from function-like macros Swift cannot import anyway;
// suppressing them makes the plain exported functions the ones Swift sees.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>
#endif
