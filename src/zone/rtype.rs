//! Record type numbers and mnemonics. Being written.
