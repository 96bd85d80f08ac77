//! triton-client against the Triton simulator over real HTTP on 127.0.0.1.

mod agent;
mod auth;
mod common;
mod config;
mod imgapi;
mod manta;
mod operations;
mod paging;
mod retries;
