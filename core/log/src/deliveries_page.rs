//! Paging of `GET …/delivery` over a destination's log at any size: every
//! filter and sort is served by an index seek and every page starts where the
//! last one ended (a keyset, never an `OFFSET`), so the 20th page of a log of
//! millions costs what the first page of a small one does.
//!
//! The order is: the sort keys before `created_at` (`type`, `status`), then
//! `created_at` (newest first unless `sort_by` says otherwise), then the log's
//! sequence number in the same direction. Sort keys after `created_at` would
//! only order deliveries created in the same millisecond, which the sequence
//! number already orders; they are accepted and change nothing.
//!
//! `type` and `status` take few values, so the log is read as a sequence of
//! groups, one per combination of their values, in the order they sort. Within
//! a group rows come in order from an index whose leading column the group or
//! a filter fixes (`type`, `state`, or none: `created_at`); a status that
//! covers several states is the merge of one seek per state. Only the
//! sequence numbers of a page are merged; its bodies are read once chosen.
//!
//! Paging is exact while deliveries arrive: the first page records the newest
//! sequence number, and later pages read only deliveries up to it. A page's
//! position (that snapshot, the group, and the last delivery returned) is kept
//! by the object as a cursor row whose number is the seed's integer
//! `continuation_token`. A delivery whose status changes between two pages of
//! a status-filtered or status-sorted listing is shown where it is when the
//! page that reaches it is read.

use crate::deliveries_query::{DeliveryQuery, SortField};
use edgehook_core::delivery::State;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A bound SQL parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// Runs the pager's statements over a destination's log: the object's SQLite
/// in the worker, an in-memory SQLite in tests.
pub trait LogReader {
    type Error;
    fn rows<T: DeserializeOwned>(&self, sql: &str, params: &[Param])
    -> Result<Vec<T>, Self::Error>;
}

/// One delivery of a page as the log holds it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogRow {
    pub seq: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub state: String,
    pub next_retry_at: Option<i64>,
    pub dual_signed: i64,
    pub created_at: i64,
    pub body: String,
}

/// The value of one sort key before `created_at` that a group fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupValue {
    Type(String),
    /// The seed's status: `success` (true) or not (false).
    Delivered(bool),
}

/// The last delivery a page returned, and its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub group: Vec<GroupValue>,
    pub created_at: i64,
    pub seq: i64,
}

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The newest sequence number when the first page was read.
    pub snapshot_seq: i64,
    /// The filters and sort the cursor pages through ([`query_key`]).
    pub query: String,
    pub after: Position,
}

/// A page and the cursor of the next one, if more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<LogRow>,
    pub next: Option<Cursor>,
}

/// What identifies a listing across its pages: its filters and sort (not its
/// `limit`, which may change from page to page).
pub fn query_key(q: &DeliveryQuery) -> String {
    let shape = DeliveryQuery {
        limit: 0,
        token: None,
        ..q.clone()
    };
    serde_json::to_string(&shape).unwrap_or_default()
}

/// The snapshot of a listing's first page.
pub fn snapshot<R: LogReader>(reader: &R) -> Result<i64, R::Error> {
    #[derive(Deserialize)]
    struct Max {
        v: Option<i64>,
    }
    let rows: Vec<Max> = reader.rows("SELECT MAX(seq) AS v FROM deliveries", &[])?;
    Ok(rows.first().and_then(|r| r.v).unwrap_or(0))
}

