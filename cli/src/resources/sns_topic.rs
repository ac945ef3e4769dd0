//! `sns_topic`: a topic the stack's alarms notify (`observe.topics`), encrypted with the stack's
//! KMS key when it has one, with a policy that lets only this stack's alarms publish, over TLS.
//!
//! Why: an alarm nobody hears is a dashboard; a topic anyone in the account can publish to is a
//! way to page the on-call with forged alarms. CloudWatch cannot publish to a topic under the AWS
//! managed key (`alias/aws/sns`), so without a key of the stack's own the topic is not encrypted
//! (`validate` warns, W192); alarm messages carry no lake data.
//!
//! Example: `sns_topic.oncall` → `retail-prod-oncall`, notified by `cloudwatch_alarm.run_failed`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use serde_json::{Value, json};

pub struct SnsTopic;

fn policy_text(d: &Attrs) -> String {
    d.get("policy").map(Value::to_string).unwrap_or_default()
}

async fn tag(c: &Clients, arn: &str, d: &Attrs) -> Result<(), CloudError> {
    let tags: Vec<aws_sdk_sns::types::Tag> = super::tags(d)
        .into_iter()
        .filter_map(|(k, v)| {
            aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    if tags.is_empty() {
        return Ok(());
    }
    c.sns
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| from_sdk("TagResource", arn, e))?;
    Ok(())
}

impl Provider for SnsTopic {
    fn outputs(&self) -> &'static [&'static str] {
        &["arn"]
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let arn = s(d, "arn");
            let Some(out) = absent(
                c.sns
                    .get_topic_attributes()
                    .topic_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetTopicAttributes", arn, e)),
            )?
            else {
                return Ok(None);
            };
            let a = out.attributes().cloned().unwrap_or_default();
            let get = |k: &str| a.get(k).cloned().unwrap_or_default();
            let mut live = Attrs::new();
            live.insert("name".into(), json!(s(d, "name")));
            live.insert("arn".into(), json!(arn));
            live.insert("description".into(), json!(get("DisplayName")));
            if d.contains_key("kms_key") {
                live.insert("kms_key".into(), json!(get("KmsMasterKeyId")));
            }
            // Compared as JSON: the service may store the same policy with other spacing.
            live.insert(
                "policy".into(),
                serde_json::from_str(&get("Policy")).unwrap_or(Value::Null),
            );
            let tags = c
                .sns
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| from_sdk("ListTagsForResource", arn, e))?;
            live.insert(
                "tags".into(),
                super::tag_map(tags.tags().iter().map(|t| (t.key(), t.value()))),
            );
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let mut req = c
                .sns
                .create_topic()
                .name(name)
                .attributes("DisplayName", s(d, "description"))
                .attributes("Policy", policy_text(d));
            if d.contains_key("kms_key") {
                req = req.attributes("KmsMasterKeyId", s(d, "kms_key"));
            }
            let out = req
                .send()
                .await
                .map_err(|e| from_sdk("CreateTopic", name, e))?;
            tag(c, out.topic_arn().unwrap_or(s(d, "arn")), d).await
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let arn = s(d, "arn");
            let mut changes = vec![];
            if live.get("description") != d.get("description") {
                changes.push(("DisplayName", s(d, "description").to_string()));
            }
            if live.get("policy") != d.get("policy") {
                changes.push(("Policy", policy_text(d)));
            }
            if d.contains_key("kms_key") && live.get("kms_key") != d.get("kms_key") {
                changes.push(("KmsMasterKeyId", s(d, "kms_key").to_string()));
            }
            for (k, v) in changes {
                c.sns
                    .set_topic_attributes()
                    .topic_arn(arn)
                    .attribute_name(k)
                    .attribute_value(v)
                    .send()
                    .await
                    .map_err(|e| from_sdk("SetTopicAttributes", arn, e))?;
            }
            let extra = super::extra_tags(live, d);
            if !extra.is_empty() {
                c.sns
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(extra))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UntagResource", arn, e))?;
            }
            if live.get("tags") != d.get("tags") {
                tag(c, arn, d).await?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let arn = s(a, "arn");
            absent(
                c.sns
                    .delete_topic()
                    .topic_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteTopic", arn, e)),
            )?;
            Ok(())
        })
    }
}
