#ifndef TOLLGATE_CLOGNORM_SHIM_H
#define TOLLGATE_CLOGNORM_SHIM_H
// liblognorm (Debian's liblognorm-dev), the normalizer rsyslog's mmnormalize uses; LognormShim wraps it for Swift.
#include <liblognorm.h>
#include <libfastjson/json.h>
#endif
