//! Per-type RDATA presentation-to-wire conversion. Being written.
