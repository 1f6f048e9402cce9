/* SPDX-License-Identifier: MPL-2.0 */
/* Transaction control. */
#include "db/db_common.h"

#include <string.h>

#include "db/pool.h"
#include "db/tx.h"

int db_tx_begin(PGconn *pg, struct ktd_error *err)
{
	return db_query_prepared(pg, "BEGIN", 0, NULL, NULL, err);
}

int db_tx_commit(PGconn *pg, struct ktd_error *err)
{
	PGresult *res = NULL;
	int ret = -1;

	if (db_query_prepared(pg, "COMMIT", 0, NULL, &res, err) < 0)
		goto out;
	/* COMMIT of a transaction that failed earlier succeeds as ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "the transaction was rolled back");
		goto out;
	}
	ret = 0;
out:
	PQclear(res);
	return ret;
}

void db_tx_rollback(PGconn *pg)
{
	struct ktd_error ignored;
	char quoted[KTD_ERROR_MSG_MAX + 16];

	if (PQtransactionStatus(pg) == PQTRANS_IDLE)
		return;
	if (db_query(pg, "ROLLBACK", 0, NULL, NULL, &ignored) < 0)
		ktd_log_debug(
		        "event=db_rollback_failed error=%s",
		        ktd_log_quote(ignored.msg, quoted, sizeof(quoted)));
}

int db_tx_savepoint(PGconn *pg, struct ktd_error *err)
{
	return db_query_prepared(pg, "SAVEPOINT ktd_sp", 0, NULL, NULL, err);
}

int db_tx_release(PGconn *pg, struct ktd_error *err)
{
	return db_query_prepared(pg, "RELEASE SAVEPOINT ktd_sp", 0, NULL, NULL,
	                         err);
}

int db_tx_rollback_to(PGconn *pg, struct ktd_error *err)
{
	/* Unnamed: a prepared statement cannot run in a failed
	 * transaction any more than another, but ROLLBACK TO can. */
	return db_query(pg, "ROLLBACK TO SAVEPOINT ktd_sp", 0, NULL, NULL, err);
}
