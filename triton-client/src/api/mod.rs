//! CloudAPI operations, one file per resource, as methods on
//! [`Client`](crate::Client). Each method names its CloudAPI operation.

mod account;
mod images;
mod keys;
mod machine_metadata;
mod machine_tags;
mod machines;
mod networks;
mod packages;
