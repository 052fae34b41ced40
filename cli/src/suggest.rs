//! "Did you mean": clap suggests a subcommand or an option that is like the one typed (by
//! Jaro similarity, which misses short words: `rq` for `req`); this adds the names within one
//! edit (insertion, deletion, substitution or swap of two neighbours) when clap found none.

use clap::error::{ContextKind, ContextValue, Error, ErrorKind};

/// `e` with a suggestion added when clap had none and one name is close enough.
pub fn closer_match(mut e: Error) -> Error {
    let (typed_kind, suggested_kind) = match e.kind() {
        ErrorKind::InvalidSubcommand => (
            ContextKind::InvalidSubcommand,
            ContextKind::SuggestedSubcommand,
        ),
        ErrorKind::UnknownArgument => (ContextKind::InvalidArg, ContextKind::SuggestedArg),
        _ => return e,
    };
    if e.get(suggested_kind).is_some() {
        return e;
    }
    let Some(ContextValue::String(typed)) = e.get(typed_kind) else {
        return e;
    };
    let typed = typed.clone();
    // Only the names of the command the mistake was made in (its usage line names it).
    let root = crate::args::command();
    let Some(command) = usage_command(&e, &root) else {
        return e;
    };
    let candidates: Vec<String> = if suggested_kind == ContextKind::SuggestedSubcommand {
        command
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect()
    } else {
        command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    };
    let mut close: Vec<String> = candidates
        .into_iter()
        .filter(|name| within_one_edit(&typed, name))
        .collect();
    close.sort();
    close.dedup();
    if !close.is_empty() {
        // The two contexts clap renders as `tip: a similar ... exists: '...'`.
        let value = if close.len() == 1 {
            ContextValue::String(close.remove(0))
        } else {
            ContextValue::Strings(close)
        };
        e.insert(suggested_kind, value);
    }
    e
}

/// The (sub)command whose usage line the error shows: `Usage: wxpay sandbox [OPTIONS] ...`
/// is `wxpay sandbox`.
fn usage_command<'c>(e: &Error, root: &'c clap::Command) -> Option<&'c clap::Command> {
    let Some(ContextValue::StyledStr(usage)) = e.get(ContextKind::Usage) else {
        return None;
    };
    let usage = usage.to_string();
    let line = usage
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))?;
    let mut words = line
        .split_whitespace()
        .take_while(|w| !w.starts_with(['[', '<', '-']));
    if words.next() != Some(root.get_name()) {
        return None;
    }
    words.try_fold(root, |command, name| command.find_subcommand(name))
}

/// True when `b` is `a` after at most one insertion, deletion, substitution or swap of two
/// neighbouring characters (and the two differ).
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    let suffix_eq = |x: &[char], y: &[char]| x == y;
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Less => suffix_eq(ra, &rb[1..]),
        std::cmp::Ordering::Greater => suffix_eq(&ra[1..], rb),
        std::cmp::Ordering::Equal => {
            suffix_eq(&ra[1..], &rb[1..])
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::within_one_edit;

    #[test]
    fn one_edit() {
        assert!(within_one_edit("rq", "req"));
        assert!(within_one_edit("reqq", "req"));
        assert!(within_one_edit("rew", "req"));
        assert!(within_one_edit("erq", "req"));
        assert!(within_one_edit("--serail", "--serial"));
        assert!(!within_one_edit("req", "req"));
        assert!(!within_one_edit("r", "req"));
        assert!(!within_one_edit("qer", "req"));
        assert!(!within_one_edit("crt", "req"));
    }
}
