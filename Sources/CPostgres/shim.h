#ifndef TOLLGATE_CPOSTGRES_SHIM_H
#define TOLLGATE_CPOSTGRES_SHIM_H
// libpq, PostgreSQL's client library (Debian's libpq-dev): the sink's ompgsql output, as rsyslog's uses it.
#include <libpq-fe.h>
#endif
