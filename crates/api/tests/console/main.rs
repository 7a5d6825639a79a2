//! The web console through the real HTTP stack: plain HTTP for its rules (cookies, CSRF, sign-in
//! and sign-out, tenancy), and a real headless Chromium for what a person does with it.

#![allow(clippy::unwrap_used)]

#[path = "../http/common/mod.rs"]
#[macro_use]
mod common;

mod browser;
mod client;
mod federation;
mod leaks;
mod rules;
mod webhooks;
