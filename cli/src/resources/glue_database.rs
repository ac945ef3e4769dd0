//! `glue_database`: the stack's Glue Data Catalog database, located at the lake bucket.
//!
//! Why: tables, crawlers and Athena queries all live in it; deleting it deletes its tables, so
//! destroy refuses while tables with data remain (see `glue_table`).
//!
//! Example: `glue_database.catalog` → `retail_local`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_glue::types::DatabaseInput;
use serde_json::json;

pub struct GlueDatabase;

fn input(d: &Attrs) -> Result<DatabaseInput, CloudError> {
    DatabaseInput::builder()
        .name(s(d, "name"))
        .description(s(d, "description"))
        .location_uri(s(d, "location_uri"))
        .build()
        .map_err(|e| CloudError::new("Build", s(d, "name"), "InvalidInput", e.to_string()))
}

impl Provider for GlueDatabase {
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(out) = absent(
                c.glue
                    .get_database()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetDatabase", name, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(db) = out.database() else {
                return Ok(None);
            };
            let mut live = Attrs::new();
            live.insert("name".into(), json!(db.name()));
            live.insert(
                "description".into(),
                json!(db.description().unwrap_or_default()),
            );
            live.insert(
                "location_uri".into(),
                json!(db.location_uri().unwrap_or_default()),
            );
            // Tags are written at create time; moto does not return them for databases.
            live.insert("tags".into(), d.get("tags").cloned().unwrap_or_default());
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let mut req = c.glue.create_database().database_input(input(d)?);
            for (k, v) in super::tags(d) {
                req = req.tags(k, v);
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateDatabase", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            c.glue
                .update_database()
                .name(name)
                .database_input(input(d)?)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateDatabase", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.glue
                    .delete_database()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteDatabase", name, e)),
            )?;
            Ok(())
        })
    }
}
