//! The catalog tables of a compiled graph as the pipeline reads them: typed accessors over the
//! attributes `graph::compile::tables` writes, so the shape of those attributes is known in one
//! place, not spelled out (`a["storage"]["serde"]`) at every reader.

use super::{Graph, Node};

/// A `glue_table.<name>` node of the graph.
#[derive(Clone, Copy)]
pub struct CatalogTable<'a> {
    node: &'a Node,
}

/// A column as the catalog declares it: name and Glue type.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogColumn<'a> {
    pub name: &'a str,
    pub r#type: &'a str,
}

/// The Hive storage classes of a table's format.
pub struct Storage<'a> {
    pub input_format: &'a str,
    pub output_format: &'a str,
    pub serde: &'a str,
}

impl Graph {
    /// The catalog table declared as `name` under `tables:`.
    pub fn catalog_table(&self, name: &str) -> Option<CatalogTable<'_>> {
        self.get(&format!("glue_table.{name}"))
            .map(|node| CatalogTable { node })
    }
}

impl<'a> CatalogTable<'a> {
    fn text(&self, key: &str) -> &'a str {
        self.node
            .attrs
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }

    /// `s3://bucket/prefix/`.
    pub fn location(&self) -> &'a str {
        self.text("location")
    }

    /// The location as a key prefix in `bucket`, when it is in that bucket.
    pub fn prefix_in(&self, bucket: &str) -> Option<&'a str> {
        self.location().strip_prefix(&format!("s3://{bucket}/"))
    }

    /// `parquet`, `json` or `csv`.
    pub fn format(&self) -> &'a str {
        match self.text("format") {
            "" => "parquet",
            f => f,
        }
    }

    pub fn database(&self) -> &'a str {
        self.text("database")
    }

    pub fn columns(&self) -> Vec<CatalogColumn<'a>> {
        self.list("columns")
    }

    pub fn partition_keys(&self) -> Vec<CatalogColumn<'a>> {
        self.list("partition_keys")
    }

    fn list(&self, key: &str) -> Vec<CatalogColumn<'a>> {
        self.node
            .attrs
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .map(|c| CatalogColumn {
                name: c["name"].as_str().unwrap_or_default(),
                r#type: c["type"].as_str().unwrap_or_default(),
            })
            .collect()
    }

    pub fn storage(&self) -> Storage<'a> {
        let st = &self.node.attrs["storage"];
        let s = |k: &str| st[k].as_str().unwrap_or_default();
        Storage {
            input_format: s("input_format"),
            output_format: s("output_format"),
            serde: s("serde"),
        }
    }

    /// All attributes, for fingerprints that must change with any of them.
    pub fn attrs(&self) -> &'a serde_json::Map<String, serde_json::Value> {
        &self.node.attrs
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_what_compile_writes() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks/retail/stack.yaml");
        let (loaded, report) = crate::load::load_file(&path, None).expect("retail loads");
        let (checked, _) = crate::validate::check(loaded, report);
        let g = crate::graph::compile::compile(&checked.expect("retail checks")).unwrap();
        let orders = g.catalog_table("orders").expect("orders");
        assert_eq!(orders.format(), "parquet");
        assert!(orders.location().starts_with("s3://") && orders.location().ends_with("/orders/"));
        assert!(orders.prefix_in("nope").is_none());
        let cols: Vec<&str> = orders.columns().iter().map(|c| c.name).collect();
        assert_eq!(cols, ["order_id", "customer_id", "status", "order_ts"]);
        assert_eq!(orders.partition_keys()[0].name, "ingest_date");
        assert!(orders.storage().serde.ends_with("ParquetHiveSerDe"));
        let clicks = g.catalog_table("clickstream_events").expect("clicks");
        assert_eq!(clicks.format(), "json");
        assert!(clicks.storage().serde.ends_with("JsonSerDe"));
        assert!(
            g.catalog_table("fact_orders").is_none(),
            "a model is not a declared table"
        );
    }
}
