//! Image operations.

use imagebake_http::create_or_adopt;
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
    /// [`look_image_active`](Client::look_image_active)). When the outcome of
    /// an attempt is unknown (a lost answer, a 5xx), the request is never
    /// re-sent blindly: the client first looks for the account's image of
    /// the request's name and version carrying all of the request's tags
    /// (ListImages), returns it if it exists, and only otherwise sends the
    /// create again ([`create_or_adopt`]). A request without tags cannot be
    /// told from another image of that name, so it is not repeated after an
    /// unknown outcome.
    pub async fn create_image_from_machine(&self, req: &CreateImageFromMachine) -> Result<Image> {
        let op = "CreateImageFromMachine";
        let body = serde_json::to_value(req).map_err(|e| crate::Error::InvalidRequest {
            reason: format!("cannot encode {op}: {e}"),
        })?;
        let call = &Req::post(op, &["images"]).json(body).create();
        if req.tags().is_empty() {
            return self.send(call).await?.json(op);
        }
        create_or_adopt(
            self.retry_policy(),
            |_attempt| async move { self.send_once(call).await?.json(op) },
            || self.find_created_image(req),
        )
        .await
    }

    /// The account's image that `req` made, if any: its name and version,
    /// not public, every tag of the request.
    async fn find_created_image(&self, req: &CreateImageFromMachine) -> Result<Option<Image>> {
        let filter = ListImages::new()
            .name(req.name().to_owned())
            .version(req.version().to_owned())
            .all_states();
        let ours = |i: &Image| {
            !i.public
                && req
                    .tags()
                    .iter()
                    .all(|(k, v)| i.tags.get(k.as_str()) == Some(v))
        };
        Ok(self
            .list_images(&filter)
            .await?
            .into_iter()
            .filter(ours)
            .max_by(|a, b| a.published_at.cmp(&b.published_at)))
    }

    /// CloudAPI `UpdateImage`: `POST /:login/images/:id?action=update`.
    pub async fn update_image(&self, id: &ImageId, update: &UpdateImage) -> Result<Image> {
        let op = "UpdateImage";
        let body = serde_json::to_value(update).map_err(|e| crate::Error::InvalidRequest {
            reason: format!("cannot encode {op}: {e}"),
        })?;
        let id = id.to_string();
        // Setting the same fields again changes nothing: safe to repeat
        // after a lost answer.
        let req = Req::post(op, &["images", &id])
            .query("action", "update")
            .json(body)
            .idempotent();
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
