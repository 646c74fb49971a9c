//! The wire format of a Jupyter message (messaging protocol 5.3, "The Wire Protocol"):
//! routing identities, the `<IDS|MSG>` delimiter, the HMAC-SHA256 signature (hex) of the four
//! JSON frames header, parent header, metadata and content, those four frames, then any
//! binary buffers. An empty key disables signing, as jupyter_client's `Session` does.
use super::message::Message;
use anyhow::{anyhow, bail, Context as _, Result};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The frame that separates routing identities from the message.
pub const DELIMITER: &[u8] = b"<IDS|MSG>";

/// Signs and checks messages with the connection file's key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: &str) -> Self {
        Self { key: key.as_bytes().to_vec() }
    }

    fn mac(&self, parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
        if self.key.is_empty() {
            return None;
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        Some(mac)
    }

    /// The hex signature of the four JSON frames (empty without a key).
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        self.mac(parts).map_or_else(String::new, |mac| hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `signature` (hex) signs the four JSON frames; compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], signature: &[u8]) -> bool {
        match self.mac(parts) {
            None => true,
            Some(mac) => match std::str::from_utf8(signature).ok().and_then(|s| hex::decode(s).ok()) {
                Some(bytes) => mac.verify_slice(&bytes).is_ok(),
                None => false,
            },
        }
    }
}

/// Serialises and signs a message into its frames.
pub fn encode(message: &Message, signer: &Signer) -> Vec<Vec<u8>> {
    let parts: Vec<Vec<u8>> = [&message.header, &message.parent_header, &message.metadata, &message.content]
        .iter()
        .map(|value| value.to_string().into_bytes())
        .collect();
    let borrowed: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let signature = signer.sign(&borrowed);
    let mut frames = message.identities.clone();
    frames.push(DELIMITER.to_vec());
    frames.push(signature.into_bytes());
    frames.extend(parts);
    frames.extend(message.buffers.iter().cloned());
    frames
}

/// Splits, verifies and parses received frames. Fails on a missing delimiter, too few
/// frames, a bad signature, JSON that does not parse or is not an object, or a header
/// without a string `msg_type` and `msg_id`.
pub fn decode(frames: Vec<Vec<u8>>, signer: &Signer) -> Result<Message> {
    let delimiter = frames
        .iter()
        .position(|frame| frame == DELIMITER)
        .ok_or_else(|| anyhow!("no <IDS|MSG> delimiter among {} frames", frames.len()))?;
    let mut rest = frames.into_iter();
    let identities: Vec<Vec<u8>> = rest.by_ref().take(delimiter).collect();
    rest.next();
    let body: Vec<Vec<u8>> = rest.collect();
    if body.len() < 5 {
        bail!("{} frames after the delimiter; a message has a signature and four JSON frames", body.len());
    }
    let json_frames: Vec<&[u8]> = body[1..5].iter().map(Vec::as_slice).collect();
    if !signer.verify(&json_frames, &body[0]) {
        bail!("invalid signature");
    }
    let names = ["header", "parent_header", "metadata", "content"];
    let mut values = Vec::with_capacity(4);
    for (frame, name) in json_frames.iter().zip(names) {
        let value: Value = serde_json::from_slice(frame).with_context(|| format!("the {name} frame is not JSON"))?;
        if !value.is_object() {
            bail!("the {name} frame is not a JSON object");
        }
        values.push(value);
    }
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    let message = Message {
        identities,
        header: next(),
        parent_header: next(),
        metadata: next(),
        content: next(),
        buffers: body[5..].to_vec(),
    };
    for field in ["msg_type", "msg_id"] {
        if !message.header[field].is_string() {
            bail!("the header has no string {field}");
        }
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::message::KernelSession;
    use serde_json::json;

    fn request(session: &KernelSession) -> Message {
        Message {
            identities: vec![b"client".to_vec()],
            header: session.header("execute_request"),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({"code": "echo hi"}),
            buffers: vec![b"\x00\x01".to_vec()],
        }
    }

    #[test]
    fn signature_matches_python_hmac() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'{}'+b'{}'+b'{}'+b'{}',hashlib.sha256).hexdigest())"
        let signer = Signer::new("key");
        let empty: &[u8] = b"{}";
        assert_eq!(
            signer.sign(&[empty; 4]),
            "ca767b02c5bc061ed184a9a029e7f93a7f2f7ed4e8fe74120fc1212f0b008fa3"
        );
    }

    #[test]
    fn round_trips_and_rejects_tampering() {
        let session = KernelSession::new();
        let signer = Signer::new("secret");
        let message = request(&session);
        let frames = encode(&message, &signer);
        assert_eq!(frames[1], DELIMITER);
        assert_eq!(decode(frames.clone(), &signer).unwrap(), message);

        let mut tampered = frames.clone();
        tampered[6] = br#"{"code": "reset"}"#.to_vec();
        assert!(decode(tampered, &signer).unwrap_err().to_string().contains("invalid signature"));
        assert!(decode(frames.clone(), &Signer::new("other")).is_err());

        let unsigned = encode(&message, &Signer::new(""));
        assert!(unsigned[2].is_empty());
        assert!(decode(unsigned, &Signer::new("")).is_ok());
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let signer = Signer::new("");
        assert!(decode(vec![b"x".to_vec()], &signer).is_err());
        assert!(decode(vec![DELIMITER.to_vec(), Vec::new(), b"{".to_vec()], &signer).is_err());
        let not_json = vec![DELIMITER.to_vec(), Vec::new(), b"{".to_vec(), b"{}".to_vec(), b"{}".to_vec(), b"{}".to_vec()];
        assert!(decode(not_json, &signer).unwrap_err().to_string().contains("header"));
        let no_type = vec![DELIMITER.to_vec(), Vec::new(), b"{}".to_vec(), b"{}".to_vec(), b"{}".to_vec(), b"[]".to_vec()];
        assert!(decode(no_type, &signer).is_err());
    }
}
