//! `InRelease` files signed by a key made for the test (gpg, in a temporary home): the signed
//! text comes back only when the signature verifies against the keyring given; tampered text,
//! another key and a missing keyring are refused naming the file.

use lastmile_debian::{DebianError, Release, check_bytes, verify_clearsigned};
use lastmile_tests::gpg::TestKey;

const RELEASE: &str = "Origin: Test\nSuite: stable\nCodename: bookworm\nDate: Sat, 06 Sep 2025 09:41:20 UTC\n\
    Architectures: amd64\nComponents: main\nSHA256:\n \
    2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae 3 main/binary-amd64/Packages\n";

#[test]
fn only_text_signed_by_a_key_of_the_keyring_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let archive = TestKey::new(dir.path(), "archive");
    let keyring = archive.keyring.clone();
    let other = TestKey::new(dir.path(), "stranger").keyring;
    let inrelease = dir.path().join("InRelease");
    archive.clearsign(RELEASE, &inrelease);

    let text = verify_clearsigned(&inrelease, std::slice::from_ref(&keyring)).unwrap();
    assert_eq!(text, RELEASE);
    let release = Release::parse("InRelease", &text).unwrap();
    let sum = release.file("InRelease", "main/binary-amd64/Packages").unwrap();
    check_bytes("Packages", b"foo", sum, "InRelease").unwrap();
    let err = check_bytes("Packages", b"fou", sum, "InRelease").unwrap_err();
    assert!(
        err.to_string().starts_with("Packages: sha256 ")
            && err.to_string().contains("but InRelease says sha256 2c26b46b"),
        "{err}"
    );

    // Another key: refused, naming the file and the keyring.
    let err = verify_clearsigned(&inrelease, std::slice::from_ref(&other)).unwrap_err();
    assert!(matches!(err, DebianError::BadSignature { .. }), "{err}");
    let said = err.to_string();
    assert!(
        said.starts_with(&format!(
            "{}: the signature does not verify against {}",
            inrelease.display(),
            other.display()
        )),
        "{said}"
    );

    // One changed byte of the signed text: refused.
    let signed = std::fs::read_to_string(&inrelease).unwrap();
    let tampered = dir.path().join("InRelease.tampered");
    std::fs::write(
        &tampered,
        signed.replace(" 3 main/binary-amd64", " 4 main/binary-amd64"),
    )
    .unwrap();
    let err = verify_clearsigned(&tampered, std::slice::from_ref(&keyring)).unwrap_err();
    assert!(err.to_string().contains("BAD signature"), "{err}");

    // No such keyring: said as such.
    let missing = dir.path().join("missing.gpg");
    let err = verify_clearsigned(&inrelease, std::slice::from_ref(&missing)).unwrap_err();
    assert!(
        err.to_string()
            .ends_with(&format!("{}: no such keyring", missing.display())),
        "{err}"
    );
}
