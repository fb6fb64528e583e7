//! `Debug` that shows only some of a value's fields: values holding secrets (stream keys,
//! passwords, password hashes), which a stray `{:?}` in a log line must never print, and
//! values holding state with no useful `Debug` (channels, handles, buffers).
//! [`debug_fields!`](crate::debug_fields) writes the impl from the list of fields it may show;
//! a field marked `redacted` is shown as `<redacted>`, and a trailing `..` leaves every other
//! field out (shown as `..`), so a field added later stays out until someone names it.

/// `debug_fields!(Type { a, b, key: redacted, c, .. })`: `impl Debug for Type` showing `a`,
/// `b` and `c` as they are, `key` as `<redacted>`, and `..` for the fields not named (without
/// the `..`, the list must name every field). The fields are shown in the order given.
#[macro_export]
macro_rules! debug_fields {
    (@field $d:ident $s:ident $f:ident) => {
        $d.field(stringify!($f), &$s.$f)
    };
    (@field $d:ident $s:ident $f:ident : redacted) => {
        $d.field(stringify!($f), &"<redacted>")
    };
    ($ty:ident { $($f:ident $(: $r:ident)?),+ , .. }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut d = f.debug_struct(stringify!($ty));
                $( $crate::debug_fields!(@field d self $f $(: $r)?); )+
                d.finish_non_exhaustive()
            }
        }
    };
    ($ty:ident { $($f:ident $(: $r:ident)?),+ $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut d = f.debug_struct(stringify!($ty));
                $( $crate::debug_fields!(@field d self $f $(: $r)?); )+
                d.finish()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[allow(dead_code)] // read only through Debug
    struct Login {
        user: String,
        password: String,
        attempts: u32,
    }
    crate::debug_fields!(Login {
        user,
        password: redacted,
        attempts
    });

    #[allow(dead_code)] // read only through Debug
    struct Account {
        id: i64,
        password_hash: String,
    }
    crate::debug_fields!(Account { id, .. });

    #[test]
    fn a_redacted_field_is_named_but_never_shown() {
        let l = Login {
            user: "dj".into(),
            password: "hunter2".into(),
            attempts: 3,
        };
        assert_eq!(
            format!("{l:?}"),
            r#"Login { user: "dj", password: "<redacted>", attempts: 3 }"#
        );
    }

    #[test]
    fn fields_left_out_are_marked_and_never_shown() {
        let a = Account {
            id: 7,
            password_hash: "$argon2id$secret".into(),
        };
        assert_eq!(format!("{a:?}"), "Account { id: 7, .. }");
    }
}
