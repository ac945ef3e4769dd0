//! `firehose_delivery_stream`: delivery from a Kinesis stream (or DirectPut) to a lake prefix, with
//! an error prefix, buffering, compression and its own role.
//!
//! Why: Firehose turns a stream into files in the raw zone without code; its prefix and buffering
//! decide partition layout and latency, so both are read back after writes. Creation waits for
//! ACTIVE and fails loudly on CREATING_FAILED (which the API otherwise reports as success).
//!
//! Example: `firehose_delivery_stream.clickstream` → `raw/clickstream/`, 5 MiB / 60 s, GZIP.

use super::{Attrs, Fut, Provider, absent, poll_for, poll_until, s, tag_map, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamDescription, DeliveryStreamStatus,
    DeliveryStreamType, ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate,
    KinesisStreamSourceConfiguration, ProcessingConfiguration, Processor, ProcessorType, Tag,
};
use serde_json::json;

pub struct FirehoseDeliveryStream;

fn bad(name: &str) -> impl Fn(aws_sdk_firehose::error::BuildError) -> CloudError + '_ {
    move |e| CloudError::new("Build", name, "InvalidInput", e.to_string())
}

/// Firehose concatenates records as they come; a newline after each keeps the objects JSON lines,
/// which Athena's JSON SerDe and every engine read as one record per line.
fn newline_after_each_record(name: &str) -> Result<ProcessingConfiguration, CloudError> {
    Ok(ProcessingConfiguration::builder()
        .enabled(true)
        .processors(
            Processor::builder()
                .r#type(ProcessorType::AppendDelimiterToRecord)
                .build()
                .map_err(bad(name))?,
        )
        .build())
}

fn hints(d: &Attrs) -> BufferingHints {
    let dest = &d["destination"];
    BufferingHints::builder()
        .size_in_mbs(dest["buffer_size_mb"].as_i64().unwrap_or(5) as i32)
        .interval_in_seconds(dest["buffer_interval_seconds"].as_i64().unwrap_or(60) as i32)
        .build()
}

/// Wait until ACTIVE; the ACTIVE delivery stream's description.
async fn wait(c: &Clients, name: &str) -> Result<DeliveryStreamDescription, CloudError> {
    poll_for("CreateDeliveryStream", name, 60, || async move {
        let out = c
            .firehose
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeDeliveryStream", name, e))?;
        let Some(desc) = out.delivery_stream_description() else {
            return Ok(None);
        };
        match desc.delivery_stream_status() {
            DeliveryStreamStatus::Active => Ok(Some(desc.clone())),
            DeliveryStreamStatus::CreatingFailed => Err(CloudError::new(
                "CreateDeliveryStream",
                name,
                "CreatingFailed",
                "the delivery stream ended in CREATING_FAILED",
            )),
            _ => Ok(None),
        }
    })
    .await
}

async fn status(c: &Clients, name: &str) -> Result<Option<DeliveryStreamStatus>, CloudError> {
    let d = c
        .firehose
        .describe_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await;
    Ok(
        absent(d.map_err(|e| from_sdk("DescribeDeliveryStream", name, e)))?.and_then(|d| {
            d.delivery_stream_description()
                .map(|d| d.delivery_stream_status().clone())
        }),
    )
}

