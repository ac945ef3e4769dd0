//! `observe.alarms`: a CloudWatch alarm each, on the metric of the stream or delivery it watches.

use super::{Builder, R, resource_address};
use crate::model::Metric;
use serde_json::json;

pub fn add(b: &mut Builder) {
    for (name, a) in b.s.observe.alarms.iter() {
        let (namespace, metric, dim) = a.metric.cloudwatch();
        let watched = if a.metric == Metric::DeliveryFreshnessSeconds {
            resource_address(R::FirehoseDeliveryStream, &a.stream)
        } else {
            resource_address(R::KinesisStream, &a.stream)
        };
        let attrs = json!({
            "name": b.names.scoped(name),
            "description": a.description.clone().unwrap_or_default(),
            "namespace": namespace,
            "metric": metric,
            "dimensions": { dim: b.name_of(&watched) },
            "statistic": "Maximum",
            "period_seconds": a.period_seconds.value,
            "evaluation_periods": a.evaluation_periods.value,
            "threshold": a.threshold,
            "comparison": a.comparison.cloudwatch(),
            "treat_missing_data": "notBreaching",
            "alarm_actions": a.notify.iter().map(|n| n.value.clone()).collect::<Vec<_>>(),
        });
        b.resource(R::CloudwatchAlarm, name, attrs, [watched]);
    }
}
