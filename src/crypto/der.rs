//! A DER peek: which of the key and certificate structures a blob looks like, so that errors can
//! say what was found. OpenSSL does the real parsing; nothing here is trusted beyond naming.

/// What a DER blob looks like from the tags of its top-level `SEQUENCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DerKind {
    /// `RSAPrivateKey` (PKCS#1): nine or more `INTEGER`s.
    Pkcs1Private,
    /// `PrivateKeyInfo` (PKCS#8): `INTEGER`, `SEQUENCE`, `OCTET STRING`, ...
    Pkcs8Private,
    /// `EncryptedPrivateKeyInfo` (PKCS#8): `SEQUENCE`, `OCTET STRING`.
    Pkcs8Encrypted,
    /// `RSAPublicKey` (PKCS#1): two `INTEGER`s.
    Pkcs1Public,
    /// `SubjectPublicKeyInfo`: `SEQUENCE`, `BIT STRING`.
    Spki,
    /// `Certificate`: `SEQUENCE`, `SEQUENCE`, `BIT STRING`.
    Certificate,
    /// A `SEQUENCE` whose declared length runs past the end of the input.
    Truncated {
        /// The bytes the outer `SEQUENCE` declares (header included).
        declared: usize,
        /// The bytes present.
        present: usize,
    },
    /// A complete `SEQUENCE` followed by more bytes.
    TrailingBytes,
    /// Anything else.
    Unknown,
}

impl DerKind {
    /// "a DER ..." for error messages.
    pub(crate) fn describe(self) -> String {
        match self {
            DerKind::Pkcs1Private => "a DER PKCS#1 RSA private key".to_owned(),
            DerKind::Pkcs8Private => "a DER PKCS#8 private key".to_owned(),
            DerKind::Pkcs8Encrypted => "a DER passphrase-protected PKCS#8 private key".to_owned(),
            DerKind::Pkcs1Public => "a DER PKCS#1 RSA public key".to_owned(),
            DerKind::Spki => "a DER SPKI public key".to_owned(),
            DerKind::Certificate => "a DER X.509 certificate".to_owned(),
            DerKind::Truncated { declared, present } => {
                format!("a truncated DER structure ({present} of its {declared} bytes present)")
            }
            DerKind::TrailingBytes => "a DER structure followed by extra bytes".to_owned(),
            DerKind::Unknown => "binary data that is not a DER key or certificate".to_owned(),
        }
    }
}

/// True when `input` starts like a DER `SEQUENCE` rather than text: tag `0x30` and either a
/// long-form length (a byte no text has) or a short-form length that spans the input exactly.
pub(crate) fn looks_like_der(input: &[u8]) -> bool {
    match input {
        [0x30, len, ..] => *len >= 0x80 || usize::from(*len) + 2 == input.len(),
        _ => false,
    }
}

/// (tag, content, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8]);

/// One tag-length-value: (tag, content, rest). `Err(declared)` when the length runs past the
/// input (declared = header + content length); `Ok(None)` for forms this peek does not read.
fn tlv(input: &[u8]) -> Result<Option<Tlv<'_>>, usize> {
    let Some((&tag, rest)) = input.split_first() else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        return Ok(None); // high tag numbers: not in keys or certificate headers
    }
    let Some((&first, rest)) = rest.split_first() else {
        return Ok(None);
    };
    let (len, header, rest) = if first < 0x80 {
        (usize::from(first), 2, rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Ok(None);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + n, &rest[n..])
    };
    if rest.len() < len {
        return Err(header.saturating_add(len));
    }
    Ok(Some((tag, &rest[..len], &rest[len..])))
}

/// Names the structure `der` holds.
pub(crate) fn classify(der: &[u8]) -> DerKind {
    let (content, rest) = match tlv(der) {
        Err(declared) => {
            return DerKind::Truncated {
                declared,
                present: der.len(),
            };
        }
        Ok(Some((0x30, content, rest))) => (content, rest),
        Ok(_) => return DerKind::Unknown,
    };
    if !rest.is_empty() {
        return DerKind::TrailingBytes;
    }
    let mut tags = Vec::new();
    let mut cursor = content;
    while !cursor.is_empty() && tags.len() < 12 {
        match tlv(cursor) {
            Ok(Some((tag, _, next))) => {
                tags.push(tag);
                cursor = next;
            }
            _ => return DerKind::Unknown,
        }
    }
    match tags.as_slice() {
        [0x02, 0x30, 0x04, ..] => DerKind::Pkcs8Private,
        [0x02, 0x02] => DerKind::Pkcs1Public,
        ints if ints.len() >= 9 && ints.iter().all(|&t| t == 0x02) => DerKind::Pkcs1Private,
        [0x30, 0x04] => DerKind::Pkcs8Encrypted,
        [0x30, 0x03] => DerKind::Spki,
        [0x30, 0x30, 0x03] => DerKind::Certificate,
        _ => DerKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_truncated_and_padded_input() {
        assert_eq!(
            classify(&[0x30, 0x82, 0x01, 0x00, 0x02]),
            DerKind::Truncated {
                declared: 260,
                present: 5
            }
        );
        assert_eq!(
            classify(&[0x30, 0x03, 0x02, 0x01, 0x00, 0xff]),
            DerKind::TrailingBytes
        );
        assert_eq!(classify(&[0x30, 0x03, 0x02, 0x01, 0x00]), DerKind::Unknown);
        assert_eq!(classify(&[]), DerKind::Unknown);
        assert_eq!(classify(&[0x30]), DerKind::Unknown);
        assert_eq!(classify(&[0x30, 0x85, 1, 2, 3, 4, 5]), DerKind::Unknown);
    }

    #[test]
    fn text_is_not_der() {
        assert!(!looks_like_der(b"0123"));
        assert!(!looks_like_der(b"garbage"));
        assert!(looks_like_der(&[0x30, 0x82, 0x01]));
        assert!(looks_like_der(&[0x30, 0x01, 0x05]));
    }
}