/// Live attributes from a description and the delivery stream's tags, as `read` returns them.
fn live_of(name: &str, desc: &DeliveryStreamDescription, tags: &[Tag]) -> Attrs {
    let dest = desc
        .destinations()
        .first()
        .and_then(|d| d.extended_s3_destination_description());
    let source = match desc
        .source()
        .and_then(|s| s.kinesis_stream_source_description())
    {
        Some(k) => {
            json!({ "type": "KinesisStreamAsSource", "stream_arn": k.kinesis_stream_arn().unwrap_or_default() })
        }
        None => json!({ "type": "DirectPut" }),
    };
    let mut live = Attrs::new();
    live.insert("name".into(), json!(name));
    live.insert("source".into(), source);
    live.insert(
        "role_arn".into(),
        json!(dest.map(|d| d.role_arn()).unwrap_or_default()),
    );
    // Records land as delivered (JSON) unless record-format conversion is on.
    let converting = dest
        .and_then(|d| d.data_format_conversion_configuration())
        .and_then(|c| c.enabled())
        .unwrap_or(false);
    let fmt = if converting { "parquet" } else { "json" };
    live.insert(
        "destination".into(),
        json!({
            "bucket_arn": dest.map(|d| d.bucket_arn()).unwrap_or_default(),
            "prefix": dest.and_then(|d| d.prefix()).unwrap_or_default(),
            "error_prefix": dest.and_then(|d| d.error_output_prefix()).unwrap_or_default(),
            "buffer_size_mb": dest.and_then(|d| d.buffering_hints()).and_then(|b| b.size_in_mbs()),
            "buffer_interval_seconds": dest.and_then(|d| d.buffering_hints()).and_then(|b| b.interval_in_seconds()),
            "compression": dest.map(|d| d.compression_format().as_str()).unwrap_or_default(),
            "format": fmt,
        }),
    );
    live.insert("version_id".into(), json!(desc.version_id()));
    live.insert(
        "destination_id".into(),
        json!(desc.destinations().first().map(|d| d.destination_id())),
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

impl Provider for FirehoseDeliveryStream {
    fn existing<'a>(
        &'a self,
        c: &'a Clients,
        _names: &'a [String],
    ) -> Fut<'a, Option<std::collections::BTreeSet<String>>> {
        Box::pin(async move {
            let mut out = std::collections::BTreeSet::new();
            let mut start: Option<String> = None;
            loop {
                let page = c
                    .firehose
                    .list_delivery_streams()
                    .limit(1000)
                    .set_exclusive_start_delivery_stream_name(start.clone())
                    .send()
                    .await
                    .map_err(|e| from_sdk("ListDeliveryStreams", "", e))?;
                out.extend(page.delivery_stream_names().iter().cloned());
                start = page.delivery_stream_names().last().cloned();
                if !page.has_more_delivery_streams() || start.is_none() {
                    return Ok(Some(out));
                }
            }
        })
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["name", "source"]
    }
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let (described, tags) = tokio::join!(
                c.firehose
                    .describe_delivery_stream()
                    .delivery_stream_name(name)
                    .send(),
                c.firehose
                    .list_tags_for_delivery_stream()
                    .delivery_stream_name(name)
                    .send(),
            );
            let Some(out) =
                absent(described.map_err(|e| from_sdk("DescribeDeliveryStream", name, e)))?
            else {
                return Ok(None);
            };
            let Some(desc) = out.delivery_stream_description() else {
                return Ok(None);
            };
            if matches!(
                desc.delivery_stream_status(),
                DeliveryStreamStatus::Deleting
            ) {
                return Ok(None);
            }
            let tag_out = tags.map_err(|e| from_sdk("ListTagsForDeliveryStream", name, e))?;
            Ok(Some(live_of(name, desc, tag_out.tags())))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            self.create_observed(c, d).await?;
            Ok(())
        })
    }

    /// The wait for ACTIVE already described the delivery stream: only its tags are read.
    fn create_observed<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let dest = &d["destination"];
            let s3 = ExtendedS3DestinationConfiguration::builder()
                .role_arn(s(d, "role_arn"))
                .bucket_arn(dest["bucket_arn"].as_str().unwrap_or_default())
                .prefix(dest["prefix"].as_str().unwrap_or_default())
                .error_output_prefix(dest["error_prefix"].as_str().unwrap_or_default())
                .buffering_hints(hints(d))
                .compression_format(CompressionFormat::from(
                    dest["compression"].as_str().unwrap_or("UNCOMPRESSED"),
                ))
                .processing_configuration(newline_after_each_record(name)?)
                .build()
                .map_err(bad(name))?;
            let t: Vec<Tag> = tags(d)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(bad(name)))
                .collect::<Result<_, _>>()?;
            let mut req = c
                .firehose
                .create_delivery_stream()
                .delivery_stream_name(name)
                .extended_s3_destination_configuration(s3)
                .set_tags(Some(t));
            req = if d["source"]["type"] == "KinesisStreamAsSource" {
                req.delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
                    .kinesis_stream_source_configuration(
                        KinesisStreamSourceConfiguration::builder()
                            .kinesis_stream_arn(
                                d["source"]["stream_arn"].as_str().unwrap_or_default(),
                            )
                            .role_arn(s(d, "role_arn"))
                            .build()
                            .map_err(bad(name))?,
                    )
            } else {
                req.delivery_stream_type(DeliveryStreamType::DirectPut)
            };
            // A delivery stream of that name still DELETING (a destroy just before) holds the
            // name: only then is the create refused as in use, and it is waited out and tried
            // again (no describe before every create).
            match req
                .clone()
                .send()
                .await
                .map_err(|e| from_sdk("CreateDeliveryStream", name, e))
            {
                Err(e)
                    if e.code == "ResourceInUseException"
                        && status(c, name).await? == Some(DeliveryStreamStatus::Deleting) =>
                {
                    poll_until("CreateDeliveryStream", name, 120, || async move {
                        status(c, name).await.map(|s| s.is_none())
                    })
                    .await?;
                    req.send()
                        .await
                        .map_err(|e| from_sdk("CreateDeliveryStream", name, e))?;
                }
                other => {
                    other?;
                }
            }
            let desc = wait(c, name).await?;
            let tags = c
                .firehose
                .list_tags_for_delivery_stream()
                .delivery_stream_name(name)
                .send()
                .await
                .map_err(|e| from_sdk("ListTagsForDeliveryStream", name, e))?;
            Ok(Some(live_of(name, &desc, tags.tags())))
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            // An adopted delivery stream may still be CREATING; updates need ACTIVE.
            wait(c, name).await?;
            let dest = &d["destination"];
            let upd = ExtendedS3DestinationUpdate::builder()
                .role_arn(s(d, "role_arn"))
                .prefix(dest["prefix"].as_str().unwrap_or_default())
                .error_output_prefix(dest["error_prefix"].as_str().unwrap_or_default())
                .buffering_hints(hints(d))
                .compression_format(CompressionFormat::from(
                    dest["compression"].as_str().unwrap_or("UNCOMPRESSED"),
                ))
                .processing_configuration(newline_after_each_record(name)?)
                .build();
            c.firehose
                .update_destination()
                .delivery_stream_name(name)
                .current_delivery_stream_version_id(s(live, "version_id"))
                .destination_id(s(live, "destination_id"))
                .extended_s3_destination_update(upd)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateDestination", name, e))?;
            let extra = super::extra_tags(live, d);
            if !extra.is_empty() {
                c.firehose
                    .untag_delivery_stream()
                    .delivery_stream_name(name)
                    .set_tag_keys(Some(extra))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UntagDeliveryStream", name, e))?;
            }
            if live.get("tags") != d.get("tags") {
                let t: Vec<Tag> = tags(d)
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(bad(name)))
                    .collect::<Result<_, _>>()?;
                c.firehose
                    .tag_delivery_stream()
                    .delivery_stream_name(name)
                    .set_tags(Some(t))
                    .send()
                    .await
                    .map_err(|e| from_sdk("TagDeliveryStream", name, e))?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            // One still CREATING refuses the delete: let it settle first (a killed apply left it).
            if status(c, name).await? == Some(DeliveryStreamStatus::Creating) {
                poll_until("DeleteDeliveryStream", name, 120, || async move {
                    Ok(status(c, name).await? != Some(DeliveryStreamStatus::Creating))
                })
                .await?;
            }
            absent(
                c.firehose
                    .delete_delivery_stream()
                    .delivery_stream_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteDeliveryStream", name, e)),
            )?;
            // Deletion is asynchronous; wait until the name is free again.
            poll_until("DeleteDeliveryStream", name, 120, || async move {
                let d = c
                    .firehose
                    .describe_delivery_stream()
                    .delivery_stream_name(name)
                    .send()
                    .await;
                Ok(absent(d.map_err(|e| from_sdk("DescribeDeliveryStream", name, e)))?.is_none())
            })
            .await
        })
    }
}
