//! ZooKeeper path validation and path helpers.
//!
//! `validate` reproduces Apache ZooKeeper's `PathUtils.validatePath`. ZooKeeper inspects the path
//! as Java UTF-16 code units, so every character outside the Basic Multilingual Plane (which Java
//! holds as a surrogate pair, and surrogates are in a forbidden range) is rejected here too.

use crate::types::ErrorCode;

/// Checks `path` as ZooKeeper's `PathUtils.validatePath(path, sequential)` does.
///
/// When `sequential` is true the server will append a ten-digit counter, so ZooKeeper validates
/// `path + "1"` instead: `/a/` is then a valid prefix (it becomes `/a/0000000001`).
/// Every rejection is `BadArguments`, the code ZooKeeper answers with.
pub fn validate(path: &str, sequential: bool) -> Result<(), ErrorCode> {
    let accepted = is_valid(path, sequential);
    if accepted {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

/// The rules of `PathUtils.validatePath(String)`, applied to `path` followed by the digit `1`
/// when `digit_appended` is true. It walks the characters once without allocating, because it
/// runs for every create.
fn is_valid(path: &str, digit_appended: bool) -> bool {
    let mut chars = path.chars().chain(digit_appended.then_some('1')).peekable();
    if chars.next() != Some('/') {
        // Covers the empty path and relative paths.
        return false;
    }
    if chars.peek().is_none() {
        return true;
    }
    // Nothing precedes the leading slash; this value is only ever compared with '/'.
    let mut before_previous = '\0';
    let mut previous = '/';
    while let Some(current) = chars.next() {
        let next = chars.peek().copied();
        if current == '/' && next.is_none() {
            return false;
        }
        if !character_allowed(before_previous, previous, current, next) {
            return false;
        }
        before_previous = previous;
        previous = current;
    }
    true
}

/// Whether `current` (never the leading slash) passes ZooKeeper's per-character rules:
/// no NUL, no empty component, no component that is exactly `.` or `..`, no forbidden character.
fn character_allowed(
    before_previous: char,
    previous: char,
    current: char,
    next: Option<char>,
) -> bool {
    let component_ends = next.is_none_or(|character| character == '/');
    match current {
        '\0' => false,
        '/' => previous != '/',
        '.' if previous == '.' => !(before_previous == '/' && component_ends),
        '.' => !(previous == '/' && component_ends),
        other => !is_forbidden_character(other),
    }
}

/// The character ranges ZooKeeper refuses in a node name: C0 controls, DEL and C1 controls,
/// the surrogates and the private use area (U+D800..U+F8FF), the specials block from U+FFF0, and
/// (as surrogate pairs in Java) everything beyond U+FFFF.
fn is_forbidden_character(character: char) -> bool {
    let code = character as u32;
    (0x01..=0x1f).contains(&code)
        || (0x7f..=0x9f).contains(&code)
        || (0xd800..=0xf8ff).contains(&code)
        || code >= 0xfff0
}

/// The parent of a valid `path`: `/a/b` → `/a`, `/a` → `/`. The root is its own parent, so
/// callers that must not treat `/` as a child check for the root first.
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

/// The last component of a valid `path`: `/a/b` → `b`; empty for the root.
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(index) => &path[index + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[&str] = &[
        "/",
        "/a",
        "/a/b",
        "/abc/def/ghi",
        "/a.",
        "/.a",
        "/a.b",
        "/...",
        "/a/...",
        "/..a",
        "/a..",
        "/.a/.b",
        "/zookeeper",
        "/é",
        "/日本",
        "/\u{a0}",
        "/\u{d7ff}",
        "/\u{f900}",
        "/\u{ffef}",
        "/a b",
        "/~!@#$%^&*()",
    ];

    const INVALID: &[&str] = &[
        "",
        "a",
        "a/b",
        "//",
        "/a/",
        "/a//b",
        "//a",
        "/.",
        "/..",
        "/./a",
        "/../a",
        "/a/.",
        "/a/..",
        "/a/./b",
        "/a/../b",
        "/\0",
        "/a\0b",
        "/\u{1}",
        "/\u{1f}",
        "/\u{7f}",
        "/\u{80}",
        "/\u{9f}",
        "/\u{e000}",
        "/\u{f8ff}",
        "/\u{fff0}",
        "/\u{fffd}",
        "/\u{ffff}",
        "/\u{10000}",
        "/\u{1f600}",
    ];

    #[test]
    fn validate_accepts_zookeeper_valid_paths() {
        for path in VALID {
            assert_eq!(validate(path, false), Ok(()), "path {path:?}");
        }
    }

    #[test]
    fn validate_rejects_zookeeper_invalid_paths_with_bad_arguments() {
        for path in INVALID {
            assert_eq!(
                validate(path, false),
                Err(ErrorCode::BadArguments),
                "path {path:?}"
            );
        }
    }

    #[test]
    fn sequential_validation_checks_path_with_a_digit_appended() {
        // A trailing slash or a trailing dot component is completed by the counter.
        let now_valid = ["/", "/a/", "/.", "/..", "/a/.", "/a/.."];
        for path in now_valid {
            assert_eq!(validate(path, true), Ok(()), "path {path:?}");
        }
        let still_invalid = ["", "a", "//", "/a//", "/./", "/../", "/a\0", "/\u{1}"];
        for path in still_invalid {
            assert_eq!(
                validate(path, true),
                Err(ErrorCode::BadArguments),
                "path {path:?}"
            );
        }
        for path in VALID {
            assert_eq!(validate(path, true), Ok(()), "path {path:?}");
        }
    }

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
    }

    #[test]
    fn basename_of_paths() {
        assert_eq!(basename("/a/b/c"), "c");
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(basename("/a"), "a");
        assert_eq!(basename("/"), "");
    }
}
