//! Reading a structure file's text: plain or gzip-compressed (recognised by the gzip magic
//! bytes, whatever the file is called, as `.pdb.gz` / `.cif.gz` archives are), checked to be
//! text before any parser sees it, so binary garbage fails with the file's name and the byte
//! offset instead of a parser's confusing complaint. Parsers that take text from memory check
//! it with [`check_no_nul`].
use anyhow::{bail, Context, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `path` as UTF-8 text, decompressing gzip transparently.
pub fn read_text_file(path: &Path) -> Result<String> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut inflated = Vec::new();
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut inflated)
            .with_context(|| format!("{}: corrupt or truncated gzip data", path.display()))?;
        inflated
    } else {
        raw
    };
    bytes_to_text(bytes).with_context(|| format!("{} is not a text file", path.display()))
}

/// Accepts UTF-8 without NUL bytes; reports the line and byte offset of the first bad byte.
fn bytes_to_text(bytes: Vec<u8>) -> Result<String> {
    let bad_offset = match std::str::from_utf8(&bytes) {
        Ok(text) => text.find('\0'),
        Err(err) => Some(err.valid_up_to()),
    };
    if let Some(offset) = bad_offset {
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        bail!(
            "line {line} (byte offset {offset}): byte 0x{:02x} is not text",
            bytes[offset]
        );
    }
    String::from_utf8(bytes).context("invalid UTF-8")
}

/// Rejects text holding NUL characters (binary data passed in as a string), naming `source`.
pub fn check_no_nul(text: &str, source: &str) -> Result<()> {
    if let Some(offset) = text.find('\0') {
        bail!("{source}: binary data (NUL byte) at byte offset {offset}, expected text");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    #[test]
    fn reads_plain_and_gzipped_text_alike() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.pdb");
        std::fs::write(&plain, "ATOM\nEND\n").unwrap();
        let zipped = dir.path().join("a.pdb.gz");
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(b"ATOM\nEND\n").unwrap();
        std::fs::write(&zipped, encoder.finish().unwrap()).unwrap();
        assert_eq!(read_text_file(&plain).unwrap(), "ATOM\nEND\n");
        assert_eq!(read_text_file(&zipped).unwrap(), "ATOM\nEND\n");
    }

    #[test]
    fn binary_and_truncated_gzip_name_the_file_and_place() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("garbage.pdb");
        std::fs::write(&binary, b"HEADER\nAT\xff\x00OM\n").unwrap();
        let err = format!("{:#}", read_text_file(&binary).unwrap_err());
        assert!(
            err.contains("garbage.pdb") && err.contains("line 2 (byte offset 9)"),
            "{err}"
        );

        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&[b'A'; 4096]).unwrap();
        let compressed = encoder.finish().unwrap();
        let truncated = dir.path().join("cut.pdb.gz");
        std::fs::write(&truncated, &compressed[..compressed.len() / 2]).unwrap();
        let err = format!("{:#}", read_text_file(&truncated).unwrap_err());
        assert!(err.contains("cut.pdb.gz") && err.contains("gzip"), "{err}");
    }

    #[test]
    fn nul_in_text_is_reported_with_source_and_offset() {
        assert!(check_no_nul(">a\nMK\n", "mem").is_ok());
        let err = check_no_nul(">a\nM\0K\n", "mem.fasta")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("mem.fasta:") && err.contains("byte offset 4"),
            "{err}"
        );
    }
}
