//! Jupyter messages (messaging protocol 5.3, "General message format"): a header, the parent
//! header of the request it answers, metadata and content, plus the ZeroMQ routing
//! identities it came with. Replies copy the request's identities and take its header as
//! their parent; IOPub broadcasts use the message type as their topic.
use serde_json::{json, Value};

/// The protocol version this kernel speaks.
pub const PROTOCOL_VERSION: &str = "5.3";

/// One message, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// ZeroMQ routing frames before `<IDS|MSG>` (the requesting peer, or the IOPub topic).
    pub identities: Vec<Vec<u8>>,
    pub header: Value,
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
    /// Extra binary frames after the content.
    pub buffers: Vec<Vec<u8>>,
}

/// The kernel's side of a conversation: its session id goes into every header it writes.
#[derive(Debug, Clone)]
pub struct KernelSession {
    pub id: String,
}

impl KernelSession {
    pub fn new() -> Self {
        Self { id: uuid::Uuid::new_v4().to_string() }
    }

    /// A fresh header for a message of `msg_type`.
    pub fn header(&self, msg_type: &str) -> Value {
        json!({
            "msg_id": uuid::Uuid::new_v4().to_string(),
            "session": self.id,
            "username": "helixfold",
            "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "msg_type": msg_type,
            "version": PROTOCOL_VERSION,
        })
    }

    /// The reply to `request` on the same socket: routed back to the same peer.
    pub fn reply(&self, request: &Message, msg_type: &str, content: Value) -> Message {
        Message {
            identities: request.identities.clone(),
            header: self.header(msg_type),
            parent_header: request.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// An IOPub broadcast caused by `parent`.
    pub fn broadcast(&self, parent: &Message, msg_type: &str, content: Value) -> Message {
        Message {
            identities: vec![msg_type.as_bytes().to_vec()],
            header: self.header(msg_type),
            parent_header: parent.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }
}

impl Default for KernelSession {
    fn default() -> Self {
        Self::new()
    }
}

impl Message {
    /// `header.msg_type` (checked to be a string when the message was decoded).
    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }

    pub fn msg_id(&self) -> &str {
        self.header["msg_id"].as_str().unwrap_or("")
    }

    /// A content field as a string, or `default` when absent or of another type.
    pub fn text<'a>(&'a self, field: &str, default: &'a str) -> &'a str {
        self.content[field].as_str().unwrap_or(default)
    }

    /// A content field as a bool, or `default`.
    pub fn flag(&self, field: &str, default: bool) -> bool {
        self.content[field].as_bool().unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_route_back_and_name_their_parent() {
        let session = KernelSession::new();
        let request = Message {
            identities: vec![b"peer".to_vec()],
            header: session.header("execute_request"),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({"code": "echo hi"}),
            buffers: Vec::new(),
        };
        let reply = session.reply(&request, "execute_reply", json!({"status": "ok"}));
        assert_eq!(reply.identities, vec![b"peer".to_vec()]);
        assert_eq!(reply.parent_header, request.header);
        assert_eq!(reply.msg_type(), "execute_reply");
        assert_eq!(reply.header["version"], "5.3");
        assert_ne!(reply.msg_id(), request.msg_id());
        assert_eq!(request.text("code", ""), "echo hi");
        assert!(request.flag("silent", true));
        let status = session.broadcast(&request, "status", json!({"execution_state": "idle"}));
        assert_eq!(status.identities, vec![b"status".to_vec()]);
    }
}
