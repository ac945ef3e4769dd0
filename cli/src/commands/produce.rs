//! `dekit produce FILE STREAM`: send JSON lines (a file, or `-` for stdin; default the stream's
//! source's sample) to a stream of the stack.

use super::StackArgs;
use crate::deploy;
use crate::run::produce::Producer;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The stream, by its name in `ingest.streams`.
    pub stream: String,
    /// JSON lines to send (`-`: standard input). Default: the sample of the stream's source.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// At most this many records per second.
    #[arg(long)]
    pub rate: Option<u64>,
    #[arg(long)]
    pub start_local: bool,
    /// Print what was sent as JSON (records, bytes, seconds, failed, refused).
    #[arg(long)]
    pub json: bool,
}

// Long: one linear sequence, records → stream → copy and count in the lake → summary; to split next.
pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked(&a.stack.file, a.stack.env.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let s = &checked.loaded.stack;
    let Some(st) = s.ingest.streams.get(&a.stream) else {
        let names: Vec<&str> = s
            .ingest
            .streams
            .iter()
            .map(|(n, _)| n.value.as_str())
            .collect();
        return super::fail(&format!(
            "no stream `{}` in the stack; streams: {}",
            a.stream,
            names.join(", ")
        ));
    };
    let partition_key = st.partition_key.as_ref().map(|p| p.value.clone());
    let from = match &a.from {
        Some(p) => p.clone(),
        None => {
            let sample = st
                .source
                .as_ref()
                .and_then(|src| s.sources.get(src))
                .and_then(|src| src.sample.as_ref());
            match sample {
                Some(p) => checked.loaded.src.dir().join(&p.value),
                None => {
                    return super::fail(&format!(
                        "stream `{}` has no source with `sample:` data; give --from FILE (or - for stdin)",
                        a.stream
                    ));
                }
            }
        }
    };
    let input: Box<dyn std::io::BufRead + Send> = if from.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(&from) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => return super::fail(&format!("{}: {e}", from.display())),
        }
    };
    let stream = a.stream.clone();
    let result = crate::runtime::block_on(async move {
        let d = deploy::open(checked, a.start_local).await?;
        let physical = crate::names::Names::new(&d.checked.loaded).stream(&stream);
        let p = Producer {
            clients: &d.clients,
            stream: physical.clone(),
            partition_key,
            rate: a.rate,
        };
        let mut sent = p.send(input).await?;
        // What was produced, for `dekit test` to reconcile with what landed.
        let lake = crate::lake::Lake::of(&d.checked.loaded, d.clients.clone());
        let name = format!(
            "{}{}-{:04x}",
            crate::quality::reconcile::produced_prefix(&stream),
            crate::clock::now().format("%Y%m%dT%H%M%S%.3fZ"),
            rand::random::<u16>()
        );
        // The records and the count that points at them, written at once (one round trip, not
        // two: produce is measured against a raw PutRecords loop). A count whose copy did not
        // land makes `dekit test` say so for this stream; it never passes without the copy.
        let copy = format!("{name}.jsonl.gz");
        let mut doc = serde_json::to_value(&sent).expect("counts serialize");
        doc["copy"] = serde_json::Value::String(copy.clone());
        let doc_key = format!("{name}.json");
        let (records, count) = tokio::join!(
            lake.put(&copy, std::mem::take(&mut sent.copy)),
            lake.put_json(&doc_key, &doc)
        );
        if let Err(e) = records.and(count) {
            eprintln!(
                "warning: the count of records produced was not recorded ({e}): `dekit test` cannot reconcile this stream"
            );
        }
        Ok::<_, String>((sent, physical))
    });
    match result {
        Ok((sent, physical)) => {
            for r in &sent.refused {
                eprintln!("error: {r}");
            }
            if a.json {
                let mut v = serde_json::to_value(&sent).expect("counts serialize");
                v["stream"] = serde_json::Value::String(physical.clone());
                println!("{v}");
            } else {
                println!(
                    "Sent {} records ({} bytes) to {physical} in {:.2}s ({:.0} records/s); {} failed, {} refused.",
                    sent.records,
                    sent.bytes,
                    sent.seconds,
                    sent.records as f64 / sent.seconds.max(0.001),
                    sent.failed,
                    sent.refused.len()
                );
            }
            if sent.failed > 0 || !sent.refused.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => super::fail(&e),
    }
}
