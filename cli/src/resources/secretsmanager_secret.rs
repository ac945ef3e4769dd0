//! `secretsmanager_secret`: a database source's connection (engine, host, port, database, user,
//! password) as a Secrets Manager secret, which the source's Glue load job reads at run time.
//!
//! Why: credentials must reach the job without being part of its definition, the state or a plan.
//! The graph holds only `value_from`, the source's settings as written (`${env.DB_PASSWORD}`);
//! apply resolves them from its environment when it writes the secret. A plan compares the
//! secret's current value with what the environment resolves to now, and says only whether it
//! changed. State records the secret's ARN, never its value.
//!
//! Example: `secretsmanager_secret.shop_db` → `retail-prod/shop_db`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use serde_json::{Value, json};

pub struct SecretsmanagerSecret;

/// What a live value that no longer matches the environment reads as in a plan.
const CHANGED: &str = "(a different value: the environment's differs)";

/// The secret's value: `value_from` with every `${env.NAME}` resolved now.
fn resolve(d: &Attrs) -> Result<String, String> {
    let from = d
        .get("value_from")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (k, v) in from {
        let v = match v {
            Value::String(t) => Value::String(
                crate::interpolate::resolve_env(&t).map_err(|e| format!("`{k}`: {e}"))?,
            ),
            other => other,
        };
        out.insert(k, v);
    }
    Ok(Value::Object(out).to_string())
}

fn same_value(live: &str, want: &str) -> bool {
    match (
        serde_json::from_str::<Value>(live),
        serde_json::from_str::<Value>(want),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => live == want,
    }
}

impl Provider for SecretsmanagerSecret {
    fn outputs(&self) -> &'static [&'static str] {
        &["arn"]
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(out) = absent(
                c.secretsmanager
                    .describe_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DescribeSecret", name, e)),
            )?
            else {
                return Ok(None);
            };
            if out.deleted_date().is_some() {
                return Ok(None);
            }
            let mut live = Attrs::new();
            live.insert("name".into(), json!(out.name()));
            live.insert(
                "description".into(),
                json!(out.description().unwrap_or_default()),
            );
            if d.contains_key("kms_key") {
                live.insert(
                    "kms_key".into(),
                    json!(out.kms_key_id().unwrap_or_default()),
                );
            }
            live.insert("arn".into(), json!(out.arn()));
            live.insert(
                "tags".into(),
                super::tag_map(
                    out.tags()
                        .iter()
                        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
                ),
            );
            // The value is compared, never shown: where the environment resolves the source's
            // settings, a different live value reads as CHANGED; where it cannot (a plan without
            // the variables set), nothing is claimed.
            let mut value_from = d.get("value_from").cloned().unwrap_or_default();
            if let Ok(want) = resolve(d) {
                let current = c
                    .secretsmanager
                    .get_secret_value()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetSecretValue", name, e))?;
                if !same_value(current.secret_string().unwrap_or_default(), &want) {
                    value_from = json!(CHANGED);
                }
            }
            live.insert("value_from".into(), value_from);
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let value = resolve(d).map_err(|e| {
                CloudError::new(
                    "CreateSecret",
                    name,
                    "MissingEnvironment",
                    format!("apply writes the secret from the environment: {e}"),
                )
            })?;
            let mut req = c
                .secretsmanager
                .create_secret()
                .name(name)
                .description(s(d, "description"))
                .secret_string(value);
            if d.contains_key("kms_key") {
                req = req.kms_key_id(s(d, "kms_key"));
            }
            for (k, v) in super::tags(d) {
                req = req.tags(
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build(),
                );
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateSecret", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            if live.get("value_from") != d.get("value_from") {
                let value = resolve(d).map_err(|e| {
                    CloudError::new("PutSecretValue", name, "MissingEnvironment", e)
                })?;
                c.secretsmanager
                    .put_secret_value()
                    .secret_id(name)
                    .secret_string(value)
                    .send()
                    .await
                    .map_err(|e| from_sdk("PutSecretValue", name, e))?;
            }
            let mut req = c
                .secretsmanager
                .update_secret()
                .secret_id(name)
                .description(s(d, "description"));
            if d.contains_key("kms_key") {
                req = req.kms_key_id(s(d, "kms_key"));
            }
            req.send()
                .await
                .map_err(|e| from_sdk("UpdateSecret", name, e))?;
            if live.get("tags") != d.get("tags") {
                let mut t = c.secretsmanager.tag_resource().secret_id(name);
                for (k, v) in super::tags(d) {
                    t = t.tags(
                        aws_sdk_secretsmanager::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build(),
                    );
                }
                t.send()
                    .await
                    .map_err(|e| from_sdk("TagResource", name, e))?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            // No recovery window: a destroyed stack's name is free for the next apply at once.
            absent(
                c.secretsmanager
                    .delete_secret()
                    .secret_id(name)
                    .force_delete_without_recovery(true)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteSecret", name, e)),
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_resolved_from_the_environment_and_compared_as_json() {
        let d: Attrs = serde_json::from_value(json!({
            "value_from": { "host": "db.example.com", "port": 5432, "password": "${env.DEKIT_TEST_UNSET_PW}" }
        }))
        .unwrap();
        let err = resolve(&d).unwrap_err();
        assert!(err.contains("DEKIT_TEST_UNSET_PW"), "{err}");
        let d: Attrs = serde_json::from_value(json!({
            "value_from": { "host": "db.example.com", "port": 5432 }
        }))
        .unwrap();
        let v = resolve(&d).unwrap();
        assert!(same_value(
            r#"{"port": 5432, "host": "db.example.com"}"#,
            &v
        ));
        assert!(!same_value(
            r#"{"port": 5433, "host": "db.example.com"}"#,
            &v
        ));
    }
}
