//! `lambda_function`: the deployed pipeline's step runtime, dekit itself on Lambda (custom runtime
//! `provided.al2023`, handler `bootstrap`), its package holding the binary as `bootstrap` and the
//! stack's files under `stack/`. The package is uploaded to the artifacts bucket and named by its
//! hash, which the function's description carries: a changed stack or binary is an update of the
//! code, and drift of the code shows like drift of any attribute.
//!
//! Why the package carries the stack: one version of the function is one version of the stack, so
//! an execution never sees half of an apply. On a local cloud that runs functions on this host
//! (MiniStack), `bootstrap` is a two-line script that runs this very binary instead of a copy of it.
//!
//! Example: `lambda_function.steps` → `retail-prod-steps`, 2048 MiB, 900 s.

use super::{Attrs, Fut, Provider, absent, poll_until, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State,
};
use serde_json::{Value, json};
use std::io::Write;

pub struct LambdaFunction;

/// What the description says, with the package's hash.
fn description(d: &Attrs) -> String {
    format!("dekit step runtime; package {}", s(d, "package_sha256"))
}

/// The package: `bootstrap` and `stack/…`, entries in a fixed order with fixed times, so the
/// same inputs give the same bytes.
pub fn package(d: &Attrs) -> Result<Vec<u8>, String> {
    let p = &d["package"];
    let binary = p["binary"].as_str().unwrap_or_default();
    let dir = std::path::Path::new(p["stack_dir"].as_str().unwrap_or_default());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let at = zip::DateTime::default();
    let exe = zip::write::SimpleFileOptions::default()
        .last_modified_time(at)
        .unix_permissions(0o755);
    let file = zip::write::SimpleFileOptions::default()
        .last_modified_time(at)
        .unix_permissions(0o644);
    let fail =
        |what: &str, e: &dyn std::fmt::Display| format!("packaging the step runtime: {what}: {e}");
    zip.start_file("bootstrap", exe)
        .map_err(|e| fail("bootstrap", &e))?;
    if p["run_in_place"] == true {
        // A quoted path: the script runs exactly this binary, whatever its name.
        let quoted = binary.replace('\'', r"'\''");
        write!(zip, "#!/bin/sh\nexec '{quoted}' \"$@\"\n").map_err(|e| fail("bootstrap", &e))?;
    } else {
        let bytes = std::fs::read(binary).map_err(|e| fail(binary, &e))?;
        crate::elf::check_for_lambda(binary, &bytes).map_err(|e| fail("bootstrap", &e))?;
        zip.write_all(&bytes).map_err(|e| fail("bootstrap", &e))?;
    }
    for f in p["files"].as_array().into_iter().flatten() {
        let rel = f.as_str().unwrap_or_default();
        let bytes = std::fs::read(dir.join(rel)).map_err(|e| fail(rel, &e))?;
        zip.start_file(format!("stack/{rel}"), file)
            .map_err(|e| fail(rel, &e))?;
        zip.write_all(&bytes).map_err(|e| fail(rel, &e))?;
    }
    let out = zip.finish().map_err(|e| fail("the archive", &e))?;
    Ok(out.into_inner())
}

/// Upload the package to the artifacts bucket, under its hash.
async fn upload(c: &Clients, d: &Attrs) -> Result<(String, String), CloudError> {
    let name = s(d, "name");
    let bytes = package(d).map_err(|e| CloudError::new("Package", name, "InvalidInput", e))?;
    let bucket = s(d, "artifacts_bucket").to_string();
    let key = format!("lambda/{name}/{}.zip", s(d, "package_sha256"));
    c.s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| from_sdk("PutObject", &key, e))?;
    Ok((bucket, key))
}

fn environment(d: &Attrs) -> Environment {
    let mut e = Environment::builder();
    for (k, v) in d["environment"].as_object().into_iter().flatten() {
        e = e.variables(k, v.as_str().unwrap_or_default());
    }
    e.build()
}

/// Wait until the function takes changes again (State Active, no update in progress): Lambda
/// refuses a second change while the first is applied.
async fn settled(c: &Clients, name: &str) -> Result<(), CloudError> {
    poll_until("WaitFunctionActive", name, 300, || async move {
        let f = c
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("GetFunctionConfiguration", name, e))?;
        let active = f.state().is_none_or(|s| *s == State::Active);
        let updated = f
            .last_update_status()
            .is_none_or(|s| *s != LastUpdateStatus::InProgress);
        if f.state() == Some(&State::Failed) {
            return Err(CloudError::new(
                "WaitFunctionActive",
                name,
                "FunctionFailed",
                f.state_reason()
                    .unwrap_or("the function failed to start")
                    .to_string(),
            ));
        }
        Ok(active && updated)
    })
    .await
}

