//! Bad configuration stops the binary with one line that names the setting.

use std::process::Command;

fn orgql(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_orgql"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_naming(stderr: &str, setting: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains(setting), "names {setting}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unsupported_database_url_is_refused() {
    let (ok, stderr) = orgql(&["--database-url", "mysql://root@127.0.0.1/orgql", "migrate"]);
    assert!(!ok);
    assert_one_line_naming(&stderr, "DATABASE_URL");
}

#[test]
fn an_unreachable_database_is_refused() {
    let (ok, stderr) = orgql(&[
        "--database-url",
        "postgres://postgres@127.0.0.1:1/orgql",
        "migrate",
    ]);
    assert!(!ok);
    assert_one_line_naming(&stderr, "DATABASE_URL");
}

#[test]
fn an_address_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("orgql-bind-{}", std::process::id()));
    let db = dir.join("x.db");
    let (ok, stderr) = orgql(&["--bind", &addr, "--database-url", db.to_str().unwrap()]);
    assert!(!ok);
    assert_one_line_naming(&stderr, "BIND_ADDR");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_sqlite_file_and_its_folder_are_created() {
    let dir = std::env::temp_dir().join(format!("orgql-fresh-{}", std::process::id()));
    let db = dir.join("nested/orgql.db");
    let (ok, stderr) = orgql(&[
        "--database-url",
        &format!("sqlite://{}", db.display()),
        "migrate",
    ]);
    assert!(ok, "{stderr}");
    assert!(db.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_identity_provider_must_be_https_and_have_an_audience() {
    let dir = std::env::temp_dir().join(format!("orgql-oidc-config-{}", std::process::id()));
    let db = dir.join("x.db");
    let db = db.to_str().unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec!["--bind", "127.0.0.1:0", "--database-url", db];
        args.extend_from_slice(extra);
        orgql(&args)
    };
    let (ok, stderr) = serve(&[
        "--oidc-issuer",
        "http://id.example.com",
        "--oidc-audience",
        "a",
    ]);
    assert!(!ok);
    assert_one_line_naming(&stderr, "OIDC_ISSUER");
    let (ok, stderr) = serve(&["--oidc-issuer", "https://id.example.com"]);
    assert!(!ok);
    assert_one_line_naming(&stderr, "OIDC_AUDIENCE");
    let _ = std::fs::remove_dir_all(dir);
}
