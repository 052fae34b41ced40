//! The compile-time check of [`chain!`](crate::chain!) (feature `checked-chain`): a chain
//! that starts at the API root (`v2`, `v3`, `global`) must lead to an operation of the
//! catalogue, or be on the way to one. Everything here is `const`: the check runs in the
//! compiler and leaves nothing behind at run time.

/// Every operation's path template, in the chain's spelling (generated with the catalogue).
const TEMPLATES: &[&str] = include!("../catalogue/templates.rs");

/// The longest normalised chain checked; a longer one is refused.
const MAX: usize = 512;

/// Whether the chained keys (as written: identifiers with any `r#`, or string literals) lead
/// to a known operation or to a prefix of one. A chain that does not start at an API root
/// (one from an endpoint further down) is not checked.
pub const fn known_chain(keys: &[&str]) -> bool {
    let (path, len) = normalized(keys);
    if len > MAX {
        return false;
    }
    if !starts_at_a_root(&path, len) {
        return true;
    }
    let mut i = 0;
    while i < TEMPLATES.len() {
        if leads_to(&path, len, TEMPLATES[i].as_bytes()) {
            return true;
        }
        i += 1;
    }
    false
}

/// The keys normalised as [`normalize`](crate::normalize) does, joined by `/` (the length
/// may exceed the buffer: then the path is too long).
const fn normalized(keys: &[&str]) -> ([u8; MAX], usize) {
    let mut out = [0u8; MAX];
    let mut len = 0;
    let mut k = 0;
    while k < keys.len() {
        let mut key = keys[k].as_bytes();
        if let [b'r', b'#', rest @ ..] = key {
            key = rest;
        }
        if k > 0 {
            len = push(&mut out, len, b'/');
        }
        // `_name_` is a placeholder: `{name}` (after the capitals, as `normalize` does).
        let placeholder = key.len() >= 2 && key[0] == b'_' && key[key.len() - 1] == b'_';
        let mut i = 0;
        while i < key.len() {
            let b = key[i];
            if placeholder && i == 0 {
                len = push(&mut out, len, b'{');
            } else if placeholder && i == key.len() - 1 {
                len = push(&mut out, len, b'}');
            } else if b.is_ascii_uppercase() {
                if i > 0 {
                    len = push(&mut out, len, b'-');
                }
                len = push(&mut out, len, b.to_ascii_lowercase());
            } else {
                len = push(&mut out, len, b);
            }
            i += 1;
        }
        k += 1;
    }
    (out, len)
}

const fn push(out: &mut [u8; MAX], len: usize, b: u8) -> usize {
    if len < MAX {
        out[len] = b;
    }
    len + 1
}

/// Whether the first segment is an API root.
const fn starts_at_a_root(path: &[u8; MAX], len: usize) -> bool {
    let end = segment_end(path, len, 0);
    let first = path.split_at(end).0;
    matches!(first, b"v2" | b"v3" | b"global")
}

const fn segment_end(path: &[u8], len: usize, from: usize) -> usize {
    let mut i = from;
    while i < len && path[i] != b'/' {
        i += 1;
    }
    i
}

/// Whether `path` is `template` or the first segments of it. A placeholder in the path
/// (`{out_trade_no}`) stands for a placeholder of the template, whatever its name; a plain
/// segment matches a plain segment or, as in a concrete path, a placeholder.
const fn leads_to(path: &[u8; MAX], len: usize, template: &[u8]) -> bool {
    let mut p = 0;
    let mut t = 0;
    loop {
        let p_end = segment_end(path, len, p);
        let t_end = segment_end(template, template.len(), t);
        if t >= template.len() {
            // The template is done; the path must be too.
            return false;
        }
        if !segment_matches(path, p, p_end, template, t, t_end) {
            return false;
        }
        if p_end >= len {
            return true;
        }
        p = p_end + 1;
        t = t_end + 1;
    }
}

const fn segment_matches(
    path: &[u8],
    p: usize,
    p_end: usize,
    template: &[u8],
    t: usize,
    t_end: usize,
) -> bool {
    let path_placeholder = p < p_end && path[p] == b'{';
    let template_placeholder = t < t_end && template[t] == b'{';
    if template_placeholder {
        // Any value, or any placeholder, stands for a placeholder.
        return p < p_end;
    }
    if path_placeholder || p_end - p != t_end - t {
        return false;
    }
    let mut i = 0;
    while i < p_end - p {
        if path[p + i] != template[t + i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::known_chain;

    #[test]
    fn known_paths_and_their_prefixes_pass() {
        assert!(known_chain(&["v3", "pay", "transactions", "native"]));
        assert!(known_chain(&["v3", "pay"]));
        assert!(known_chain(&["v3"]));
        assert!(known_chain(&[
            "v3",
            "global",
            "merchantService",
            "complaints",
            "_complaint_id_",
            "response"
        ]));
        assert!(known_chain(&[
            "v3",
            "pay",
            "transactions",
            "out-trade-no",
            "{out_trade_no}"
        ]));
        // A concrete value where the template has a placeholder.
        assert!(known_chain(&[
            "v3",
            "pay",
            "transactions",
            "id",
            "4200000001"
        ]));
        assert!(known_chain(&[
            "v3",
            "marketing",
            "busifavor",
            "coupons",
            "r#use"
        ]));
        // Several segments in one key.
        assert!(known_chain(&["v3/pay/transactions", "native"]));
        // Not from the root: not checked.
        assert!(known_chain(&["transactions", "nativ"]));
    }

    #[test]
    fn unknown_paths_fail() {
        assert!(!known_chain(&["v3", "pay", "transaction", "native"]));
        assert!(!known_chain(&[
            "v3",
            "pay",
            "transactions",
            "native",
            "more"
        ]));
        assert!(!known_chain(&["v3", "pay", "transactions", "_id_"]));
        assert!(!known_chain(&["v3", "nope"]));
        let mut long = vec!["v3"];
        long.extend(["segment"; 100]);
        assert!(!known_chain(&long));
    }
}
