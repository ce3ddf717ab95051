//! Zone-file parser (RFC 1035 master format). Being written.
