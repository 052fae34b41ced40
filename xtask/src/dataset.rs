//! The wechatpay-openapi dataset on disk: its YAML files, loaded once each, and `$ref`s
//! resolved across them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use yaml_rust2::{Yaml, YamlLoader};

use crate::report::Report;

/// A node of a YAML file, with the file it lives in (for the `$ref`s inside it) and where in
/// the file it is (a JSON pointer: one source location, however many times it is used).
#[derive(Clone)]
pub struct Node {
    pub file: Rc<PathBuf>,
    pub at: String,
    pub yaml: Yaml,
}

impl Node {
    /// The child `key` of this node.
    pub fn child(&self, key: &str) -> Node {
        Node {
            file: self.file.clone(),
            at: format!("{}/{}", self.at, key.replace('~', "~0").replace('/', "~1")),
            yaml: self.yaml[key].clone(),
        }
    }

    /// The `i`th item of this sequence node.
    pub fn item(&self, i: usize, yaml: &Yaml) -> Node {
        Node {
            file: self.file.clone(),
            at: format!("{}/{i}", self.at),
            yaml: yaml.clone(),
        }
    }

    /// `file#pointer`, relative to the dataset's root.
    pub fn place(&self, dataset: &Dataset) -> String {
        format!("{}#{}", dataset.relative(&self.file), self.at)
    }
}

pub struct Dataset {
    pub root: PathBuf,
    files: RefCell<HashMap<PathBuf, Rc<Yaml>>>,
}

impl Dataset {
    pub fn open(root: &Path) -> Result<Dataset, String> {
        if !root.join("swagger.yaml").is_file() {
            return Err(format!(
                "{} holds no swagger.yaml: not the wechatpay-openapi dataset",
                root.display()
            ));
        }
        // Absolute, so that `..` in `$ref`s resolves against real directories.
        let root = root
            .canonicalize()
            .map_err(|e| format!("{}: {e}", root.display()))?;
        Ok(Dataset {
            root,
            files: RefCell::new(HashMap::new()),
        })
    }

    /// The first document of a file (relative to the dataset's root, or absolute).
    pub fn load(&self, path: &Path) -> Result<Rc<Yaml>, String> {
        let path = normalize(&self.root.join(path));
        if let Some(doc) = self.files.borrow().get(&path) {
            return Ok(doc.clone());
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut docs =
            YamlLoader::load_from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if docs.is_empty() {
            return Err(format!("{}: empty", path.display()));
        }
        let doc = Rc::new(docs.swap_remove(0));
        self.files.borrow_mut().insert(path, doc.clone());
        Ok(doc)
    }

    /// The path of `file` relative to the root, with `/` separators (for messages and ids).
    pub fn relative(&self, file: &Path) -> String {
        file.strip_prefix(&self.root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/")
    }

    /// What `reference` (`other.yaml#/a/b`, `other.yaml#Name`, `#/Name`) names, seen from
    /// `from`. A fragment without its leading `/` is counted: it names a top-level key (dots
    /// and all), as the dataset means it.
    pub fn resolve(
        &self,
        from: &Path,
        reference: &str,
        place: &str,
        report: &mut Report,
    ) -> Result<Node, String> {
        let (path, fragment) = match reference.split_once('#') {
            Some((path, fragment)) => (path, fragment),
            None => (reference, ""),
        };
        let file = if path.is_empty() {
            from.to_path_buf()
        } else {
            normalize(&from.parent().unwrap_or(Path::new("")).join(path))
        };
        let doc = self.load(&file)?;
        let mut node: &Yaml = &doc;
        let keys: Vec<String> = if fragment.is_empty() {
            Vec::new()
        } else if let Some(pointer) = fragment.strip_prefix('/') {
            pointer
                .split('/')
                .map(|k| k.replace("~1", "/").replace("~0", "~"))
                .collect()
        } else {
            report.count_once(
                "ref_fragment_without_slash",
                format!("{place} -> {reference}"),
            );
            vec![fragment.to_owned()]
        };
        for key in &keys {
            let next = &node[key.as_str()];
            if next.is_badvalue() {
                return Err(format!(
                    "{}: `$ref: {reference}`: no `{key}` in {}",
                    self.relative(from),
                    self.relative(&file)
                ));
            }
            node = next;
        }
        let at: String = keys
            .iter()
            .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
            .collect();
        Ok(Node {
            file: Rc::new(file),
            at,
            yaml: node.clone(),
        })
    }
}

/// `a/b/../c` -> `a/c`, `./a` -> `a` (no symlinks in the dataset).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
