//! RFC 1982 serial number arithmetic (SERIAL_BITS = 32) and the choice of the next serial.

/// `a` is greater than `b` in serial arithmetic (RFC 1982 3.2); undefined pairs compare false.
pub fn gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// The serial after `current`: one more (RFC 1982 3.1 addition), or the zone file's `floor`
/// when that is greater, so that an operator raising the file's serial is always obeyed.
pub fn next(current: u32, floor: u32) -> u32 {
    let n = current.wrapping_add(1);
    if gt(floor, n) {
        floor
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1982_comparison_and_wrap() {
        assert!(gt(2, 1));
        assert!(!gt(1, 2));
        assert!(gt(0, u32::MAX), "0 follows 2^32-1");
        assert!(gt(5, u32::MAX - 5));
        assert!(!gt(0x8000_0000, 0), "2^31 apart: undefined, not greater");
        assert_eq!(next(u32::MAX, 0), 0);
        assert_eq!(next(10, 2024010100), 2024010100, "the file's serial is the floor");
        assert_eq!(next(2024010105, 2024010100), 2024010106);
    }
}
