//! `observe`: an SNS topic per `topics:` entry, and a CloudWatch alarm per `alarms:` entry — on
//! the metric of the stream or delivery it watches, or on what `dekit run`/`dekit test` publish
//! (namespace `dekit`, dimensions `Stack` and `Environment`).

use super::{Builder, R, resource_address};
use crate::model::Metric;
use serde_json::json;

pub fn add(b: &mut Builder) {
    for (name, t) in b.s.observe.topics.iter() {
        let topic = b.names.scoped(name);
        let arn = format!("arn:aws:sns:{}:{}:{topic}", b.arns.region, b.arns.account);
        // Only this stack's alarms may publish, and only over TLS.
        let alarms = format!(
            "arn:aws:cloudwatch:{}:{}:alarm:{}-*",
            b.arns.region,
            b.arns.account,
            b.names.prefix().replace('_', "-")
        );
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "StackAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": { "Service": "cloudwatch.amazonaws.com" },
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": {
                        "ArnLike": { "aws:SourceArn": alarms },
                        "StringEquals": { "aws:SourceAccount": b.arns.account }
                    }
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } }
                }
            ]
        });
        let mut attrs = json!({
            "name": topic,
            "arn": arn,
            "description": t.description.clone().unwrap_or_default(),
            "policy": policy,
        });
        if let Some(k) = b.kms_key() {
            attrs["kms_key"] = json!(k);
        }
        b.resource(R::SnsTopic, name, attrs, []);
    }
    for (name, a) in b.s.observe.alarms.iter() {
        let (namespace, metric, dim) = a.metric.cloudwatch();
        let mut deps = vec![];
        let dimensions = match &a.stream {
            Some(stream) if !a.metric.is_dekit() => {
                let watched = if a.metric == Metric::DeliveryFreshnessSeconds {
                    resource_address(R::FirehoseDeliveryStream, stream)
                } else {
                    resource_address(R::KinesisStream, stream)
                };
                // Named, not waited for: CloudWatch takes an alarm on a metric nothing sends yet,
                // so the alarm is created beside its stream rather than after it.
                json!({ dim: b.name_of(&watched) })
            }
            _ => json!({ "Stack": b.s.stack.value, "Environment": b.loaded.env_name }),
        };
        let mut actions = vec![];
        for n in &a.notify {
            if n.value.starts_with("arn:") {
                actions.push(n.value.clone());
            } else {
                let topic = resource_address(R::SnsTopic, n);
                if let Some(arn) = b
                    .node(&topic)
                    .and_then(|t| t.attrs.get("arn"))
                    .and_then(|v| v.as_str())
                {
                    actions.push(arn.to_string());
                }
                deps.push(topic);
            }
        }
        let attrs = json!({
            "name": b.names.scoped(name),
            "description": a.description.clone().unwrap_or_default(),
            "namespace": namespace,
            "metric": metric,
            "dimensions": dimensions,
            "statistic": "Maximum",
            "period_seconds": a.period_seconds.value,
            "evaluation_periods": a.evaluation_periods.value,
            "threshold": a.threshold,
            "comparison": a.comparison.cloudwatch(),
            "treat_missing_data": "notBreaching",
            "alarm_actions": actions,
        });
        b.resource(R::CloudwatchAlarm, name, attrs, deps);
    }
}
