//! [`lease_table!`]: the lease protocol's queries, written once and expanded
//! per table (diesel's column types differ by table, so one generic function
//! would need a bound per query and per backend; an expansion is plain,
//! concrete code that each backend's arm of `with_conn!` type-checks).

/// Implements [`LeaseTable`](super::LeaseTable) for `$queue` over the table
/// `$table` (in scope where it is called), whose lease columns are `id`,
/// `next_attempt_at`, `attempts`, `claimed_by`, `last_error` and
/// `created_at`:
/// - `lane`: the lane of an item, a BigInt expression;
/// - `open`: which lanes may be claimed (default: all);
/// - `item`: what a claim reads of each item beside its lease, a select
///   expression for the type `$item`, over the table and what it is `join`ed
///   with;
/// - `pending`: which items are neither done nor given up on;
/// - `done` and `given_up`: what those outcomes write, at `$at`;
/// - `status`: the column that keeps the receiver's answer, if one does.
macro_rules! lease_table {
    (
        $queue:ident: $table:ident {
            wakes: $wakes:expr,
            progress: $progress:expr,
            lane: $lane:expr,
            $(open: $open:expr,)?
            $(join: $join:expr,)?
            item: $item:ty = $select:expr,
            pending: $pending:expr,
            done: |$done_at:ident| $done:expr,
            given_up: |$given_up_at:ident| $given_up:expr,
            $(status: $status:ident,)?
        }
    ) => {
        const _: () = {
            use diesel::prelude::*;
            // Called by path: the caller's module may have diesel's own
            // `RunQueryDsl` in scope, whose methods have the same names.
            use diesel_async::RunQueryDsl as Run;
            use $crate::db::{Conn, with_conn};
            use $crate::domain::lease_queue::{Claimed, LeaseTable, Settled};

            impl LeaseTable for $queue {
                const WAKES: &'static str = $wakes;
                const PROGRESS: bool = $progress;
                type Item = $item;

                async fn due_lanes(
                    c: &mut Conn<'_>,
                    at: chrono::NaiveDateTime,
                    busy: Vec<i64>,
                    limit: i64,
                ) -> diesel::QueryResult<Vec<i64>> {
                    let query = $table::table
                        .filter($pending)
                        .filter($table::next_attempt_at.le(at))
                        $(.filter($open))?
                        .filter($lane.ne_all(busy))
                        .select($lane)
                        .distinct()
                        .limit(limit);
                    with_conn!(c, |c| Run::load(query, c).await)
                }

                async fn claim(
                    tx: &mut Conn<'_>,
                    lane: i64,
                    at: chrono::NaiveDateTime,
                    until: chrono::NaiveDateTime,
                    instance: String,
                    limit: i64,
                ) -> diesel::QueryResult<Vec<Claimed<$item>>> {
                    let due = $table::table
                        .filter($pending)
                        .filter($table::next_attempt_at.le(at))
                        $(.filter($open))?
                        .filter($lane.eq(lane))
                        .order($table::id)
                        .limit(limit)
                        .select($table::id);
                    // Rows another instance is claiming are skipped, not waited
                    // for (see the module's doc).
                    let ids: Vec<i64> = match tx {
                        Conn::Postgres(c, _) => {
                            Run::load(due.for_update().skip_locked(), *c).await?
                        }
                        Conn::Sqlite(c, _) => Run::load(due, *c).await?,
                    };
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let take = diesel::update($table::table)
                        .filter($table::id.eq_any(ids.clone()))
                        .set((
                            $table::next_attempt_at.eq(until),
                            $table::attempts.eq($table::attempts + 1),
                            $table::claimed_by.eq(Some(instance)),
                        ));
                    with_conn!(tx, |c| Run::execute(take, c).await)?;
                    // Built per backend: a select expression may be typed by one.
                    let rows: Vec<(i64, i32, chrono::NaiveDateTime, $item)> = with_conn!(tx, |c| {
                        let items = $table::table
                            $(.inner_join($join))?
                            .filter($table::id.eq_any(ids))
                            .order($table::id)
                            .select(($table::id, $table::attempts, $table::created_at, $select));
                        Run::load(items, c).await
                    })?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, attempts, created_at, item)| {
                            Claimed {
                                id,
                                attempts,
                                created_at,
                                item,
                            }
                        })
                        .collect())
                }

                async fn renew(
                    tx: &mut Conn<'_>,
                    ids: Vec<i64>,
                    until: chrono::NaiveDateTime,
                ) -> diesel::QueryResult<usize> {
                    let renew = diesel::update($table::table)
                        .filter($table::id.eq_any(ids))
                        .filter($pending)
                        .set($table::next_attempt_at.eq(until));
                    with_conn!(tx, |c| Run::execute(renew, c).await)
                }

                async fn settle(
                    tx: &mut Conn<'_>,
                    id: i64,
                    at: chrono::NaiveDateTime,
                    settled: Settled,
                    status: Option<i32>,
                    error: Option<String>,
                ) -> diesel::QueryResult<usize> {
                    let row = $table::table.find(id);
                    // Every outcome writes the error (None once done), the
                    // answer (a table that keeps none drops it), and releases
                    // the claim.
                    let _ = &status;
                    let ended = (
                        $table::last_error.eq(error),
                        $table::claimed_by.eq(None::<String>),
                        $($table::$status.eq(status),)?
                    );
                    match settled {
                        Settled::Done => {
                            let $done_at = at;
                            let update = diesel::update(row).set(($done, ended));
                            with_conn!(tx, |c| Run::execute(update, c).await)
                        }
                        Settled::Retry { at: retry_at } => {
                            let update = diesel::update(row)
                                .set(($table::next_attempt_at.eq(retry_at), ended));
                            with_conn!(tx, |c| Run::execute(update, c).await)
                        }
                        Settled::GaveUp => {
                            let $given_up_at = at;
                            let update = diesel::update(row).set(($given_up, ended));
                            with_conn!(tx, |c| Run::execute(update, c).await)
                        }
                    }
                }

                async fn release(
                    tx: &mut Conn<'_>,
                    instance: String,
                    at: chrono::NaiveDateTime,
                ) -> diesel::QueryResult<usize> {
                    let release = diesel::update($table::table)
                        .filter($table::claimed_by.eq(instance))
                        .filter($pending)
                        .set((
                            $table::next_attempt_at.eq(at),
                            $table::claimed_by.eq(None::<String>),
                        ));
                    with_conn!(tx, |c| Run::execute(release, c).await)
                }

                async fn next_due(
                    c: &mut Conn<'_>,
                    busy: Vec<i64>,
                ) -> diesel::QueryResult<Option<chrono::NaiveDateTime>> {
                    let query = $table::table
                        .filter($pending)
                        .filter($lane.ne_all(busy))
                        .select(diesel::dsl::min($table::next_attempt_at));
                    with_conn!(c, |c| Run::get_result(query, c).await)
                }

                async fn pending(c: &mut Conn<'_>) -> diesel::QueryResult<i64> {
                    let query = $table::table.filter($pending).count();
                    with_conn!(c, |c| Run::get_result(query, c).await)
                }

                async fn prune(
                    tx: &mut Conn<'_>,
                    before: chrono::NaiveDateTime,
                ) -> diesel::QueryResult<usize> {
                    let ended = $table::table
                        .filter(diesel::dsl::not($pending))
                        .filter($table::created_at.lt(before));
                    with_conn!(tx, |c| Run::execute(diesel::delete(ended), c).await)
                }
            }
        };
    };
}
pub(crate) use lease_table;
