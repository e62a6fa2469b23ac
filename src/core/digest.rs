//! Digests and fresh random identifiers: sha256 of bytes and of streamed files, and the random
//! hex that run ids and file-command delimiters are made of.

use sha2::{Digest, Sha256};
use std::path::Path;

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of `bytes`, in hexadecimal.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    hash_file(path, |_| Ok(()))
}

/// Stream a file through sha256, handing each chunk to `also` too (to copy it, say); returns the
/// hex digest and the byte count.
pub fn hash_file(path: &Path, mut also: impl FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        also(&buffer[..n])?;
        bytes += n as u64;
    }
    Ok((hex(&hasher.finalize()), bytes))
}

/// 32 fresh random hexadecimal digits (128 bits): a run id, or the tail of a delimiter.
pub fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for salt in 0..2u64 {
        // RandomState is seeded from the OS's randomness, fresh per instance.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_fresh() {
        let (a, b) = (random_hex(), random_hex());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn digests_agree() {
        let dir = std::env::temp_dir().join(format!("ml-gates-digest-{}", random_hex()));
        std::fs::write(&dir, b"abc").unwrap();
        let (streamed, bytes) = sha256_file(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(bytes, 3);
        assert_eq!(streamed, sha256_hex(b"abc"));
        assert_eq!(streamed, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
