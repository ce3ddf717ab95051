//! Writing an answer that carries RRSIGs (a DO question on a signed zone): each RRset goes out
//! together with the RRSIGs covering it or not at all, with the truncation rules of the unsigned
//! path (RFC 2181 9, RFC 4035 3.1.1): a required RRset that does not fit sets TC and ends the
//! message; an additional RRset that does not fit ends the additional section.

use super::wire::{Encoder, Section, TC};
use crate::zone::lookup::{Answer, Rr, ADDITIONAL, ANSWER, AUTHORITY};

/// Writes the three sections of `ans`; returns true when it set TC.
pub fn encode<'a>(enc: &mut Encoder, ans: &'a Answer<'a>) -> bool {
    // A handful of RRsets per answer: a scan finds each one's signatures.
    let group = |section: u8, index: usize, rr: &'a Rr<'a>| {
        std::iter::once(rr).chain(
            ans.sigs
                .iter()
                .filter(move |s| s.section == section && s.index == index)
                .map(|s| &s.rr),
        )
    };
    let mut truncated = false;
    'required: for (section, n, rrs) in [
        (Section::Answer, ANSWER, &ans.answer),
        (Section::Authority, AUTHORITY, &ans.authority),
    ] {
        for (i, rr) in rrs.iter().enumerate() {
            if !enc.push_rrsets_together(section, group(n, i, rr)) {
                truncated = true;
                break 'required;
            }
        }
    }
    if truncated {
        enc.set_flag(TC);
        return true;
    }
    for (i, rr) in ans.additional.iter().enumerate() {
        if !enc.push_rrsets_together(Section::Additional, group(ADDITIONAL, i, rr)) {
            break;
        }
    }
    false
}
