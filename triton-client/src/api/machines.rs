//! Machine operations, the no-duplicate create, and paging.

use futures::Stream;
use imagebake_http::{Page, create_or_adopt, paginate};
use reqwest::StatusCode;

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::{AuditEntry, CreateMachine, ListMachines, Machine, MachineId, MachineLookup};

impl Client {
    /// CloudAPI `CreateMachine`: `POST /:login/machines`.
    ///
    /// The machine starts `provisioning` (wait with
    /// [`look_machine`](Client::look_machine)). When the outcome
    /// of an attempt is unknown (timeout, lost connection, 5xx), the request
    /// is never re-sent blindly: the client first looks for the machine by
    /// the request's name, tags and image (ListMachines), returns it if it
    /// exists, and only otherwise sends the create again. A request with
    /// neither name nor tags cannot be looked up, so it is not repeated after
    /// an unknown outcome. Throttled (420/429) attempts are repeated.
    pub async fn create_machine(&self, req: &CreateMachine) -> Result<Machine> {
        let op = "CreateMachine";
        let call = &Req::post(op, &["machines"]).json(req.body()).create();
        if !req.is_identifiable() {
            return self.send(call).await?.json(op);
        }
        create_or_adopt(
            self.retry_policy(),
            |_attempt| async move { self.send_once(call).await?.json(op) },
            || self.find_created(req),
        )
        .await
    }

    /// A live machine matching what `req` would have made.
    async fn find_created(&self, req: &CreateMachine) -> Result<Option<Machine>> {
        let found = self.list_machines(&req.lookup()).await?;
        Ok(found.into_iter().max_by(|a, b| a.created.cmp(&b.created)))
    }

    /// CloudAPI `GetMachine`: `GET /:login/machines/:id`. A deleted machine
    /// is not an error: CloudAPI answers 410 Gone with its body, returned as
    /// [`MachineLookup::Gone`]. A machine that never existed (or whose
    /// history is purged) is a 404 error.
    pub async fn get_machine(&self, id: &MachineId) -> Result<MachineLookup> {
        let op = "GetMachine";
        let id = id.to_string();
        let reply = self
            .send(&Req::get(op, &["machines", &id]).gone_ok())
            .await?;
        let machine: Machine = reply.json(op)?;
        Ok(if reply.status == StatusCode::GONE {
            MachineLookup::Gone(machine)
        } else {
            MachineLookup::Found(machine)
        })
    }

    /// CloudAPI `ListMachines`: `GET /:login/machines` with `filter` (one
    /// page: up to `limit`, default and maximum 1000, from `offset`).
    pub async fn list_machines(&self, filter: &ListMachines) -> Result<Vec<Machine>> {
        Ok(self.list_machines_page(filter).await?.0)
    }

    /// One ListMachines page and the `x-resource-count` total, if sent.
    async fn list_machines_page(
        &self,
        filter: &ListMachines,
    ) -> Result<(Vec<Machine>, Option<u32>)> {
        let op = "ListMachines";
        let reply = self
            .send(&Req::get(op, &["machines"]).queries(filter.query()))
            .await?;
        let total = reply
            .header("x-resource-count")
            .and_then(|v| v.parse().ok());
        Ok((reply.json(op)?, total))
    }

    /// Every machine matching `filter`, fetched `page_size` at a time with
    /// CloudAPI `ListMachines` `limit`/`offset` (starting at the filter's
    /// offset, if any).
    pub fn list_machines_stream(
        &self,
        filter: &ListMachines,
        page_size: u32,
    ) -> impl Stream<Item = Result<Machine>> + Send + 'static {
        let client = self.clone();
        let filter = filter.clone();
        let page_size = page_size.clamp(1, 1000);
        paginate(move |cursor: Option<u32>| {
            let client = client.clone();
            let start = cursor.or(filter.offset).unwrap_or(0);
            let page = filter.clone().limit(page_size).offset(start);
            async move {
                let (items, total) = client.list_machines_page(&page).await?;
                let got = u32::try_from(items.len()).unwrap_or(u32::MAX);
                let end = start.saturating_add(got);
                let more = match total {
                    Some(total) => got > 0 && end < total,
                    None => got == page_size,
                };
                Ok(Page {
                    items,
                    next: more.then_some(end),
                })
            }
        })
    }

    /// CloudAPI `StopMachine`: `POST /:login/machines/:id?action=stop`
    /// (202; wait for `stopped`).
    pub async fn stop_machine(&self, id: &MachineId) -> Result<()> {
        self.machine_action("StopMachine", id, "stop").await
    }

    /// CloudAPI `StartMachine`: `POST /:login/machines/:id?action=start`
    /// (202; wait for `running`).
    pub async fn start_machine(&self, id: &MachineId) -> Result<()> {
        self.machine_action("StartMachine", id, "start").await
    }

    /// CloudAPI `RenameMachine`: `POST
    /// /:login/machines/:id?action=rename&name=NAME` (202). The rename is a
    /// job: [`machine_audit`](Client::machine_audit) shows it once done.
    pub async fn rename_machine(&self, id: &MachineId, name: &str) -> Result<()> {
        let id = id.to_string();
        let req = Req::post("RenameMachine", &["machines", &id])
            .query("action", "rename")
            .query("name", name);
        self.send(&req).await?;
        Ok(())
    }

    /// CloudAPI `MachineAudit`: `GET /:login/machines/:id/audit`, the
    /// machine's finished jobs, newest first. Actions without a lasting
    /// state change (reboot, rename) are confirmed here.
    pub async fn machine_audit(&self, id: &MachineId) -> Result<Vec<AuditEntry>> {
        let op = "MachineAudit";
        let id = id.to_string();
        self.send(&Req::get(op, &["machines", &id, "audit"]))
            .await?
            .json(op)
    }

    async fn machine_action(&self, op: &'static str, id: &MachineId, action: &str) -> Result<()> {
        let id = id.to_string();
        let req = Req::post(op, &["machines", &id]).query("action", action);
        self.send(&req).await?;
        Ok(())
    }

    /// CloudAPI `DeleteMachine`: `DELETE /:login/machines/:id`. Deleting a
    /// machine that is already deleted (410) succeeds; wait for it to be gone
    /// with [`look_machine_gone`](Client::look_machine_gone).
    pub async fn delete_machine(&self, id: &MachineId) -> Result<()> {
        let id = id.to_string();
        self.send(&Req::delete("DeleteMachine", &["machines", &id]).gone_ok())
            .await?;
        Ok(())
    }
}
