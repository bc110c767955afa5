//! The stable codes hosts switch on: errors ([`crate::error::ErrorCode`]), warnings
//! ([`WarningCode`]), repairs of the model's output ([`RepairCode`]) and flags on a drill
//! ([`DrillFlag`]). Each is an enum declared
//! once, here or in `error.rs`, through [`codes!`], so the TypeScript unions (`DrillgenErrorCode`,
//! `WarningCode`, `RepairCode`) are generated from the same list the code is built from: a code
//! added here is in the `.d.ts` with no second edit, and a code not declared does not compile.

/// Declares a code enum, its names and its list from one list of variants, so they cannot drift.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($code:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name {
            $($code,)*
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$code,)*];

            /// The code as JS sees it (the variant's name).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$code => stringify!($code),)*
                }
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use codes;

codes!(
    /// Codes of the warnings a run, a merge or a sample reports next to its result; stable like
    /// error codes (the same name as an error code means the same cause, not fatal here).
    WarningCode {
        // sample
        POOL_TOO_SMALL,
        POSITION_UNUSABLE,
        AVOIDED_POSITIONS_REUSED,
        // options
        RETRIES_REDUCED,
        // run
        CONCURRENCY_LOWERED,
        FORMAT_NEGOTIATED,
        PREFIX_TOO_SHORT_TO_CACHE,
        BATCHES_FAILED,
        DRILLS_TOPPED_UP,
        DRILLS_FLAGGED,
        DEADLINE_EXCEEDED,
        LOAD_FAILED,
        HOST_VERIFY_FAILED,
        // merge
        MISSING_DRILLS,
        IGNORED_NOT_COMPLETED,
        INDEX_OUT_OF_RANGE,
        DUPLICATE_INDEX,
    }
);

codes!(
    /// Codes of the repairs applied to the model's output, counted per batch; each is a repair
    /// that cannot change meaning, or (`EXPLANATION_FLAGGED`) a drill kept with a flag.
    RepairCode {
        JSON_EXTRACTED,
        DRILLS_WRAPPED,
        EXTRA_DRILLS_DROPPED,
        FIELD_NAME_CASE,
        TEXT_CLEANED,
        TEXT_FROM_ENGINE,
        DIFFICULTY_NORMALIZED,
        DIFFICULTY_DERIVED,
        PLACEHOLDER_REPLACED,
        EXPLANATION_FLAGGED,
    }
);

codes!(
    /// Flags on a drill a host should hold back from students, or have reviewed.
    /// `EXPLANATION_MISMATCH`: its explanation, asked again, still does not name the correct option
    /// or calls another one best.
    DrillFlag {
        EXPLANATION_MISMATCH,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_form_and_read_back() {
        for &code in WarningCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert_eq!(serde_json::from_value::<WarningCode>(json).unwrap(), code);
        }
        for &code in RepairCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert!(serde_json::from_value::<WarningCode>("NOT_A_CODE".into()).is_err());
    }
}
