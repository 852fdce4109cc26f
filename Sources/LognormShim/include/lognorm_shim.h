#ifndef TOLLGATE_LOGNORM_SHIM_H
#define TOLLGATE_LOGNORM_SHIM_H
// liblognorm through plain C types for Swift: a context, a rulebase's load with liblognorm's own messages, and a
// normalization's JSON as text. (A C file rather than inline functions in the system-library header: the messages
// are kept in per-thread storage, which Swift cannot define from a header.)
#include <stddef.h>

typedef struct tollgate_lognorm tollgate_lognorm;

/// A context with `file` (a rulebase file) or `rules` (rule lines) loaded; NULL when it could not be loaded, with
/// liblognorm's messages in tollgate_lognorm_messages().
tollgate_lognorm *tollgate_lognorm_open(const char *file, const char *rules);
const char *tollgate_lognorm_messages(void);
void tollgate_lognorm_close(tollgate_lognorm *normalizer);

/// The JSON object liblognorm made of `length` bytes (free() it; NULL when none); `matched`: a rule matched.
char *tollgate_lognorm_normalize(tollgate_lognorm *normalizer, const char *text, size_t length, int *matched);
#endif
