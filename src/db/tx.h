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
/* A savepoint inside the transaction, so that one statement's failure
 * undoes only what came after it (db_tx_rollback_to) and the rest of the
 * transaction goes on. One name only: savepoints do not nest here. */
int db_tx_savepoint(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Forgets the savepoint, keeping what was done since. */
int db_tx_release(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Undoes what was done since the savepoint, which stays; the
 * transaction works again after a failed statement. */
int db_tx_rollback_to(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
