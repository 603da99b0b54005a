//! The TOML files people write (a deploy-lxc environment, a bake-image services file, an aqf-run
//! suite), read by serde into typed structs with `deny_unknown_fields`, every error naming the
//! file, the line and the key, as `lab.toml:14: nodes.monctl.memory: expected a size such as 512M`:
//!
//! - [`SettingsFile`]: one file's text; [`SettingsFile::parse`] reads it (serde's path to the
//!   failing key from `serde_path_to_error`, its line from toml's span), [`SettingsFile::error`]
//!   places a check made after parsing at the line of a [`Spanned`] value;
//! - [`SettingsFile::tagged`]: a table whose `kind` key picks the variant of an enum, beside the
//!   fields every kind shares (an aqf-run test);
//! - [`Duration`]: `60s`, `2m`, `500ms`, `1h`, as people write them; [`integer_in`]: an
//!   integer with its range, refused with what it is for.
//!
//! Depends only on `lastmile-fs` (locations, bounded reads); knows nothing of what the files
//! mean.

mod duration;
mod file;
mod integer;
mod tagged;

pub use duration::{Duration, parse_duration};
pub use file::{SettingsFile, load};
pub use integer::integer_in;
pub use tagged::Table;
pub use toml::Spanned;