/// Reads one page of `q`: the first (`resume` is `None`, reading up to
/// `snapshot_seq`), or the one after `resume`'s position. `resume` must come
/// from a page of the same listing (see [`Cursor::query`]).
pub fn read_page<R: LogReader>(
    reader: &R,
    q: &DeliveryQuery,
    snapshot_seq: i64,
    resume: Option<&Position>,
) -> Result<Page, R::Error> {
    if q.limit <= 0 {
        return Ok(Page {
            rows: vec![],
            next: None,
        });
    }
    let plan = Plan::of(q);
    let need = q.limit as usize + 1;
    let mut keys: Vec<(Vec<GroupValue>, Key)> = vec![];
    let (mut group, mut after) = match resume {
        Some(p) => (Some(p.group.clone()), Some((p.created_at, p.seq))),
        None => (plan.next_group(reader, None)?, None),
    };
    while let Some(g) = group {
        let found = plan.group_keys(reader, &g, snapshot_seq, after, need - keys.len())?;
        keys.extend(found.into_iter().map(|k| (g.clone(), k)));
        if keys.len() >= need {
            break;
        }
        after = None;
        group = plan.next_group(reader, Some(&g))?;
    }
    let next = (keys.len() > q.limit as usize).then(|| {
        let (group, last) = &keys[q.limit as usize - 1];
        Cursor {
            snapshot_seq,
            query: query_key(q),
            after: Position {
                group: group.clone(),
                created_at: last.created_at,
                seq: last.seq,
            },
        }
    });
    keys.truncate(q.limit as usize);
    let seqs: Vec<i64> = keys.iter().map(|(_, k)| k.seq).collect();
    let mut rows: Vec<LogRow> = reader.rows(
        "SELECT seq, id, type, state, next_retry_at, dual_signed, created_at, body \
         FROM deliveries WHERE seq IN (SELECT value FROM json_each(?1))",
        &[Param::Text(
            serde_json::to_string(&seqs).unwrap_or_else(|_| "[]".into()),
        )],
    )?;
    rows.sort_by_key(|r| seqs.iter().position(|s| *s == r.seq));
    Ok(Page { rows, next })
}

/// A delivery's place in the order within its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct Key {
    seq: i64,
    created_at: i64,
}

/// A sort key before `created_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Type { descending: bool },
    Status { descending: bool },
}

/// One index seek of a group, by its leading column.
#[derive(Debug, Clone, PartialEq)]
enum Seek {
    State(State),
    Type(String),
    Created,
}

/// How a query reads the log.
#[derive(Debug)]
struct Plan {
    dims: Vec<Dim>,
    /// `created_at` (and the sequence number) newest first.
    descending: bool,
    event_type: Option<String>,
    /// The status filter: `success` (true) or not (false).
    delivered: Option<bool>,
    state: Option<State>,
    created_after_ms: Option<i64>,
    created_before_ms: Option<i64>,
}

impl Plan {
    fn of(q: &DeliveryQuery) -> Plan {
        let mut dims: Vec<Dim> = vec![];
        let mut descending = true;
        for s in &q.sort {
            let dim = match s.field {
                SortField::CreatedAt => {
                    descending = s.descending;
                    break;
                }
                SortField::Type => Dim::Type {
                    descending: s.descending,
                },
                SortField::Status => Dim::Status {
                    descending: s.descending,
                },
            };
            if !dims
                .iter()
                .any(|d| std::mem::discriminant(d) == std::mem::discriminant(&dim))
            {
                dims.push(dim);
            }
        }
        Plan {
            dims,
            descending,
            event_type: q.event_type.clone(),
            delivered: q.status.as_deref().map(|s| s == "success"),
            state: q.state,
            created_after_ms: q.created_after_ms,
            created_before_ms: q.created_before_ms,
        }
    }

    /// The group after `current` (the first with `None`), if any.
    fn next_group<R: LogReader>(
        &self,
        reader: &R,
        current: Option<&[GroupValue]>,
    ) -> Result<Option<Vec<GroupValue>>, R::Error> {
        let Some(current) = current else {
            return self.first_values(reader, 0);
        };
        for i in (0..self.dims.len()).rev() {
            let Some(value) = self.next_value(reader, self.dims[i], current.get(i))? else {
                continue;
            };
            let Some(rest) = self.first_values(reader, i + 1)? else {
                return Ok(None);
            };
            let mut group = current[..i].to_vec();
            group.push(value);
            group.extend(rest);
            return Ok(Some(group));
        }
        Ok(None)
    }

    /// The first value of each dimension from `from` on; `None` when one has none.
    fn first_values<R: LogReader>(
        &self,
        reader: &R,
        from: usize,
    ) -> Result<Option<Vec<GroupValue>>, R::Error> {
        let mut values = vec![];
        for dim in &self.dims[from.min(self.dims.len())..] {
            match self.next_value(reader, *dim, None)? {
                Some(v) => values.push(v),
                None => return Ok(None),
            }
        }
        Ok(Some(values))
    }

