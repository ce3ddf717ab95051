//! What the query path reports about one query (rcode, type, truncation) and the transport it
//! came over. Below both the request ladder and the answer cache, which keeps outcomes with its
//! entries.

/// Transport the query came over; decides the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// What happened to one query, for metrics and debug logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Full (extended) rcode.
    pub rcode: u16,
    pub qtype: u16,
    pub truncated: bool,
}
