//! bake-image end to end on a small synthetic base (the files a base's target is read from, an
//! init, os-release) and wheels written on the fly: reproducibility under a different umask, TZ,
//! locale, temporary folder and file creation order; every refusal with its message, exit code
//! and no image left behind; verify on a good and a tampered image.

mod build_root;
mod hostile;
mod image;
mod refusals;
mod reproducible;
mod testenv;