    /// The value of `dim` after `after` in its order (the first with `None`).
    fn next_value<R: LogReader>(
        &self,
        reader: &R,
        dim: Dim,
        after: Option<&GroupValue>,
    ) -> Result<Option<GroupValue>, R::Error> {
        match dim {
            Dim::Status { descending } => {
                let order = if descending {
                    [true, false]
                } else {
                    [false, true]
                };
                let allowed = |d: &bool| {
                    self.delivered.is_none_or(|f| f == *d)
                        && self.state.is_none_or(|s| (s == State::Success) == *d)
                };
                let mut candidates = order.into_iter().filter(allowed);
                Ok(match after {
                    None => candidates.next(),
                    Some(GroupValue::Delivered(prev)) => {
                        candidates.skip_while(|d| d != prev).nth(1)
                    }
                    Some(GroupValue::Type(_)) => None,
                }
                .map(GroupValue::Delivered))
            }
            Dim::Type { descending } => {
                if let Some(t) = &self.event_type {
                    return Ok(after.is_none().then(|| GroupValue::Type(t.clone())));
                }
                #[derive(Deserialize)]
                struct Value {
                    v: String,
                }
                let (cmp, dir) = if descending {
                    ("<", "DESC")
                } else {
                    (">", "ASC")
                };
                let rows: Vec<Value> = match after {
                    None => reader.rows(
                        &format!(
                            "SELECT type AS v FROM deliveries INDEXED BY deliveries_type \
                             ORDER BY type {dir} LIMIT 1"
                        ),
                        &[],
                    )?,
                    Some(GroupValue::Type(prev)) => reader.rows(
                        &format!(
                            "SELECT type AS v FROM deliveries INDEXED BY deliveries_type \
                             WHERE type {cmp} ?1 ORDER BY type {dir} LIMIT 1"
                        ),
                        &[Param::Text(prev.clone())],
                    )?,
                    Some(GroupValue::Delivered(_)) => vec![],
                };
                Ok(rows.into_iter().next().map(|r| GroupValue::Type(r.v)))
            }
        }
    }

    /// The seeks that give a group's rows: one, or one per state of a status.
    fn seeks(&self, group: &[GroupValue]) -> Vec<Seek> {
        let mut event_type = self.event_type.clone();
        let mut delivered = self.delivered;
        for v in group {
            match v {
                GroupValue::Type(t) => event_type = Some(t.clone()),
                GroupValue::Delivered(d) => delivered = Some(*d),
            }
        }
        match (self.state, delivered, event_type) {
            (Some(s), Some(d), _) if (s == State::Success) != d => vec![],
            (Some(s), _, _) => vec![Seek::State(s)],
            (None, Some(d), _) => State::ALL
                .into_iter()
                .filter(|s| (*s == State::Success) == d)
                .map(Seek::State)
                .collect(),
            (None, None, Some(t)) => vec![Seek::Type(t)],
            (None, None, None) => vec![Seek::Created],
        }
    }

