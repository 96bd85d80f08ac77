//! Manta's namespace: directories and objects of one account, the bytes in
//! a folder on disk (`ROOT/LOGIN/stor/...` mirrors `/LOGIN/stor/...`), the
//! metadata (type, MD5, content type, mtime) in memory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};

use crate::triton::error::ApiError;

/// One node of the namespace.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Dir {
        mtime: SystemTime,
    },
    Object {
        size: u64,
        /// Base64 MD5.
        md5: String,
        content_type: String,
        durability: u8,
        mtime: SystemTime,
    },
}

/// The namespace.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    login: String,
    nodes: BTreeMap<String, Node>,
}

/// Manta's error body `{"code","message"}` with its status.
pub(crate) fn err(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

fn internal(e: io::Error) -> ApiError {
    err(500, "InternalError", e.to_string())
}

/// The parent of a normalized path (`/a/b` → `/a`).
pub(crate) fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    }
}

impl Store {
    /// An empty namespace for `login` under `root` (the roots `/LOGIN`,
    /// `stor`, `public`, `uploads` exist).
    pub fn new(root: PathBuf, login: &str) -> io::Result<Self> {
        let mut s = Self {
            root,
            login: login.to_owned(),
            nodes: BTreeMap::new(),
        };
        for dir in ["", "/stor", "/public", "/uploads"] {
            let path = format!("/{login}{dir}");
            std::fs::create_dir_all(s.disk(&path))?;
            s.nodes.insert(
                path,
                Node::Dir {
                    mtime: SystemTime::now(),
                },
            );
        }
        Ok(s)
    }

    /// Where `path`'s bytes live.
    pub fn disk(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Whether `path` is one of the roots no one may delete or PUT.
    pub fn is_root(&self, path: &str) -> bool {
        let l = &self.login;
        [
            format!("/{l}"),
            format!("/{l}/stor"),
            format!("/{l}/public"),
            format!("/{l}/uploads"),
        ]
        .iter()
        .any(|r| r == path)
    }

    /// muskie's `ensureParent`: the parent exists and is a directory.
    fn ensure_parent(&self, path: &str) -> Result<(), ApiError> {
        let p = parent(path);
        match self.nodes.get(p) {
            Some(Node::Dir { .. }) => Ok(()),
            Some(Node::Object { .. }) => Err(err(
                400,
                "ParentNotDirectory",
                format!("{p} is not a directory"),
            )),
            None => Err(err(
                404,
                "DirectoryDoesNotExist",
                format!("{p} does not exist"),
            )),
        }
    }

    /// PutDirectory: 204; an existing directory is a no-op.
    pub fn put_dir(&mut self, path: &str) -> Result<(), ApiError> {
        match self.nodes.get(path) {
            Some(Node::Dir { .. }) => return Ok(()),
            Some(Node::Object { .. }) => {
                return Err(err(
                    400,
                    "OperationNotAllowedOnObject",
                    format!("{path} is an object"),
                ));
            }
            None => {}
        }
        if self.is_root(path) {
            return Ok(());
        }
        self.ensure_parent(path)?;
        std::fs::create_dir_all(self.disk(path)).map_err(internal)?;
        self.nodes.insert(
            path.to_owned(),
            Node::Dir {
                mtime: SystemTime::now(),
            },
        );
        Ok(())
    }

    /// PutObject: writes `bytes`, checking `Content-MD5` when given;
    /// overwrites an object, refuses a directory.
    pub fn put_object(
        &mut self,
        path: &str,
        bytes: &[u8],
        content_type: &str,
        content_md5: Option<&str>,
        durability: u8,
    ) -> Result<String, ApiError> {
        if let Some(Node::Dir { .. }) = self.nodes.get(path) {
            return Err(err(
                400,
                "OperationNotAllowedOnDirectory",
                format!("{path} is a directory"),
            ));
        }
        self.ensure_parent(path)?;
        let md5 = STANDARD.encode(Md5::digest(bytes));
        if let Some(want) = content_md5
            && want != md5
        {
            return Err(err(
                400,
                "ContentMD5Mismatch",
                format!("Content-MD5 expected to be {want}, but was {md5}"),
            ));
        }
        std::fs::write(self.disk(path), bytes).map_err(internal)?;
        self.nodes.insert(
            path.to_owned(),
            Node::Object {
                size: bytes.len() as u64,
                md5: md5.clone(),
                content_type: content_type.to_owned(),
                durability,
                mtime: SystemTime::now(),
            },
        );
        Ok(md5)
    }

    /// An object's bytes.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        match self.nodes.get(path) {
            Some(Node::Object { .. }) => std::fs::read(self.disk(path)).map_err(internal),
            Some(Node::Dir { .. }) => Err(err(
                400,
                "OperationNotAllowedOnDirectory",
                format!("{path} is a directory"),
            )),
            None => Err(not_found(path)),
        }
    }

    /// The entries directly in directory `path`, sorted by name.
    pub fn children(&self, path: &str) -> Vec<(&str, &Node)> {
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, n)| {
                let name = &k[prefix.len()..];
                (!name.contains('/')).then_some((name, n))
            })
            .collect()
    }

    /// DeleteObject / DeleteDirectory.
    pub fn delete(&mut self, path: &str) -> Result<(), ApiError> {
        if self.is_root(path) {
            return Err(err(
                400,
                "OperationNotAllowedOnRootDirectory",
                format!("{path} is a root directory"),
            ));
        }
        match self.nodes.get(path) {
            None => return Err(not_found(path)),
            Some(Node::Dir { .. }) => {
                if !self.children(path).is_empty() {
                    return Err(err(
                        400,
                        "DirectoryNotEmpty",
                        format!("{path} is not empty"),
                    ));
                }
                std::fs::remove_dir(self.disk(path)).map_err(internal)?;
            }
            Some(Node::Object { .. }) => {
                std::fs::remove_file(self.disk(path)).map_err(internal)?;
            }
        }
        self.nodes.remove(path);
        Ok(())
    }

    /// Every node below `/LOGIN` except the roots.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter().filter(|(k, _)| !self.is_root(k))
    }
}

/// 404 `ResourceNotFound`.
pub(crate) fn not_found(path: &str) -> ApiError {
    err(404, "ResourceNotFound", format!("{path} was not found"))
}
