//! Tests of oxide-client against the Oxide simulator over real HTTP.

mod auth;
mod common;
mod config;
mod conformance;
mod images;
mod imports;
mod instances;
mod lookup;
mod misc;
mod names;
mod pagination;
mod retries;
mod snapshots;
