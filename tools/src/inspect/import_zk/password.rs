//! ZooKeeper's session passwords. ZooKeeper does not store them: `ZooKeeperServer.generatePasswd`
//! derives each from the session id by seeding `java.util.Random` with `id ^ superSecret` and
//! drawing 16 bytes. Reproducing it lets clients of the old ensemble resume their sessions on
//! Corral with the id and password they already hold.

/// ZooKeeper's fixed `superSecret`.
const SUPER_SECRET: i64 = 0xB341_5C00;
/// `java.util.Random`'s linear congruential generator: multiplier, increment, 48-bit mask.
const LCG_MULTIPLIER: u64 = 0x5_DEEC_E66D;
const LCG_INCREMENT: u64 = 0xB;
const LCG_MASK: u64 = (1 << 48) - 1;

/// The password ZooKeeper gives session `session_id`.
pub fn zookeeper_password(session_id: i64) -> [u8; 16] {
    let mut seed = ((session_id ^ SUPER_SECRET) as u64 ^ LCG_MULTIPLIER) & LCG_MASK;
    let mut next_int = || {
        seed = (seed
            .wrapping_mul(LCG_MULTIPLIER)
            .wrapping_add(LCG_INCREMENT))
            & LCG_MASK;
        (seed >> 16) as u32
    };
    // Random.nextBytes takes each int's bytes low byte first.
    let mut password = [0u8; 16];
    for chunk in password.chunks_mut(4) {
        chunk.copy_from_slice(&next_int().to_le_bytes()[..chunk.len()]);
    }
    password
}
