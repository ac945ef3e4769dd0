//! `sfn_state_machine`: the deployed pipeline, one Standard state machine per stack and
//! environment, its definition drawn from the step graph (`graph::state_machine`), its role
//! allowed to invoke the step runtime and tell the stack's topics, nothing else.
//!
//! Why Standard: executions up to a year, exactly once, with history; Express workflows end at
//! five minutes and may run a step twice.
//!
//! Example: `sfn_state_machine.pipeline` → `retail-prod-pipeline`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::Clients;
use crate::cloud::error::from_sdk;
use aws_sdk_sfn::types::{StateMachineType, Tag};
use serde_json::{Value, json};

pub struct SfnStateMachine;

fn definition(d: &Attrs) -> String {
    d.get("definition")
        .map(Value::to_string)
        .unwrap_or_default()
}

fn tags(d: &Attrs) -> Vec<Tag> {
    super::tags(d)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl Provider for SfnStateMachine {
    fn outputs(&self) -> &'static [&'static str] {
        &["arn"]
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let arn = s(d, "arn");
            let Some(m) = absent(
                c.sfn
                    .describe_state_machine()
                    .state_machine_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DescribeStateMachine", arn, e)),
            )?
            else {
                return Ok(None);
            };
            let mut live = Attrs::new();
            live.insert("name".into(), json!(m.name()));
            live.insert("arn".into(), json!(m.state_machine_arn()));
            live.insert("role_arn".into(), json!(m.role_arn()));
            live.insert("type".into(), json!(m.r#type().as_str()));
            // Compared as JSON: the service may keep the same definition with other spacing.
            live.insert(
                "definition".into(),
                serde_json::from_str(m.definition()).unwrap_or(Value::Null),
            );
            let t = c
                .sfn
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| from_sdk("ListTagsForResource", arn, e))?;
            live.insert(
                "tags".into(),
                super::tag_map(
                    t.tags()
                        .iter()
                        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
                ),
            );
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            c.sfn
                .create_state_machine()
                .name(name)
                .r#type(StateMachineType::Standard)
                .role_arn(s(d, "role_arn"))
                .definition(definition(d))
                .set_tags(Some(tags(d)))
                .send()
                .await
                .map_err(|e| from_sdk("CreateStateMachine", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let arn = s(live, "arn");
            if live.get("definition") != d.get("definition")
                || live.get("role_arn") != d.get("role_arn")
            {
                c.sfn
                    .update_state_machine()
                    .state_machine_arn(arn)
                    .definition(definition(d))
                    .role_arn(s(d, "role_arn"))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UpdateStateMachine", arn, e))?;
            }
            let extra = super::extra_tags(live, d);
            if !extra.is_empty() {
                c.sfn
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(extra))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UntagResource", arn, e))?;
            }
            if live.get("tags") != d.get("tags") {
                c.sfn
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags(d)))
                    .send()
                    .await
                    .map_err(|e| from_sdk("TagResource", arn, e))?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let arn = s(a, "arn");
            absent(
                c.sfn
                    .delete_state_machine()
                    .state_machine_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteStateMachine", arn, e)),
            )?;
            Ok(())
        })
    }
}
