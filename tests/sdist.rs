//! A third-party dependency released only as an sdist, with a C extension: `gamma` 1.0, whose
//! `add(a, b)` is C and whose `built_with()` says which C library and Python headers it was
//! compiled against; and the build root bake-image builds such sdists in.

use std::path::{Path, PathBuf};
use std::process::Command;

/// gamma's C source.
pub const GAMMA_C: &str = r#"#include <Python.h>
#include <gnu/libc-version.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
/* The C library and the Python it was compiled against, as the headers said. */
static PyObject *built_with(PyObject *self, PyObject *args) {
    return Py_BuildValue("(iis)", __GLIBC__, __GLIBC_MINOR__, PY_VERSION);
}
static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "a + b"},
    {"built_with", built_with, METH_NOARGS, "glibc major, minor, Python version"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "gamma", NULL, -1, methods};
PyMODINIT_FUNC PyInit_gamma(void) { return PyModule_Create(&module); }
"#;

const SETUP_PY: &str =
    "from setuptools import Extension, setup\nsetup(ext_modules=[Extension(\"gamma\", [\"gamma.c\"])])\n";
const PYPROJECT: &str = "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"gamma\"\nversion = \"1.0\"\n";

/// `gamma-1.0.tar.gz` in `dir` whose C source is `source`; its path.
pub fn gamma_sdist(dir: &Path, source: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("gamma-1.0.tar.gz");
    crate::write_tar_gz(
        &path,
        &[
            (
                "gamma-1.0/PKG-INFO",
                "Metadata-Version: 2.1\nName: gamma\nVersion: 1.0\n",
            ),
            ("gamma-1.0/pyproject.toml", PYPROJECT),
            ("gamma-1.0/setup.py", SETUP_PY),
            ("gamma-1.0/gamma.c", source),
        ],
    );
    path
}

/// The build root scripts/build-root makes from the same OS lock as the default base (cached);
/// its path.
pub fn build_root() -> String {
    let out = crate::run_command(
        &mut Command::new(crate::workspace().join("scripts/build-root")),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout.trim().to_owned()
}

/// Unpack `image` into `tree` and run `code` with the image's Python under chroot; stdout.
pub fn run_in_image(image: &str, tree: &Path, code: &str) -> String {
    std::fs::create_dir_all(tree).unwrap();
    let untar = crate::run_command(
        Command::new("tar").arg("xzf").arg(image).arg("-C").arg(tree),
        None,
    );
    assert_eq!(untar.code, 0, "{}", untar.stderr);
    let run = crate::run_command(
        Command::new("chroot")
            .arg(tree)
            .args(["/opt/lastmile/venv/bin/python", "-c", code]),
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_owned()
}
