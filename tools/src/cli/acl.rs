//! ACL text as zkCli writes it: `scheme:id:perms[,scheme:id:perms...]`, perms from `cdrwa`.

use zookeeper_client as zk;

/// The permission letters in the order zkCli prints them.
const PERMISSION_LETTERS: [(char, zk::Permission); 5] = [
    ('c', zk::Permission::CREATE),
    ('d', zk::Permission::DELETE),
    ('r', zk::Permission::READ),
    ('w', zk::Permission::WRITE),
    ('a', zk::Permission::ADMIN),
];

/// Parses a comma-separated ACL list; the id is everything between the first and last colon,
/// so `digest:user:hash:cdra` keeps `user:hash` whole.
pub fn parse_acl_list(text: &str) -> Result<Vec<zk::Acl>, String> {
    text.split(',').map(parse_acl).collect()
}

fn parse_acl(text: &str) -> Result<zk::Acl, String> {
    let malformed = || format!("{text} does not have the form scheme:id:perm");
    let first = text.find(':').ok_or_else(malformed)?;
    let last = text.rfind(':').ok_or_else(malformed)?;
    if first == last {
        return Err(malformed());
    }
    let permission = parse_permissions(&text[last + 1..])?;
    let id = zk::AuthId::new(&text[..first], &text[first + 1..last]);
    Ok(zk::Acl::new(permission, id))
}

fn parse_permissions(text: &str) -> Result<zk::Permission, String> {
    let mut permission = zk::Permission::NONE;
    for letter in text.chars() {
        let Some((_, bit)) = PERMISSION_LETTERS.iter().find(|(l, _)| *l == letter) else {
            return Err(format!("Unknown perm type: {letter}"));
        };
        permission = permission | *bit;
    }
    Ok(permission)
}

/// `cdrwa`-style letters for a permission set.
pub fn permission_letters(permission: zk::Permission) -> String {
    PERMISSION_LETTERS
        .iter()
        .filter(|(_, bit)| permission.has(*bit))
        .map(|(letter, _)| *letter)
        .collect()
}

/// One ACL entry as zkCli's `getAcl` prints it: `'scheme,'id` then `: perms`.
pub fn format_acl(acl: &zk::Acl) -> String {
    format!(
        "'{},'{}\n: {}\n",
        acl.scheme(),
        acl.id(),
        permission_letters(acl.permission())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_id_keeps_its_inner_colon() {
        let acls = parse_acl_list("digest:bob:abc=:cdra,world:anyone:r").expect("valid");
        assert_eq!(acls.len(), 2);
        assert_eq!(format_acl(&acls[0]), "'digest,'bob:abc=\n: cdra\n");
        assert_eq!(format_acl(&acls[1]), "'world,'anyone\n: r\n");
    }

    #[test]
    fn malformed_entries_are_refused() {
        assert!(parse_acl_list("world:anyone").is_err());
        assert!(parse_acl_list("world:anyone:q").is_err());
        assert_eq!(
            parse_acl_list("auth::cdrwa").map(|acls| permission_letters(acls[0].permission())),
            Ok("cdrwa".to_string())
        );
    }
}
