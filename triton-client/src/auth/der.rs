//! ECDSA signature re-encoding: the SSH form (`mpint r, mpint s`) an agent
//! returns becomes the ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` that
//! CloudAPI verifies.

use crate::error::{Error, Result};

/// Converts an SSH ECDSA signature blob (`mpint r` then `mpint s`) to DER.
pub(crate) fn ssh_ecdsa_to_der(blob: &[u8]) -> Result<Vec<u8>> {
    let mut rest = blob;
    let r = read_string(&mut rest)?;
    let s = read_string(&mut rest)?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after s"));
    }
    let mut body = Vec::with_capacity(r.len() + s.len() + 8);
    der_integer(&mut body, r);
    der_integer(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_length(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

fn bad(why: &str) -> Error {
    Error::Sign {
        reason: format!("malformed ECDSA signature from the agent: {why}"),
    }
}

fn read_string<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8]> {
    let (len, tail) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("short length"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if tail.len() < len {
        return Err(bad("short value"));
    }
    let (value, tail) = tail.split_at(len);
    *rest = tail;
    Ok(value)
}

/// Appends a DER INTEGER for the unsigned big-endian `value`.
fn der_integer(out: &mut Vec<u8>, value: &[u8]) {
    let first_nonzero = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    let trimmed = &value[first_nonzero..];
    let pad = trimmed.first().is_none_or(|b| b & 0x80 != 0);
    out.push(0x02);
    der_length(out, trimmed.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;

    fn ssh_string(out: &mut Vec<u8>, v: &[u8]) {
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }

    #[test]
    fn matches_the_p256_crate_der_encoding() {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        for msg in [&b"a"[..], b"bb", b"ccc", b"dddd", b"eeeee", b"ffffff"] {
            let sig: p256::ecdsa::Signature = key.sign(msg);
            let (r, s) = sig.split_bytes();
            // SSH mpints: minimal, with a 0 byte when the high bit is set.
            let mpint = |v: &[u8]| {
                let t: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
                if t.first().is_some_and(|b| b & 0x80 != 0) {
                    [vec![0], t].concat()
                } else {
                    t
                }
            };
            let mut blob = Vec::new();
            ssh_string(&mut blob, &mpint(&r));
            ssh_string(&mut blob, &mpint(&s));
            assert_eq!(ssh_ecdsa_to_der(&blob).unwrap(), sig.to_der().as_bytes());
        }
    }

    #[test]
    fn long_form_length_for_p521() {
        let mut blob = Vec::new();
        ssh_string(&mut blob, &[[0x01].as_slice(), &[0xff; 65]].concat());
        ssh_string(&mut blob, &[0xff; 66]);
        let der = ssh_ecdsa_to_der(&blob).unwrap();
        assert_eq!(&der[..2], &[0x30, 0x81]);
        assert_eq!(der.len(), 3 + (2 + 66) + (2 + 67));
    }

    #[test]
    fn truncated_blob_is_an_error() {
        assert!(ssh_ecdsa_to_der(&[0, 0, 0, 9, 1]).is_err());
    }
}
