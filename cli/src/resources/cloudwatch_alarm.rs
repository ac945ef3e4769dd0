//! `cloudwatch_alarm`: a metric alarm on a stream or delivery stream (iterator age, throttling,
//! delivery freshness), notifying SNS topics.
//!
//! Why: lag and stalled deliveries are silent failures; `PutMetricAlarm` creates and updates alike.
//!
//! Example: `cloudwatch_alarm.clickstream_iterator_age` ≥ 60000 ms over 300 s.

use super::{Attrs, Fut, Provider, int, s, tag_map, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};
use serde_json::{Value, json};

pub struct CloudwatchAlarm;

async fn put(c: &Clients, d: &Attrs) -> Result<(), CloudError> {
    let name = s(d, "name");
    let dims: Vec<Dimension> = d["dimensions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Dimension::builder()
                .name(k)
                .value(v.as_str().unwrap_or_default())
                .build()
        })
        .collect();
    c.cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .alarm_description(s(d, "description"))
        .namespace(s(d, "namespace"))
        .metric_name(s(d, "metric"))
        .set_dimensions(Some(dims))
        .statistic(Statistic::from(s(d, "statistic")))
        .period(int(d, "period_seconds") as i32)
        .evaluation_periods(int(d, "evaluation_periods") as i32)
        .threshold(d["threshold"].as_f64().unwrap_or_default())
        .comparison_operator(ComparisonOperator::from(s(d, "comparison")))
        .treat_missing_data(s(d, "treat_missing_data"))
        .set_alarm_actions(Some(
            d["alarm_actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
        ))
        .set_tags(Some(cw_tags(d)))
        .send()
        .await
        .map_err(|e| from_sdk("PutMetricAlarm", name, e))?;
    Ok(())
}

fn cw_tags(d: &Attrs) -> Vec<Tag> {
    tags(d)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The alarm of that name, if it exists.
async fn describe_one(c: &Clients, name: &str) -> Result<Option<MetricAlarm>, CloudError> {
    let out = c
        .cloudwatch
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeAlarms", name, e))?;
    Ok(out.metric_alarms().first().cloned())
}

/// The alarms of these names that exist, by name: DescribeAlarms takes up to 100 names a call.
async fn describe_named(
    c: &Clients,
    names: &[String],
) -> Result<std::collections::HashMap<String, MetricAlarm>, CloudError> {
    let mut alarms = std::collections::HashMap::new();
    for chunk in names.chunks(100) {
        let page = c
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .max_records(100)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeAlarms", "", e))?;
        for a in page.metric_alarms() {
            if let Some(n) = a.alarm_name() {
                alarms.insert(n.to_string(), a.clone());
            }
        }
    }
    Ok(alarms)
}

/// An alarm's tags (CloudWatch lists them per alarm only).
async fn tags_of(c: &Clients, a: &MetricAlarm, name: &str) -> Result<Vec<Tag>, CloudError> {
    Ok(match a.alarm_arn() {
        Some(arn) => c
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| from_sdk("ListTagsForResource", name, e))?
            .tags()
            .to_vec(),
        None => vec![],
    })
}

fn live_of(a: &MetricAlarm, name: &str, tag_list: &[Tag]) -> Attrs {
    let dims: serde_json::Map<String, Value> = a
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap_or_default().to_string(), json!(d.value())))
        .collect();
    let mut live = Attrs::new();
    live.insert("name".into(), json!(name));
    live.insert(
        "description".into(),
        json!(a.alarm_description().unwrap_or_default()),
    );
    live.insert("namespace".into(), json!(a.namespace()));
    live.insert("metric".into(), json!(a.metric_name()));
    live.insert("dimensions".into(), Value::Object(dims));
    live.insert("statistic".into(), json!(a.statistic().map(|s| s.as_str())));
    live.insert("period_seconds".into(), json!(a.period()));
    live.insert("evaluation_periods".into(), json!(a.evaluation_periods()));
    live.insert("threshold".into(), json!(a.threshold()));
    live.insert(
        "comparison".into(),
        json!(a.comparison_operator().map(|c| c.as_str())),
    );
    live.insert("treat_missing_data".into(), json!(a.treat_missing_data()));
    live.insert("alarm_actions".into(), json!(a.alarm_actions()));
    live.insert(
        "tags".into(),
        tag_map(
            tag_list
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
        ),
    );
    live
}

impl Provider for CloudwatchAlarm {
    fn existing<'a>(
        &'a self,
        c: &'a Clients,
        names: &'a [String],
    ) -> Fut<'a, Option<std::collections::BTreeSet<String>>> {
        Box::pin(async move {
            let out = describe_named(c, names).await?.into_keys().collect();
            Ok(Some(out))
        })
    }
    /// DescribeAlarms by 100 names, then each alarm's tags together.
    fn read_many<'a>(
        &'a self,
        c: &'a Clients,
        desired: &'a [Attrs],
    ) -> Fut<'a, Option<Vec<Option<Attrs>>>> {
        Box::pin(async move {
            let names: Vec<String> = desired.iter().map(|d| s(d, "name").to_string()).collect();
            let alarms = describe_named(c, &names).await?;
            // Sixteen at a time: a stack of thousands of alarms must not flood the API.
            let sem = tokio::sync::Semaphore::new(16);
            let (sem, alarms) = (&sem, &alarms);
            let reads = names.iter().map(|n| async move {
                let _permit = sem.acquire().await;
                match alarms.get(n) {
                    Some(a) => Ok(Some(live_of(a, n, &tags_of(c, a, n).await?))),
                    None => Ok(None),
                }
            });
            let lives: Vec<Result<_, CloudError>> = futures_util::future::join_all(reads).await;
            Ok(Some(lives.into_iter().collect::<Result<Vec<_>, _>>()?))
        })
    }
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(a) = describe_one(c, name).await? else {
                return Ok(None);
            };
            let tag_list = tags_of(c, &a, name).await?;
            Ok(Some(live_of(&a, name, &tag_list)))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(put(c, d))
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            put(c, d).await?;
            // PutMetricAlarm ignores tags when the alarm exists: tag and untag it directly.
            if live.get("tags") == d.get("tags") {
                return Ok(());
            }
            let name = s(d, "name");
            let alarm = describe_one(c, name).await?;
            let Some(arn) = alarm.as_ref().and_then(|a| a.alarm_arn()) else {
                return Ok(());
            };
            let extra = super::extra_tags(live, d);
            if !extra.is_empty() {
                c.cloudwatch
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(extra))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UntagResource", name, e))?;
            }
            c.cloudwatch
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(cw_tags(d)))
                .send()
                .await
                .map_err(|e| from_sdk("TagResource", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            c.cloudwatch
                .delete_alarms()
                .alarm_names(name)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteAlarms", name, e))?;
            Ok(())
        })
    }
}
