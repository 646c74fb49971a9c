//! Reading a text input file (FASTA, A3M, Stockholm, `.hhr`) so that binary garbage is reported
//! as an error naming the file and byte offset instead of reaching a parser as mojibake.
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Reads `path` as UTF-8 text; fails on NUL bytes or invalid UTF-8, naming the byte offset.
pub fn read_text_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let source = path.display().to_string();
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        bail!("{source}: binary data (NUL byte) at byte offset {offset}, expected a text file");
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => bail!(
            "{source}: invalid UTF-8 at byte offset {}, expected a text file",
            err.utf8_error().valid_up_to()
        ),
    }
}

/// Rejects text that holds NUL characters (binary data passed in as a string).
pub fn check_no_nul(text: &str, source: &str) -> Result<()> {
    if let Some(offset) = text.bytes().position(|b| b == 0) {
        bail!("{source}: binary data (NUL byte) at byte offset {offset}, expected text");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn reads_plain_text() {
        let file = temp_file_with(b">a\nMK\n");
        assert_eq!(read_text_file(file.path()).unwrap(), ">a\nMK\n");
    }

    #[test]
    fn nul_byte_is_reported_with_file_and_offset() {
        let file = temp_file_with(b">a\nM\0K\n");
        let err = read_text_file(file.path()).unwrap_err().to_string();
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("byte offset 4"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_reported_with_file_and_offset() {
        let file = temp_file_with(&[b'>', b'a', b'\n', 0xff, 0xfe, b'\n']);
        let err = read_text_file(file.path()).unwrap_err().to_string();
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("invalid UTF-8 at byte offset 3"), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_text_file(Path::new("/nonexistent/x.fasta")).unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/x.fasta"),
            "{err:#}"
        );
    }
}
