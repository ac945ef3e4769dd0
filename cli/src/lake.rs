//! The lake as `run` uses it: objects written under keys that derive from their data, small JSON
//! state documents (watermarks, checkpoints, run manifests) under `_dekit/`, listings that fail
//! loudly.

use crate::cloud::{Clients, CloudError, error::from_sdk};
use aws_sdk_s3::primitives::ByteStream;
use serde::{Serialize, de::DeserializeOwned};

#[derive(Clone)]
pub struct Lake {
    pub clients: Clients,
    pub bucket: String,
}

impl Lake {
    /// The lake bucket of the loaded stack's environment.
    pub fn of(loaded: &crate::load::Loaded, clients: Clients) -> Lake {
        Lake {
            bucket: crate::names::Names::new(loaded).lake_bucket(),
            clients,
        }
    }
}

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// Seconds since the epoch.
    pub last_modified: i64,
}

/// What a conditional write found.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    Written,
    /// The key already held an object: `If-None-Match: *` answered 412, so nothing was written.
    Existed,
}

impl Lake {
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), CloudError> {
        self.clients
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk("PutObject", &self.url(key), e))?;
        Ok(())
    }

    /// Write only if nothing is at `key` (`If-None-Match: *`): a retried or re-run write of the
    /// same data never makes a second copy.
    pub async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<Put, CloudError> {
        let r = self
            .clients
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;
        match r {
            Ok(_) => Ok(Put::Written),
            Err(e) => {
                let err = from_sdk("PutObject", &self.url(key), e);
                if err.code == "PreconditionFailed" || err.message.contains("412") {
                    Ok(Put::Existed)
                } else {
                    Err(err)
                }
            }
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CloudError> {
        let r = self
            .clients
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match r {
            Ok(o) => {
                let bytes = o.body.collect().await.map_err(|e| {
                    CloudError::new("GetObject", &self.url(key), "ReadFailed", e.to_string())
                })?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) => {
                let err = from_sdk("GetObject", &self.url(key), e);
                if err.code == "NoSuchKey" || err.code == "NotFound" {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CloudError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                CloudError::new("GetObject", &self.url(key), "CorruptState", e.to_string())
            }),
        }
    }

    pub async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), CloudError> {
        let body = serde_json::to_vec_pretty(value).expect("state serializes");
        self.put(key, body).await
    }

    /// Every key under `prefix`, all pages; a failed page is an error, never a short list.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, CloudError> {
        self.list_after(prefix, None).await
    }

    /// `list`, only the keys after `start_after` (in S3's key order).
    pub async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<String>, CloudError> {
        Ok(self
            .list_objects(prefix, start_after)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    /// Every object under `prefix` with its ETag and size: what a model's fingerprint hashes.
    pub async fn list_objects(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<Object>, CloudError> {
        let mut keys = vec![];
        let mut token = None;
        loop {
            let page = self
                .clients
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_string))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| from_sdk("ListObjectsV2", &self.url(prefix), e))?;
            keys.extend(page.contents().iter().filter_map(|o| {
                Some(Object {
                    key: o.key()?.to_string(),
                    etag: o.e_tag().unwrap_or_default().to_string(),
                    size: o.size().unwrap_or_default() as u64,
                    last_modified: o.last_modified().map_or(0, |t| t.secs()),
                })
            }));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || page.is_truncated() != Some(true) {
                return Ok(keys);
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), CloudError> {
        self.clients
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteObject", &self.url(key), e))?;
        Ok(())
    }
}
