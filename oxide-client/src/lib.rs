//! Typed async client for the Oxide API (bearer token).
