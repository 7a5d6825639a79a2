//! The HTTP API through a real server bound to a free port, a real client, and a real database
//! (every test runs on SQLite and on PostgreSQL, each in its own database).

#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

mod auth;
mod bad_input;
mod cross_tenant;
mod dialect_dynatrace;
mod dialect_service_identity;
mod dialect_smooch;
mod dialect_wavefront;
mod dialect_zenml;
mod dpop;
mod federation;
mod interop;
mod key_lifecycle;
mod key_lists;
mod leaks;
mod lists;
mod metrics;
mod oauth;
mod openapi;
mod secret_keys;
mod token_exchange;
mod token_strictness;
mod usage;
mod usage_limits;
mod verify;
mod walkthrough;
mod webhooks;
