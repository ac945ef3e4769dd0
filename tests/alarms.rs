//! Alarms and incident response on the local cloud: `apply` creates the stack's SNS topic and an
//! alarm on `FailedSteps` that notifies it; a run that succeeds leaves the alarm OK and sends
//! nothing; a run that fails (the source's password is wrong) puts the alarm in ALARM, the alarm's
//! message reaches the topic's subscriber (an SQS queue), and `observe` shows the open incident
//! with the broken source as its cause.
//!
//! MiniStack evaluates an alarm when a data point arrives, over every stack's points of the
//! metric (it ignores dimensions): this test's alarms look back 10 seconds only, so another
//! test's failed run or failed checks do not count.

mod common;
mod harness;

use harness::stack::Stack;
use harness::{Scope, cloud, receive, sqs};
use serde_json::Value;

fn alarm_state(name: &str) -> (String, String) {
    let c = cloud();
    let out =
        c.rt.block_on(
            c.clients
                .cloudwatch
                .describe_alarms()
                .alarm_names(name)
                .send(),
        )
        .expect("DescribeAlarms");
    let a = out.metric_alarms().first().expect("the alarm exists");
    (
        a.state_value()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        a.alarm_actions().join(","),
    )
}

#[test]
fn a_failed_run_sets_its_alarm_and_notifies_the_topic() {
    let c = cloud();
    let scope = Scope::new("alarm");
    let s = Stack::new(&scope);
    s.edit(|t| {
        assert_eq!(t.matches("      description: A ").count(), 3, "the retail alarms moved");
        t.replace(
            "      description: A step of `dekit run` failed\n",
            "      description: A step of `dekit run` failed\n      period_seconds: 10\n      notify: [oncall]\n",
        )
        // Every alarm of this stack looks back 10 seconds: MiniStack evaluates an alarm as it is
        // created over every stack's points of its metric, so a default five-minute window
        // would count another test's failed checks published minutes before.
        .replace(
            "      description: A quality check at severity error failed\n",
            "      description: A quality check at severity error failed\n      period_seconds: 10\n",
        )
        .replace(
            "      description: A table's freshness check failed\n",
            "      description: A table's freshness check failed\n      period_seconds: 10\n",
        )
        .replace(
            "observe:\n  alarms:\n",
            "observe:\n  topics:\n    oncall:\n      description: Pages the data on-call\n  alarms:\n",
        )
    });
    // Another stack's failed checks, published before this stack's alarms exist: they are not
    // this stack's incident (on AWS the dimensions keep them apart; here the window does).
    c.rt.block_on(dekit::metrics::publish(
        &c.clients,
        "another-stack",
        "local",
        &[(
            "FailedChecks",
            1.0,
            aws_sdk_cloudwatch::types::StandardUnit::Count,
        )],
    ))
    .expect("PutMetricData");
    std::thread::sleep(std::time::Duration::from_secs(11));
    s.ok(&["apply"]);
    let alarm = format!("{}-local-run-failed", s.name);
    let checks_alarm = format!("{}-local-checks-failed", s.name);
    assert_ne!(
        alarm_state(&checks_alarm).0,
        "ALARM",
        "another stack's checks"
    );
    let topic = format!("arn:aws:sns:us-east-1:000000000000:{}-local-oncall", s.name);
    let (_, actions) = alarm_state(&alarm);
    assert_eq!(actions, topic, "the alarm notifies the stack's topic");
    // The topic exists, with the policy that lets only this stack's alarms publish.
    let attrs =
        c.rt.block_on(
            c.clients
                .sns
                .get_topic_attributes()
                .topic_arn(&topic)
                .send(),
        )
        .expect("GetTopicAttributes");
    let policy: Value =
        serde_json::from_str(attrs.attributes().unwrap()["Policy"].as_str()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
        format!(
            "arn:aws:cloudwatch:us-east-1:000000000000:alarm:{}-local-*",
            s.name
        )
    );

    // The on-call's queue, subscribed to the topic.
    let q = sqs();
    let url =
        c.rt.block_on(
            q.create_queue()
                .queue_name(format!("{}-pager", s.name))
                .send(),
        )
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn =
        c.rt.block_on(
            q.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send(),
        )
        .expect("GetQueueAttributes")
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
    c.rt.block_on(
        c.clients
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "false")
            .send(),
    )
    .expect("Subscribe");

    // A run that succeeds: FailedSteps 0, the alarm OK, nobody paged.
    std::thread::sleep(std::time::Duration::from_secs(11));
    let o = s.raw(&["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(alarm_state(&alarm).0, "OK");
    assert!(
        receive(&q, &url, 1).is_empty(),
        "paged for a run that succeeded"
    );

    // The source's password is wrong: the run fails, the alarm fires, the message arrives.
    std::thread::sleep(std::time::Duration::from_secs(11));
    let (port, _) = dekit::run::sources::local_postgres().unwrap();
    s.edit(|t| {
        t.replace("    local_sources: true\n", "")
            .replace("    port: 5432\n", &format!("    port: {port}\n"))
    });
    let env = [
        ("SHOP_DB_HOST", "127.0.0.1"),
        ("SHOP_DB_PASSWORD", "not-the-password-4711"),
    ];
    let o = s.raw_env(&["apply", "--auto-approve"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = s.raw_env(&["run"], &env);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(alarm_state(&alarm).0, "ALARM");
    let msgs = receive(&q, &url, 5);
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(msgs[0]["TopicArn"], topic.as_str());
    let alarm_msg: Value = serde_json::from_str(msgs[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(alarm_msg["AlarmName"], alarm.as_str());
    assert_eq!(alarm_msg["NewStateValue"], "ALARM");

    // observe: the alarm in ALARM is an open incident, and the broken source is behind it.
    let o = s.raw_env(&["observe", "--json"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let incident = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["alarm"] == alarm.as_str())
        .unwrap_or_else(|| panic!("no incident for {alarm}: {:#}", v["incidents"]));
    let causes: Vec<&str> = incident["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        !causes.is_empty() && causes.iter().all(|c| c.contains("(source.shop_db)")),
        "{causes:#?}"
    );
    // The other alarms are not incidents.
    assert_eq!(
        v["incidents"].as_array().unwrap().len(),
        1,
        "{:#}",
        v["incidents"]
    );

    let o = s.raw_env(&["destroy", "--auto-approve", "--force-delete-data"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    c.rt.block_on(q.delete_queue().queue_url(&url).send())
        .expect("DeleteQueue");
    // destroy took the topic with it.
    let gone = c.rt.block_on(
        c.clients
            .sns
            .get_topic_attributes()
            .topic_arn(&topic)
            .send(),
    );
    assert!(gone.is_err(), "the topic outlived destroy");
}
