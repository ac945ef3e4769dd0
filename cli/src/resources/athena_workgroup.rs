//! `athena_workgroup`: where transforms, views, exports and quality checks run on AWS, with an
//! enforced, encrypted result location in the artifacts bucket and a per-query scan cutoff.
//!
//! Why: the default workgroup lets any client pick where results land (and whether they are
//! encrypted); an enforced workgroup does not, and caps runaway scans.
//!
//! Example: `athena_workgroup.main` → `retail-local`, results in `s3://...-artifacts/athena-results/`.

use super::{Attrs, Fut, Provider, absent, int, s, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_athena::types::{
    EncryptionConfiguration, EncryptionOption, ResultConfiguration, ResultConfigurationUpdates,
    Tag, WorkGroupConfiguration, WorkGroupConfigurationUpdates,
};
use serde_json::json;

pub struct AthenaWorkgroup;

fn encryption(d: &Attrs) -> Result<EncryptionConfiguration, CloudError> {
    EncryptionConfiguration::builder()
        .encryption_option(EncryptionOption::from(s(d, "result_encryption")))
        .build()
        .map_err(|e| CloudError::new("Build", s(d, "name"), "InvalidInput", e.to_string()))
}

impl Provider for AthenaWorkgroup {
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let out = match absent(
                c.athena
                    .get_work_group()
                    .work_group(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetWorkGroup", name, e)),
            ) {
                // Athena answers a missing workgroup with InvalidRequestException.
                Err(e) if e.code == "InvalidRequestException" => return Ok(None),
                other => other?,
            };
            let Some(wg) = out.as_ref().and_then(|o| o.work_group()) else {
                return Ok(None);
            };
            let cfg = wg.configuration();
            let rc = cfg.and_then(|c| c.result_configuration());
            let mut live = Attrs::new();
            live.insert("name".into(), json!(wg.name()));
            live.insert(
                "result_location".into(),
                json!(rc.and_then(|r| r.output_location()).unwrap_or_default()),
            );
            live.insert(
                "result_encryption".into(),
                json!(
                    rc.and_then(|r| r.encryption_configuration())
                        .map(|e| e.encryption_option().as_str())
                        .unwrap_or("NONE")
                ),
            );
            live.insert(
                "enforce_workgroup_configuration".into(),
                json!(
                    cfg.and_then(|c| c.enforce_work_group_configuration())
                        .unwrap_or(false)
                ),
            );
            live.insert(
                "bytes_scanned_cutoff_per_query".into(),
                json!(
                    cfg.and_then(|c| c.bytes_scanned_cutoff_per_query())
                        .unwrap_or_default()
                ),
            );
            // Tags are written at create time; reading them needs the account id in the ARN, which
            // the workgroup does not report, so they are not compared.
            live.insert("tags".into(), d.get("tags").cloned().unwrap_or_default());
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let cfg = WorkGroupConfiguration::builder()
                .result_configuration(
                    ResultConfiguration::builder()
                        .output_location(s(d, "result_location"))
                        .encryption_configuration(encryption(d)?)
                        .build(),
                )
                .enforce_work_group_configuration(d["enforce_workgroup_configuration"] == true)
                .bytes_scanned_cutoff_per_query(int(d, "bytes_scanned_cutoff_per_query"))
                .build();
            let t: Vec<Tag> = tags(d)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            c.athena
                .create_work_group()
                .name(name)
                .configuration(cfg)
                .set_tags(Some(t))
                .send()
                .await
                .map_err(|e| from_sdk("CreateWorkGroup", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let updates = WorkGroupConfigurationUpdates::builder()
                .result_configuration_updates(
                    ResultConfigurationUpdates::builder()
                        .output_location(s(d, "result_location"))
                        .encryption_configuration(encryption(d)?)
                        .build(),
                )
                .enforce_work_group_configuration(d["enforce_workgroup_configuration"] == true)
                .bytes_scanned_cutoff_per_query(int(d, "bytes_scanned_cutoff_per_query"))
                .build();
            c.athena
                .update_work_group()
                .work_group(name)
                .configuration_updates(updates)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateWorkGroup", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            match c
                .athena
                .delete_work_group()
                .work_group(name)
                .recursive_delete_option(true)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteWorkGroup", name, e))
            {
                Err(e) if e.code == "InvalidRequestException" || super::is_not_found(&e) => Ok(()),
                other => other.map(|_| ()),
            }
        })
    }
}
