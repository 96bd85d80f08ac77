//! The metadata service of the host VM (`GET /latest/meta-data/<key>`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

use super::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/latest/meta-data/{*key}", get(meta))
        .with_state(shared)
}

async fn meta(State(sh): State<Arc<Shared>>, Path(key): Path<String>) -> (StatusCode, String) {
    let value = match key.trim_end_matches('/') {
        "instance-id" => sh.vm_id.clone(),
        "placement/availability-zone" => sh.subregion.clone(),
        "placement/region" => sh.region.clone(),
        "ami-id" => sh.seed_image_id.clone(),
        "instance-type" => "tinav5.c2r4p2".to_owned(),
        "hostname" | "local-hostname" => format!("ip-10-0-0-10.{}.compute.internal", sh.region),
        "local-ipv4" => "10.0.0.10".to_owned(),
        _ => return (StatusCode::NOT_FOUND, "Not Found".to_owned()),
    };
    (StatusCode::OK, value)
}
