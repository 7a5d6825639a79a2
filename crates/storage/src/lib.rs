//! Keyward's storage: the domain's repository traits implemented with Diesel, for SQLite (the
//! embedded default) and PostgreSQL from one code base.
//!
//! This is the only crate that knows a database exists. The backend is chosen from the database
//! URL's scheme ([`DatabaseUrl`]); both share one schema of portable column types (ids as text,
//! times as 64-bit microseconds) and one set of queries over a `MultiConnection`.

mod auth_cache;
mod background;
mod batch_writer;
mod change_feed;
mod connection;
mod convert;
mod error;
mod group_sync;
mod hosts;
mod migrate;
mod replica;
mod repos;
mod schema;
mod store;
mod usage_limits;

#[cfg(feature = "test-support")]
pub mod testing;

pub use auth_cache::FRESHNESS;
pub use connection::{Backend, DatabaseUrl};
pub use error::StorageError;
pub use store::{Options, Store, blocking_slots};
