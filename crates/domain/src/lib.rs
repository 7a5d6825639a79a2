//! Keyward's domain: what accounts, service accounts and credentials are, and the rules they obey.
//!
//! This crate is pure. It performs no I/O and depends on no async runtime, web framework or
//! database crate; time and randomness come in through the [`Clock`] and [`Entropy`] traits, and
//! persistence through the traits of [`repository`]. The `storage` crate implements those traits
//! and the `api` crate drives the [`service::Keyward`] facade over HTTP.

pub mod account;
pub mod api_key;
pub mod audit;
pub mod audit_filter;
pub mod clock;
pub mod credential;
pub mod dpop;
pub mod entropy;
pub mod error;
pub mod federation;
pub mod filter;
pub mod id;
pub mod jwt;
pub mod key;
pub mod leak;
pub mod limits;
pub mod notification;
pub mod page;
pub mod principal;
pub mod repository;
pub mod scope;
pub mod sealing;
pub mod secret;
pub mod secret_key;
pub mod service;
pub mod service_account;
pub mod signing_key;
pub mod text;
pub mod usage;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock, TimeBound, Timestamp};
pub use entropy::{Entropy, SeededEntropy, SystemEntropy};
pub use error::{Error, ValidationError};
