/* SPDX-License-Identifier: MPL-2.0 */
/* Transactions on one connection: BEGIN, COMMIT, ROLLBACK. */
#ifndef KTD_DB_TX_H
#define KTD_DB_TX_H

#include "db/db_common.h"

int db_tx_begin(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;
/* A failed COMMIT leaves nothing committed. */
int db_tx_commit(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Rolls back; errors are ignored (a lost connection rolls back anyway). */
void db_tx_rollback(PGconn *pg);

#endif
