//! ACL validation, `auth` fix-up, permission checks and digest ids, following Apache ZooKeeper's
//! `PrepRequestProcessor.fixupACL`, `ZooKeeperServer.checkACL` and its two built-in
//! authentication providers (`digest` and `ip`).
//!
//! Corral knows exactly those two providers. As in ZooKeeper, an ACL naming any other scheme is
//! refused by `fixup` (InvalidACL), an `addauth` with any other scheme fails (AuthFailed), and
//! the `super` id that a super-digest login adds has no provider of its own.
//!
//! `ip` ACLs accept IPv4 (`a.b.c.d[/bits]`) as ZooKeeper 3.8 does, and also IPv6
//! (`x:x::x[/bits]`, ZooKeeper 3.9's parser, no embedded IPv4 and no zone), which 3.8 refuses.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

use crate::types::{Acl, ErrorCode, Id};

/// The id of the super user; any auth id with this scheme passes every check.
pub const SUPER_SCHEME: &str = "super";

/// The bytes of an IPv4 address.
const IPV4_BYTES: usize = 4;
/// The bytes of an IPv6 address.
const IPV6_BYTES: usize = 16;
/// The groups of a full IPv6 address.
const IPV6_GROUPS: usize = 8;
/// The most hex digits ZooKeeper accepts in one IPv6 group.
const IPV6_GROUP_DIGITS_MAX: usize = 4;

