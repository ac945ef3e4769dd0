//! `kinesis_stream`: a Kinesis data stream, provisioned (shard count) or on-demand, with retention,
//! KMS encryption and tags. Shard count, mode and retention change in place.
//!
//! Why: Kinesis accepts one change at a time and is CREATING, UPDATING or DELETING meanwhile, so
//! every operation waits for a stable state before and after it: a stream adopted while CREATING is
//! not encrypted until ACTIVE, an update is not reported done while UPDATING, a create whose name
//! a DELETING stream still holds waits until it is gone, and a stream not yet visible just after
//! CreateStream (AWS is eventually consistent) is waited for, not reported missing. A delete
//! returns once Kinesis accepted it. Creates, polls and other calls keep to the account's limits
//! (`cloud::kinesis_pace`): five streams CREATING at once, a learned pause before a change's
//! first poll, a creating stream's calls first.
//!
//! Example: `kinesis_stream.clickstream` → `retail-local-clickstream`, 2 shards, 24 h.

use super::{Attrs, Fut, Provider, absent, int, poll_for, poll_until, s, tag_map, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::kinesis_pace::Lane;
use crate::cloud::{Clients, CloudError};
use aws_sdk_kinesis::types::{
    EncryptionType, ScalingType, StreamDescriptionSummary, StreamMode, StreamModeDetails,
    StreamStatus,
};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;

pub struct KinesisStream;

/// The stream's summary, `None` when there is no stream of that name.
async fn describe(
    c: &Clients,
    name: &str,
    lane: Lane,
) -> Result<Option<StreamDescriptionSummary>, CloudError> {
    let _turn = c.kinesis_pace.turn(lane).await;
    let d = c
        .kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await;
    Ok(
        absent(d.map_err(|e| from_sdk("DescribeStreamSummary", name, e)))?
            .and_then(|d| d.stream_description_summary().cloned()),
    )
}

/// The stream's status, `None` when there is no stream of that name.
async fn status(c: &Clients, name: &str) -> Result<Option<StreamStatus>, CloudError> {
    Ok(describe(c, name, Lane::Other)
        .await?
        .map(|s| s.stream_status().clone()))
}

/// Wait until ACTIVE; the ACTIVE stream's summary. Not found counts as "not yet" (just after a
/// create it may not be visible).
async fn wait_active(
    c: &Clients,
    name: &str,
    lane: Lane,
) -> Result<StreamDescriptionSummary, CloudError> {
    let seen = Seen::default();
    poll_for("WaitActive", name, 120, || if_active(c, name, lane, &seen))
        .await
        .map_err(|e| seen.told(e))
}

/// What the last poll of a wait found, for the error when the wait times out.
#[derive(Default)]
struct Seen(std::sync::Mutex<Option<String>>);

impl Seen {
    fn set(&self, what: String) {
        *self.0.lock().expect("seen") = Some(what);
    }

    fn told(&self, mut e: CloudError) -> CloudError {
        if let Some(what) = self.0.lock().expect("seen").as_deref() {
            e.message = format!("{} (the last poll found {what})", e.message);
        }
        e
    }
}

/// The stream's summary if it is ACTIVE (not found: `None`, as just after a create).
async fn if_active(
    c: &Clients,
    name: &str,
    lane: Lane,
    seen: &Seen,
) -> Result<Option<StreamDescriptionSummary>, CloudError> {
    let summary = describe(c, name, lane).await?;
    seen.set(match &summary {
        None => "no stream of that name".to_string(),
        Some(s) => format!("it {}", s.stream_status().as_str()),
    });
    Ok(summary.filter(|s| s.stream_status() == &StreamStatus::Active))
}

/// `call` once it is its turn among other Kinesis calls (see `KinesisPace`).
async fn in_turn<F: std::future::Future>(c: &Clients, call: F) -> F::Output {
    let _turn = c.kinesis_pace.turn(Lane::Other).await;
    call.await
}

/// One of the account's five CREATING slots; a wait for it shows in `--timings`.
async fn create_permit(c: &Clients) -> OwnedSemaphorePermit {
    let began = Instant::now();
    let permit = c.kinesis_pace.create_permit().await;
    if began.elapsed() >= Duration::from_millis(1) {
        crate::timings::span("wait", "KinesisCreateSlot", began, json!({}));
    }
    permit
}

/// Wait until ACTIVE after a change whose call just returned: the first poll waits the learned
/// pause (see `KinesisPace`), and this wait teaches it.
async fn wait_changed(
    c: &Clients,
    name: &str,
    lane: Lane,
) -> Result<StreamDescriptionSummary, CloudError> {
    let returned = Instant::now();
    let pause = c.kinesis_pace.first_pause();
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
    // (polls made, when the last one started)
    let polls = std::sync::Mutex::new((0u32, returned));
    let seen = Seen::default();
    let active = poll_for("WaitActive", name, 120, || {
        {
            let mut p = polls.lock().expect("polls");
            *p = (p.0 + 1, Instant::now());
        }
        if_active(c, name, lane, &seen)
    })
    .await
    .map_err(|e| seen.told(e))?;
    let (n, last) = *polls.lock().expect("polls");
    c.kinesis_pace.learn(n == 1, last.duration_since(returned));
    Ok(active)
}

/// Wait until no stream of that name exists (a delete in progress finishes).
async fn wait_gone(c: &Clients, name: &str) -> Result<(), CloudError> {
    poll_until("DeleteStream", name, 120, || async move {
        Ok(status(c, name).await?.is_none())
    })
    .await
}

fn mode(d: &Attrs) -> StreamMode {
    if s(d, "mode") == "ON_DEMAND" {
        StreamMode::OnDemand
    } else {
        StreamMode::Provisioned
    }
}

/// Update a stream the plan read: one that is gone now was deleted after the plan (by someone
/// else, or a request of a killed run carried out late), which no wait brings back.
async fn converge(c: &Clients, d: &Attrs, live: &Attrs) -> Result<(), CloudError> {
    let name = s(d, "name");
    let found = describe(c, name, Lane::Other)
        .await?
        .filter(|s| s.stream_status() != &StreamStatus::Deleting);
    let Some(found) = found else {
        return Err(CloudError::new(
            "DescribeStreamSummary",
            name,
            "ResourceNotFoundException",
            "the stream was deleted after the plan read it (outside this apply); plan again to create it",
        ));
    };
    let active = active_from(c, name, found).await?;
    converge_active(c, d, live, active).await?;
    Ok(())
}

/// `sum` when the stream it describes is ACTIVE, else the summary once it is (no second
/// describe for a stream already ACTIVE).
async fn active_from(
    c: &Clients,
    name: &str,
    sum: StreamDescriptionSummary,
) -> Result<StreamDescriptionSummary, CloudError> {
    if sum.stream_status() == &StreamStatus::Active {
        Ok(sum)
    } else {
        wait_active(c, name, Lane::Other).await
    }
}

/// `converge` for a stream known to be ACTIVE (`active`: its summary then). Returns the summary
/// of the ACTIVE stream after the last change that needed a wait (tags need none).
// Long: one change per stream attribute, each waited out before the next (Kinesis takes one at a time).
async fn converge_active(
    c: &Clients,
    d: &Attrs,
    live: &Attrs,
    mut active: StreamDescriptionSummary,
) -> Result<StreamDescriptionSummary, CloudError> {
    let name = s(d, "name");
    if live.get("mode") != d.get("mode") {
        let arn = s(live, "arn");
        in_turn(
            c,
            c.kinesis
                .update_stream_mode()
                .stream_arn(arn)
                .stream_mode_details(
                    StreamModeDetails::builder()
                        .stream_mode(mode(d))
                        .build()
                        .map_err(|e| {
                            CloudError::new("Build", name, "InvalidInput", e.to_string())
                        })?,
                )
                .send(),
        )
        .await
        .map_err(|e| from_sdk("UpdateStreamMode", name, e))?;
        active = wait_changed(c, name, Lane::Other).await?;
    }
    if d.contains_key("shard_count") && live.get("shard_count") != d.get("shard_count") {
        in_turn(
            c,
            c.kinesis
                .update_shard_count()
                .stream_name(name)
                .target_shard_count(int(d, "shard_count") as i32)
                .scaling_type(ScalingType::UniformScaling)
                .send(),
        )
        .await
        .map_err(|e| from_sdk("UpdateShardCount", name, e))?;
        active = wait_changed(c, name, Lane::Other).await?;
    }
    let (want, have) = (int(d, "retention_hours"), int(live, "retention_hours"));
    if want > have {
        in_turn(
            c,
            c.kinesis
                .increase_stream_retention_period()
                .stream_name(name)
                .retention_period_hours(want as i32)
                .send(),
        )
        .await
        .map_err(|e| from_sdk("IncreaseStreamRetentionPeriod", name, e))?;
        active = wait_changed(c, name, Lane::Other).await?;
    } else if want < have {
        in_turn(
            c,
            c.kinesis
                .decrease_stream_retention_period()
                .stream_name(name)
                .retention_period_hours(want as i32)
                .send(),
        )
        .await
        .map_err(|e| from_sdk("DecreaseStreamRetentionPeriod", name, e))?;
        active = wait_changed(c, name, Lane::Other).await?;
    }
    if live.get("encryption") != d.get("encryption") {
        in_turn(
            c,
            c.kinesis
                .start_stream_encryption()
                .stream_name(name)
                .encryption_type(EncryptionType::Kms)
                .key_id(
                    d["encryption"]["key"]
                        .as_str()
                        .unwrap_or("alias/aws/kinesis"),
                )
                .send(),
        )
        .await
        .map_err(|e| from_sdk("StartStreamEncryption", name, e))?;
        active = wait_changed(c, name, Lane::Other).await?;
    }
    let extra = super::extra_tags(live, d);
    if !extra.is_empty() {
        in_turn(
            c,
            c.kinesis
                .remove_tags_from_stream()
                .stream_name(name)
                .set_tag_keys(Some(extra))
                .send(),
        )
        .await
        .map_err(|e| from_sdk("RemoveTagsFromStream", name, e))?;
    }
    if live.get("tags") != d.get("tags") {
        let mut req = c.kinesis.add_tags_to_stream().stream_name(name);
        for (k, v) in tags(d) {
            req = req.tags(k, v);
        }
        in_turn(c, req.send())
            .await
            .map_err(|e| from_sdk("AddTagsToStream", name, e))?;
    }
    Ok(active)
}

/// Live attributes from a summary and the stream's tags, as `read` returns them.
fn live_of(
    name: &str,
    sum: &StreamDescriptionSummary,
    tags: &[aws_sdk_kinesis::types::Tag],
) -> Attrs {
    let mode = sum
        .stream_mode_details()
        .map(|m| m.stream_mode().as_str())
        .unwrap_or("PROVISIONED");
    let mut live = Attrs::new();
    live.insert("name".into(), json!(name));
    live.insert("arn".into(), json!(sum.stream_arn()));
    live.insert("mode".into(), json!(mode));
    live.insert(
        "retention_hours".into(),
        json!(sum.retention_period_hours()),
    );
    if mode == "PROVISIONED" {
        live.insert("shard_count".into(), json!(sum.open_shard_count()));
    }
    let encrypted = sum.encryption_type() == Some(&EncryptionType::Kms);
    live.insert(
        "encryption".into(),
        if encrypted {
            json!({ "type": "KMS", "key": sum.key_id().unwrap_or_default() })
        } else {
            json!({ "type": "NONE" })
        },
    );
    live.insert(
        "tags".into(),
        tag_map(
            tags.iter()
                .map(|t| (t.key(), t.value().unwrap_or_default())),
        ),
    );
    live
}

async fn list_tags(
    c: &Clients,
    name: &str,
) -> Result<Vec<aws_sdk_kinesis::types::Tag>, CloudError> {
    Ok(
        in_turn(c, c.kinesis.list_tags_for_stream().stream_name(name).send())
            .await
            .map_err(|e| from_sdk("ListTagsForStream", name, e))?
            .tags()
            .to_vec(),
    )
}

impl Provider for KinesisStream {
    fn existing<'a>(
        &'a self,
        c: &'a Clients,
        _names: &'a [String],
    ) -> Fut<'a, Option<std::collections::BTreeSet<String>>> {
        Box::pin(async move {
            let mut out = std::collections::BTreeSet::new();
            let mut pages = c.kinesis.list_streams().into_paginator().send();
            while let Some(page) = in_turn(c, pages.next()).await {
                let page = page.map_err(|e| from_sdk("ListStreams", "", e))?;
                out.extend(page.stream_names().iter().cloned());
            }
            Ok(Some(out))
        })
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["arn"]
    }
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let (summary, tags) = tokio::join!(describe(c, name, Lane::Other), list_tags(c, name));
            let Some(sum) = summary? else {
                return Ok(None);
            };
            if sum.stream_status() == &StreamStatus::Deleting {
                return Ok(None);
            }
            Ok(Some(live_of(name, &sum, &tags?)))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            self.create_observed(c, d).await?;
            Ok(())
        })
    }

    /// The last wait for ACTIVE already described the stream: only its tags are read.
    fn create_observed<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let mut req = c.kinesis.create_stream().stream_name(name);
            req = match mode(d) {
                StreamMode::OnDemand => req.stream_mode_details(
                    StreamModeDetails::builder()
                        .stream_mode(StreamMode::OnDemand)
                        .build()
                        .map_err(|e| {
                            CloudError::new("Build", name, "InvalidInput", e.to_string())
                        })?,
                ),
                _ => req.shard_count(int(d, "shard_count").max(1) as i32),
            };
            for (k, v) in tags(d) {
                req = req.tags(k, v);
            }
            // A stream of that name still DELETING (a destroy just before) holds the name: only
            // then is the create refused as in use, and it is waited out and tried again (no
            // describe before every create). It may also be gone by the time it is described:
            // then the name is free, and the create is tried again at once. The permit is held
            // until the stream is ACTIVE.
            let mut permit = create_permit(c).await;
            let sent = req
                .clone()
                .send()
                .await
                .map_err(|e| from_sdk("CreateStream", name, e));
            let existing = match sent {
                Ok(_) => None,
                Err(e) if e.code == "ResourceInUseException" => {
                    let found = describe(c, name, Lane::Other)
                        .await?
                        .filter(|s| s.stream_status() != &StreamStatus::Deleting);
                    match found {
                        None => {
                            drop(permit);
                            wait_gone(c, name).await?;
                            permit = create_permit(c).await;
                            req.send()
                                .await
                                .map_err(|e| from_sdk("CreateStream", name, e))?;
                            None
                        }
                        // Created already by a create of this stack carried out earlier (a
                        // killed apply's request, or an attempt the SDK retried after it landed):
                        // converged from what it is. Another stack's stream is not taken over.
                        Some(sum) => {
                            let live = live_of(name, &sum, &list_tags(c, name).await?);
                            let stack_of = |a: &Attrs| a.get("tags")?.get("dekit:stack").cloned();
                            if stack_of(&live).is_some_and(|s| Some(s) != stack_of(d)) {
                                return Err(e);
                            }
                            Some((live, sum))
                        }
                    }
                }
                Err(e) => return Err(e),
            };
            let (live, active) = match existing {
                Some((live, sum)) => {
                    drop(permit);
                    (live, active_from(c, name, sum).await?)
                }
                None => {
                    let active = wait_changed(c, name, Lane::Creating).await?;
                    drop(permit);
                    // What a new stream is, without reading it back: the mode and shards it
                    // was created with, 24 h retention, no encryption. Tags are set again
                    // (LocalStack ignores CreateStream's tags; AWS keeps them, and adding equal
                    // tags changes nothing).
                    let mut live = d.clone();
                    live.insert("retention_hours".into(), json!(24));
                    live.insert("encryption".into(), json!({ "type": "NONE" }));
                    live.remove("tags");
                    (live, active)
                }
            };
            let last = converge_active(c, d, &live, active).await?;
            Ok(Some(live_of(name, &last, &list_tags(c, name).await?)))
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(converge(c, d, live))
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            let delete = || async {
                let sent = c
                    .kinesis
                    .delete_stream()
                    .stream_name(name)
                    .enforce_consumer_deletion(true)
                    .send();
                absent(
                    in_turn(c, sent)
                        .await
                        .map_err(|e| from_sdk("DeleteStream", name, e)),
                )
            };
            // Delete at once; only a stream busy CREATING or UPDATING refuses (in use), and is
            // waited for; one another destroy (perhaps killed) is deleting already is waited out.
            match delete().await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => {}
                Err(e) if e.code == "ResourceInUseException" => match status(c, name).await? {
                    None => return Ok(()),
                    Some(StreamStatus::Deleting) => {}
                    Some(_) => {
                        wait_active(c, name, Lane::Other).await?;
                        delete().await?;
                    }
                },
                Err(e) => return Err(e),
            }
            // Deletion is asynchronous and the name stays taken until it is gone; a destroy does
            // not wait for that (a create of the same name does: see `create`), as the script
            // a user would write does not.
            Ok(())
        })
    }
}