    /// Up to `limit` rows of a group in order, after `after` if given.
    fn group_keys<R: LogReader>(
        &self,
        reader: &R,
        group: &[GroupValue],
        snapshot_seq: i64,
        after: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<Key>, R::Error> {
        let event_type = group
            .iter()
            .find_map(|v| match v {
                GroupValue::Type(t) => Some(t.clone()),
                GroupValue::Delivered(_) => None,
            })
            .or_else(|| self.event_type.clone());
        let mut keys = vec![];
        for seek in self.seeks(group) {
            let (sql, params) =
                self.seek_sql(&seek, event_type.as_deref(), snapshot_seq, after, limit);
            keys.extend(reader.rows::<Key>(&sql, &params)?);
        }
        let descending = self.descending;
        keys.sort_by(|a, b| {
            let order = (a.created_at, a.seq).cmp(&(b.created_at, b.seq));
            if descending { order.reverse() } else { order }
        });
        keys.truncate(limit);
        Ok(keys)
    }

    /// One seek's SQL: equality on its index's leading column, the filters,
    /// the snapshot, the keyset after the last row, in index order.
    fn seek_sql(
        &self,
        seek: &Seek,
        event_type: Option<&str>,
        snapshot_seq: i64,
        after: Option<(i64, i64)>,
        limit: usize,
    ) -> (String, Vec<Param>) {
        let mut params = vec![Param::Int(snapshot_seq)];
        let mut bind = |p: Param| {
            params.push(p);
            params.len()
        };
        let mut sql = String::from("SELECT seq, created_at FROM deliveries INDEXED BY ");
        match seek {
            Seek::State(s) => {
                let n = bind(Param::Text(s.as_str().into()));
                sql.push_str(&format!(
                    "deliveries_state WHERE state = ?{n} AND seq <= ?1"
                ));
            }
            Seek::Type(t) => {
                let n = bind(Param::Text(t.clone()));
                sql.push_str(&format!("deliveries_type WHERE type = ?{n} AND seq <= ?1"));
            }
            Seek::Created => sql.push_str("deliveries_created WHERE seq <= ?1"),
        }
        if let (Some(t), Seek::State(_)) = (event_type, seek) {
            let n = bind(Param::Text(t.into()));
            sql.push_str(&format!(" AND type = ?{n}"));
        }
        if let Some(t) = self.created_after_ms {
            let n = bind(Param::Int(t));
            sql.push_str(&format!(" AND created_at >= ?{n}"));
        }
        if let Some(t) = self.created_before_ms {
            let n = bind(Param::Int(t));
            sql.push_str(&format!(" AND created_at <= ?{n}"));
        }
        let (cmp, dir) = if self.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some((created_at, seq)) = after {
            let c = bind(Param::Int(created_at));
            let s = bind(Param::Int(seq));
            sql.push_str(&format!(
                " AND created_at {cmp}= ?{c} AND (created_at {cmp} ?{c} OR seq {cmp} ?{s})"
            ));
        }
        let n = bind(Param::Int(limit as i64));
        sql.push_str(&format!(" ORDER BY created_at {dir}, seq {dir} LIMIT ?{n}"));
        (sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliveries_query::parse_query;
    use crate::log_schema::SCHEMA;
    use proptest::prelude::*;
    use rusqlite::types::ValueRef;
    use std::cell::RefCell;

    /// The log in an in-memory SQLite, recording every statement it ran.
    struct Sqlite {
        db: rusqlite::Connection,
        ran: RefCell<Vec<(String, Vec<Param>)>>,
    }

    fn sql_value(p: &Param) -> rusqlite::types::Value {
        match p {
            Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
            Param::Int(i) => rusqlite::types::Value::Integer(*i),
        }
    }

    impl LogReader for Sqlite {
        type Error = rusqlite::Error;
        fn rows<T: DeserializeOwned>(
            &self,
            sql: &str,
            params: &[Param],
        ) -> rusqlite::Result<Vec<T>> {
            self.ran
                .borrow_mut()
                .push((sql.to_string(), params.to_vec()));
            let mut stmt = self.db.prepare_cached(sql)?;
            let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
            let values: Vec<rusqlite::types::Value> = params.iter().map(sql_value).collect();
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| {
                let mut m = serde_json::Map::new();
                for (i, name) in names.iter().enumerate() {
                    let v = match row.get_ref(i)? {
                        ValueRef::Null => serde_json::Value::Null,
                        ValueRef::Integer(n) => n.into(),
                        ValueRef::Real(f) => f.into(),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                        ValueRef::Blob(_) => serde_json::Value::Null,
                    };
                    m.insert(name.clone(), v);
                }
                Ok(serde_json::Value::Object(m))
            })?;
            rows.map(|r| r.map(|v| serde_json::from_value(v).expect("row shape")))
                .collect()
        }
    }

    const TYPES: [&str; 3] = [
        "agent-framework-resource-updated",
        "api-key-expiration-soon",
        "conversation-post-processing-complete",
    ];

    thread_local! {
        /// A log the property tests' cases reuse, emptied for each: building
        /// the schema and preparing every statement again was most of a case.
        static SPARE: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
    }

    impl Sqlite {
        fn new() -> Sqlite {
            let db = rusqlite::Connection::open_in_memory().unwrap();
            db.execute_batch(SCHEMA).unwrap();
            Sqlite::over(db)
        }

        fn over(db: rusqlite::Connection) -> Sqlite {
            Sqlite {
                db,
                ran: RefCell::new(vec![]),
            }
        }

        /// An empty log like `new`'s, the one the last case on this thread
        /// gave back (`give_back`) when there is one.
        fn reused() -> Sqlite {
            match SPARE.with(|s| s.borrow_mut().take()) {
                Some(db) => {
                    db.execute_batch("DELETE FROM deliveries; DELETE FROM sqlite_sequence")
                        .unwrap();
                    Sqlite::over(db)
                }
                None => Sqlite::new(),
            }
        }

        fn give_back(self) {
            SPARE.with(|s| *s.borrow_mut() = Some(self.db));
        }

        /// Appends deliveries (type index, state index, created_at).
        fn insert(&self, rows: &[(usize, usize, i64)]) {
            let mut stmt = self
                .db
                .prepare(
                    "INSERT INTO deliveries (id, type, body, state, created_at, updated_at) \
                     VALUES (?1, ?2, '{}', ?3, ?4, ?4)",
                )
                .unwrap();
            let first = rand_id(&self.db);
            self.db.execute_batch("BEGIN").unwrap();
            for (n, (t, s, created)) in rows.iter().enumerate() {
                stmt.execute(rusqlite::params![
                    format!("d{}", first + n as i64),
                    TYPES[*t],
                    State::ALL[*s].as_str(),
                    created
                ])
                .unwrap();
            }
            self.db.execute_batch("COMMIT").unwrap();
        }

        /// Every row: (seq, type, state, created_at).
        fn all(&self) -> Vec<(i64, String, String, i64)> {
            let mut stmt = self
                .db
                .prepare("SELECT seq, type, state, created_at FROM deliveries")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }
    }

    fn rand_id(db: &rusqlite::Connection) -> i64 {
        db.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM deliveries",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> DeliveryQuery {
        parse_query(pairs.iter().copied()).unwrap()
    }

    /// Every page of `q`, following cursors as a client does, calling `between`
    /// after each page; the sequence numbers in the order returned.
    fn page_through(log: &Sqlite, q: &DeliveryQuery, mut between: impl FnMut()) -> Vec<i64> {
        let snapshot_seq = snapshot(log).unwrap();
        let mut page = read_page(log, q, snapshot_seq, None).unwrap();
        let mut seqs = vec![];
        for _ in 0..1_000 {
            assert!(page.rows.len() as i64 <= q.limit);
            seqs.extend(page.rows.iter().map(|r| r.seq));
            let Some(next) = page.next else {
                return seqs;
            };
            assert_eq!(page.rows.len() as i64, q.limit, "only a last page is short");
            assert_eq!(next.query, query_key(q));
            assert_eq!(next.snapshot_seq, snapshot_seq);
            between();
            page = read_page(log, q, next.snapshot_seq, Some(&next.after)).unwrap();
        }
        panic!("paging did not end");
    }

    /// What a listing must return, computed the plain way: filter every row,
    /// then sort by the keys before `created_at`, `created_at` and `seq`.
    fn expected(rows: &[(i64, String, String, i64)], q: &DeliveryQuery) -> Vec<i64> {
        let mut kept: Vec<&(i64, String, String, i64)> = rows
            .iter()
            .filter(|(_, t, s, c)| {
                q.event_type.as_ref().is_none_or(|f| f == t)
                    && q.status
                        .as_deref()
                        .is_none_or(|f| (f == "success") == (s == "success"))
                    && q.state.is_none_or(|f| f.as_str() == s)
                    && q.created_after_ms.is_none_or(|a| *c >= a)
                    && q.created_before_ms.is_none_or(|b| *c <= b)
            })
            .collect();
        // The sort keys as the seed API states them: each in turn, then
        // created_at (newest first unless given) with log order in its direction.
        let created_descending = q
            .sort
            .iter()
            .find(|s| s.field == SortField::CreatedAt)
            .is_none_or(|s| s.descending);
        kept.sort_by(|a, b| {
            for s in &q.sort {
                let o = match s.field {
                    SortField::Type => a.1.cmp(&b.1),
                    SortField::Status => (a.2 == "success").cmp(&(b.2 == "success")),
                    SortField::CreatedAt => break,
                };
                let o = if s.descending { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            let o = (a.3, a.0).cmp(&(b.3, b.0));
            if created_descending { o.reverse() } else { o }
        });
        kept.into_iter().map(|r| r.0).collect()
    }

    fn a_query() -> impl Strategy<Value = Vec<(String, String)>> {
        let sort = prop::collection::vec(
            (
                prop::sample::select(vec!["type", "status", "created_at"]),
                any::<bool>(),
            ),
            0..4,
        );
        (
            prop::option::of(prop::sample::select(vec!["success", "failed"])),
            prop::option::of(0..State::ALL.len()),
            prop::option::of(0..TYPES.len()),
            prop::option::of(0i64..12),
            prop::option::of(0i64..12),
            sort,
            1i64..8,
        )
            .prop_map(|(status, state, ty, after, before, sort, limit)| {
                let mut q = vec![("limit".to_string(), limit.to_string())];
                if let Some(s) = status {
                    q.push(("status".into(), s.into()));
                }
                if let Some(s) = state {
                    q.push(("state".into(), State::ALL[s].as_str().into()));
                }
                if let Some(t) = ty {
                    q.push(("type".into(), TYPES[t].into()));
                }
                let ts = |ms: i64| edgehook_core::time::rfc3339_ms(1_767_225_600_000 + ms);
                if let Some(a) = after {
                    q.push(("created_after".into(), ts(a)));
                }
                if let Some(b) = before {
                    q.push(("created_before".into(), ts(b)));
                }
                for (field, desc) in sort {
                    q.push((
                        "sort_by".into(),
                        format!("{}{field}", if desc { "-" } else { "+" }),
                    ));
                }
                q
            })
    }

    fn parsed(pairs: &[(String, String)]) -> DeliveryQuery {
        parse_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Every listing, paged through a page at a time, returns exactly the
        /// rows a plain filter and sort would, each once.
        #[test]
        fn paging_equals_a_plain_filter_and_sort(
            rows in prop::collection::vec((0..TYPES.len(), 0..State::ALL.len(), 0i64..12), 0..40),
            pairs in a_query(),
        ) {
            let log = Sqlite::reused();
            let rows: Vec<(usize, usize, i64)> = rows
                .into_iter()
                .map(|(t, s, c)| (t, s, 1_767_225_600_000 + c))
                .collect();
            log.insert(&rows);
            let q = parsed(&pairs);
            let got = page_through(&log, &q, || {});
            let want = expected(&log.all(), &q);
            log.give_back();
            prop_assert_eq!(got, want, "{:?}", pairs);
        }

        /// Deliveries that arrive while a client pages never show up in that
        /// listing, and none of those that were there is lost or repeated.
        #[test]
        fn new_deliveries_stay_out_of_a_listing_in_progress(
            rows in prop::collection::vec((0..TYPES.len(), 0..State::ALL.len(), 0i64..12), 1..30),
            arriving in prop::collection::vec((0..TYPES.len(), 0..State::ALL.len(), 0i64..24), 1..4),
            pairs in a_query(),
        ) {
            let log = Sqlite::reused();
            let at = |(t, s, c): (usize, usize, i64)| (t, s, 1_767_225_600_000 + c);
            log.insert(&rows.into_iter().map(at).collect::<Vec<_>>());
            let before = log.all();
            let q = parsed(&pairs);
            let arriving: Vec<_> = arriving.into_iter().map(at).collect();
            let got = page_through(&log, &q, || log.insert(&arriving));
            log.give_back();
            prop_assert_eq!(got, expected(&before, &q));
        }
    }

    #[test]
    fn a_token_names_the_listing_it_belongs_to() {
        let a = query(&[("type", TYPES[0]), ("limit", "5")]);
        let b = query(&[("type", TYPES[0]), ("limit", "9")]);
        let c = query(&[("type", TYPES[1]), ("limit", "5")]);
        assert_eq!(
            query_key(&a),
            query_key(&b),
            "the limit may change between pages"
        );
        let later = query(&[
            ("type", TYPES[0]),
            ("limit", "5"),
            ("continuation_token", "77"),
        ]);
        assert_eq!(
            query_key(&a),
            query_key(&later),
            "every page of a listing has its key"
        );
        assert_ne!(query_key(&a), query_key(&c));
        assert_ne!(
            query_key(&query(&[("sort_by", "-type")])),
            query_key(&query(&[("sort_by", "+type")]))
        );
    }

    #[test]
    fn limit_zero_reads_nothing_and_ends() {
        let log = Sqlite::new();
        log.insert(&[(0, 0, 1)]);
        let page = read_page(&log, &query(&[("limit", "0")]), 1, None).unwrap();
        assert_eq!(
            page,
            Page {
                rows: vec![],
                next: None
            }
        );
        assert!(log.ran.borrow().is_empty());
    }

    #[test]
    fn an_empty_log_has_an_empty_first_page() {
        let log = Sqlite::new();
        assert_eq!(snapshot(&log).unwrap(), 0);
        for q in [
            query(&[]),
            query(&[("sort_by", "-type"), ("sort_by", "status")]),
        ] {
            assert_eq!(
                read_page(&log, &q, 0, None).unwrap(),
                Page {
                    rows: vec![],
                    next: None
                }
            );
        }
    }

    #[test]
    fn later_groups_are_asked_only_for_what_the_page_still_lacks() {
        let log = Sqlite::new();
        log.insert(&[(0, 2, 5), (1, 2, 7), (1, 2, 8), (2, 2, 6)]);
        let q = query(&[("limit", "3"), ("sort_by", "type")]);
        read_page(&log, &q, 4, None).unwrap();
        let limits: Vec<Param> = log
            .ran
            .borrow()
            .iter()
            .filter(|(sql, _)| sql.starts_with("SELECT seq, created_at"))
            .map(|(_, params)| params.last().cloned().unwrap())
            .collect();
        // Four wanted (a page and one more): 1 found in the first type, 2 in
        // the second, so the third is asked for 1.
        assert_eq!(limits, vec![Param::Int(4), Param::Int(3), Param::Int(1)]);
    }

    #[test]
    fn a_page_holds_whole_rows_in_order() {
        let log = Sqlite::new();
        log.insert(&[(0, 2, 5), (1, 3, 7), (2, 0, 6)]);
        let page = read_page(&log, &query(&[("limit", "2")]), 3, None).unwrap();
        assert_eq!(
            page.rows
                .iter()
                .map(|r| (r.seq, r.event_type.as_str(), r.state.as_str(), r.created_at))
                .collect::<Vec<_>>(),
            vec![(2, TYPES[1], "failed", 7), (3, TYPES[2], "pending", 6)]
        );
        assert_eq!(page.rows[0].id, "d2");
        assert_eq!(page.rows[0].body, "{}");
        let next = page.next.unwrap();
        assert_eq!(
            next.after,
            Position {
                group: vec![],
                created_at: 6,
                seq: 3
            }
        );
    }

    /// Runs `EXPLAIN QUERY PLAN` of a statement the pager ran.
    fn plan_of(log: &Sqlite, sql: &str, params: &[Param]) -> String {
        let mut stmt = log
            .db
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let values: Vec<rusqlite::types::Value> = params.iter().map(sql_value).collect();
        stmt.query_map(rusqlite::params_from_iter(values), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("; ")
    }

    /// The shapes the benchmark times, and every sort key with every filter.
    fn shapes() -> Vec<Vec<(&'static str, &'static str)>> {
        let mut shapes = vec![];
        for filter in [
            vec![],
            vec![("status", "failed")],
            vec![("status", "success")],
            vec![("state", "retrying")],
            vec![("type", TYPES[1])],
            vec![
                ("created_after", "2026-01-01T00:00:00.004Z"),
                ("created_before", "2026-01-01T00:00:00.009Z"),
            ],
            vec![("type", TYPES[0]), ("status", "failed")],
        ] {
            for sort in [
                vec![],
                vec![("sort_by", "+created_at")],
                vec![("sort_by", "type")],
                vec![("sort_by", "-type")],
                vec![("sort_by", "-status")],
                vec![("sort_by", "+status"), ("sort_by", "-type")],
            ] {
                let mut q = vec![("limit", "3")];
                q.extend(filter.iter().copied());
                q.extend(sort);
                shapes.push(q);
            }
        }
        shapes
    }

    #[test]
    fn a_listing_that_fits_its_page_exactly_has_no_next_page() {
        let log = Sqlite::new();
        log.insert(&[(0, 0, 1), (1, 1, 2), (2, 2, 3)]);
        let snapshot_seq = snapshot(&log).unwrap();
        for (limit, more) in [("3", false), ("4", false), ("2", true)] {
            let page = read_page(&log, &query(&[("limit", limit)]), snapshot_seq, None).unwrap();
            assert_eq!(page.next.is_some(), more, "limit {limit}");
            assert_eq!(
                page.rows.len(),
                3.min(limit.parse().unwrap()),
                "limit {limit}"
            );
        }
    }

    #[test]
    fn every_statement_seeks_an_index_and_never_sorts_the_log() {
        let log = Sqlite::new();
        let rows: Vec<(usize, usize, i64)> = (0..60)
            .map(|i| (i % 3, (i / 3) % 4, 1_767_225_600_000 + (i as i64 % 13)))
            .collect();
        log.insert(&rows);
        // Each distinct statement's plan is read once: the pages after the
        // first run the same statements with other parameters.
        let mut planned = std::collections::HashSet::new();
        for shape in shapes() {
            let q = query(&shape);
            log.ran.borrow_mut().clear();
            page_through(&log, &q, || {});
            let ran = log.ran.borrow().clone();
            assert!(!ran.is_empty());
            for (sql, params) in ran {
                if !planned.insert(sql.clone()) {
                    continue;
                }
                let plan = plan_of(&log, &sql, &params);
                assert!(!plan.contains("TEMP B-TREE"), "{shape:?}: {sql}: {plan}");
                // An ordered scan of an index stops at its LIMIT; a scan of
                // the table itself would read the whole log.
                for part in plan.split("; ") {
                    assert!(
                        !part.starts_with("SCAN deliveries") || part.contains(" USING "),
                        "{shape:?}: {sql}: {plan}"
                    );
                }
                if sql.contains("OFFSET") {
                    panic!("{sql}");
                }
            }
        }
    }

    /// The work of the 20th page does not grow with the log: SQLite's own
    /// count of virtual machine steps for it, on a log of 1,000 and of 10,000.
    #[test]
    fn a_page_costs_the_same_at_any_log_size() {
        fn log_of(size: usize) -> Sqlite {
            let log = Sqlite::new();
            let rows: Vec<(usize, usize, i64)> = (0..size)
                .map(|i| {
                    (
                        i % 3,
                        if i % 50 == 0 { 3 } else { 2 },
                        1_767_225_600_000 + i as i64,
                    )
                })
                .collect();
            log.insert(&rows);
            log
        }
        fn steps(log: &Sqlite, shape: &[(&str, &str)]) -> u64 {
            let q = query(shape);
            let mut resume = None;
            let snapshot_seq = snapshot(log).unwrap();
            for _ in 0..19 {
                let page = read_page(log, &q, snapshot_seq, resume.as_ref()).unwrap();
                resume = page.next.map(|c| c.after);
            }
            log.ran.borrow_mut().clear();
            read_page(log, &q, snapshot_seq, resume.as_ref()).unwrap();
            let ran = log.ran.borrow().clone();
            ran.iter()
                .map(|(sql, params)| {
                    let mut stmt = log.db.prepare(sql).unwrap();
                    let values: Vec<rusqlite::types::Value> =
                        params.iter().map(sql_value).collect();
                    let mut rows = stmt.query(rusqlite::params_from_iter(values)).unwrap();
                    while rows.next().unwrap().is_some() {}
                    drop(rows);
                    stmt.get_status(rusqlite::StatementStatus::VmStep) as u64
                })
                .sum()
        }
        let (small_log, large_log) = (log_of(1_000), log_of(10_000));
        for shape in [
            vec![("limit", "10")],
            vec![("limit", "10"), ("status", "failed")],
            vec![("limit", "10"), ("type", TYPES[2])],
            vec![("limit", "10"), ("sort_by", "-type")],
            vec![("limit", "10"), ("sort_by", "-status")],
            vec![("limit", "10"), ("state", "failed")],
        ] {
            let (small, large) = (steps(&small_log, &shape), steps(&large_log, &shape));
            assert!(
                large <= small + small / 2 + 200,
                "{shape:?}: {small} steps at 1,000, {large} at 10,000"
            );
        }
    }
}
