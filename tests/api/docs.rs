//! The documentation tells the truth about the code it documents, and
//! stays within the repository.

const README: &str = include_str!("../../README.md");
const REFERENCE: &str = include_str!("../../docs/reference.md");
const DOCS: [(&str, &str); 7] = [
    ("README.md", README),
    ("docs/reference.md", REFERENCE),
    ("docs/guide.md", include_str!("../../docs/guide.md")),
    ("docs/security.md", include_str!("../../docs/security.md")),
    (
        "docs/operations.md",
        include_str!("../../docs/operations.md"),
    ),
    (
        "docs/performance.md",
        include_str!("../../docs/performance.md"),
    ),
    (
        "docs/architecture.md",
        include_str!("../../docs/architecture.md"),
    ),
];

#[test]
fn the_reference_prints_the_permission_table_of_the_code() {
    let table = orgql::domain::permission_table_markdown();
    assert!(
        REFERENCE.contains(&table),
        "docs/reference.md's permission table differs from the code; it should read:\n{table}"
    );
}

#[test]
fn the_reference_documents_every_setting() {
    let help = <orgql::config::Cli as clap::CommandFactory>::command();
    for argument in help.get_arguments() {
        let Some(flag) = argument.get_long() else {
            continue;
        };
        if ["help", "version"].contains(&flag) {
            continue;
        }
        assert!(
            REFERENCE.contains(&format!("`--{flag}`")),
            "docs/reference.md does not document --{flag}"
        );
        if let Some(variable) = argument.get_env() {
            let variable = variable.to_string_lossy();
            assert!(
                REFERENCE.contains(&format!("`{variable}`")),
                "docs/reference.md does not document {variable}"
            );
        }
    }
}

#[test]
fn the_readme_is_a_front_door_and_no_document_points_outside_the_repository() {
    assert!(
        README.lines().count() <= 250,
        "README.md is {} lines: move what is not a first session into docs/",
        README.lines().count()
    );
    for (name, text) in DOCS {
        assert!(
            !text.contains("../shared") && !text.contains("../.library"),
            "{name} points outside the repository"
        );
        for link in text.split("](").skip(1) {
            let target = link.split([')', '#']).next().unwrap_or_default();
            if target.is_empty() || target.contains("://") {
                continue;
            }
            let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(name)
                .parent()
                .unwrap()
                .join(target);
            assert!(
                base.exists(),
                "{name} links to {target}, which is not there"
            );
        }
    }
}
