//! The shape of `src/`: which file uses which, and that the data flows one way.
//!
//! Every `use` and every `crate::`/`self::`/`super::` path of the library's code (unit tests
//! and doctests aside) is resolved to the file that defines the item, through re-exports: a
//! `pub use rsa::PrivateKey` in `crypto/mod.rs` makes `crate::crypto::PrivateKey` a use of
//! `crypto/rsa.rs`. The tests then check that no two files use each other, directly or around a
//! loop, except the pairs that belong together, and that each layer uses only those below it
//! (docs/architecture.md draws them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Pairs of files allowed to use each other: each is one concept split for size.
const NATURAL_PAIRS: [[&str; 2]; 2] = [
    // An `Error` carries the `Response` it came with; a `Response` decodes into `Error`s.
    ["error.rs", "response.rs"],
    // A certificate holds a public key; loading a public key accepts a certificate.
    ["crypto/cert.rs", "crypto/rsa.rs"],
];

/// What a file of a layer must not use: (files under this prefix, must not use files under
/// these prefixes). The layers, bottom to top: the pure parts and state (`context`, `keyring`),
/// I/O (`transport`, `blocking`), the request pipeline, the key ring's refresh policy, and the
/// façade (`client`, `endpoint`, `verbs`).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "context",
        &[
            "pipeline/",
            "refresh/",
            "client/",
            "endpoint.rs",
            "verbs.rs",
            "bill.rs",
        ],
    ),
    (
        "keyring/",
        &[
            "pipeline/",
            "refresh/",
            "client/",
            "context",
            "transport.rs",
            "blocking.rs",
            "endpoint.rs",
        ],
    ),
    (
        "transport.rs",
        &["pipeline/", "refresh/", "client/", "context", "keyring/"],
    ),
    (
        "blocking.rs",
        &[
            "pipeline/",
            "refresh/",
            "client/",
            "context",
            "keyring/",
            "transport.rs",
        ],
    ),
    (
        "pipeline/",
        &["refresh/", "client/", "endpoint.rs", "verbs.rs", "bill.rs"],
    ),
    (
        "refresh/",
        &["client/", "endpoint.rs", "verbs.rs", "bill.rs"],
    ),
    ("prepared.rs", &["pipeline/", "transport.rs", "context"]),
    // Values per runtime: a container, below the I/O that keeps its handles in it.
    (
        "per_runtime.rs",
        &[
            "pipeline/",
            "refresh/",
            "client/",
            "context",
            "keyring/",
            "transport.rs",
            "shared/",
        ],
    ),
    // The catalogue is data about the API: it knows no client, no key, no I/O.
    (
        "catalogue/",
        &[
            "pipeline/",
            "refresh/",
            "client/",
            "context",
            "keyring/",
            "transport.rs",
            "blocking.rs",
            "endpoint.rs",
            "verbs.rs",
        ],
    ),
    // The typed models are data and conversions to and from options: the client sends them.
    (
        "api/",
        &[
            "pipeline/",
            "refresh/",
            "client/",
            "context",
            "keyring/",
            "transport.rs",
            "blocking.rs",
            "endpoint.rs",
            "verbs.rs",
        ],
    ),
];

/// External crates a layer must not use: the key ring is data and checks, no runtime.
const FORBIDDEN_CRATES: &[(&str, &[&str])] = &[
    ("keyring/", &["tokio", "reqwest"]),
    ("api/", &["tokio", "reqwest"]),
];

