//! Image operations.

use serde_json::Value;

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::{
    CreateImageFromMachine, ExportedImage, Image, ImageId, ListImages, UpdateImage,
    pick_most_recent,
};

impl Client {
    /// CloudAPI `ListImages`: `GET /:login/images` with `filter`'s
    /// `name os version public state owner type`.
    pub async fn list_images(&self, filter: &ListImages) -> Result<Vec<Image>> {
        let op = "ListImages";
        let req = Req::get(op, &["images"]).queries(filter.query());
        self.send(&req).await?.json(op)
    }

    /// The most recently published image matching `filter` (CloudAPI
    /// `ListImages`, then a client-side pick by `published_at`, ties going to
    /// the later one in server order). With an exact `name` filter, only
    /// images with exactly that name count.
    pub async fn most_recent_image(&self, filter: &ListImages) -> Result<Option<Image>> {
        let images = self.list_images(filter).await?;
        let name = filter.exact_name();
        Ok(pick_most_recent(
            images
                .into_iter()
                .filter(|i| name.is_none_or(|n| i.name == n)),
        ))
    }

    /// CloudAPI `GetImage`: `GET /:login/images/:id`.
    pub async fn get_image(&self, id: &ImageId) -> Result<Image> {
        let op = "GetImage";
        let id = id.to_string();
        self.send(&Req::get(op, &["images", &id])).await?.json(op)
    }

    /// CloudAPI `CreateImageFromMachine`: `POST /:login/images`. The machine
    /// must be stopped; the image starts `creating` (wait with
    /// [`look_image_active`](Client::look_image_active)). Never re-sent when
    /// its outcome is unknown (it could make a second image).
    pub async fn create_image_from_machine(&self, req: &CreateImageFromMachine) -> Result<Image> {
        let op = "CreateImageFromMachine";
        let body = serde_json::to_value(req).map_err(|e| crate::Error::InvalidRequest {
            reason: format!("cannot encode {op}: {e}"),
        })?;
        let req = Req::post(op, &["images"]).json(body).create();
        self.send(&req).await?.json(op)
    }

    /// CloudAPI `UpdateImage`: `POST /:login/images/:id?action=update`.
    pub async fn update_image(&self, id: &ImageId, update: &UpdateImage) -> Result<Image> {
        let op = "UpdateImage";
        let body = serde_json::to_value(update).map_err(|e| crate::Error::InvalidRequest {
            reason: format!("cannot encode {op}: {e}"),
        })?;
        let id = id.to_string();
        let req = Req::post(op, &["images", &id])
            .query("action", "update")
            .json(body);
        self.send(&req).await?.json(op)
    }

    /// CloudAPI `DeleteImage`: `DELETE /:login/images/:id`.
    pub async fn delete_image(&self, id: &ImageId) -> Result<()> {
        let id = id.to_string();
        self.send(&Req::delete("DeleteImage", &["images", &id]))
            .await?;
        Ok(())
    }

    /// CloudAPI `ExportImage`: `POST /:login/images/:id?action=export` to
    /// `manta_path`.
    pub async fn export_image(&self, id: &ImageId, manta_path: &str) -> Result<ExportedImage> {
        let op = "ExportImage";
        let id = id.to_string();
        let mut body = serde_json::Map::new();
        body.insert("manta_path".into(), Value::from(manta_path));
        let req = Req::post(op, &["images", &id])
            .query("action", "export")
            .json(Value::Object(body));
        self.send(&req).await?.json(op)
    }
}
