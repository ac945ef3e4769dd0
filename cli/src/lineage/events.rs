//! OpenLineage run events (spec 2-0-2): a START and a COMPLETE or FAIL per job run, with input
//! and output datasets and their facets (schema, output statistics, data-quality assertions), the
//! parent run (the `dekit run` or `dekit test` a step belongs to), and the error of a failure.

use super::datasets::Dataset;
use serde_json::{Map, Value, json};

const SPEC: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const FACETS: &str = "https://openlineage.io/spec/facets";

/// Who wrote an event: this dekit, as installed (`pip install dekit`).
pub fn producer() -> String {
    format!(
        "https://pypi.org/project/dekit/{}/",
        env!("CARGO_PKG_VERSION")
    )
}

fn facet(file: &str, version: &str, def: &str, body: Value) -> Value {
    let mut m = match body {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("_producer".into(), json!(producer()));
    m.insert(
        "_schemaURL".into(),
        json!(format!("{FACETS}/{version}/{file}.json#/$defs/{def}")),
    );
    Value::Object(m)
}

/// A job: its namespace and name.
#[derive(Debug, Clone)]
pub struct Job {
    pub namespace: String,
    pub name: String,
}

/// A run of a job, and the run it belongs to.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub job: Job,
    pub parent: Option<(String, Job)>,
    /// `jobType` facet: `DAG` for a whole run, `TASK` for a step.
    pub job_type: &'static str,
}

/// What a step wrote to an output: the dataset's relation (`None`: the step's only output).
#[derive(Debug, Clone)]
pub struct Written {
    pub relation: Option<String>,
    pub rows: u64,
    pub bytes: Option<u64>,
    pub files: Option<u64>,
}

/// What one event says of its datasets.
#[derive(Debug, Default)]
pub struct Io<'a> {
    pub inputs: &'a [Dataset],
    pub outputs: &'a [Dataset],
    /// Output statistics by the dataset's relation (or for the only output): rows, bytes, files.
    pub stats: Vec<Written>,
    /// Data-quality assertions on an input, by its relation.
    pub assertions: Vec<(String, super::Assertions)>,
}

pub fn event(kind: &str, at: &str, run: &Run, io: &Io, error: Option<&str>) -> Value {
    let mut run_facets = Map::new();
    if let Some((pid, pjob)) = &run.parent {
        run_facets.insert(
            "parent".into(),
            facet(
                "ParentRunFacet",
                "1-2-0",
                "ParentRunFacet",
                json!({
                    "run": { "runId": pid },
                    "job": { "namespace": pjob.namespace, "name": pjob.name },
                }),
            ),
        );
    }
    if let Some(e) = error {
        run_facets.insert(
            "errorMessage".into(),
            facet(
                "ErrorMessageRunFacet",
                "1-0-1",
                "ErrorMessageRunFacet",
                json!({ "message": e, "programmingLanguage": "RUST" }),
            ),
        );
    }
    let job_facets = json!({
        "jobType": facet("JobTypeJobFacet", "2-0-4", "JobTypeJobFacet", json!({
            "processingType": "BATCH",
            "integration": "DEKIT",
            "jobType": run.job_type,
        })),
    });
    json!({
        "eventType": kind,
        "eventTime": at,
        "producer": producer(),
        "schemaURL": SPEC,
        "run": { "runId": run.id, "facets": run_facets },
        "job": { "namespace": run.job.namespace, "name": run.job.name, "facets": job_facets },
        "inputs": io.inputs.iter().map(|d| input(d, io)).collect::<Vec<_>>(),
        "outputs": io.outputs.iter().map(|d| output(d, io)).collect::<Vec<_>>(),
    })
}

fn dataset(d: &Dataset) -> Map<String, Value> {
    let mut facets = Map::new();
    if !d.fields.is_empty() {
        let fields: Vec<Value> = d
            .fields
            .iter()
            .enumerate()
            .map(|(i, (n, t))| json!({ "name": n, "type": t, "ordinal_position": i + 1 }))
            .collect();
        facets.insert(
            "schema".into(),
            facet(
                "SchemaDatasetFacet",
                "1-2-0",
                "SchemaDatasetFacet",
                json!({ "fields": fields }),
            ),
        );
    }
    let mut m = Map::new();
    m.insert("namespace".into(), json!(d.namespace));
    m.insert("name".into(), json!(d.name));
    m.insert("facets".into(), Value::Object(facets));
    m
}

fn input(d: &Dataset, io: &Io) -> Value {
    let mut m = dataset(d);
    let found = io
        .assertions
        .iter()
        .find(|(rel, _)| d.relation.as_deref() == Some(rel.as_str()));
    if let Some((_, list)) = found {
        let assertions: Vec<Value> = list
            .iter()
            .map(|(check, column, ok)| {
                let mut a = json!({ "assertion": check, "success": ok });
                if let Some(c) = column {
                    a["column"] = json!(c);
                }
                a
            })
            .collect();
        m.insert(
            "inputFacets".into(),
            json!({ "dataQualityAssertions": facet(
                "DataQualityAssertionsDatasetFacet",
                "1-1-0",
                "DataQualityAssertionsDatasetFacet",
                json!({ "assertions": assertions }),
            ) }),
        );
    }
    Value::Object(m)
}

fn output(d: &Dataset, io: &Io) -> Value {
    let mut m = dataset(d);
    let only = io.outputs.len() == 1;
    let found = io.stats.iter().find(|w| match &w.relation {
        None => only,
        Some(r) => d.relation.as_ref() == Some(r),
    });
    if let Some(w) = found {
        let mut s = json!({ "rowCount": w.rows });
        if let Some(b) = w.bytes {
            s["size"] = json!(b);
        }
        if let Some(f) = w.files {
            s["fileCount"] = json!(f);
        }
        m.insert(
            "outputFacets".into(),
            json!({ "outputStatistics": facet(
                "OutputStatisticsOutputDatasetFacet",
                "1-0-2",
                "OutputStatisticsOutputDatasetFacet",
                s,
            ) }),
        );
    }
    Value::Object(m)
}

/// A run id as OpenLineage wants it (a UUID), derived from dekit's own ids so the same run and
/// step always get the same one: SHA-256 of `seed`, marked as a version 8 (custom) UUID.
pub fn uuid(seed: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid("20261206T022339Z-78e3/ingest.shop_tables");
        assert_eq!(a, uuid("20261206T022339Z-78e3/ingest.shop_tables"));
        assert_ne!(a, uuid("20261206T022339Z-78e3/transform.fact_sales"));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "{a}");
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{a}");
    }
}