impl Provider for LambdaFunction {
    fn outputs(&self) -> &'static [&'static str] {
        &["arn"]
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(f) = absent(
                c.lambda
                    .get_function()
                    .function_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetFunction", name, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(conf) = f.configuration() else {
                return Ok(None);
            };
            let mut live = Attrs::new();
            live.insert("name".into(), json!(name));
            live.insert("arn".into(), json!(conf.function_arn().unwrap_or_default()));
            live.insert("role_arn".into(), json!(conf.role().unwrap_or_default()));
            live.insert(
                "runtime".into(),
                json!(conf.runtime().map(|r| r.as_str()).unwrap_or_default()),
            );
            live.insert(
                "memory_mb".into(),
                json!(conf.memory_size().unwrap_or_default()),
            );
            live.insert(
                "timeout_seconds".into(),
                json!(conf.timeout().unwrap_or_default()),
            );
            let vars = conf
                .environment()
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default();
            live.insert(
                "environment".into(),
                Value::Object(vars.into_iter().map(|(k, v)| (k, json!(v))).collect()),
            );
            // The package is the one the description names; what it was built from stays as
            // desired (the hash stands for it).
            let said = conf.description().unwrap_or_default();
            let hash = said
                .rsplit_once("package ")
                .map(|(_, h)| h.to_string())
                .unwrap_or_default();
            live.insert("package_sha256".into(), json!(hash));
            for k in ["package", "artifacts_bucket"] {
                if let Some(v) = d.get(k) {
                    live.insert(k.into(), v.clone());
                }
            }
            live.insert(
                "tags".into(),
                super::tag_map(
                    f.tags()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                ),
            );
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let (bucket, key) = upload(c, d).await?;
            let mut req = c
                .lambda
                .create_function()
                .function_name(name)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .architectures(Architecture::X8664)
                .role(s(d, "role_arn"))
                .description(description(d))
                .memory_size(d["memory_mb"].as_i64().unwrap_or(2048) as i32)
                .timeout(d["timeout_seconds"].as_i64().unwrap_or(900) as i32)
                .environment(environment(d))
                .code(
                    FunctionCode::builder()
                        .s3_bucket(bucket)
                        .s3_key(key)
                        .build(),
                );
            for (k, v) in super::tags(d) {
                req = req.tags(k, v);
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateFunction", name, e))?;
            settled(c, name).await
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            settled(c, name).await?;
            // The code first, then the description naming its package: a code update that
            // fails leaves the old hash described, so the next plan still shows it.
            if live.get("package_sha256") != d.get("package_sha256") {
                let (bucket, key) = upload(c, d).await?;
                c.lambda
                    .update_function_code()
                    .function_name(name)
                    .s3_bucket(bucket)
                    .s3_key(key)
                    .send()
                    .await
                    .map_err(|e| from_sdk("UpdateFunctionCode", name, e))?;
                settled(c, name).await?;
            }
            let conf_keys = ["role_arn", "memory_mb", "timeout_seconds", "environment"];
            if conf_keys.iter().any(|k| live.get(*k) != d.get(*k))
                || live.get("package_sha256") != d.get("package_sha256")
            {
                c.lambda
                    .update_function_configuration()
                    .function_name(name)
                    .role(s(d, "role_arn"))
                    .description(description(d))
                    .memory_size(d["memory_mb"].as_i64().unwrap_or(2048) as i32)
                    .timeout(d["timeout_seconds"].as_i64().unwrap_or(900) as i32)
                    .environment(environment(d))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UpdateFunctionConfiguration", name, e))?;
                settled(c, name).await?;
            }
            let arn = s(live, "arn");
            let extra = super::extra_tags(live, d);
            if !extra.is_empty() {
                c.lambda
                    .untag_resource()
                    .resource(arn)
                    .set_tag_keys(Some(extra))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UntagResource", arn, e))?;
            }
            if live.get("tags") != d.get("tags") {
                let mut req = c.lambda.tag_resource().resource(arn);
                for (k, v) in super::tags(d) {
                    req = req.tags(k, v);
                }
                req.send()
                    .await
                    .map_err(|e| from_sdk("TagResource", arn, e))?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.lambda
                    .delete_function()
                    .function_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteFunction", name, e)),
            )?;
            Ok(())
        })
    }
}
