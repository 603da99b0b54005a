//! Constraints (`-c FILE`): they narrow without adding, and only where their marker holds.

use crate::resolve::diamond;
use crate::testenv::Pins;

#[test]
fn constraints_narrow_without_adding() {
    let env = diamond();
    env.write("constraints.txt", "base<3\nunrelated==1.0\n");
    let out = env.pin("-c constraints.txt\nleft\n", &["--no-hashes"]).success();
    assert_eq!(out.pins(), ["base==2.0", "left==1.0"]);
    assert!(
        out.stdout
            .contains("base==2.0\n    # via\n    #   -c constraints.txt\n    #   left\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_constraint_whose_marker_does_not_apply_to_the_target_is_ignored() {
    // As pip and uv read it: the marker says where the constraint holds. On Python 3.11, the
    // 3.8-only ceiling does not hold, and the Linux-only one does.
    let env = diamond();
    env.write(
        "constraints.txt",
        "base<2 ; python_version < \"3.9\"\nbase<3 ; sys_platform == \"linux\"\n",
    );
    let out = env
        .pin(
            "-c constraints.txt\nleft\n",
            &["--no-hashes", "--python-version", "3.11"],
        )
        .success();
    assert_eq!(out.pins(), ["base==2.0", "left==1.0"]);
    // On 3.8 it holds.
    let out = env
        .pin(
            "-c constraints.txt\nleft\n",
            &["--no-hashes", "--python-version", "3.8"],
        )
        .success();
    assert_eq!(out.pins(), ["base==1.0", "left==1.0"]);
    // A constraint that does not hold is not named as a reason either.
    env.write("only-old.txt", "base<2 ; python_version < \"3.9\"\n");
    let out = env
        .pin(
            "-c only-old.txt\nleft\n",
            &["--no-hashes", "--python-version", "3.11"],
        )
        .success();
    assert!(
        out.stdout.contains("base==2.0\n    # via left\n"),
        "{}",
        out.stdout
    );
}
