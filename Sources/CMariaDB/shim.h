#ifndef TOLLGATE_CMARIADB_SHIM_H
#define TOLLGATE_CMARIADB_SHIM_H
// MariaDB Connector/C (Debian's libmariadb-dev), the client library rsyslog's ommysql is built with on Debian: the
// sink's ommysql output.
#include <mysql.h>
#include <errmsg.h>
#endif
