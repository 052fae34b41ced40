//! From a template or a concrete path to its operations, and from a misspelt path to the
//! nearest template.

use std::collections::HashMap;

use super::Operation;

/// The operations' templates as a tree of segments: a literal segment, or a placeholder that
/// matches any one segment.
#[derive(Default)]
pub(super) struct Index {
    /// The exact templates.
    exact: HashMap<String, Vec<usize>>,
    root: Node,
}

#[derive(Default)]
struct Node {
    literal: HashMap<String, Node>,
    placeholder: Option<Box<Node>>,
    /// The operations whose template ends here.
    operations: Vec<usize>,
}

/// The path part of `path`: no scheme and host, no leading `/`, no query or fragment.
pub(super) fn path_of(path: &str) -> &str {
    let mut path = path.trim();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = path.strip_prefix(scheme) {
            path = rest.find('/').map_or("", |at| &rest[at..]);
        }
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_start_matches('/')
}

fn is_placeholder(segment: &str) -> bool {
    segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}')
}

impl Index {
    pub(super) fn new(operations: &[Operation]) -> Index {
        let mut index = Index::default();
        for (i, op) in operations.iter().enumerate() {
            index.exact.entry(op.template.clone()).or_default().push(i);
            let mut node = &mut index.root;
            for segment in op.template.split('/') {
                node = if is_placeholder(segment) {
                    node.placeholder.get_or_insert_with(Box::default)
                } else {
                    node.literal.entry(segment.to_owned()).or_default()
                };
            }
            node.operations.push(i);
        }
        index
    }

    /// The operations at `path`, by the order of the catalogue (the `api` host family first).
    pub(super) fn find(&self, operations: &[Operation], path: &str) -> Vec<usize> {
        let path = path_of(path);
        let mut found = match self.exact.get(path) {
            Some(found) => found.clone(),
            None => {
                let segments: Vec<&str> = path.split('/').collect();
                walk(&self.root, &segments)
                    .map(|n| n.operations.clone())
                    .unwrap_or_default()
            }
        };
        found.sort_by_key(|&i| (operations[i].host != super::Host::Api, i));
        found
    }
}

/// The most literal match: at each segment a literal child is tried before the placeholder.
fn walk<'a>(node: &'a Node, segments: &[&str]) -> Option<&'a Node> {
    let Some((first, rest)) = segments.split_first() else {
        return (!node.operations.is_empty()).then_some(node);
    };
    if let Some(found) = node.literal.get(*first).and_then(|n| walk(n, rest)) {
        return Some(found);
    }
    if first.is_empty() {
        return None;
    }
    node.placeholder.as_deref().and_then(|n| walk(n, rest))
}

/// The index of the operation whose template is nearest `path`.
pub(super) fn nearest(operations: &[Operation], path: &str) -> Option<usize> {
    let path = path_of(path);
    let wanted: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, usize)> = None;
    for (i, op) in operations.iter().enumerate() {
        let template: Vec<&str> = op.template.split('/').collect();
        let cost = segment_distance(&wanted, &template);
        if best.is_none_or(|(b, _)| cost < b) {
            best = Some((cost, i));
        }
    }
    best.map(|(_, i)| i)
}

/// An edit distance over segments: a segment inserted or deleted costs its length (at least
/// one), a segment replaced costs the characters' edit distance, and a placeholder matches any
/// segment for nothing.
fn segment_distance(wanted: &[&str], template: &[&str]) -> usize {
    let cost_of = |s: &str| s.chars().count().max(1);
    let mut previous: Vec<usize> = std::iter::once(0)
        .chain(template.iter().scan(0, |sum, t| {
            *sum += cost_of(t);
            Some(*sum)
        }))
        .collect();
    for w in wanted {
        let mut row = Vec::with_capacity(previous.len());
        row.push(previous[0] + cost_of(w));
        for (j, t) in template.iter().enumerate() {
            let replace = if is_placeholder(t) && !w.is_empty() {
                0
            } else {
                char_distance(w, t)
            };
            let best = (previous[j] + replace)
                .min(previous[j + 1] + cost_of(w))
                .min(row[j] + cost_of(t));
            row.push(best);
        }
        previous = row;
    }
    previous[template.len()]
}

/// Levenshtein distance over characters.
fn char_distance(a: &str, b: &str) -> usize {
    if a == b {
        return 0;
    }
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let replace = previous[j] + usize::from(ca != *cb);
            row.push(replace.min(previous[j + 1] + 1).min(row[j] + 1));
        }
        previous = row;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_host_slash_and_query() {
        assert_eq!(path_of("/v3/a/b?x=1"), "v3/a/b");
        assert_eq!(path_of("https://api.mch.weixin.qq.com/v3/a#f"), "v3/a");
        assert_eq!(path_of("v3/a"), "v3/a");
    }

    #[test]
    fn distances() {
        assert_eq!(char_distance("transaction", "transactions"), 1);
        assert_eq!(char_distance("", "abc"), 3);
        assert_eq!(
            segment_distance(&["v3", "x", "42"], &["v3", "x", "{id}"]),
            0
        );
        // The shorter path is closest with "x" as the id and the literal "x" missing.
        assert_eq!(segment_distance(&["v3", "x"], &["v3", "x", "{id}"]), 1);
        // The cheapest reading of a lone "v3": the placeholder takes it, "v3" and "x" are missing.
        assert_eq!(segment_distance(&["v3"], &["v3", "x", "{id}"]), 3);
        assert_eq!(segment_distance(&["v3", "abc"], &["v3"]), 3);
        assert_eq!(
            segment_distance(&["v3", "y", "42"], &["v3", "x", "{id}"]),
            1
        );
    }
}