/// The digest id of `user_password` (`user:password`): the user part (everything before the
/// first colon, or the whole string when there is none) then `:` and the base64 of the SHA-1 of
/// the whole string. `digest("super:secret")` is `super:lK75jTNcA+U9vtVEw5vB51mj/w4=`, as
/// ZooKeeper's `DigestAuthenticationProvider.generateDigest` prints it.
pub fn digest(user_password: &str) -> String {
    let user = user_password
        .split_once(':')
        .map_or(user_password, |(user, _)| user);
    let hash = Sha1::digest(user_password.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{encoded}")
}

/// ZooKeeper's `checkACL`: whether a session holding the ids `auth` may do `perm` on a node whose
/// ACL is `acl`. An empty ACL lets everyone in; any `super` id passes everything; otherwise an
/// entry granting one of the bits of `perm` must match one of the session's ids.
pub fn check(acl: &[Acl], auth: &[Id], perm: i32) -> bool {
    if acl.is_empty() || auth.iter().any(|id| id.scheme == SUPER_SCHEME) {
        return true;
    }
    acl.iter()
        .filter(|entry| entry.perms & perm != 0)
        .any(|entry| entry_matches(&entry.id, auth))
}

/// Whether the ACL id `acl_id` names one of the session's ids.
fn entry_matches(acl_id: &Id, auth: &[Id]) -> bool {
    match acl_id.scheme.as_str() {
        "world" => acl_id.id == "anyone",
        "ip" => auth
            .iter()
            .any(|id| id.scheme == "ip" && ip_matches(&acl_id.id, &id.id)),
        _ => auth.iter().any(|id| id == acl_id),
    }
}

/// ZooKeeper's `fixupACL`: validates the ACL of a create or setACL and expands `auth` entries to
/// the session's authenticated ids.
///
/// Exact duplicates in the request are dropped first (keeping the first), as ZooKeeper does;
/// entries that the expansion makes equal are kept, as in ZooKeeper. An empty list, an `auth`
/// entry from a session with no digest id, `world` with an id other than `anyone`, a malformed
/// `digest` or `ip` id, or any other scheme is `InvalidAcl`. Perms are not checked (ZooKeeper
/// does not check them either).
pub fn fixup(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut fixed = Vec::with_capacity(unique.len());
    for entry in unique {
        match entry.id.scheme.as_str() {
            "world" if entry.id.id == "anyone" => fixed.push(entry.clone()),
            "auth" => expand_auth(entry.perms, auth, &mut fixed)?,
            "digest" if digest_id_valid(&entry.id.id) => fixed.push(entry.clone()),
            "ip" if ip_pattern_bytes(&entry.id.id).is_some() => fixed.push(entry.clone()),
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    Ok(fixed)
}

/// Appends one entry with `perms` per authenticated id of the session. Of ZooKeeper's built-in
/// providers only `digest` counts as authenticated: `ip` ids are not, and `super` has no
/// provider, so both are skipped.
fn expand_auth(perms: i32, auth: &[Id], fixed: &mut Vec<Acl>) -> Result<(), ErrorCode> {
    let length_before = fixed.len();
    for id in auth.iter().filter(|id| id.scheme == "digest") {
        fixed.push(Acl {
            perms,
            id: id.clone(),
        });
    }
    if fixed.len() == length_before {
        return Err(ErrorCode::InvalidAcl);
    }
    Ok(())
}

/// `DigestAuthenticationProvider.isValid`: Java's `id.split(":")` has exactly two parts. Java
/// drops trailing empty parts, so `user:hash:` is valid while `user:` is not.
fn digest_id_valid(id: &str) -> bool {
    let mut parts: Vec<&str> = id.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.len() == 2
}

/// Whether the session address `address` falls in the ACL pattern `pattern` (`addr` or
/// `addr/bits`), as ZooKeeper's `IPAuthenticationProvider.matches` decides. A malformed pattern
/// or address, or one IPv4 and the other IPv6, never matches.
pub fn ip_matches(pattern: &str, address: &str) -> bool {
    let Some((mut pattern_bytes, bits)) = ip_pattern_bytes(pattern) else {
        return false;
    };
    let Some(mut address_bytes) = address_bytes(address) else {
        return false;
    };
    if pattern_bytes.len() != address_bytes.len() {
        return false;
    }
    mask(&mut pattern_bytes, bits);
    mask(&mut address_bytes, bits);
    pattern_bytes == address_bytes
}

/// Parses an `ip` ACL id into its address bytes and prefix length; `None` when ZooKeeper's
/// `isValid` would refuse it.
fn ip_pattern_bytes(pattern: &str) -> Option<(Vec<u8>, usize)> {
    let (address, bits) = match pattern.split_once('/') {
        None => (pattern, None),
        Some((address, bits)) => (address, Some(bits)),
    };
    let bytes = address_bytes(address)?;
    let bits_max = bytes.len() * 8;
    let bits = match bits {
        None => bits_max,
        Some(text) => {
            let value = java_parse_int(text, 10)?;
            usize::try_from(value)
                .ok()
                .filter(|&bits| bits <= bits_max)?
        }
    };
    Some((bytes, bits))
}

/// The bytes of an address string: IPv6 when it holds a colon, else IPv4 when it holds a dot.
fn address_bytes(address: &str) -> Option<Vec<u8>> {
    if address.contains(':') {
        ipv6_bytes(address).map(|bytes| bytes.to_vec())
    } else if address.contains('.') {
        ipv4_bytes(address).map(|bytes| bytes.to_vec())
    } else {
        None
    }
}

/// Four dot-separated decimal numbers 0..=255, parsed as Java's `Integer.parseInt` does (so
/// `010` is 10 and `+1` is 1).
fn ipv4_bytes(address: &str) -> Option<[u8; IPV4_BYTES]> {
    let mut bytes = [0u8; IPV4_BYTES];
    let mut parts = address.split('.');
    for byte in bytes.iter_mut() {
        let value = java_parse_int(parts.next()?, 10)?;
        *byte = u8::try_from(value).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(bytes)
}

/// ZooKeeper 3.9's IPv6 parser: eight groups, or fewer around a single `::` that stands for at
/// least one zero group; each group one to four hex digits.
fn ipv6_bytes(address: &str) -> Option<[u8; IPV6_BYTES]> {
    let halves: Vec<&str> = address.split("::").collect();
    let (head, tail) = match halves.as_slice() {
        [whole] => {
            let head: Vec<&str> = whole.split(':').collect();
            if head.len() != IPV6_GROUPS {
                return None;
            }
            (head, Vec::new())
        }
        [first, second] => {
            let (head, tail) = (ipv6_half_groups(first), ipv6_half_groups(second));
            if head.len() + tail.len() >= IPV6_GROUPS {
                return None;
            }
            (head, tail)
        }
        _ => return None,
    };
    let mut bytes = [0u8; IPV6_BYTES];
    write_ipv6_groups(&mut bytes[..head.len() * 2], &head)?;
    write_ipv6_groups(&mut bytes[IPV6_BYTES - tail.len() * 2..], &tail)?;
    Some(bytes)
}

/// The groups on one side of `::`; none when that side is empty (`::1`, `1::`).
fn ipv6_half_groups(half: &str) -> Vec<&str> {
    if half.is_empty() {
        Vec::new()
    } else {
        half.split(':').collect()
    }
}

/// Writes each group as two big-endian bytes; `None` for an empty, long or non-hex group.
fn write_ipv6_groups(out: &mut [u8], groups: &[&str]) -> Option<()> {
    assert_eq!(out.len(), groups.len() * 2);
    for (pair, group) in out.chunks_exact_mut(2).zip(groups) {
        if group.is_empty() || group.chars().count() > IPV6_GROUP_DIGITS_MAX {
            return None;
        }
        // Java keeps the low 16 bits of the parsed value, so "-1" reads as ffff.
        let value = java_parse_int(group, 16)?;
        pair.copy_from_slice(&(value as u16).to_be_bytes());
    }
    Some(())
}

/// Clears every bit after the first `bits`, as `IPAuthenticationProvider.mask` does.
fn mask(bytes: &mut [u8], bits: usize) {
    assert!(bits <= bytes.len() * 8);
    for (index, byte) in bytes.iter_mut().enumerate() {
        let kept = bits.saturating_sub(index * 8).min(8);
        *byte &= !(0xffu16 >> kept) as u8;
    }
}

/// Java's `Integer.parseInt(text, radix)` for ASCII digits: an optional sign, at least one digit,
/// and a value that fits an `i32`. (Java also accepts non-ASCII Unicode digits; Corral does not.)
fn java_parse_int(text: &str, radix: u32) -> Option<i32> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for character in digits.chars() {
        value = value * i64::from(radix) + i64::from(character.to_digit(radix)?);
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).ok()
}

/// What an AuthPacket (`addauth scheme auth`) adds to the session's ids, as ZooKeeper's
/// providers decide.
///
/// - `digest`: the bytes are read as text (invalid UTF-8 becomes U+FFFD, as Java's decoder
///   does); the result is its digest id, preceded by `super:` when that id equals
///   `super_digest` (ZooKeeper's `zookeeper.DigestAuthenticationProvider.superDigest`, itself a
///   digest id such as `super:lK75jTNcA+U9vtVEw5vB51mj/w4=`). ZooKeeper accepts any text, even
///   without a colon, so this never fails.
/// - `ip`: succeeds and adds nothing here. ZooKeeper adds the connection's own address again, which
///   the session already holds; the caller may add `ip:<addr>` itself if it keeps duplicates.
/// - anything else (`world`, `super`, `auth`, unknown): AuthFailed, after which ZooKeeper closes
///   the connection.
pub fn authenticate(
    scheme: &str,
    auth: &[u8],
    super_digest: Option<&str>,
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let text = String::from_utf8_lossy(auth);
            let id = digest(&text);
            let mut ids = Vec::with_capacity(2);
            if super_digest == Some(id.as_str()) {
                ids.push(Id::new(SUPER_SCHEME, ""));
            }
            ids.push(Id::new("digest", &id));
            Ok(ids)
        }
        "ip" => Ok(Vec::new()),
        _ => Err(ErrorCode::AuthFailed),
    }
}
