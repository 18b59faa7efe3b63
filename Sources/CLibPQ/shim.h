#ifndef SLUICE_CLIBPQ_SHIM_H
#define SLUICE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <stdlib.h>

/* PG_DIAG_* are character-literal macros Swift cannot import. */
static inline int CLibPQ_DIAG_SQLSTATE(void) { return PG_DIAG_SQLSTATE; }
static inline int CLibPQ_DIAG_SEVERITY(void) { return PG_DIAG_SEVERITY_NONLOCALIZED; }
static inline int CLibPQ_DIAG_MESSAGE_PRIMARY(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int CLibPQ_DIAG_MESSAGE_DETAIL(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int CLibPQ_DIAG_MESSAGE_HINT(void) { return PG_DIAG_MESSAGE_HINT; }
static inline int CLibPQ_DIAG_SCHEMA_NAME(void) { return PG_DIAG_SCHEMA_NAME; }
static inline int CLibPQ_DIAG_TABLE_NAME(void) { return PG_DIAG_TABLE_NAME; }
static inline int CLibPQ_DIAG_COLUMN_NAME(void) { return PG_DIAG_COLUMN_NAME; }
static inline int CLibPQ_DIAG_CONSTRAINT_NAME(void) { return PG_DIAG_CONSTRAINT_NAME; }

#endif
