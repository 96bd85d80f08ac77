//! Package operations.

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::{NameOrId, Package};

impl Client {
    /// CloudAPI `ListPackages`: `GET /:login/packages`, optionally only
    /// those named `name` (`*` wildcards allowed).
    pub async fn list_packages(&self, name: Option<&str>) -> Result<Vec<Package>> {
        let op = "ListPackages";
        let mut req = Req::get(op, &["packages"]);
        if let Some(n) = name {
            req = req.query("name", n);
        }
        self.send(&req).await?.json(op)
    }

    /// CloudAPI `GetPackage`: `GET /:login/packages/:id`, by UUID or name.
    pub async fn get_package(&self, package: impl Into<NameOrId>) -> Result<Package> {
        let op = "GetPackage";
        let package = package.into().to_string();
        self.send(&Req::get(op, &["packages", &package]))
            .await?
            .json(op)
    }
}