#[derive(Default)]
struct Module {
    /// The file, relative to `src/`.
    file: String,
    /// Names defined here (items and child modules).
    items: BTreeSet<String>,
    /// Names re-exported here (`pub use`, `pub(crate) use`): name -> absolute path.
    reexports: BTreeMap<String, Vec<String>>,
    /// Paths used, absolute (`crate` first).
    uses: Vec<Vec<String>>,
    /// External crates used.
    crates: BTreeSet<String>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `a/b.rs` or `a/b/mod.rs` -> `["a", "b"]`; `lib.rs` -> `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether an item is compiled only for tests or doctests.
fn test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| match &a.meta {
        syn::Meta::List(list) if a.path().is_ident("cfg") => {
            let text = list.tokens.to_string();
            text.contains("test") || text.contains("doctest")
        }
        _ => false,
    })
}

/// The tokens of a stream, groups opened, as text.
fn token_texts(stream: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for tree in stream {
        match tree {
            proc_macro2::TokenTree::Group(g) => token_texts(g.stream(), out),
            other => out.push(other.to_string()),
        }
    }
}

/// Flattens a use tree into (path, name it is visible as) pairs; globs give `*`.
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                let visible = prefix.last().cloned().unwrap_or_default();
                out.push((prefix.clone(), visible));
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((path, name));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push((path, r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => {
            let mut path = prefix.clone();
            path.push("*".to_owned());
            out.push((path, "*".to_owned()));
        }
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix, out);
            }
        }
    }
}

/// Collects the paths of a file's code (outside `use` items).
struct Paths<'a> {
    found: &'a mut Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.found
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Paths inside macro calls (`format!`, `tracing::info!`) are tokens: read the `a::b`
        // sequences that start with `crate`, `self` or `super`.
        let mut tokens = Vec::new();
        token_texts(mac.tokens.clone(), &mut tokens);
        let mut i = 0;
        while i < tokens.len() {
            if matches!(tokens[i].as_str(), "crate" | "super" | "self") {
                let mut path = vec![tokens[i].clone()];
                let mut j = i + 1;
                while tokens.get(j).is_some_and(|t| t == ":")
                    && tokens.get(j + 1).is_some_and(|t| t == ":")
                {
                    match tokens.get(j + 2) {
                        Some(next) => path.push(next.clone()),
                        None => break,
                    }
                    j += 3;
                }
                if path.len() > 1 {
                    self.found.push(path);
                }
                i = j;
            } else {
                i += 1;
            }
        }
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !test_only(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !test_only(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}
}

fn item_name(item: &syn::Item) -> Option<String> {
    Some(match item {
        syn::Item::Const(i) => i.ident.to_string(),
        syn::Item::Enum(i) => i.ident.to_string(),
        syn::Item::Fn(i) => i.sig.ident.to_string(),
        syn::Item::Macro(i) => i.ident.as_ref()?.to_string(),
        syn::Item::Mod(i) => i.ident.to_string(),
        syn::Item::Static(i) => i.ident.to_string(),
        syn::Item::Struct(i) => i.ident.to_string(),
        syn::Item::Trait(i) => i.ident.to_string(),
        syn::Item::Type(i) => i.ident.to_string(),
        syn::Item::Union(i) => i.ident.to_string(),
        _ => return None,
    })
}

fn attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// A file's uses as written: `use` items (path, name visible as, re-exported), and the paths
/// in its code.
type Written = (Vec<(Vec<String>, String, bool)>, Vec<Vec<String>>);

/// Every module of the library, by absolute path.
fn modules() -> BTreeMap<Vec<String>, Module> {
    let root = src();
    let mut paths = Vec::new();
    files(&root, &mut paths);
    let mut modules = BTreeMap::new();
    // Pass 1: names defined and uses, as written.
    let mut raw: BTreeMap<Vec<String>, Written> = BTreeMap::new();
    for path in paths {
        let relative = path.strip_prefix(&root).unwrap().to_path_buf();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", relative.display()));
        let mpath = module_path(&relative);
        let mut module = Module {
            file: relative.to_string_lossy().replace('\\', "/"),
            ..Module::default()
        };
        let mut uses = Vec::new();
        let mut code_paths = Vec::new();
        for item in &file.items {
            if test_only(attrs(item)) {
                continue;
            }
            if let Some(name) = item_name(item) {
                module.items.insert(name);
            }
            match item {
                syn::Item::Use(u) => {
                    let public = !matches!(u.vis, syn::Visibility::Inherited);
                    let mut flat = Vec::new();
                    flatten(&u.tree, &mut Vec::new(), &mut flat);
                    for (p, name) in flat {
                        uses.push((p, name, public));
                    }
                }
                other => Paths {
                    found: &mut code_paths,
                }
                .visit_item(other),
            }
        }
        raw.insert(mpath.clone(), (uses, code_paths));
        modules.insert(mpath, module);
    }
    // Pass 2: make every path absolute.
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    for (mpath, (uses, code_paths)) in raw {
        let items = modules[&mpath].items.clone();
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut absolute_uses = Vec::new();
        let mut crates = BTreeSet::new();
        for (p, name, public) in uses {
            match absolute(&mpath, &p, &items, &known) {
                Some(abs) => {
                    if name != "*" {
                        aliases.insert(name.clone(), abs.clone());
                    }
                    if public && name != "*" {
                        modules
                            .get_mut(&mpath)
                            .unwrap()
                            .reexports
                            .insert(name, abs.clone());
                    }
                    absolute_uses.push(abs);
                }
                None => {
                    crates.insert(p[0].clone());
                }
            }
        }
        for p in code_paths {
            let first = &p[0];
            if matches!(first.as_str(), "crate" | "self" | "super") {
                // A bare `self` (a receiver) or `super` (a visibility) uses nothing.
                if p.len() < 2 {
                    continue;
                }
                if let Some(abs) = absolute(&mpath, &p, &items, &known) {
                    absolute_uses.push(abs);
                }
            } else if let Some(target) = aliases.get(first) {
                if p.len() > 1 {
                    let mut abs = target.clone();
                    abs.extend(p[1..].iter().cloned());
                    absolute_uses.push(abs);
                }
            } else if p.len() > 1 {
                crates.insert(first.clone());
            }
        }
        let module = modules.get_mut(&mpath).unwrap();
        module.uses = absolute_uses;
        module.crates = crates;
    }
    modules
}

/// A path as written in module `here` -> absolute (`crate` first), or `None` for another crate.
fn absolute(
    here: &[String],
    path: &[String],
    items: &BTreeSet<String>,
    known: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("self") => {
            out.extend(here.iter().cloned());
            rest = &path[1..];
        }
        Some("super") => {
            out.extend(here.iter().cloned());
            while rest.first().is_some_and(|s| s == "super") {
                out.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            let mut child = here.to_vec();
            child.push(first.to_owned());
            if items.contains(first) || known.contains(&child) {
                out.extend(here.iter().cloned());
            } else {
                return None;
            }
        }
        None => return None,
    }
    out.extend(rest.iter().cloned());
    Some(out)
}

/// The file that defines what `path` names, through re-exports.
fn resolve(
    modules: &BTreeMap<Vec<String>, Module>,
    path: &[String],
    depth: usize,
) -> Option<String> {
    // The longest prefix that is a module.
    let mut split = path.len();
    while split > 0 && !modules.contains_key(&path[..split]) {
        split -= 1;
    }
    let module = modules.get(&path[..split])?;
    if depth < 16 {
        if let Some(name) = path.get(split) {
            if let Some(target) = module.reexports.get(name) {
                let mut next = target.clone();
                next.extend(path[split + 1..].iter().cloned());
                if let Some(file) = resolve(modules, &next, depth + 1) {
                    return Some(file);
                }
            }
        }
    }
    Some(module.file.clone())
}

/// file -> the files it uses.
fn graph() -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, BTreeSet<String>>,
) {
    let modules = modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut crates = BTreeMap::new();
    for module in modules.values() {
        let entry = edges.entry(module.file.clone()).or_default();
        for used in &module.uses {
            if let Some(file) = resolve(&modules, used, 0) {
                if file != module.file {
                    entry.insert(file);
                }
            }
        }
        crates.insert(module.file.clone(), module.crates.clone());
    }
    (edges, crates)
}

/// Strongly connected components of more than one file (Tarjan).
fn loops(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn report(edges: &BTreeMap<String, BTreeSet<String>>, files: &BTreeSet<String>) -> String {
    let mut out = String::new();
    for file in files {
        let within: Vec<&String> = edges[file].iter().filter(|f| files.contains(*f)).collect();
        out.push_str(&format!("  {file} -> {within:?}\n"));
    }
    out
}

#[test]
fn no_two_files_use_each_other_but_the_natural_pairs() {
    let (edges, _) = graph();
    assert!(
        edges.len() > 40,
        "the walk found only {} files",
        edges.len()
    );
    let allowed: Vec<BTreeSet<String>> = NATURAL_PAIRS
        .iter()
        .map(|pair| pair.iter().map(|f| (*f).to_owned()).collect())
        .collect();
    let bad: Vec<_> = loops(&edges)
        .into_iter()
        .filter(|component| !allowed.contains(component))
        .collect();
    let text: String = bad
        .iter()
        .map(|c| report(&edges, c))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(bad.is_empty(), "import loops:\n{text}");
}

#[test]
fn each_layer_uses_only_the_layers_below() {
    let (edges, crates) = graph();
    let mut bad = Vec::new();
    for (file, used) in &edges {
        for (layer, forbidden) in FORBIDDEN {
            if !file.starts_with(layer) {
                continue;
            }
            for target in used {
                if forbidden.iter().any(|f| target.starts_with(f)) {
                    bad.push(format!("{file} uses {target}"));
                }
            }
        }
        for (layer, forbidden) in FORBIDDEN_CRATES {
            if file.starts_with(layer) {
                for c in &crates[file] {
                    if forbidden.contains(&c.as_str()) {
                        bad.push(format!("{file} uses the crate {c}"));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn the_walk_sees_uses_through_reexports_and_inside_code() {
    // A check of the checker on the library itself: `Client` is defined in the façade, and
    // `crypto::PrivateKey` in crypto/rsa.rs, whatever path reaches them.
    let (edges, _) = graph();
    let users_of = |file: &str| edges.iter().filter(|(_, to)| to.contains(file)).count();
    assert!(users_of("crypto/rsa.rs") >= 3, "{edges:#?}");
    assert!(users_of("error.rs") >= 10);
}
