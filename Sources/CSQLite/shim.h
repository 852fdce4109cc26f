#ifndef TOLLGATE_CSQLITE_SHIM_H
#define TOLLGATE_CSQLITE_SHIM_H
#include <sqlite3.h>

// A virtual table and its cursor with room for the Swift object behind them (SQLite allocates neither: the
// module's xConnect and xOpen do, and SQLite only ever sees the `base` part).
typedef struct tollgate_vtab {
    sqlite3_vtab base;
    void *owner;
} tollgate_vtab;

typedef struct tollgate_cursor {
    sqlite3_vtab_cursor base;
    long long row;
    long long count;
    void *rows;  // the rows this cursor reads (a retained Swift object), NULL before the first filter
} tollgate_cursor;

// SQLITE_TRANSIENT is a cast macro Swift cannot import: text results are copied by SQLite.
static inline void tollgate_sqlite_result_text(sqlite3_context *context, const char *text, int length) {
    sqlite3_result_text(context, text, length, SQLITE_TRANSIENT);
}

static inline int tollgate_sqlite_bind_text(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}
// SQLite's memory statistics take a global mutex around every allocation; logquery never reads them. Only takes
// effect before SQLite's first use (sqlite3_config is variadic: Swift cannot call it).
static inline int tollgate_sqlite_without_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
#endif
