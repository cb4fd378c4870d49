//! The rules of a destination's delivery log, written as the SQL that the
//! destination's object runs against its SQLite, and tested on the host
//! against a real SQLite. Apart from the rest of the core because only these
//! rules need a database to be tested.
//!
//! - [`log_schema`]: the log's tables and indexes.
//! - [`deliveries_query`]: the deliveries query's parameters and their checks.
//! - [`deliveries_page`]: a page of that query, read by index seeks, and its
//!   continuation over a snapshot of the log.
//! - [`delivery_stats`]: the hourly counters and what `/stats` reads from them.
//! - [`recovery`]: which failed deliveries a recovery sends again, batch by batch.

pub mod deliveries_page;
pub mod deliveries_query;
pub mod delivery_stats;
pub mod log_schema;
pub mod recovery;
